"""The examples the docs show, run as a user would: hello_http answered by curl and
Python's http.client, then drained by SIGTERM; http_client_tour against the HTTP test
server; in gRPC builds, hello_grpc prints its answer, and two hello_fleet instances answer
curl through their middleware and metrics and share a balanced client's calls.

Usage: examples_test.py HELLO_HTTP HTTP_CLIENT_TOUR HTTP_TEST_SERVER [HELLO_GRPC HELLO_FLEET]
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
HELLO_FLEET = sys.argv[5] if len(sys.argv) > 5 else None


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


def start_listening(argv):
    """Starts a program that prints "listening on 127.0.0.1:PORT"; returns (process, port)."""
    proc = subprocess.Popen(argv, stdout=subprocess.PIPE, text=True)
    match = re.search(r"listening on 127\.0\.0\.1:(\d+)", proc.stdout.readline())
    if not match:
        proc.kill()
        proc.wait()
        raise AssertionError("%s did not start" % argv[0])
    return proc, int(match.group(1))


@unittest.skipIf(HELLO_FLEET is None, "built without gRPC")
class HelloFleetTest(unittest.TestCase):
    def setUp(self):
        self.instances = [start_listening([HELLO_FLEET, "serve", "0"]) for _ in range(2)]

    def tearDown(self):
        for proc, _ in self.instances:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
            proc.stdout.close()

    def curl(self, path, *headers):
        args = [CURL, "-sS", "-i", "http://127.0.0.1:%d%s" % (self.instances[0][1], path)]
        for h in headers:
            args += ["-H", h]
        r = subprocess.run(args, capture_output=True, timeout=10)  # bytes: keep the CRLFs
        self.assertEqual(r.returncode, 0, r.stderr)
        head, _, body = r.stdout.decode().partition("\r\n\r\n")
        status = int(head.split(" ", 2)[1])
        fields = dict(l.split(": ", 1) for l in head.split("\r\n")[1:])
        return status, {k.lower(): v for k, v in fields.items()}, body

    def test_middleware_guards_api_and_tags_every_answer_and_metrics_count_it(self):
        status, fields, body = self.curl("/api/hello/fleet")
        self.assertEqual((status, body), (401, "Unauthorized\n"))
        self.assertIn("x-request-id", fields)
        status, fields, body = self.curl("/api/hello/fleet", "Authorization: Bearer hello",
                                         "X-Request-Id: abc-1")
        self.assertEqual((status, body, fields["x-request-id"]), (200, "Hello, fleet", "abc-1"))
        status, fields, _ = self.curl("/nowhere")
        self.assertEqual(status, 404)
        self.assertIn("x-request-id", fields)  # router middleware sees the 404s too
        _, _, exposition = self.curl("/metrics")
        for line in ['coronet_http_requests_total{method="GET",route="/api/hello/{name}",code="2xx"} 1',
                     'coronet_http_requests_total{method="GET",route="/api/hello/{name}",code="4xx"} 1',
                     'coronet_http_requests_total{method="GET",route="(unmatched)",code="4xx"} 1']:
            self.assertIn(line, exposition.split("\n"))

    def test_a_balanced_client_spreads_its_calls_and_sigterm_exits_zero(self):
        target = "ipv4:" + ",".join("127.0.0.1:%d" % port for _, port in self.instances)
        r = subprocess.run([HELLO_FLEET, "call", target, "fleet", "200"],
                           capture_output=True, text=True, timeout=30)
        self.assertEqual(r.returncode, 0, r.stderr)
        counts = [int(line.split()[1]) for line in r.stdout.split("\n") if line]
        # Round robin over both. The calls made before the second connection is ready all go
        # to the first (14 of 40 once, on a loaded machine): enough calls that those few do not
        # decide the spread.
        self.assertEqual(len(counts), 2, r.stdout)
        self.assertEqual(sum(counts), 200)
        self.assertGreaterEqual(min(counts), 60, r.stdout)
        for proc, _ in self.instances:
            proc.send_signal(signal.SIGTERM)
        for proc, _ in self.instances:
            self.assertEqual(proc.wait(timeout=20), 0)


if __name__ == "__main__":
    unittest.main(argv=sys.argv[:1], verbosity=2)
