"""coronet-demo on one port, spoken to by real clients: curl, python grpcio, and
coronet-demo-client; the gateway route with a dead and a stalled backend; SIGTERM while
requests are in flight.

Usage: demo_test.py CORONET_DEMO CORONET_DEMO_CLIENT
"""
import os
import re
import signal
import socket
import subprocess
import sys
import threading
import time
import unittest
import urllib.request

import grpc

CURL = os.environ.get("CURL", "curl")  # found by meson

DEMO = sys.argv[1]
CLIENT = sys.argv[2]


def encode_greeting(text):
    data = text.encode()
    assert len(data) < 128
    return b"\x0a" + bytes([len(data)]) + data


def decode_greeting(raw):
    return raw[2 : 2 + raw[1]].decode() if raw else ""


class Demo:
    """A coronet-demo child process on an ephemeral port."""

    def __init__(self, *args):
        self.proc = subprocess.Popen(
            [DEMO, "--listen", "127.0.0.1:0", "--threads", "2", *args],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        line = self.proc.stdout.readline()
        match = re.search(r"listening on 127\.0\.0\.1:(\d+)", line)
        if not match:
            self.proc.kill()
            raise RuntimeError("coronet-demo did not start: " + line + self.proc.stderr.read())
        self.port = int(match.group(1))
        self.address = "127.0.0.1:%d" % self.port

    def url(self, path):
        return "http://%s%s" % (self.address, path)

    def stop(self):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.proc.stdout.close()
        self.proc.stderr.close()


def curl(*args):
    return subprocess.run([CURL, "-sS", "--max-time", "10", *args],
                          capture_output=True, text=True, timeout=20)


class SilentServer:
    """Accepts TCP connections and never says a word: a backend that stalls."""

    def __init__(self):
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(16)
        self.port = self.sock.getsockname()[1]
        self.held = []
        self.thread = threading.Thread(target=self._accept, daemon=True)
        self.thread.start()

    def _accept(self):
        try:
            while True:
                conn, _ = self.sock.accept()
                self.held.append(conn)
        except OSError:
            pass

    def close(self):
        self.sock.close()
        for c in self.held:
            c.close()


class OnePortTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.demo = Demo()

    @classmethod
    def tearDownClass(cls):
        cls.demo.stop()

    def test_curl_get_root_says_hello_world(self):
        r = curl("-i", self.demo.url("/"))
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn("HTTP/1.1 200 OK", r.stdout)
        self.assertIn("Content-Type: text/plain", r.stdout)
        self.assertTrue(r.stdout.endswith("\n\nHello, World!"), r.stdout)  # text mode folds CRLF

    def test_curl_healthz_is_ok(self):
        r = curl(self.demo.url("/healthz"))
        self.assertEqual(r.stdout, "ok\n")

    def test_gateway_answers_through_grpc_on_the_same_port(self):
        r = curl("-i", self.demo.url("/hello/World"))
        self.assertIn("HTTP/1.1 200 OK", r.stdout)
        self.assertTrue(r.stdout.endswith("Hello, World"), r.stdout)

    def test_python_grpcio_calls_say_hello_on_the_same_port(self):
        with grpc.insecure_channel(self.demo.address) as channel:
            say_hello = channel.unary_unary("/HelloWorld/SayHello",
                                            request_serializer=encode_greeting,
                                            response_deserializer=decode_greeting)
            self.assertEqual(say_hello("grpcio", timeout=10), "Hello, grpcio")

    def test_python_grpcio_concurrent_calls_each_get_their_own_answer(self):
        # SayHello starts inline on gRPC's threads: 300 calls in flight at once from one
        # channel, each answered with its own name.
        with grpc.insecure_channel(self.demo.address) as channel:
            say_hello = channel.unary_unary("/HelloWorld/SayHello",
                                            request_serializer=encode_greeting,
                                            response_deserializer=decode_greeting)
            futures = [say_hello.future("n%d" % i, timeout=20) for i in range(300)]
            self.assertEqual([f.result() for f in futures], ["Hello, n%d" % i for i in range(300)])

    def test_health_service_reports_serving(self):
        with grpc.insecure_channel(self.demo.address) as channel:
            check = channel.unary_unary("/grpc.health.v1.Health/Check",
                                        request_serializer=lambda _: b"",
                                        response_deserializer=lambda raw: raw)
            self.assertEqual(check(None, timeout=10), b"\x08\x01")  # status: SERVING

    def test_demo_client_http_prints_the_body(self):
        r = subprocess.run([CLIENT, "http", self.demo.url("/")], capture_output=True, text=True, timeout=20)
        self.assertEqual((r.returncode, r.stdout), (0, "Hello, World!\n"), r.stderr)

    def test_demo_client_http_reports_non_2xx_on_stderr(self):
        r = subprocess.run([CLIENT, "http", self.demo.url("/missing")], capture_output=True, text=True, timeout=20)
        self.assertEqual(r.returncode, 1)
        self.assertEqual(r.stdout, "")
        self.assertIn("404 Not Found", r.stderr)

    def test_demo_client_grpc_says_hello(self):
        r = subprocess.run([CLIENT, "grpc", self.demo.address], capture_output=True, text=True, timeout=20)
        self.assertEqual((r.returncode, r.stdout), (0, "Hello, World\n"), r.stderr)
        r = subprocess.run([CLIENT, "grpc", self.demo.address, "coronet"], capture_output=True, text=True, timeout=20)
        self.assertEqual(r.stdout, "Hello, coronet\n")

    def test_demo_client_grpc_reports_status_name(self):
        silent = socket.socket()
        silent.bind(("127.0.0.1", 0))
        port = silent.getsockname()[1]
        silent.close()  # nothing listens there now
        r = subprocess.run([CLIENT, "grpc", "127.0.0.1:%d" % port], capture_output=True, text=True, timeout=30)
        self.assertEqual(r.returncode, 1)
        self.assertTrue(r.stderr.startswith("coronet-demo-client: UNAVAILABLE: "), r.stderr)


class BatchSchedulingTest(unittest.TestCase):
    def test_batch_scheduling_puts_every_thread_under_sched_batch_and_serves(self):
        demo = Demo("--batch-scheduling")
        try:
            self.assertEqual(curl(demo.url("/")).stdout, "Hello, World!")
            with grpc.insecure_channel(demo.address) as channel:
                say_hello = channel.unary_unary("/HelloWorld/SayHello",
                                                request_serializer=encode_greeting,
                                                response_deserializer=decode_greeting)
                self.assertEqual(say_hello("batch", timeout=10), "Hello, batch")
            # The io threads run under it, and gRPC's threads inherited it from start().
            policies = {}
            for tid in os.listdir("/proc/%d/task" % demo.proc.pid):
                with open("/proc/%d/task/%s/comm" % (demo.proc.pid, tid)) as comm:
                    policies["%s %s" % (comm.read().strip(), tid)] = os.sched_getscheduler(int(tid))
            self.assertIn("nexting_thread", " ".join(policies))
            self.assertEqual({name: policy for name, policy in policies.items() if policy != os.SCHED_BATCH}, {})
        finally:
            demo.stop()


class GatewayFailureTest(unittest.TestCase):
    def test_dead_backend_is_502_with_a_clear_body(self):
        backend = Demo()
        gateway = Demo("--backend", backend.address, "--backend-timeout", "3000")
        try:
            self.assertEqual(curl(gateway.url("/hello/a")).stdout, "Hello, a")
            backend.stop()
            r = curl("-i", gateway.url("/hello/b"))
            self.assertIn("HTTP/1.1 502 Bad Gateway", r.stdout)
            self.assertIn("backend failed:", r.stdout)
        finally:
            gateway.stop()
            backend.stop()

    def test_stalled_backend_is_504_within_the_deadline(self):
        silent = SilentServer()
        gateway = Demo("--backend", "127.0.0.1:%d" % silent.port, "--backend-timeout", "500")
        try:
            start = time.monotonic()
            r = curl("-i", gateway.url("/hello/slow"))
            elapsed = time.monotonic() - start
            self.assertIn("HTTP/1.1 504 Gateway Timeout", r.stdout)
            self.assertIn("did not answer within 500 ms", r.stdout)
            self.assertLess(elapsed, 3.0)
        finally:
            gateway.stop()
            silent.close()


class ShutdownTest(unittest.TestCase):
    def test_sigterm_answers_every_request_in_flight_and_exits_zero(self):
        silent = SilentServer()
        demo = Demo("--backend", "127.0.0.1:%d" % silent.port, "--backend-timeout", "800")
        results = []

        def fetch(path):
            try:
                with urllib.request.urlopen(demo.url(path), timeout=10) as resp:
                    results.append((resp.status, resp.read()))
            except urllib.error.HTTPError as e:
                results.append((e.code, e.read()))
            except Exception as e:  # noqa: BLE001 - recorded and asserted below
                results.append(("error", repr(e)))

        # Gateway calls stay in flight until the backend deadline; plain ones are quick.
        threads = [threading.Thread(target=fetch, args=("/hello/%d" % i,)) for i in range(8)]
        threads += [threading.Thread(target=fetch, args=("/",)) for _ in range(8)]
        for t in threads:
            t.start()
        time.sleep(0.3)
        demo.proc.send_signal(signal.SIGTERM)
        for t in threads:
            t.join(timeout=15)
        code = demo.proc.wait(timeout=10)
        out = demo.proc.stdout.read()
        demo.stop()
        silent.close()
        self.assertEqual(code, 0)
        self.assertIn("coronet-demo stopped", out)
        self.assertEqual(len(results), 16)
        for status, body in results:
            self.assertIn(status, (200, 504), body)
        with self.assertRaises(OSError):
            socket.create_connection(("127.0.0.1", demo.port), timeout=2).recv(1)


if __name__ == "__main__":
    unittest.main(argv=sys.argv[:1], verbosity=2)
