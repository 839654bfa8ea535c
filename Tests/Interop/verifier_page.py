#!/usr/bin/env python3
"""Drives the verifier web page in headless Chromium, as a person would (Python stdlib only).

Usage: verifier_page.py NODE_URL CREDENTIAL_FILE... [--screenshot PNG]
Loads NODE_URL/ in Chromium (Debian's `chromium`), and for each file pastes its text into the
page's box, presses Verify and waits for the rendered result. Prints one JSON line per file:
{"verified", "verdict", "status", "issuer", "asOf", "organization", "recognised", "checks": [[name, ok], ...]}, read from
the page's DOM. Talks to Chromium over the DevTools protocol on a pipe (fds 3 and 4), so it
needs no port and no websocket library. Bounded: gives up after 30 s per step.
--screenshot saves the page as it looks after the last file.
"""
import base64
import fcntl
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time


class Browser:
    def __init__(self):
        binary = shutil.which("chromium") or shutil.which("chromium-browser")
        if not binary:
            raise SystemExit("chromium is not installed (Scripts/bootstrap installs it)")
        self.profile = tempfile.mkdtemp(prefix="vellum-chromium-")
        to_browser_r, self.to_browser = os.pipe()
        self.from_browser, from_browser_w = os.pipe()

        def give_pipes_to_chromium():  # in the child: the pipe ends become fds 3 and 4
            high_r, high_w = fcntl.fcntl(to_browser_r, fcntl.F_DUPFD, 10), fcntl.fcntl(from_browser_w, fcntl.F_DUPFD, 10)
            os.dup2(high_r, 3)
            os.dup2(high_w, 4)

        self.process = subprocess.Popen(
            [binary, "--headless=new", "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-dev-shm-usage",
             "--remote-debugging-pipe", "--user-data-dir=" + self.profile, "about:blank"],
            pass_fds=(3, 4), preexec_fn=give_pipes_to_chromium, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        os.close(to_browser_r)
        os.close(from_browser_w)
        self.buffer = b""
        self.next_id = 0
        self.session = None

    def send(self, method, params=None, session=True):
        self.next_id += 1
        message = {"id": self.next_id, "method": method, "params": params or {}}
        if session and self.session:
            message["sessionId"] = self.session
        os.write(self.to_browser, json.dumps(message).encode() + b"\0")
        deadline = time.time() + 30
        while time.time() < deadline:
            while b"\0" in self.buffer:
                raw, self.buffer = self.buffer.split(b"\0", 1)
                reply = json.loads(raw)
                if reply.get("id") == self.next_id:
                    if "error" in reply:
                        raise RuntimeError("%s: %s" % (method, reply["error"]))
                    return reply.get("result", {})
            chunk = os.read(self.from_browser, 1 << 16)
            if not chunk:
                raise RuntimeError("chromium exited")
            self.buffer += chunk
        raise TimeoutError(method)

    def evaluate(self, expression):
        result = self.send("Runtime.evaluate", {"expression": expression, "returnByValue": True, "awaitPromise": True})
        if "exceptionDetails" in result:
            raise RuntimeError(result["exceptionDetails"])
        return result["result"].get("value")

    def wait_for(self, expression, what):
        deadline = time.time() + 30
        while time.time() < deadline:
            if self.evaluate(expression):
                return
            time.sleep(0.05)
        raise TimeoutError(what)

    def close(self):
        self.process.kill()
        self.process.wait()
        shutil.rmtree(self.profile, ignore_errors=True)


READ_RESULT = """(() => {
  const text = (id) => { const e = document.getElementById(id); return e ? e.textContent : null; };
  return JSON.stringify({
    verified: document.getElementById("result").dataset.verified,
    verdict: text("verdict"), status: text("fact-status"), issuer: text("fact-issuer"), asOf: text("fact-as-of"),
    organization: text("fact-organization"), recognised: text("fact-recognised"),
    error: text("error"),
    checks: [...document.querySelectorAll("#checks li")].map(li => [li.dataset.check, li.className === "pass"]),
  });
})()"""


def main(url, files, screenshot):
    browser = Browser()
    try:
        target = browser.send("Target.createTarget", {"url": "about:blank"}, session=False)["targetId"]
        browser.session = browser.send("Target.attachToTarget", {"targetId": target, "flatten": True}, session=False)["sessionId"]
        browser.send("Page.enable")
        browser.send("Runtime.enable")
        browser.send("Page.navigate", {"url": url.rstrip("/") + "/"})
        browser.wait_for("document.readyState === 'complete' && !!document.getElementById('verify-form')", "the page to load")
        for path in files:
            with open(path) as f:
                text = f.read()
            # Type the credential in, press the button, wait until the page says it is done.
            browser.evaluate("document.getElementById('result').dataset.state = 'idle'")
            browser.evaluate("document.getElementById('credential').value = %s" % json.dumps(text))
            browser.evaluate("document.getElementById('verify').click()")
            browser.wait_for("document.getElementById('result').dataset.state === 'done'", "the verification result")
            print(browser.evaluate(READ_RESULT), flush=True)
        if screenshot:
            browser.send("Emulation.setDeviceMetricsOverride", {"width": 900, "height": 1000, "deviceScaleFactor": 1, "mobile": False})
            with open(screenshot, "wb") as f:
                f.write(base64.b64decode(browser.send("Page.captureScreenshot", {"format": "png"})["data"]))
    finally:
        browser.close()
    return 0


if __name__ == "__main__":
    args = sys.argv[2:]
    shot = None
    if "--screenshot" in args:
        shot = args[args.index("--screenshot") + 1]
        args = args[:args.index("--screenshot")] + args[args.index("--screenshot") + 2:]
    sys.exit(main(sys.argv[1], args, shot))
