"""The examples the docs show, run as a user would: hello_http answered by curl and
Python's http.client, then drained by SIGTERM; http_client_tour against the HTTP test
server; hello_grpc (gRPC builds) prints its answer.

Usage: examples_test.py HELLO_HTTP HTTP_CLIENT_TOUR HTTP_TEST_SERVER [HELLO_GRPC]
"""
import http.client
import os
import re
import signal
import subprocess
import sys
import unittest

CURL = os.environ.get("CURL", "curl")  # found by meson

HELLO_HTTP = sys.argv[1]
HTTP_CLIENT_TOUR = sys.argv[2]
HTTP_TEST_SERVER = sys.argv[3]
HELLO_GRPC = sys.argv[4] if len(sys.argv) > 4 else None


class HelloHttpTest(unittest.TestCase):
    def setUp(self):
        self.proc = subprocess.Popen([HELLO_HTTP, "0"], stdout=subprocess.PIPE, text=True)
        line = self.proc.stdout.readline()
        match = re.search(r"listening on 127\.0\.0\.1:(\d+)", line)
        if not match:
            self.proc.kill()
            self.fail("hello_http did not start: " + line)
        self.port = int(match.group(1))

    def tearDown(self):
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        self.proc.stdout.close()

    def test_curl_gets_hello_world(self):
        r = subprocess.run([CURL, "-sS", "http://127.0.0.1:%d/" % self.port],
                           capture_output=True, text=True, timeout=10)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(r.stdout, "Hello, World!")

    def test_path_parameter_comes_back_as_json_then_sigterm_exits_zero(self):
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=10)
        conn.request("GET", "/users/42")
        res = conn.getresponse()
        self.assertEqual(res.status, 200)
        self.assertEqual(res.getheader("Content-Type"), "application/json")
        self.assertEqual(res.read(), b'{"id": "42"}')
        conn.close()
        self.proc.send_signal(signal.SIGTERM)
        self.assertEqual(self.proc.wait(timeout=10), 0)


class HttpClientTourTest(unittest.TestCase):
    def test_every_call_of_the_tour_gets_its_expected_outcome(self):
        server = subprocess.Popen([HTTP_TEST_SERVER], stdout=subprocess.PIPE, text=True)
        try:
            match = re.match(r"port (\d+)", server.stdout.readline())
            self.assertIsNotNone(match)
            r = subprocess.run([HTTP_CLIENT_TOUR, "http://127.0.0.1:%s" % match.group(1)],
                               capture_output=True, text=True, timeout=30)
        finally:
            server.kill()
            server.wait()
            server.stdout.close()
        self.assertEqual(r.returncode, 0, r.stderr)
        # GET /; POST, PUT, DELETE (no such route: 405), HEAD, GET with a header; a 1 MiB
        # body streamed; a request cancelled by a timer; one over its request_timeout.
        self.assertEqual(r.stdout.split("\n"), [
            "200 Hello, World!", "200", "200", "405", "200", "200",
            "streamed 1048576 bytes", "cancelled by the timer", "request timed out", ""])


@unittest.skipIf(HELLO_GRPC is None, "built without gRPC")
class HelloGrpcTest(unittest.TestCase):
    def test_prints_the_greeting_and_exits_zero(self):
        r = subprocess.run([HELLO_GRPC, "coronet"], capture_output=True, text=True, timeout=30)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(r.stdout, "Hello, coronet\n")


if __name__ == "__main__":
    unittest.main(argv=sys.argv[:1], verbosity=2)
