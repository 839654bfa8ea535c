#!/usr/bin/env python3
"""Crash trials: `kill -9` at a random moment during a command, then check what survived.

Workloads, taken in turn:
  bulk     vellum issue --csv --out-dir (a credential file per row and a manifest)
  single   a loop of single `vellum issue` commands
  import   vellum import of an export file
  catchup  vellum sync from a running node that holds thousands of entries

After each kill: the ledger opens without repair and `vellum audit` passes; every credential
id a command printed or wrote to its manifest is in the ledger; no credential file is half
written; running the interrupted command again completes it, and issues no row twice.
A failure prints the seed and the trial; `--seed S` replays the same workloads with kills at the
same fractions of each command's duration (measured afresh on each run).

Usage: Scripts/crash [--trials 100] [--seed S] [--workload W] [--bin DIR]
"""
import argparse, json, os, random, shutil, signal, subprocess, sys, tempfile, time

from harness import free_port, ledger, vellum_binary

p = argparse.ArgumentParser()
p.add_argument("--trials", type=int, default=100)
p.add_argument("--seed", type=int, default=None)
p.add_argument("--workload", choices=["bulk", "single", "import", "catchup"], action="append")
p.add_argument("--bin", default=None, help="directory holding the vellum binary (default: VELLUM_BIN's, else the debug build)")
a = p.parse_args()
seed = a.seed if a.seed is not None else random.randrange(1 << 32)
rng = random.Random(seed)
vellum = vellum_binary(a.bin)
work = tempfile.mkdtemp(prefix="vellum-crash-")
server = None
ROWS, SINGLES = 4500, 12  # bulk: batches of 4,000, so a kill can land between the two


class TrialFailed(Exception):
    pass


def run(*args, check=True):
    r = subprocess.run([vellum, *args], capture_output=True, text=True, timeout=300)
    if check and r.returncode != 0:
        raise TrialFailed(f"vellum {' '.join(args)} exited {r.returncode}: {r.stderr.strip()[-500:]}")
    return r


def expect(condition, message):
    if not condition:
        raise TrialFailed(message)


def credentials(d):
    return {row[0] for row in ledger(d, "SELECT credential FROM credentials")}


def audited(d):
    r = run("audit", "--data", d, "--json", check=False)
    expect(r.returncode == 0, f"audit failed after the kill: {r.stdout.strip()[-400:]} {r.stderr.strip()[-400:]}")


partial = [0]  # bulk trials killed between batches: some rows issued, not all
ran_for = 0.0  # how long the last command under test ran (uninterrupted: the calibration)


def killed(args, delay):
    """Starts vellum ARGS, kills it with SIGKILL after `delay` s; True if it was still running."""
    global ran_for
    started = time.time()
    proc = subprocess.Popen([vellum, *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        proc.wait(timeout=delay)
        proc.communicate()
        ran_for = time.time() - started
        return False
    except subprocess.TimeoutExpired:
        proc.send_signal(signal.SIGKILL)
        proc.communicate()
        return True


def fresh(template, name):
    d = os.path.join(work, name)
    shutil.rmtree(d, ignore_errors=True)
    shutil.copytree(template, d)
    return d


# --- the workloads: each returns whether the kill landed while the command ran ---

def bulk(trial, delay):
    d = fresh(templates["node"], "bulk")
    out = os.path.join(work, "bulk-out")
    shutil.rmtree(out, ignore_errors=True)
    command = ["issue", "--data", d, "--csv", csv, "--out-dir", out, "--json"]
    hit = killed(command, delay)
    audited(d)
    held = credentials(d)
    manifest = os.path.join(out, "manifest.csv")
    if os.path.exists(manifest):
        listed = [line.split(",")[1] for line in open(manifest).read().splitlines()[1:]]
        expect(set(listed) <= held, f"the manifest names {len(set(listed) - held)} credentials the ledger lacks")
    if os.path.isdir(out):
        for name in os.listdir(out):
            if name.endswith(".json"):
                try:
                    document = json.load(open(os.path.join(out, name)))
                except ValueError:
                    raise TrialFailed(f"{name} is half written")
                expect(document["id"] in held, f"{name} holds a credential the ledger lacks")
    if 0 < len(held) < ROWS:
        partial[0] += 1
    again = run(*command)
    report = json.loads(again.stdout)
    expect(report["issued"] + report["alreadyIssued"] == ROWS and report["alreadyIssued"] == len(held),
           f"the re-run reports {report}, the ledger held {len(held)} before it")
    held = credentials(d)
    expect(len(held) == ROWS, f"{len(held)} credentials for {ROWS} rows: a row was issued twice or not at all")
    listed = [line.split(",") for line in open(manifest).read().splitlines()[1:]]
    expect(len(listed) == ROWS and {row[1] for row in listed} == held, "the manifest after the re-run does not name every row's credential once")
    files = [name for name in os.listdir(out) if name.endswith(".json")]
    expect(len(files) == ROWS, f"{len(files)} credential files for {ROWS} rows")
    leftovers = [name for name in os.listdir(out) if ".partial-" in name]
    expect(not leftovers, f"the re-run left {len(leftovers)} temporary files, e.g. {leftovers[:1]}")
    audited(d)
    return hit


def single(trial, delay):
    global ran_for
    d = fresh(templates["node"], "single")
    printed, hit, started = [], False, time.time()
    for k in range(SINGLES):
        args = ["issue", "--data", d, "--subject", f"s{k}@example.edu", "--achievement", "Lab safety", "--out", os.path.join(work, f"single-{trial}-{k}.json")]
        left = delay - (time.time() - started)
        proc = subprocess.Popen([vellum, *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        try:
            out, _ = proc.communicate(timeout=max(left, 0.0001))
        except subprocess.TimeoutExpired:
            proc.send_signal(signal.SIGKILL)
            proc.communicate()
            hit = True
            break
        expect(proc.returncode == 0, f"vellum issue exited {proc.returncode}")
        printed.append(out.strip())
    ran_for = time.time() - started
    audited(d)
    held = credentials(d)
    expect(set(printed) <= held, f"{len(set(printed) - held)} printed ids are not in the ledger")
    expect(len(held) - len(printed) in (0, 1), f"{len(held)} credentials after {len(printed)} printed ids and one kill")
    run("issue", "--data", d, "--subject", "after@example.edu", "--achievement", "Lab safety")
    audited(d)
    return hit


def import_(trial, delay):
    d = fresh(templates["empty"], "import")
    hit = killed(["import", "--data", d, export], delay)
    audited(d)
    count = ledger(d, "SELECT count(*) FROM entries")[0][0]
    expect(count in (0, exported), f"{count} of {exported} entries after a killed import: not all or nothing")
    run("import", "--data", d, export)
    expect(run("digest", "--data", d).stdout == source_digest, "the re-run import does not reach the source's digest")
    audited(d)
    return hit


def catchup(trial, delay):
    d = fresh(templates["replica"], "catchup")
    command = ["sync", "--data", d, "--peer", server_endpoint, "--json"]
    hit = killed(command, delay)
    audited(d)
    run(*command)
    expect(run("digest", "--data", d).stdout == source_digest, "the re-run sync does not reach the source's digest")
    audited(d)
    return hit


workloads = {"bulk": bulk, "single": single, "import": import_, "catchup": catchup}


signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))  # so that `finally` stops the source node
try:
    chosen = a.workload or list(workloads)
    print(f"crash: {a.trials} trials of {', '.join(chosen)}, seed {seed} ({vellum})")
    templates = {name: os.path.join(work, "template-" + name) for name in ["node", "empty", "source", "replica"]}
    run("init", "--data", templates["node"], "--name", "Crash Campus")
    run("init", "--data", templates["empty"], "--name", "Importer")
    csv = os.path.join(work, "rows.csv")
    with open(csv, "w") as f:
        f.write("subject,achievement,valid-until\n" + "".join(f"s{k}@example.edu,Course {k % 9},2031-06-30\n" for k in range(ROWS)))
    # The source: thousands of entries, some revoked, exported once and served by a running node.
    source = templates["source"]
    run("init", "--data", source, "--name", "Source Campus")
    run("issue", "--data", source, "--csv", csv, "--out", os.path.join(work, "source.jsonl"))
    ids = [json.loads(line)["id"] for line in open(os.path.join(work, "source.jsonl"))]
    for cid in ids[:20]:
        run("revoke", "--data", source, cid)
    export = os.path.join(work, "source.export")
    with open(export, "w") as f:
        subprocess.run([vellum, "export", "--data", source], stdout=f, check=True)
    exported = sum(1 for _ in open(export)) - 2
    source_digest = run("digest", "--data", source).stdout
    server_endpoint = f"tcp://127.0.0.1:{free_port()}"
    run("init", "--data", templates["replica"], "--name", "Replica Campus")
    source_key = json.loads(run("id", "--data", source, "--json").stdout)["transportKey"]
    replica_key = json.loads(run("id", "--data", templates["replica"], "--json").stdout)["transportKey"]
    run("peer", "add", "--data", source, "tcp://127.0.0.1:9", f"--key={replica_key}")
    run("peer", "add", "--data", templates["replica"], server_endpoint, f"--key={source_key}")
    server = subprocess.Popen([vellum, "node", "--data", source, "--listen", server_endpoint],
                              stdout=subprocess.DEVNULL, stderr=open(os.path.join(work, "source.log"), "w"))

    # How long each command runs uninterrupted: kills land uniformly within that time.
    durations = {}
    for name in chosen:
        workloads[name](-1, 3600.0)
        durations[name] = ran_for
    print("crash: uninterrupted: " + ", ".join(f"{n} {durations[n]:.2f} s" for n in chosen))

    hits = {name: 0 for name in chosen}
    counts = {name: 0 for name in chosen}
    for trial in range(a.trials):
        name = chosen[trial % len(chosen)]
        delay = 0.02 + rng.random() * durations[name]  # the seed fixes the fraction of the measured duration
        try:
            hits[name] += workloads[name](trial, delay)
            counts[name] += 1
        except (TrialFailed, subprocess.TimeoutExpired) as e:
            print(f"crash: FAILED trial {trial} ({name}, kill after {delay:.3f} s): {e}\n"
                  f"crash: replay with Scripts/crash --seed {seed} --trials {trial + 1}" + (f" --workload {name}" if a.workload else ""))
            sys.exit(1)
    if "bulk" in chosen and counts["bulk"] >= 10 and partial[0] == 0:
        print(f"crash: FAILED: no bulk trial was killed between its two batches (seed {seed})")
        sys.exit(1)
    print("crash: passed " + ", ".join(f"{name} {counts[name]} trials ({hits[name]} killed mid-command)" for name in chosen)
          + (f"; {partial[0]} bulk runs stopped between batches and resumed" if "bulk" in chosen else "") + f"; seed {seed}")
finally:
    if server is not None and server.poll() is None:
        server.kill()
    shutil.rmtree(work, ignore_errors=True)
