"""Three coronet-demo instances behind nginx, restarted one at a time under load.

While wrk sends GETs and POSTs and python3-grpcio threads send SayHello calls, all through
nginx (examples/deploy: the nginx.conf.in and the fleet.py of docs/deploy.md), each instance
in turn gets SIGTERM, exits and is started again on its port (the last one while the old
process still drains: the new one binds the port as soon as the old one has closed it). Asserted: no request or call
failed (no non-2xx, no socket error, every gRPC status OK with the right reply), every
instance exited 0, and every instance served each kind of request.

usage: fleet_test.py CORONET_DEMO FLEET_PY   (NGINX, WRK: the programs; skips, exit code 77,
without nginx, wrk or python3-grpcio)
"""
import importlib.util
import os
import re
import shutil
import subprocess
import sys
import threading
import time

SKIP = 77
LOAD_SECONDS = float(os.environ.get("FLEET_LOAD_SECONDS", "20"))


def load_fleet_module(path):
    spec = importlib.util.spec_from_file_location("fleet", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


# wrk: a bounded rate per connection (delay), the outcome as one parseable line.
WRK_SCRIPT = """
local kind = "%s"
if kind == "post" then
  wrk.method = "POST"
  wrk.body = "fleet-echo-payload"
  wrk.headers["Content-Type"] = "text/plain"
end
local bad_body = 0
function delay() return %d end
function response(status, headers, body)
  if status == 200 and kind == "post" and body ~= "fleet-echo-payload" then bad_body = bad_body + 1 end
end
function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format("RESULT requests=%%d connect=%%d read=%%d write=%%d status=%%d timeout=%%d\\n",
    summary.requests, e.connect, e.read, e.write, e.status, e.timeout))
end
"""


def start_wrk(wrk, url, kind, seconds, workdir, delay_ms=2, connections=4):
    script = os.path.join(workdir, f"{kind}.lua")
    with open(script, "w") as f:
        f.write(WRK_SCRIPT % (kind, delay_ms))
    return subprocess.Popen(
        [wrk, "-t1", f"-c{connections}", f"-d{seconds:.0f}s", "--timeout", "10s", "-s", script, url],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)


def wrk_result(proc):
    out, _ = proc.communicate(timeout=60)
    m = re.search(r"RESULT requests=(\d+) connect=(\d+) read=(\d+) write=(\d+) status=(\d+) timeout=(\d+)", out)
    assert m, "wrk printed no result:\n" + out
    keys = ("requests", "connect", "read", "write", "status", "timeout")
    return dict(zip(keys, map(int, m.groups()))), out


class GrpcLoad:
    """Threads calling SayHello through nginx until stopped; counts outcomes."""

    def __init__(self, grpc, port, threads=4):
        sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
        from greeting_wire import decode_greeting, encode_greeting
        self.encode, self.decode = encode_greeting, decode_greeting
        self.grpc = grpc
        self.channels = [grpc.insecure_channel(f"127.0.0.1:{port}") for _ in range(2)]
        self.stop = threading.Event()
        self.lock = threading.Lock()
        self.ok = 0
        self.failures = []
        self.threads = [threading.Thread(target=self.run, args=(self.channels[i % 2], i)) for i in range(threads)]

    def run(self, channel, index):
        say_hello = channel.unary_unary("/HelloWorld/SayHello")
        n = 0
        while not self.stop.is_set():
            n += 1
            name = f"fleet-{index}-{n}"
            try:
                reply = say_hello(self.encode(name), timeout=10)
                good = self.decode(reply) == "Hello, " + name
                with self.lock:
                    if good:
                        self.ok += 1
                    else:
                        self.failures.append(f"wrong reply {reply!r}")
            except self.grpc.RpcError as e:
                with self.lock:
                    self.failures.append(f"{e.code()}: {e.details()}")

    def __enter__(self):
        for t in self.threads:
            t.start()
        return self

    def __exit__(self, *exc):
        self.stop.set()
        for t in self.threads:
            t.join()
        for c in self.channels:
            c.close()


def served_by(access_log, ports):
    """{(kind, port): count} from nginx's access log (the last upstream of a retried one)."""
    counts = {}
    for line in access_log.splitlines():
        parts = line.split(" ", 3)
        if len(parts) < 4:
            continue
        method, uri, _status, rest = parts
        addrs = re.findall(r"127\.0\.0\.1:(\d+)", rest)
        if not addrs:
            continue
        kind = "grpc" if uri.startswith("/HelloWorld/") else ("post" if method == "POST" else "get")
        key = (kind, int(addrs[-1]))
        counts[key] = counts.get(key, 0) + 1
    return counts


def main():
    demo, fleet_py = sys.argv[1], sys.argv[2]
    nginx = os.environ.get("NGINX") or shutil.which("nginx") or "/usr/sbin/nginx"
    wrk = os.environ.get("WRK") or shutil.which("wrk")
    if not os.path.exists(nginx):
        print("SKIP: nginx is not installed")
        return SKIP
    if not wrk:
        print("SKIP: wrk is not installed")
        return SKIP
    os.environ.setdefault("GRPC_VERBOSITY", "NONE")  # failures are counted, not logged
    try:
        import grpc
    except ImportError:
        print("SKIP: python3-grpcio is not installed")
        return SKIP

    fleet_mod = load_fleet_module(fleet_py)
    demo_flags = os.environ.get("FLEET_DEMO_FLAGS")
    fleet = fleet_mod.Fleet(demo, instances=3, nginx=nginx,
                            demo_flags=demo_flags.split() if demo_flags is not None else None)
    failures = []
    try:
        fleet.start()
        print(f"instances on {fleet.ports}; nginx HTTP {fleet.http_port}, gRPC {fleet.grpc_port}", flush=True)
        base = f"http://127.0.0.1:{fleet.http_port}"
        t0 = time.monotonic()
        gets = start_wrk(wrk, base + "/", "get", LOAD_SECONDS, fleet.prefix)
        posts = start_wrk(wrk, base + "/echo", "post", LOAD_SECONDS, fleet.prefix)
        with GrpcLoad(grpc, fleet.grpc_port) as calls:
            time.sleep(2)  # every instance serves a while before the restarts
            # The first two as fleet.py's rolling restart does it (wait for the exit, start
            # again); the last with overlap: the new instance binds the port while the old
            # one still drains.
            statuses = []
            for i in range(3):
                t = time.monotonic()
                statuses.append(fleet.replace_instance(i) if i == 2 else fleet.restart_instance(i))
                print(f"instance {i} exited {statuses[-1]}, replaced in {time.monotonic() - t:.1f} s", flush=True)
                if i < 2:
                    time.sleep(1.5)  # > nginx's fail_timeout: the instance is back in rotation
            remaining = LOAD_SECONDS - (time.monotonic() - t0)
            time.sleep(max(remaining, 1))
        elapsed = time.monotonic() - t0
        get_result, get_out = wrk_result(gets)
        post_result, post_out = wrk_result(posts)
        fleet.stop()

        print(f"GET  {get_result} ({get_result['requests'] / elapsed:.0f}/s)")
        print(f"POST {post_result} ({post_result['requests'] / elapsed:.0f}/s)")
        print(f"gRPC ok={calls.ok} failed={len(calls.failures)} ({calls.ok / elapsed:.0f}/s)")
        print(f"exit statuses {statuses}")

        for name, r, out in (("GET", get_result, get_out), ("POST", post_result, post_out)):
            errors = {k: v for k, v in r.items() if k != "requests" and v}
            if errors:
                failures.append(f"{name}: failed requests {errors}\n{out}")
            if r["requests"] < 200 * elapsed:
                failures.append(f"{name}: only {r['requests']} requests in {elapsed:.0f} s")
        if calls.failures:
            failures.append(f"gRPC: {len(calls.failures)} failed calls, e.g. {calls.failures[:5]}")
        if calls.ok < 200 * elapsed:
            failures.append(f"gRPC: only {calls.ok} calls in {elapsed:.0f} s")
        if any(statuses):
            failures.append(f"instances exited with {statuses} (0 expected)")
        counts = served_by(fleet.read("access.log"), fleet.ports)
        for kind in ("get", "post", "grpc"):
            per_port = {p: counts.get((kind, p), 0) for p in fleet.ports}
            print(f"{kind} per instance: {per_port}")
            if not all(per_port.values()):
                failures.append(f"{kind}: some instance served nothing: {per_port}")
        errors = [l for l in fleet.read("error.log").splitlines() if "[error]" in l or "[crit]" in l]
        if errors:
            print(f"nginx error.log ({len(errors)} errors):\n  " + "\n  ".join(errors[:20]))
    finally:
        fleet.stop()
        if os.environ.get("FLEET_KEEP"):
            print(f"kept {fleet.prefix}")
        else:
            fleet.cleanup()
    if failures:
        print("FAIL:\n" + "\n".join(failures))
        return 1
    print("PASS")
    return 0


if __name__ == "__main__":
    sys.exit(main())
