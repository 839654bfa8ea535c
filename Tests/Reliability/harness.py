"""What the reliability harnesses (crash.py, chaos.py) and Scripts/converge share: finding the
vellum binary, free ports on 127.0.0.1, and read-only looks into a node's ledger."""
import os, socket, sqlite3, subprocess

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def vellum_binary(bin_dir):
    """--bin DIR, else $VELLUM_BIN (Scripts/test sets it), else the debug build's."""
    if bin_dir:
        return os.path.join(bin_dir, "vellum")
    if os.environ.get("VELLUM_BIN"):
        return os.environ["VELLUM_BIN"]
    return os.path.join(subprocess.check_output(["swift", "build", "--show-bin-path"], cwd=ROOT, text=True).strip(), "vellum")


_handed_out = set()


def listening_socket():
    """A TCP socket listening on 127.0.0.1, on a port this process has not handed out before."""
    while True:
        s = socket.socket()
        s.bind(("127.0.0.1", 0))
        if s.getsockname()[1] not in _handed_out:
            _handed_out.add(s.getsockname()[1])
            s.listen(16)
            return s
        s.close()


def free_port():
    """A port free now on 127.0.0.1, for a vellum process to bind later. The kernel may offer a
    port again once it is closed, so a port handed out before is never handed out twice."""
    with listening_socket() as s:
        return s.getsockname()[1]


def ledger(data_dir, sql, args=()):
    """Rows of a read-only query on a node's ledger (safe while the node runs: WAL)."""
    with sqlite3.connect(f"file:{data_dir}/ledger.sqlite?mode=ro", uri=True) as db:
        return db.execute(sql, args).fetchall()
