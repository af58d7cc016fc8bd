"""Middleware and hooks of coronet's HTTP/1.1 server against curl and Python's http.client,
over 127.0.0.1: a CORS preflight answered by the router's before hook, a 401 from an /api
group's middleware, 404/405 seen by an access log (an after hook), a handler's exception
caught by one middleware and, uncaught, the server's 500 on a connection that then serves its
next request.

    python3 http_middleware_test.py build/tests/integration/http_middleware_server
"""

import http.client
import os
import select
import subprocess
import sys
import time
import unittest

CURL = os.environ.get("CURL", "curl")
SERVER = None  # argv[1]
TIMEOUT = 5.0


class MiddlewareTest(unittest.TestCase):
    def setUp(self):
        self.proc = subprocess.Popen([SERVER], stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                     stderr=subprocess.PIPE)
        fd = self.proc.stdout.fileno()
        if not select.select([fd], [], [], TIMEOUT)[0]:
            self.proc.kill()
            raise RuntimeError("server did not start")
        self.output = b""
        line = self.next_line(time.monotonic() + TIMEOUT)
        self.assertTrue(line.startswith("port "), line)
        self.port = int(line.split()[1])

    def tearDown(self):
        self.proc.terminate()
        self.proc.wait(timeout=TIMEOUT)
        self.proc.stdout.close()
        self.proc.stderr.close()

    def next_line(self, deadline):
        """The server's next line of output; "" if none comes by `deadline`."""
        fd = self.proc.stdout.fileno()
        while b"\n" not in self.output:
            left = deadline - time.monotonic()
            if left <= 0 or not select.select([fd], [], [], left)[0]:
                return ""
            chunk = os.read(fd, 4096)
            if not chunk:
                return ""
            self.output += chunk
        line, _, self.output = self.output.partition(b"\n")
        return line.decode()

    def access_log(self, count):
        """The next `count` access log lines the server printed (fewer if they do not come)."""
        deadline = time.monotonic() + TIMEOUT
        lines = []
        while len(lines) < count:
            line = self.next_line(deadline)
            if not line:
                break
            lines.append(line)
        return lines

    def curl(self, *args):
        out = subprocess.run([CURL, "-s", "-i", "--max-time", "5", *args], capture_output=True,
                             timeout=10, check=True).stdout.decode()
        head, _, body = out.partition("\r\n\r\n")
        status = int(head.split()[1])
        headers = {}
        for line in head.split("\r\n")[1:]:
            name, _, value = line.partition(":")
            headers[name.strip().lower()] = value.strip()
        return status, headers, body

    def test_cors_preflight_is_answered_by_the_routers_hook(self):
        url = f"http://127.0.0.1:{self.port}/api/secret"
        status, headers, body = self.curl("-X", "OPTIONS", "-H", "Origin: http://example.com",
                                          "-H", "Access-Control-Request-Method: GET", url)
        self.assertEqual(status, 204)
        self.assertEqual(headers["access-control-allow-origin"], "*")
        self.assertEqual(headers["access-control-allow-headers"], "Authorization")
        self.assertEqual(body, "")
        # A real request after it: the group's token check, then the CORS header on the answer.
        status, headers, body = self.curl("-H", "Authorization: Bearer secret", url)
        self.assertEqual((status, body), (200, "secret data\n"))
        self.assertEqual(headers["access-control-allow-origin"], "*")
        self.assertEqual(self.access_log(2), ["access OPTIONS /api/secret 204",
                                              "access GET /api/secret 200"])

    def test_one_connection_through_refusal_errors_and_unrouted_answers(self):
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=TIMEOUT)

        def get(path, method="GET", headers=None):
            conn.request(method, path, headers=headers or {})
            res = conn.getresponse()
            return res.status, res, res.read()

        status, res, body = get("/api/secret")
        self.assertEqual((status, body), (401, b"Unauthorized\n"))
        self.assertEqual(res.getheader("WWW-Authenticate"), "Bearer")
        self.assertEqual(res.getheader("Access-Control-Allow-Origin"), "*")

        status, _, body = get("/api/secret", headers={"Authorization": "Bearer secret"})
        self.assertEqual((status, body), (200, b"secret data\n"))

        status, _, body = get("/api/guarded/throw", headers={"Authorization": "Bearer secret"})
        self.assertEqual((status, body), (503, b"unavailable: handler failed\n"))

        # Uncaught, the exception is the server's 500; the connection serves on.
        status, _, _ = get("/throw")
        self.assertEqual(status, 500)
        status, _, body = get("/")
        self.assertEqual((status, body), (200, b"Hello, World!"))

        status, res, body = get("/nope")
        self.assertEqual((status, body), (404, b"Not Found\n"))
        self.assertEqual(res.getheader("Content-Type"), "text/plain; charset=utf-8")
        self.assertEqual(res.getheader("Access-Control-Allow-Origin"), "*")

        status, res, body = get("/", method="DELETE")
        self.assertEqual((status, body), (405, b"Method Not Allowed\n"))
        self.assertEqual(res.getheader("Allow"), "GET, HEAD")

        status, res, body = get("/", method="HEAD")
        self.assertEqual((status, body), (200, b""))
        conn.close()

        self.assertEqual(self.access_log(7), [
            "access GET /api/secret 401",
            "access GET /api/secret 200",
            "access GET /api/guarded/throw 503",
            "access GET / 200",  # the 500 went past the log: nothing caught it on the way out
            "access GET /nope 404",
            "access DELETE / 405",
            "access HEAD / 200",
        ])


if __name__ == "__main__":
    SERVER = sys.argv.pop(1)
    unittest.main()
