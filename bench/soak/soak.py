"""The soak run behind bench/soak.sh: starts coronet-demo, puts every kind of client in
clients.py on it at once for --duration seconds, samples the demo's RSS and descriptors every
second, then checks them. See bench/soak.sh for what is checked and why.
"""
import argparse
import csv
import json
import os
import re
import signal
import socket
import statistics
import subprocess
import sys
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.normpath(os.path.join(HERE, "..", ".."))

# kind: clients at a time. Everything is on 127.0.0.1; at most ~70 connections at once.
KINDS = {
    "http_keepalive": 8,    # wrk, GET /, keep-alive
    "http_pipelined": 4,    # wrk, 16 GET / per write
    "gateway": 4,           # wrk, GET /hello/{name}: HTTP -> gRPC SayHello on the demo itself
    "grpc_h2load": 4,       # h2load, 8 SayHello streams per connection
    "grpc_unary": 2,        # grpcio, reply checked, a new connection every 200 calls
    "grpc_watch": 2,        # grpcio, Health/Watch server streams, cancelled by the client
    "grpc_reflection": 1,   # grpcio, ServerReflectionInfo bidi streams
    "abort": 4,             # half a head / body / preface / gRPC message, then FIN or RST
    "slow_reader": 2,       # pipelines requests, never reads, 4 KiB SO_RCVBUF, then closes
    "slowloris": 8,         # one byte a second (heads: 408 at 10 s; bodies: answered)
}
# Kinds whose every unit of work should succeed; their error rate is reported and bounded.
WELL_BEHAVED = ("http_keepalive", "http_pipelined", "gateway", "grpc_h2load", "grpc_unary",
                "grpc_watch", "grpc_reflection")
MAX_ERROR_RATE = 0.001

MiB = 1024


def log(msg):
    print("soak: " + msg, file=sys.stderr, flush=True)


def rss_kib(pid):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


def fd_count(pid):
    return len(os.listdir("/proc/%d/fd" % pid))


def threads_of(pid):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("Threads:"):
                return int(line.split()[1])
    return 0


def cpu_seconds(pid):
    with open("/proc/%d/stat" % pid) as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def probe(port, timeout):
    """GET /healthz on a new connection: milliseconds, or None when it failed."""
    start = time.monotonic()
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=timeout) as s:
            s.sendall(b"GET /healthz HTTP/1.1\r\nHost: soak\r\nConnection: close\r\n\r\n")
            data = b""
            while True:
                chunk = s.recv(4096)
                if not chunk:
                    break
                data += chunk
        if not data.startswith(b"HTTP/1.1 200"):
            return None
        return (time.monotonic() - start) * 1000
    except OSError:
        return None


def is_asan(path):
    try:
        out = subprocess.run(["ldd", path], capture_output=True, text=True, timeout=10).stdout
    except (OSError, subprocess.TimeoutExpired):
        return False
    return "libasan" in out


class Sampler(threading.Thread):
    """Every second: RSS, descriptors, threads, CPU and a /healthz probe, into the CSV."""

    def __init__(self, pid, port, path, probe_timeout):
        super().__init__(daemon=True)
        self.pid, self.port, self.probe_timeout = pid, port, probe_timeout
        self.file = open(path, "w", newline="")
        self.csv = csv.writer(self.file)
        self.csv.writerow(["t_s", "phase", "rss_kib", "fds", "threads", "cpu_s", "probe_ms"])
        self.phase = "baseline"
        self.rows = []
        self.t0 = time.monotonic()
        self.halt = threading.Event()
        self.lock = threading.Lock()

    def sample(self):
        t = time.monotonic() - self.t0
        try:
            row = [round(t, 1), self.phase, rss_kib(self.pid), fd_count(self.pid),
                   threads_of(self.pid), round(cpu_seconds(self.pid), 2)]
        except (FileNotFoundError, ProcessLookupError):
            return False
        ms = probe(self.port, self.probe_timeout)
        row.append("" if ms is None else round(ms, 1))
        with self.lock:
            self.rows.append(row)
            self.csv.writerow(row)
            self.file.flush()
        return True

    def run(self):
        next_at = time.monotonic()
        while not self.halt.is_set():
            if not self.sample():
                return
            next_at += 1.0
            self.halt.wait(max(0.0, next_at - time.monotonic()))

    def of(self, *phases):
        with self.lock:
            return [r for r in self.rows if r[1] in phases]


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--duration", type=float, default=1800)
    p.add_argument("--demo", required=True)
    p.add_argument("--out", required=True)
    p.add_argument("--warmup-fraction", type=float, default=0.2)
    p.add_argument("--settle", type=float, default=35.0,
                   help="seconds after the clients exit for descriptors to return to the baseline: "
                        "the demo's longest timeout for a client gone mid-request (the 30 s "
                        "between body reads), plus 5")
    p.add_argument("--prompt", type=float, default=6.0,
                   help="seconds after the clients exit past which descriptors still open are noted "
                        "(and listed in descriptors-late.txt)")
    p.add_argument("--fd-tolerance", type=int, default=2)
    p.add_argument("--grpc-idle-ms", type=int, default=2000)
    p.add_argument("--only", default="", help="comma-separated kinds (default: all)")
    p.add_argument("--load-nice", type=int, default=5,
                   help="niceness added to wrk and h2load, so that they do not starve the demo")
    args = p.parse_args()
    if args.only:
        for kind in list(KINDS):
            if kind not in args.only.split(","):
                del KINDS[kind]
    os.makedirs(args.out, exist_ok=True)
    asan = is_asan(args.demo)

    env = dict(os.environ)
    if asan:
        env.update({
            # Leaks are reported when the demo exits; its exit code then is not 0. A smaller
            # quarantine than the default 256 MiB keeps RSS from climbing for most of a
            # short run only because freed blocks are being held.
            "ASAN_OPTIONS": "detect_leaks=1:abort_on_error=1:quarantine_size_mb=16",
            "UBSAN_OPTIONS": "halt_on_error=1:print_stacktrace=1",
            "LSAN_OPTIONS": "suppressions=%s:print_suppressions=0" % os.path.join(ROOT, "tests", "lsan.supp"),
        })
    demo_log = open(os.path.join(args.out, "demo.log"), "w")
    demo = subprocess.Popen([args.demo, "--listen", "127.0.0.1:0", "--grpc-idle-timeout", str(args.grpc_idle_ms)],
                            stdout=subprocess.PIPE, stderr=demo_log, text=True, env=env)
    clients = {}

    def cleanup(*_):
        for c in clients.values():
            if c.poll() is None:
                c.kill()
        if demo.poll() is None:
            demo.kill()
    signal.signal(signal.SIGTERM, lambda *a: (cleanup(), sys.exit(143)))
    signal.signal(signal.SIGINT, lambda *a: (cleanup(), sys.exit(130)))
    try:
        return run(args, asan, demo, demo_log, clients)
    finally:
        cleanup()


def run(args, asan, demo, demo_log, clients):
    line = demo.stdout.readline()
    m = re.search(r"listening on 127\.0\.0\.1:(\d+)", line)
    if not m:
        log("coronet-demo did not start: %r (see %s/demo.log)" % (line, args.out))
        return 1
    port = int(m.group(1))
    pid = demo.pid
    stdout_copier = threading.Thread(target=lambda: demo_log.write(demo.stdout.read()), daemon=True)
    stdout_copier.start()
    log("coronet-demo pid %d on 127.0.0.1:%d%s; load %d s, results in %s"
        % (pid, port, " (AddressSanitizer)" if asan else "", args.duration, args.out))

    sampler = Sampler(pid, port, os.path.join(args.out, "samples.csv"), 10 if asan else 2)
    sampler.start()
    time.sleep(3)
    baseline = sampler.of("baseline")
    fd_base = statistics.median_low([r[3] for r in baseline])
    rss_start = baseline[-1][2]

    sampler.phase = "warmup"
    load_start = time.monotonic()
    stats_dir = os.path.join(args.out, "stats")
    os.makedirs(stats_dir, exist_ok=True)
    for kind, n in KINDS.items():
        clients[kind] = subprocess.Popen(
            ["/usr/bin/python3", os.path.join(HERE, "clients.py"), kind, "--port", str(port),
             "--seconds", str(args.duration), "--concurrency", str(n), "--stats",
             os.path.join(stats_dir, kind + ".json"), "--nice", str(args.load_nice)],
            stdout=open(os.path.join(stats_dir, kind + ".log"), "w"), stderr=subprocess.STDOUT)

    warm_end = load_start + args.warmup_fraction * args.duration
    half = load_start + args.duration / 2
    at_half = {}
    while time.monotonic() < load_start + args.duration and demo.poll() is None:
        now = time.monotonic()
        if now >= warm_end and sampler.phase == "warmup":
            sampler.phase = "load"
        if now >= half and not at_half:
            at_half = {k: read_stats(stats_dir, k)["done"] for k in KINDS}
        time.sleep(min(1.0, max(0.05, load_start + args.duration - now)))
    sampler.phase = "settle"
    settle_start = time.monotonic()
    for c in clients.values():
        if c.poll() is None:
            c.send_signal(signal.SIGTERM)
    for kind, c in clients.items():
        try:
            c.wait(timeout=20)
        except subprocess.TimeoutExpired:
            c.kill()
            c.wait()
    done = {k: read_stats(stats_dir, k) for k in KINDS}
    clients_exit_s = time.monotonic() - settle_start

    # Settle: the clients have closed everything; the demo closes its side, and the gRPC
    # connection of its own gateway channel at the idle timeout. Counted from the last
    # client's exit, not from the SIGTERM: on a loaded machine the clients themselves take
    # seconds to exit, and until then their connections are rightly open.
    settle_start = time.monotonic()
    fd_end = None
    late_dumped = False
    while demo.poll() is None and time.monotonic() < settle_start + args.settle:
        time.sleep(1)
        if not late_dumped and time.monotonic() >= settle_start + args.prompt:
            dump_descriptors(pid, os.path.join(args.out, "descriptors-late.txt"))
            late_dumped = True
        rows = sampler.of("settle")
        if rows and rows[-1][3] <= fd_base + args.fd_tolerance:
            fd_end = rows[-1][3]
            settle_s = rows[-1][0] - (settle_start - sampler.t0)
            break
    if fd_end is None and demo.poll() is None:
        dump_descriptors(pid, os.path.join(args.out, "descriptors-left.txt"))
    time.sleep(1.5)  # one more sample for the end figures
    sampler.halt.set()
    sampler.join()
    rows_all = sampler.of("baseline", "warmup", "load", "settle")
    settle_rows = sampler.of("settle")

    died = demo.poll()
    exit_code = None
    if died is None:
        demo.send_signal(signal.SIGTERM)
        try:
            exit_code = demo.wait(timeout=60)
        except subprocess.TimeoutExpired:
            demo.kill()
            exit_code = "hung on SIGTERM (killed after 60 s)"
    stdout_copier.join(5)
    demo_log.flush()
    with open(os.path.join(args.out, "demo.log"), errors="replace") as f:
        demo_err = f.read()
    sanitizer = re.findall(r"ERROR: (?:AddressSanitizer|LeakSanitizer)[^\n]*|runtime error:[^\n]*", demo_err)

    # --- figures and verdict -------------------------------------------------------------
    problems = []
    warm = sampler.of("warmup")
    after = sampler.of("load") + settle_rows
    warm_peak = max(r[2] for r in warm) if warm else rss_start
    # Release: + max(10 MiB, 10%). AddressSanitizer holds freed blocks in quarantine and
    # spreads them over per-thread caches, so its RSS still creeps for minutes without a
    # leak (+12-17% within a minute after a 12 s warm-up, measured): + max(32 MiB, 25%)
    # there, and LeakSanitizer at exit catches what is unreachable.
    slack, share = (32 * MiB, 4) if asan else (10 * MiB, 10)
    rss_bound = warm_peak + max(slack, warm_peak // share)
    rss_peak_after = max((r[2] for r in after), default=warm_peak)
    rss_peak = max(r[2] for r in rows_all)
    rss_end = rows_all[-1][2]
    fd_peak = max(r[3] for r in rows_all)
    fd_last = rows_all[-1][3]
    probes = [r[6] for r in rows_all if r[1] in ("warmup", "load")]
    probe_fail = sum(1 for v in probes if v == "")
    probe_ok = sorted(v for v in probes if v != "")
    longest_outage = run_length(probes)
    slope = rss_slope(sampler.of("load"))

    if died is not None:
        problems.append("the demo died during the run (exit %s)" % died)
    elif exit_code != 0:
        problems.append("the demo's exit on SIGTERM: %s, not 0" % exit_code)
    if sanitizer:
        problems.append("sanitizer reports: %d (first: %s)" % (len(sanitizer), sanitizer[0]))
    if rss_peak_after > rss_bound:
        problems.append("RSS %.1f MiB after the warm-up, over the bound %.1f MiB"
                        % (rss_peak_after / MiB, rss_bound / MiB))
    if fd_end is None:
        problems.append("descriptors did not return to the baseline %d (+%d) within %d s after the "
                        "clients exited: %d" % (fd_base, args.fd_tolerance, args.settle, fd_last))
    notes = []
    if fd_end is not None and settle_s > args.prompt:
        notes.append("descriptors took %.0f s to come back: the demo held connections its "
                     "clients had closed (descriptors-late.txt lists them; peers 127.0.2.N are "
                     "the Nth kind of abort in clients.py ABORTS)" % settle_s)
    if longest_outage >= 5:
        problems.append("/healthz failed %d seconds in a row" % longest_outage)
    for kind in KINDS:
        d = done[kind]
        if d["done"] == 0:
            problems.append("%s made no progress" % kind)
        elif at_half and d["done"] <= at_half.get(kind, 0):
            problems.append("%s made no progress in the second half" % kind)
        if kind in WELL_BEHAVED and d["errors"] > MAX_ERROR_RATE * max(1, d["done"]):
            problems.append("%s: %d errors in %d (over %.1f%%)" % (kind, d["errors"], d["done"],
                                                                  100 * MAX_ERROR_RATE))

    out = []
    out.append("coronet soak: %s%s, %d s of load, %d kinds at once" % (
        args.demo, " (AddressSanitizer)" if asan else "", args.duration, len(KINDS)))
    out.append("%-16s %7s %12s %8s  %s" % ("kind", "clients", "done", "errors", "detail"))
    for kind, n in KINDS.items():
        d = done[kind]
        detail = ", ".join("%s %d" % kv for kv in sorted(d["detail"].items()))
        out.append("%-16s %7d %12d %8d  %s" % (kind, n, d["done"], d["errors"], detail))
    out.append("RSS MiB: start %.1f, warm-up peak %.1f (first %d%%), peak after %.1f (bound %.1f), "
               "peak %.1f, end %.1f; slope after the warm-up %+.2f MiB/min" % (
                   rss_start / MiB, warm_peak / MiB, 100 * args.warmup_fraction, rss_peak_after / MiB,
                   rss_bound / MiB, rss_peak / MiB, rss_end / MiB, slope))
    out.append("descriptors: baseline %d, peak %d, end %s (%s)" % (
        fd_base, fd_peak, fd_last,
        "back within %d of the baseline %.0f s after the clients exited" % (args.fd_tolerance, settle_s)
        if fd_end is not None else "NOT back within %d s" % args.settle)
        + "; the clients took %.1f s to exit on SIGTERM" % clients_exit_s)
    if probe_ok:
        out.append("/healthz probe during load: %d ok, %d failed; median %.1f ms, max %.1f ms" % (
            len(probe_ok), probe_fail, statistics.median(probe_ok), probe_ok[-1]))
    out.append("demo: CPU %.0f s, exit on SIGTERM: %s%s" % (
        rows_all[-1][5], exit_code if died is None else "died (%s)" % died,
        ", sanitizer reports: %d" % len(sanitizer) if asan else ""))
    for note in notes:
        out.append("note: " + note)
    out.append("verdict: " + ("PASS" if not problems else "FAIL"))
    for problem in problems:
        out.append("  - " + problem)
    text = "\n".join(out)
    print(text, flush=True)
    with open(os.path.join(args.out, "summary.txt"), "w") as f:
        f.write(text + "\n")
    return 1 if problems else 0


def dump_descriptors(pid, path):
    """What the demo still holds: its descriptors, and its sockets as ss sees them."""
    with open(path, "w") as f:
        for fd in sorted(os.listdir("/proc/%d/fd" % pid), key=int):
            try:
                f.write("%s -> %s\n" % (fd, os.readlink("/proc/%d/fd/%s" % (pid, fd))))
            except OSError:
                pass
        f.flush()
        subprocess.run(["ss", "-tanpeo"], stdout=f, stderr=subprocess.DEVNULL, timeout=10)


def read_stats(stats_dir, kind):
    try:
        with open(os.path.join(stats_dir, kind + ".json")) as f:
            return json.load(f)
    except (OSError, ValueError):
        return {"done": 0, "errors": 0, "detail": {}}


def run_length(probes):
    longest = current = 0
    for v in probes:
        current = current + 1 if v == "" else 0
        longest = max(longest, current)
    return longest


def rss_slope(rows):
    """Least-squares slope of RSS over time, MiB per minute."""
    if len(rows) < 3:
        return 0.0
    ts = [r[0] for r in rows]
    ys = [r[2] / MiB for r in rows]
    mt, my = statistics.fmean(ts), statistics.fmean(ys)
    var = sum((t - mt) ** 2 for t in ts)
    return 60 * sum((t - mt) * (y - my) for t, y in zip(ts, ys)) / var if var else 0.0


if __name__ == "__main__":
    sys.exit(main())
