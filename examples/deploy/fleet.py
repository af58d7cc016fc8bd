#!/usr/bin/python3
"""A fleet of coronet-demo instances behind nginx, on loopback, and its rolling restart.

    fleet.py build/examples/coronet-demo --instances 3 --restart

starts N demo instances on free ports of 127.0.0.1, nginx in front of them (nginx.conf.in
filled in, run as the calling user from a temporary prefix), prints nginx's HTTP and gRPC
ports, and with --restart replaces the instances one at a time: SIGTERM, wait for the exit
(status 0 expected), start again on the same port, wait until it answers, next. With
--overlap the new instance starts as soon as the old one has closed its port (SO_REUSEPORT
lets it bind while the old one still drains its connections). Without
--hold it then stops everything; --hold S keeps the fleet up S seconds (Ctrl-C ends it).

The Fleet class is what tests/integration/fleet_test.py drives.
"""
import argparse
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))

# The instances' side of the timeout chain in nginx.conf.in (milliseconds).
DEMO_FLAGS = [
    "--drain-idle-grace", "4000",   # > nginx keepalive_timeout 2 s and keepalive_time 3 s
    "--http2-drain-grace", "4000",  # the same for the gRPC connections nginx caches
    "--drain-timeout", "10000",     # > grace + the longest request
]


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_until(predicate, timeout, what):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.02)
    raise RuntimeError(f"timed out waiting for {what}")


def answers(port, path="/healthz"):
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=1) as r:
            return r.status == 200
    except OSError:
        return False


class Fleet:
    """N demo instances and nginx; stop() (or the with-block) ends every process."""

    def __init__(self, demo, instances=3, nginx="nginx", workers=1, demo_flags=None,
                 threads=1, workdir=None):
        self.demo = demo
        self.nginx_bin = nginx
        self.workers = workers
        self.threads = threads
        self.demo_flags = DEMO_FLAGS if demo_flags is None else demo_flags
        self.prefix = workdir or tempfile.mkdtemp(prefix="coronet-fleet-")
        self.owns_prefix = workdir is None
        self.ports = [free_port() for _ in range(instances)]
        self.procs = [None] * instances
        self.exit_codes = []  # (instance, status) of every instance stopped
        self.nginx = None
        self.http_port = free_port()
        self.grpc_port = free_port()

    def __enter__(self):
        self.start()
        return self

    def __exit__(self, *exc):
        self.stop()

    # Instances.
    def start_instance(self, i, timeout=10):
        log = open(os.path.join(self.prefix, f"demo-{i}.log"), "ab")
        self.procs[i] = subprocess.Popen(
            [self.demo, "--listen", f"127.0.0.1:{self.ports[i]}", "--threads", str(self.threads)]
            + self.demo_flags,
            stdout=log, stderr=subprocess.STDOUT)
        log.close()
        wait_until(lambda: self.procs[i].poll() is not None or answers(self.ports[i]), timeout,
                   f"instance {i} on port {self.ports[i]}")
        if self.procs[i].poll() is not None:
            raise RuntimeError(f"instance {i} exited with {self.procs[i].returncode}")

    def stop_instance(self, i, timeout=30):
        """SIGTERM, then waits for the exit; returns the exit status."""
        p = self.procs[i]
        p.send_signal(signal.SIGTERM)
        try:
            status = p.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            p.kill()
            status = p.wait()
        self.exit_codes.append((i, status))
        return status

    def restart_instance(self, i):
        status = self.stop_instance(i)
        self.start_instance(i)
        return status

    def bindable(self, i):
        """Whether nobody listens on instance i's port any more (a plain bind succeeds)."""
        with socket.socket() as s:
            s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            try:
                s.bind(("127.0.0.1", self.ports[i]))
                return True
            except OSError:
                return False

    def replace_instance(self, i, timeout=30):
        """Restart with overlap: SIGTERM, start the new instance as soon as the old one has
        closed its port (its connections still draining), then wait for the old one's exit.
        Returns the old one's exit status."""
        old = self.procs[i]
        old.send_signal(signal.SIGTERM)
        wait_until(lambda: old.poll() is not None or self.bindable(i), timeout, f"instance {i} to close its port")
        self.start_instance(i)
        try:
            status = old.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            old.kill()
            status = old.wait()
        self.exit_codes.append((i, status))
        return status

    def rolling_restart(self, pause=1.5, overlap=False, log=None):
        """Replaces every instance in turn; returns their exit statuses. After each one is back
        it waits `pause` seconds: nginx skips an instance that refused a connection for
        fail_timeout (1 s), and restarting the next one sooner could leave none in rotation."""
        statuses = []
        for i in range(len(self.procs)):
            t0 = time.monotonic()
            statuses.append(self.replace_instance(i) if overlap else self.restart_instance(i))
            if log:
                log(f"instance {i} (port {self.ports[i]}) exited {statuses[-1]}, back after "
                    f"{time.monotonic() - t0:.1f} s")
            time.sleep(pause)
        return statuses

    # nginx.
    def render(self):
        with open(os.path.join(HERE, "nginx.conf.in")) as f:
            conf = f.read()
        servers = "\n".join(f"    server 127.0.0.1:{p} max_fails=1 fail_timeout=1s;" for p in self.ports)
        for name, value in (("PREFIX", self.prefix), ("WORKERS", str(self.workers)),
                            ("SERVERS", servers), ("HTTP_PORT", str(self.http_port)),
                            ("GRPC_PORT", str(self.grpc_port))):
            conf = conf.replace(f"@{name}@", value)
        os.makedirs(os.path.join(self.prefix, "tmp"), exist_ok=True)
        path = os.path.join(self.prefix, "nginx.conf")
        with open(path, "w") as f:
            f.write(conf)
        return path

    def start_nginx(self):
        conf = self.render()
        self.nginx = subprocess.Popen(
            [self.nginx_bin, "-p", self.prefix, "-c", conf, "-e", os.path.join(self.prefix, "error.log")],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        wait_until(lambda: self.nginx.poll() is not None or answers(self.http_port, "/"), 10, "nginx")
        if self.nginx.poll() is not None:
            raise RuntimeError("nginx exited: " + self.read("error.log"))

    def nginx_pids(self):
        """nginx's master and worker processes."""
        out = subprocess.run(["pgrep", "-P", str(self.nginx.pid)], capture_output=True, text=True).stdout
        return [self.nginx.pid] + [int(p) for p in out.split()]

    def read(self, name):
        try:
            with open(os.path.join(self.prefix, name), errors="replace") as f:
                return f.read()
        except FileNotFoundError:
            return ""

    def start(self):
        for i in range(len(self.procs)):
            self.start_instance(i)
        self.start_nginx()

    def stop(self):
        for i, p in enumerate(self.procs):
            if p and p.poll() is None:
                self.stop_instance(i)
        if self.nginx and self.nginx.poll() is None:
            self.nginx.send_signal(signal.SIGQUIT)  # graceful: the access log is flushed
            try:
                self.nginx.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.nginx.kill()
                self.nginx.wait()

    def cleanup(self):
        if self.owns_prefix:
            shutil.rmtree(self.prefix, ignore_errors=True)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("demo", help="path of the coronet-demo binary")
    ap.add_argument("--instances", type=int, default=3)
    ap.add_argument("--nginx", default=shutil.which("nginx") or "/usr/sbin/nginx")
    ap.add_argument("--workers", type=int, default=1, help="nginx worker processes")
    ap.add_argument("--restart", action="store_true", help="restart the instances one at a time")
    ap.add_argument("--overlap", action="store_true",
                    help="with --restart: start each new instance as soon as the old one has "
                         "closed its port, while it still drains")
    ap.add_argument("--hold", type=float, default=0, help="seconds to keep the fleet up afterwards")
    ap.add_argument("--keep", action="store_true", help="leave the temporary directory")
    args = ap.parse_args()

    fleet = Fleet(args.demo, args.instances, nginx=args.nginx, workers=args.workers)
    try:
        fleet.start()
        print(f"fleet in {fleet.prefix}: instances on ports {fleet.ports}", flush=True)
        print(f"nginx: HTTP on 127.0.0.1:{fleet.http_port}, gRPC on 127.0.0.1:{fleet.grpc_port}", flush=True)
        if args.restart:
            statuses = fleet.rolling_restart(overlap=args.overlap, log=lambda m: print(m, flush=True))
            if any(statuses):
                print(f"exit statuses: {statuses}", file=sys.stderr)
        if args.hold:
            signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
            time.sleep(args.hold)
    except KeyboardInterrupt:
        pass
    finally:
        fleet.stop()
        if args.keep:
            print(f"kept {fleet.prefix}")
        else:
            fleet.cleanup()
    return 1 if any(s for _, s in fleet.exit_codes) else 0


if __name__ == "__main__":
    sys.exit(main())
