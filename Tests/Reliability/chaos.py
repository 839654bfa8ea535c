#!/usr/bin/env python3
"""Fault injection across a federation: real `vellum node` processes under a seeded schedule.

The federation: universities U0, U1, U2 found it (2 of 3 admit or remove); U3 applies. Node n0
and n1 are campuses of U0 (delegated from the start), n2 is a U0 campus delegated during the
run, n3 is U1's campus, n4 U3's (able to issue once U3 is admitted during the run); further
nodes are campuses of U1 and U2. Every node dials every other through a TCP relay the harness
controls, so a link can be cut and restored.

The schedule, from the seed: issues, revocations, suspensions and reinstatements on every node
(by the issuing campus or a sibling; other universities' attempts must be refused); partitions
of links and of whole nodes; `kill -9` of a node and its restart; a clock skew of minutes on
every node (VELLUM_CLOCK_OFFSET), changed at each restart; and, once each, the delegation of n2, the
compromise of n1 (cut off through its seq at that moment, after which it keeps writing, as a
thief would) and the admission of U3.

After the final heal it checks: every digest equal; every credential and revocation a command
acknowledged present everywhere (those of the cut-off campus only up to its cut); every revoked
credential revoked everywhere; no credential the cut-off campus wrote after its cut trusted
anywhere; `vellum audit` clean everywhere. A failure prints the seed and the schedule; replay
with --seed.

Usage: Scripts/chaos [--seeds N] [--nodes N] [--seed S] [--seconds T] [--bin DIR]
"""
import argparse, json, os, random, shutil, signal, socket, subprocess, sys, tempfile, threading, time

from harness import free_port, ledger, listening_socket, vellum_binary

p = argparse.ArgumentParser()
p.add_argument("--seeds", type=int, default=1, help="how many seeds to run (each a new schedule)")
p.add_argument("--nodes", type=int, default=5)
p.add_argument("--seed", type=int, default=None, help="run (replay) this seed only")
p.add_argument("--seconds", type=float, default=12, help="length of each schedule")
p.add_argument("--bin", default=None, help="directory holding the vellum binary (default: VELLUM_BIN's, else the debug build)")
a = p.parse_args()
if a.nodes < 5:
    sys.exit("chaos: --nodes must be at least 5 (three U0 campuses, U1's and U3's)")
vellum = vellum_binary(a.bin)
work = tempfile.mkdtemp(prefix="vellum-chaos-")
N = a.nodes


class Failed(Exception):
    pass


def run(*args, check=True, timeout=60):
    r = subprocess.run([vellum, *args], capture_output=True, text=True, timeout=timeout)
    if check and r.returncode != 0:
        raise Failed(f"vellum {' '.join(args[:3])} exited {r.returncode}: {r.stderr.strip()[-400:]}")
    return r


class Relays:
    """A TCP relay per ordered pair (i, j): node i dials node j through it. `cut` closes the
    pair's connections both ways and refuses new ones until `heal`."""

    def __init__(self, listen_ports):
        servers = {(i, j): listening_socket() for i in range(N) for j in range(N) if i != j}
        self.ports = {pair: server.getsockname()[1] for pair, server in servers.items()}
        self.targets = listen_ports
        self.blocked = set()
        self.held = set()  # nodes cut off until released, whatever heals meanwhile
        self.open = {pair: [] for pair in self.ports}
        self.lock = threading.Lock()
        for pair, server in servers.items():
            threading.Thread(target=self.accept, args=(pair, server), daemon=True).start()

    def accept(self, pair, server):
        while True:
            client, _ = server.accept()
            try:
                upstream = socket.create_connection(("127.0.0.1", self.targets[pair[1]]), timeout=2)
                upstream.settimeout(None)
            except OSError:
                client.close()
                continue
            with self.lock:
                if self.is_cut(pair):
                    client.close()
                    upstream.close()
                    continue
                self.open[pair].append((client, upstream))
            for src, dst in ((client, upstream), (upstream, client)):
                threading.Thread(target=self.pump, args=(src, dst), daemon=True).start()

    @staticmethod
    def pump(src, dst):
        try:
            while data := src.recv(65536):
                dst.sendall(data)
        except OSError:
            pass
        for s in (src, dst):
            try:
                s.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass

    def is_cut(self, pair):
        return pair in self.blocked or tuple(reversed(pair)) in self.blocked or pair[0] in self.held or pair[1] in self.held

    def cut(self, i, j):
        with self.lock:
            self.blocked.add((i, j))
            self.close(i, j)

    def close(self, i, j):
        for pair in ((i, j), (j, i)):
            for c, u in self.open[pair]:
                for s in (c, u):
                    try:
                        s.shutdown(socket.SHUT_RDWR)
                    except OSError:
                        pass
            self.open[pair] = []

    def hold(self, i):
        with self.lock:
            self.held.add(i)
            for j in range(N):
                if j != i:
                    self.close(i, j)

    def release(self, i):
        with self.lock:
            self.held.discard(i)

    def heal(self, i, j):
        with self.lock:
            self.blocked.discard((i, j))
            self.blocked.discard((j, i))

    def heal_all(self):
        with self.lock:
            self.blocked.clear()
            self.held.clear()


def build_template():
    """Organizations, the federation and N initialized nodes with their links: made once, copied per seed."""
    t = os.path.join(work, "template")
    orgs = {}
    for u in range(4):
        d = os.path.join(t, f"U{u}")
        orgs[u] = run("org", "create", "--name", f"University {u}", "--out", d).stdout.strip()
    genesis = os.path.join(t, "genesis.json")
    run("federation", "create", "--name", "Chaos Federation", "--threshold", "2", "--out", genesis,
        *sum((["--founder", os.path.join(t, f"U{u}", "org.json")] for u in range(3)), []))
    for u in range(3):
        run("federation", "sign", genesis, "--org", os.path.join(t, f"U{u}"))
    university = {0: 0, 1: 0, 2: 0, 3: 1, 4: 3}
    for i in range(5, N):
        university[i] = 1 + (i % 2)
    ids = {}
    for i in range(N):
        d = os.path.join(t, f"n{i}")
        run("init", "--data", d, "--name", f"n{i} campus", "--federation", genesis)
        ids[i] = json.loads(run("id", "--data", d, "--json").stdout)
        with open(os.path.join(t, f"n{i}.id.json"), "w") as f:
            json.dump(ids[i], f)
    # Delegations (no endpoint: nodes dial through the relays). n2's is published during the run,
    # n4's once U3 is admitted.
    for i in range(N):
        run("org", "delegate", "--org", os.path.join(t, f"U{university[i]}"), "--node", os.path.join(t, f"n{i}.id.json"),
            "--out", os.path.join(t, f"n{i}.delegation.json"))
    for i in range(N):
        d = os.path.join(t, f"n{i}")
        for u in range(3):
            run("publish", "--data", d, os.path.join(t, f"U{u}", "org.json"))
        for k in range(N):
            if k not in (2, 4):
                run("publish", "--data", d, os.path.join(t, f"n{k}.delegation.json"))
    listen = {i: free_port() for i in range(N)}
    relays = Relays(listen)
    for i in range(N):
        for j in range(N):
            if i != j:
                run("peer", "add", "--data", os.path.join(t, f"n{i}"), f"tcp://127.0.0.1:{relays.ports[(i, j)]}",
                    f"--key={ids[j]['transportKey']}")
    return t, orgs, university, ids, listen, relays


def schedule(seed):
    """The seeded schedule: (time, action, arguments), sorted by time."""
    rng = random.Random(seed)
    events = []
    t = 0.0
    while t < a.seconds:
        t += rng.expovariate(1 / 0.15)
        r = rng.random()
        if r < 0.45:
            events.append((t, "issue", {"node": rng.randrange(N)}))
        elif r < 0.65:
            # By the issuing campus or a sibling mostly; otherwise by anyone (another university: refused).
            events.append((t, rng.choice(["revoke", "revoke", "suspend", "reinstate"]),
                           {"node": rng.randrange(N), "pick": rng.random(), "sibling": rng.random() < 0.7}))
        elif r < 0.8:
            i, j = rng.sample(range(N), 2)
            events.append((t, "cut", {"a": i, "b": j, "for": rng.uniform(0.5, 4)}))
        elif r < 0.87:
            events.append((t, "isolate", {"node": rng.randrange(N), "for": rng.uniform(1, 4)}))
        elif r < 0.95:
            events.append((t, "kill", {"node": rng.randrange(N), "for": rng.uniform(0.2, 2), "skew": rng.randint(-300, 300)}))
    # Published by the registrars through any node but n1 (the thief would not: a proposal
    # carries each member's latest events, the cut among them).
    for name in ["delegate n2", "admit U3"]:
        events.append((rng.uniform(0.1, 0.8) * a.seconds, name, {"node": rng.choice([k for k in range(N) if k != 1])}))
    # The thief holds n1's key and keeps issuing while the cut spreads: n1 is cut off as the
    # cut is published elsewhere, and tries five issues before it hears of it.
    t = rng.uniform(0.2, 0.7) * a.seconds
    events.append((t - 0.01, "hold", {"node": 1, "for": 3.0}))
    events.append((t, "compromise n1", {"node": rng.choice([k for k in range(N) if k != 1])}))
    events += [(t + 0.3 * k, "issue", {"node": 1}) for k in range(1, 6)]
    events.sort(key=lambda e: e[0])
    skews = [rng.randint(-300, 300) for _ in range(N)]
    return events, skews


class Trial:
    def __init__(self, seed, template):
        self.seed = seed
        self.t, self.orgs, self.university, self.ids, self.listen, self.relays = template
        self.dir = os.path.join(work, f"seed-{seed}")
        shutil.rmtree(self.dir, ignore_errors=True)
        shutil.copytree(self.t, self.dir)
        self.procs = {}
        self.skews = {}
        self.acked = []  # (node, credential id)
        self.revoked = []  # (credential id, issuing node)
        self.compromise = None  # (node, seq) of the cut
        self.cut_checked = 0  # answers other nodes gave for credentials written after the cut
        self.thief = []  # credentials the cut-off campus issued after its cut was published
        self.log = []

    def data(self, i):
        return os.path.join(self.dir, f"n{i}")

    def start(self, i, skew):
        self.procs[i] = subprocess.Popen(
            [vellum, "node", "--data", self.data(i), "--listen", f"tcp://127.0.0.1:{self.listen[i]}"], env=self.skewed(skew),
            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=open(self.data(i) + ".log", "a"))
        self.skews[i] = skew

    def skewed(self, skew):
        return dict(os.environ, VELLUM_CLOCK_OFFSET=str(skew))

    def kill(self, i):
        proc = self.procs.pop(i, None)
        if proc is not None:
            proc.send_signal(signal.SIGKILL)
            proc.wait()

    def cli(self, i, *args):
        """A command on node i's data, with node i's clock."""
        r = subprocess.run([vellum, args[0], "--data", self.data(i), *args[1:]], capture_output=True, text=True, timeout=60,
                           env=self.skewed(self.skews.get(i, 0)))
        return r

    def do(self, action, args, rng):
        i = args.get("node")
        if action == "issue":
            r = self.cli(i, "issue", "--subject", f"s{len(self.acked)}@example.edu", "--achievement", "Chaos 101",
                         "--out", os.path.join(self.dir, f"c{len(self.log)}.json"))
            if r.returncode == 0:
                self.acked.append((i, r.stdout.strip()))
                if self.compromise and i == self.compromise[0]:
                    self.thief.append(r.stdout.strip())
            return "ok" if r.returncode == 0 else f"refused: {r.stderr.strip()[-150:]}"
        if action in ("revoke", "suspend", "reinstate"):
            if not self.acked:
                return "nothing issued yet"
            issuer, cid = self.acked[int(args["pick"] * len(self.acked))]
            if args["sibling"]:
                siblings = [k for k in range(N) if self.university[k] == self.university[issuer]]
                i = siblings[i % len(siblings)]
            r = self.cli(i, action, cid)
            # What the cut-off campus writes after its cut counts for nothing: not an acknowledgement.
            if r.returncode == 0 and action == "revoke" and not (self.compromise and i == self.compromise[0]):
                self.revoked.append((cid, issuer))
            if r.returncode == 0 and self.university[i] != self.university[issuer]:
                raise Failed(f"n{i} (U{self.university[i]}) could {action} {cid} of n{issuer} (U{self.university[issuer]})")
            return f"{cid[9:17]} of n{issuer}: exit {r.returncode}"
        if action == "cut":
            self.relays.cut(args["a"], args["b"])
            self.timers.append((time.time() + args["for"], lambda: self.relays.heal(args["a"], args["b"])))
            return ""
        if action == "isolate":
            for j in range(N):
                if j != i:
                    self.relays.cut(i, j)
            self.timers.append((time.time() + args["for"], lambda: [self.relays.heal(i, j) for j in range(N) if j != i]))
            return ""
        if action == "hold":
            self.relays.hold(i)
            self.timers.append((time.time() + args["for"], lambda: self.relays.release(i)))
            return ""
        if action == "kill":
            if i not in self.procs:
                return "already down"
            self.kill(i)
            self.timers.append((time.time() + args["for"], lambda: self.start(i, args["skew"])))
            return ""
        if action == "delegate n2":
            r = self.cli(i, "publish", os.path.join(self.dir, "n2.delegation.json"))
            self.cli(2, "publish", os.path.join(self.dir, "n2.delegation.json"))
            return f"exit {r.returncode}"
        if action == "compromise n1":
            feed = bytes.fromhex(self.ids[1]["feedKey"])
            seq, head = self.ledger(1, "SELECT seq, hex(head) FROM feeds WHERE key = ?", (feed,))[0]
            out = os.path.join(self.dir, "n1.undelegation.json")
            run("org", "undelegate", "--org", os.path.join(self.dir, "U0"), "--feed", self.ids[1]["did"], "--through", str(seq),
                "--entry", head.lower(), "--reason", "compromised", "--out", out)
            r = self.cli(i, "publish", out)
            if r.returncode != 0:
                raise Failed(f"publishing the compromise at n{i}: {r.stderr.strip()}")
            self.compromise = (1, seq)
            return f"through seq {seq}, published at n{i}"
        if action == "admit U3":
            proposal = os.path.join(self.dir, "admit.json")
            run("federation", "propose", "admit", "--data", self.data(i), "--record", os.path.join(self.dir, "U3", "org.json"), "--out", proposal)
            for u in (0, 1):
                run("federation", "sign", proposal, "--org", os.path.join(self.dir, f"U{u}"))
            r = self.cli(i, "publish", proposal)
            if r.returncode != 0:
                return f"refused: {r.stderr.strip()[-200:]}"  # the membership moved since it was proposed
            for k in (i, 4):
                self.cli(k, "publish", os.path.join(self.dir, "U3", "org.json"))
                self.cli(k, "publish", os.path.join(self.dir, "n4.delegation.json"))
            return f"published at n{i}"
        raise AssertionError(action)

    def execute(self):
        events, skews = schedule(self.seed)
        rng = random.Random(self.seed ^ 0x5EED)
        self.timers = []
        for i in range(N):
            self.start(i, skews[i])
        started = time.time()
        for at, action, args in events:
            while time.time() - started < at:
                self.fire_timers()
                time.sleep(0.01)
            self.fire_timers()
            result = self.do(action, args, rng)
            self.log.append(f"{at:6.2f} s  {action} {json.dumps(args)}  {result}")
        # The final heal: every link restored, every node up.
        self.relays.heal_all()
        for _, f in self.timers:
            f()
        self.timers = []
        for i in range(N):
            if i not in self.procs:
                self.start(i, 0)
        self.converge()
        self.check()

    def fire_timers(self):
        now = time.time()
        due = [f for t, f in self.timers if t <= now]
        self.timers = [(t, f) for t, f in self.timers if t > now]
        for f in due:
            f()

    def converge(self, timeout=60):
        healed = time.time()
        while True:
            counts = [self.ledger(i, "SELECT count(*) FROM entries")[0][0] for i in range(N)]
            if len(set(counts)) == 1:
                digests = {run("digest", "--data", self.data(i)).stdout for i in range(N)}
                if len(digests) == 1:
                    self.converged = time.time() - healed
                    return
            if time.time() - healed > timeout:
                down = [f"n{i}" for i, proc in self.procs.items() if proc.poll() is not None]
                raise Failed(f"no convergence {timeout} s after the final heal: entries per node {counts}"
                             + (f"; exited: {', '.join(down)} (see their logs)" if down else ""))
            time.sleep(0.25)

    def ledger(self, i, sql, args=()):
        return ledger(self.data(i), sql, args)

    def status(self, i, cid, issuer):
        r = self.cli(i, "status", cid, "--issuer", self.ids[issuer]["did"], "--json")
        if r.returncode != 0:
            raise Failed(f"status of {cid} on n{i}: {r.stderr.strip()}")
        return json.loads(r.stdout)

    def check(self):
        cut_node, cut_seq = self.compromise or (None, None)
        for issuer, cid in self.acked:
            feed = bytes.fromhex(self.ids[issuer]["feedKey"])
            seq = self.ledger(issuer, "SELECT e.seq FROM entries e JOIN feeds f ON f.n = e.feed WHERE e.credential = ? AND f.key = ? AND e.kind = 1", (cid, feed))
            if not seq:
                raise Failed(f"the ledger of n{issuer} lacks {cid}, which it acknowledged")
            after_cut = issuer == cut_node and seq[0][0] > cut_seq
            for i in range(N):
                held = self.ledger(i, "SELECT count(*) FROM entries e JOIN feeds f ON f.n = e.feed WHERE e.credential = ? AND f.key = ? AND e.kind = 1", (cid, feed))[0][0]
                if not held and not after_cut:
                    raise Failed(f"n{i} lacks {cid}, acknowledged by n{issuer}")
                if held and after_cut:
                    self.cut_checked += i != cut_node
                    s = self.status(i, cid, issuer)
                    if s["status"] != "revoked":
                        raise Failed(f"n{i} answers {s['status']} for {cid}, written by the cut-off n1 after its cut (seq {seq[0][0]} > {cut_seq})")
        if self.thief and not self.cut_checked:
            raise Failed(f"none of the {len(self.thief)} credentials the thief issued after its cut reached another node")
        # Nothing revokes what no acknowledged revocation named: not the cut (n1's earlier
        # credentials stand), not what the thief wrote about others after it.
        revoked = {cid for cid, _ in self.revoked}
        rng = random.Random(self.seed)
        standing = [(issuer, cid) for issuer, cid in self.acked if cid not in revoked and cid not in self.thief]
        sample = [x for x in standing if x[0] == cut_node] + rng.sample(standing, min(5, len(standing)))
        for issuer, cid in sample:
            for i in range(N):
                s = self.status(i, cid, issuer)
                if s["status"] == "revoked":
                    raise Failed(f"n{i} answers revoked for {cid} of n{issuer}, which no acknowledged revocation named")
        for cid, issuer in self.revoked:
            for i in range(N):
                s = self.status(i, cid, issuer)
                if s["status"] != "revoked":
                    raise Failed(f"n{i} answers {s['status']} for {cid}, whose revocation was acknowledged")
        for i in range(N):
            r = self.cli(i, "audit", "--json")
            if r.returncode != 0:
                raise Failed(f"audit failed on n{i}: {r.stdout.strip()[-300:]} {r.stderr.strip()[-300:]}")

    def stop(self):
        for i in list(self.procs):
            self.kill(i)


signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))  # so that `finally` stops the nodes
try:
    seeds = [a.seed] if a.seed is not None else [random.randrange(1 << 32) for _ in range(a.seeds)]
    print(f"chaos: {len(seeds)} seed(s), {N} nodes, {a.seconds:.0f} s schedules ({vellum})")
    template = build_template()
    totals = {"issued": 0, "revoked": 0, "kills": 0, "cuts": 0, "seconds": [], "thief": 0}
    for k, seed in enumerate(seeds):
        trial = Trial(seed, template)
        try:
            trial.execute()
        except (Failed, subprocess.TimeoutExpired) as e:
            print(f"chaos: FAILED seed {seed}: {e}\nchaos: the schedule:")
            for line in trial.log:
                print("  " + line)
            print(f"chaos: replay with Scripts/chaos --seed {seed} --nodes {N} --seconds {a.seconds:g}")
            sys.exit(1)
        finally:
            trial.stop()
        kills = sum(1 for line in trial.log if " kill " in line and "already" not in line)
        cuts = sum(1 for line in trial.log if " cut " in line or " isolate " in line)
        totals["issued"] += len(trial.acked)
        totals["revoked"] += len(trial.revoked)
        totals["kills"] += kills
        totals["cuts"] += cuts
        totals["seconds"].append(trial.converged)
        totals["thief"] += bool(trial.thief)
        late = sum(1 for issuer, _ in trial.acked if issuer in (2, 4))
        print(f"chaos: seed {seed} passed ({k + 1}/{len(seeds)}): {len(trial.acked)} issued ({late} by n2 and n4 once delegated "
              f"and admitted), {len(trial.revoked)} revoked, {trial.cut_checked} answers for the cut-off campus's later credentials, "
              f"{kills} kills, {cuts} partitions; converged {trial.converged:.1f} s after the heal")
        shutil.rmtree(trial.dir, ignore_errors=True)
    s = sorted(totals["seconds"])
    print(f"chaos: passed {len(seeds)} seeds: {totals['issued']} credentials and {totals['revoked']} revocations acknowledged, "
          f"{totals['kills']} kills, {totals['cuts']} partitions; the thief wrote after its cut in {totals['thief']} seeds "
          f"(in the others its node heard of the cut first and refused); convergence after the heal median {s[len(s) // 2]:.1f} s, "
          f"max {s[-1]:.1f} s")
finally:
    if os.environ.get("CHAOS_KEEP"):
        print(f"chaos: kept {work}")
    else:
        shutil.rmtree(work, ignore_errors=True)
