"""coronet-demo's gateway route, GET /hello/{name}, pointed (--backend) at gRPC backends that
fail: none listening (502), one that accepts and never answers (504 within
--backend-timeout), one that answers bytes that are not HTTP/2 and one that hangs up at once
(502). After each, and while calls to the silent one are stuck, the demo still answers GET /.

The failing backends are hostile_backend.py with --scenario, which gives every connection the
same misbehaviour whatever the client sends. Every process is bounded and loopback only.

Usage: demo_gateway_test.py CORONET_DEMO HOSTILE_BACKEND_PY
"""
import http.client
import re
import select
import signal
import socket
import subprocess
import sys
import threading
import time
import unittest

DEMO = sys.argv[1]
BACKEND = sys.argv[2]
PYTHON = sys.executable

BACKEND_TIMEOUT_MS = 500
MARGIN = 1.5  # seconds over the deadline a failure may take: a bound on behaviour, not speed


def first_line(proc, timeout=10):
    """The first line of a child's stdout, or b"" if none came within `timeout` seconds."""
    line = b""
    deadline = time.monotonic() + timeout
    while not line.endswith(b"\n") and time.monotonic() < deadline:
        if select.select([proc.stdout], [], [], 0.1)[0]:
            byte = proc.stdout.read(1)
            if not byte:
                break
            line += byte
    return line.decode(errors="replace")


def stop(proc):
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
    for pipe in (proc.stdin, proc.stdout, proc.stderr):
        if pipe:
            pipe.close()


class Backend:
    """hostile_backend.py giving every connection `scenario`; exits with this test."""

    def __init__(self, scenario):
        self.proc = subprocess.Popen([PYTHON, BACKEND, "--lifetime", "60", "--scenario", scenario],
                                     stdin=subprocess.PIPE, stdout=subprocess.PIPE, bufsize=0)
        line = first_line(self.proc)
        if not line.startswith("port "):
            stop(self.proc)
            raise RuntimeError("hostile backend did not start: %r" % line)
        self.address = "127.0.0.1:%d" % int(line.split()[1])

    def close(self):
        stop(self.proc)


class Demo:
    """coronet-demo on an ephemeral port whose gateway calls `backend`."""

    def __init__(self, backend):
        self.proc = subprocess.Popen(
            [DEMO, "--listen", "127.0.0.1:0", "--threads", "2", "--backend", backend,
             "--backend-timeout", str(BACKEND_TIMEOUT_MS)],
            stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, bufsize=0)  # stderr: the test log
        line = first_line(self.proc)
        match = re.search(r"listening on 127\.0\.0\.1:(\d+)", line)
        if not match:
            stop(self.proc)
            raise RuntimeError("coronet-demo did not start: %r" % line)
        self.port = int(match.group(1))

    def get(self, path):
        """(status, body, seconds) of one GET on a new connection."""
        start = time.monotonic()
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=10)
        try:
            conn.request("GET", path)
            resp = conn.getresponse()
            return resp.status, resp.read().decode(), time.monotonic() - start
        finally:
            conn.close()

    def close(self):
        stop(self.proc)


def unused_port():
    """A loopback port nothing listens on (bound, then released)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class GatewayTest(unittest.TestCase):
    def start(self, backend_address):
        demo = Demo(backend_address)
        self.addCleanup(demo.close)
        return demo

    def start_backend(self, scenario):
        backend = Backend(scenario)
        self.addCleanup(backend.close)
        return backend

    def assert_still_serves_root(self, demo):
        status, body, _ = demo.get("/")
        self.assertEqual((status, body), (200, "Hello, World!"))

    def assert_bad_gateway(self, demo):
        for name in ("a", "b"):  # the first call and one after the channel saw the failure
            status, body, seconds = demo.get("/hello/" + name)
            self.assertEqual(status, 502, body)
            self.assertTrue(body.startswith("backend failed: "), body)
            self.assertLess(seconds, BACKEND_TIMEOUT_MS / 1000 + MARGIN)
        self.assert_still_serves_root(demo)

    def test_no_backend_listening_is_502(self):
        self.assert_bad_gateway(self.start("127.0.0.1:%d" % unused_port()))

    def test_backend_that_accepts_and_never_answers_is_504_within_the_deadline(self):
        demo = self.start(self.start_backend("never-answers").address)
        for name in ("a", "b"):
            status, body, seconds = demo.get("/hello/" + name)
            self.assertEqual(status, 504, body)
            self.assertEqual(body, "backend did not answer within %d ms\n" % BACKEND_TIMEOUT_MS)
            self.assertGreaterEqual(seconds, BACKEND_TIMEOUT_MS / 1000 * 0.9)
            self.assertLess(seconds, BACKEND_TIMEOUT_MS / 1000 + MARGIN)
        self.assert_still_serves_root(demo)

    def test_root_is_answered_while_gateway_calls_are_stuck(self):
        demo = self.start(self.start_backend("never-answers").address)
        stuck = []
        threads = [threading.Thread(target=lambda: stuck.append(demo.get("/hello/stuck")[0]))
                   for _ in range(8)]
        for t in threads:
            t.start()
        time.sleep(0.1)  # the gateway calls are in flight, waiting on the backend
        status, body, seconds = demo.get("/")
        self.assertEqual((status, body), (200, "Hello, World!"))
        self.assertLess(seconds, BACKEND_TIMEOUT_MS / 1000)  # not queued behind the stuck calls
        for t in threads:
            t.join(timeout=BACKEND_TIMEOUT_MS / 1000 + 10)
        self.assertEqual(stuck, [504] * 8)
        self.assert_still_serves_root(demo)

    def test_backend_that_answers_garbage_is_502(self):
        self.assert_bad_gateway(self.start(self.start_backend("garbage").address))

    def test_backend_that_hangs_up_at_once_is_502(self):
        self.assert_bad_gateway(self.start(self.start_backend("close-before-response").address))


if __name__ == "__main__":
    unittest.main(argv=sys.argv[:1], verbosity=2)
