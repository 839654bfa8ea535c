/// `GET /`: the verifier web page. One self-contained document (inline style and script, no
/// external assets), so it works on a campus network with no internet. It posts the pasted or
/// dropped credential to `POST /v1/verify` and renders the report with `textContent` only.
enum VerifierPage {
    static let html = #"""
        <!doctype html>
        <html lang="en">
        <head>
        <meta charset="utf-8">
        <meta name="viewport" content="width=device-width, initial-scale=1">
        <title>Vellum: verify a credential</title>
        <style>
          :root { --ok: #1b7a3d; --bad: #b3261e; --ink: #1d2330; --muted: #5d6577; --line: #d9dde5; }
          * { box-sizing: border-box; }
          body { margin: 0; font: 16px/1.5 system-ui, -apple-system, "Segoe UI", sans-serif; color: var(--ink); background: #f6f7f9; }
          main { max-width: 46rem; margin: 2rem auto; padding: 0 1rem; }
          h1 { font-size: 1.5rem; margin: 0 0 .25rem; }
          p.lead { margin: 0 0 1.5rem; color: var(--muted); }
          #drop { border: 2px dashed var(--line); border-radius: .5rem; background: #fff; padding: .75rem; }
          #drop.over { border-color: var(--ink); }
          textarea { width: 100%; min-height: 12rem; border: 0; resize: vertical; font: 13px/1.4 ui-monospace, monospace; outline: none; }
          .row { display: flex; gap: .75rem; align-items: center; margin-top: .75rem; flex-wrap: wrap; }
          button { font: inherit; padding: .5rem 1.25rem; border: 0; border-radius: .4rem; background: var(--ink); color: #fff; cursor: pointer; }
          button:disabled { opacity: .5; }
          #result { margin-top: 1.5rem; }
          .verdict { font-size: 1.4rem; font-weight: 600; padding: .75rem 1rem; border-radius: .5rem; color: #fff; }
          .verdict.ok { background: var(--ok); } .verdict.bad { background: var(--bad); }
          dl { display: grid; grid-template-columns: max-content 1fr; gap: .25rem 1rem; background: #fff; border: 1px solid var(--line); border-radius: .5rem; padding: .75rem 1rem; }
          dt { color: var(--muted); } dd { margin: 0; overflow-wrap: anywhere; }
          ul.checks { list-style: none; padding: 0; background: #fff; border: 1px solid var(--line); border-radius: .5rem; }
          ul.checks li { padding: .5rem 1rem; border-top: 1px solid var(--line); overflow-wrap: anywhere; }
          ul.checks li:first-child { border-top: 0; }
          .mark { font-weight: 700; margin-right: .5rem; } .pass .mark { color: var(--ok); } .fail .mark { color: var(--bad); }
          .error, .why { color: var(--bad); font-weight: 600; }
        </style>
        </head>
        <body>
        <main>
          <h1>Verify a credential</h1>
          <p class="lead">Paste an Open Badges 3.0 credential, or drop its file here. This node checks the
          issuer's signature, its record in the federation's ledger and its current status.</p>
          <form id="verify-form">
            <div id="drop">
              <textarea id="credential" name="credential" spellcheck="false" placeholder='{"@context": ["https://www.w3.org/ns/credentials/v2", ...], "type": ["VerifiableCredential", "OpenBadgeCredential"], ...}'></textarea>
            </div>
            <div class="row">
              <button id="verify" type="submit">Verify</button>
              <label>or open a file <input id="file" type="file" accept=".json,.jsonld,application/json"></label>
            </div>
          </form>
          <section id="result" aria-live="polite"></section>
        </main>
        <script>
        "use strict";
        const form = document.getElementById("verify-form");
        const input = document.getElementById("credential");
        const drop = document.getElementById("drop");
        const result = document.getElementById("result");

        function el(tag, attrs, text) {
          const node = document.createElement(tag);
          for (const [k, v] of Object.entries(attrs || {})) node.setAttribute(k, v);
          if (text !== undefined) node.textContent = text;
          return node;
        }

        function show(report) {
          result.replaceChildren();
          result.dataset.verified = String(report.verified);
          result.dataset.status = report.status;
          result.append(el("div", {class: "verdict " + (report.verified ? "ok" : "bad"), id: "verdict"},
            report.verified ? "Verified" : "Not verified"));
          if (!report.verified) result.append(el("p", {class: "why", id: "why"}, report.errors.join("; ")));
          const facts = el("dl");
          const add = (name, value) => { facts.append(el("dt", {}, name), el("dd", {id: "fact-" + name.toLowerCase().replace(/\W+/g, "-")}, value)); };
          add("Credential", report.id || "(no id)");
          add("Issuer", report.issuer || "(none)");
          if (report.trust) {
            // The registry's name of the university, never the credential's self-asserted one.
            const t = report.trust;
            add("Organization", t.organization ? t.organization.name + " (" + t.organization.id + ")" : "(none)");
            add("Recognised", t.trusted ? "yes, by " + t.federation.name : "no: " + (t.reason || "not trusted"));
          }
          add("Status", report.status);
          if (report.asOf) {
            add("As of", "issuer's ledger entry #" + report.asOf.seq + " written " + report.asOf.issuerTime +
              (report.asOf.issuersNode ? "; answered by the issuer's own node"
                : report.asOf.heardAt ? "; this node last caught up " + report.asOf.heardAt : "; this node has not yet caught up with a peer"));
          }
          add("Checked", report.at);
          result.append(facts);
          const list = el("ul", {class: "checks", id: "checks"});
          for (const c of report.checks) {
            const item = el("li", {class: c.ok ? "pass" : "fail", "data-check": c.check});
            item.append(el("span", {class: "mark"}, c.ok ? "✓" : "✗"), el("strong", {}, c.check + ": "), document.createTextNode(c.detail));
            list.append(item);
          }
          result.append(list);
        }

        function fail(message) {
          result.replaceChildren(el("p", {class: "error", id: "error"}, message));
          result.dataset.verified = "false";
        }

        form.addEventListener("submit", async (event) => {
          event.preventDefault();
          const text = input.value.trim();
          if (!text) return fail("Paste a credential first.");
          const button = document.getElementById("verify");
          button.disabled = true;
          result.dataset.state = "checking";
          try {
            const response = await fetch("/v1/verify", {method: "POST", headers: {"Content-Type": "application/json"}, body: text});
            const body = await response.json();
            if (response.ok) show(body); else fail(body.message || ("The node answered " + response.status));
          } catch (error) {
            fail("Could not reach this node: " + error.message);
          } finally {
            button.disabled = false;
            result.dataset.state = "done";
          }
        });

        async function load(file) { input.value = await file.text(); form.requestSubmit(); }
        document.getElementById("file").addEventListener("change", (e) => { if (e.target.files[0]) load(e.target.files[0]); });
        drop.addEventListener("dragover", (e) => { e.preventDefault(); drop.classList.add("over"); });
        drop.addEventListener("dragleave", () => drop.classList.remove("over"));
        drop.addEventListener("drop", (e) => { e.preventDefault(); drop.classList.remove("over"); if (e.dataTransfer.files[0]) load(e.dataTransfer.files[0]); });
        </script>
        </body>
        </html>
        """#
}
