"""Integration tests of coronet's HTTP/1.1 server against real peers.

The peers are curl, Python's http.client and raw sockets, over real sockets on 127.0.0.1.
Each test starts its own http_test_server (path in argv[1]) with the flags it needs and stops
it afterwards, so no test can leave state behind for the next.

    python3 http_server_test.py build/tests/integration/http_test_server [unittest args]
"""

import http.client
import os
import select
import signal
import socket
import subprocess
import sys
import tempfile
import time
import unittest

CURL = os.environ.get("CURL", "curl")  # found by meson

SERVER = None  # set from argv[1] in __main__

HOST = "127.0.0.1"
SOCKET_TIMEOUT = 5.0  # no socket in this suite may block longer than this

# Defaults of http_test_server, which some tests lean on.
MAX_HEADER = 4096
MAX_BODY = 64 * 1024


# --------------------------------------------------------------------------------------------
# The server process


class ServerProcess:
    """Runs http_test_server with the given flags; start() returns once it listens."""

    def __init__(self, *flags):
        self.flags = [str(f) for f in flags]
        self.proc = None
        self.port = None
        self.stdout = b""
        self._stderr = tempfile.TemporaryFile()

    def start(self):
        self.proc = subprocess.Popen([SERVER, *self.flags], stdin=subprocess.DEVNULL,
                                     stdout=subprocess.PIPE, stderr=self._stderr, bufsize=0)
        line = self._read_line(deadline=time.monotonic() + 5)
        if not line.startswith(b"port "):
            self.stop()
            raise RuntimeError(f"server did not report its port: {line!r} {self.stderr()!r}")
        self.port = int(line.split()[1])
        return self

    def _read_line(self, deadline):
        fd = self.proc.stdout.fileno()
        while b"\n" not in self.stdout:
            left = deadline - time.monotonic()
            if left <= 0 or not select.select([fd], [], [], left)[0]:
                break
            chunk = os.read(fd, 4096)
            if not chunk:
                break
            self.stdout += chunk
        line, _, self.stdout = self.stdout.partition(b"\n")
        return line

    def terminate(self):
        """Sends SIGTERM (graceful drain) without waiting."""
        self.proc.send_signal(signal.SIGTERM)

    def wait(self, timeout):
        """Waits for exit; returns the exit code, or None if still running after timeout."""
        try:
            code = self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            return None
        self.stdout += self.proc.stdout.read() or b""
        return code

    def stop(self):
        if self.proc is None or self.proc.poll() is not None:
            return self.proc.returncode if self.proc else None
        self.terminate()
        code = self.wait(10)
        if code is None:
            self.proc.kill()
            code = self.proc.wait(5)
        return code

    def stderr(self):
        self._stderr.seek(0)
        return self._stderr.read()

    def close(self):
        self.stop()
        if self.proc is not None:
            self.proc.stdout.close()
        self._stderr.close()


class ServerTestCase(unittest.TestCase):
    """Starts a fresh server per test; subclasses set `flags`."""

    flags = ()

    def setUp(self):
        self.server = ServerProcess(*self.flags).start()
        self.addCleanup(self.server.close)
        self.port = self.server.port
        self.base = f"http://{HOST}:{self.port}"

    # ---- raw sockets ----

    def connect(self, timeout=SOCKET_TIMEOUT):
        s = socket.create_connection((HOST, self.port), timeout=timeout)
        s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.addCleanup(s.close)
        return RawConnection(s)

    def idle_connections(self, n):
        """n keep-alive connections, each idle after one answered request. 150 is more than
        a worker keeps serving coroutines parked for."""
        conns = [self.connect() for _ in range(n)]
        for c in conns:
            c.send(get("/"))
        for c in conns:
            self.assertEqual(c.read_response().status, 200)
        return conns

    def http_client(self):
        c = http.client.HTTPConnection(HOST, self.port, timeout=SOCKET_TIMEOUT)
        self.addCleanup(c.close)
        return c

    def get_ok(self, path="/"):
        """One request on a fresh connection; proves the server still serves."""
        c = self.http_client()
        c.request("GET", path)
        r = c.getresponse()
        body = r.read()
        self.assertEqual(r.status, 200, body)
        return body

    # ---- assertions ----

    def assert_closed_by_server(self, conn, within=SOCKET_TIMEOUT):
        """The server closes the connection without sending anything more."""
        rest = conn.read_to_eof(timeout=within)
        self.assertEqual(rest, b"", "bytes after the last expected answer")

    def assert_bad_request_then_close(self, raw):
        conn = self.connect()
        conn.send(raw)
        res = conn.read_response()
        self.assertEqual(res.status, 400, res)
        self.assertEqual(res.header("connection"), "close")
        self.assert_closed_by_server(conn)
        # One client's garbage must not hurt the next client.
        self.assertEqual(self.get_ok(), b"Hello, World!")


class Response:
    def __init__(self, version, status, reason, headers, body):
        self.version, self.status, self.reason = version, status, reason
        self.headers = headers  # list of (lower-case name, value)
        self.body = body

    def header(self, name):
        values = self.all(name)
        return values[0] if values else None

    def all(self, name):
        return [v for n, v in self.headers if n == name.lower()]

    def __repr__(self):
        return f"<{self.version} {self.status} {self.reason} {self.headers} {self.body[:200]!r}>"


class RawConnection:
    """A socket with a read buffer and just enough HTTP/1.1 to read responses strictly."""

    def __init__(self, sock):
        self.sock = sock
        self.buf = b""
        self.eof = False

    def send(self, data):
        self.sock.sendall(data)

    def _fill(self):
        if self.eof:
            raise EOFError("connection closed by the server")
        try:
            chunk = self.sock.recv(65536)
        except ConnectionResetError:
            chunk = b""
        if not chunk:
            self.eof = True
            raise EOFError("connection closed by the server")
        self.buf += chunk

    def read_until(self, marker):
        while marker not in self.buf:
            self._fill()
        i = self.buf.index(marker) + len(marker)
        out, self.buf = self.buf[:i], self.buf[i:]
        return out

    def read_exact(self, n):
        while len(self.buf) < n:
            self._fill()
        out, self.buf = self.buf[:n], self.buf[n:]
        return out

    def read_to_eof(self, timeout=SOCKET_TIMEOUT):
        """Everything until the peer closes; fails the test (socket.timeout) if it does not."""
        self.sock.settimeout(timeout)
        try:
            while True:
                try:
                    self._fill()
                except EOFError:
                    break
        finally:
            self.sock.settimeout(SOCKET_TIMEOUT)
        out, self.buf = self.buf, b""
        return out

    def nothing_within(self, seconds):
        """True when no byte and no EOF arrive within `seconds`."""
        if self.buf or self.eof:
            return False
        return not select.select([self.sock], [], [], seconds)[0]

    def read_head(self):
        head = self.read_until(b"\r\n\r\n").decode("latin-1")
        lines = head[:-4].split("\r\n")
        version, status, reason = (lines[0].split(" ", 2) + [""])[:3]
        headers = []
        for line in lines[1:]:
            name, sep, value = line.partition(":")
            if not sep or name != name.strip():
                raise AssertionError(f"malformed response header line {line!r}")
            headers.append((name.lower(), value.strip()))
        return version, int(status), reason, headers

    def read_response(self, method="GET"):
        """One response; the body framed by the rules of RFC 9112 section 6.3."""
        version, status, reason, headers = self.read_head()
        res = Response(version, status, reason, headers, b"")
        if method == "HEAD" or status < 200 or status in (204, 304):
            return res
        te = res.header("transfer-encoding")
        if te is not None:
            if te.lower() != "chunked":
                raise AssertionError(f"unexpected Transfer-Encoding {te!r}")
            res.body = self._read_chunked()
        elif res.header("content-length") is not None:
            res.body = self.read_exact(int(res.header("content-length")))
        else:
            res.body = self.read_to_eof()
        return res

    def _read_chunked(self):
        body = b""
        while True:
            size = int(self.read_until(b"\r\n")[:-2].split(b";")[0], 16)
            if size == 0:
                self.read_until(b"\r\n")  # no trailers expected: just the final CRLF
                return body
            body += self.read_exact(size)
            if self.read_exact(2) != b"\r\n":
                raise AssertionError("chunk not followed by CRLF")


def get(path, version="1.1", extra=""):
    return f"GET {path} HTTP/{version}\r\nHost: t\r\n{extra}\r\n".encode()


def run_curl(*args, stdin=None, timeout=20):
    return subprocess.run([CURL, "--silent", "--show-error", "--max-time", "10", *args],
                          input=stdin, capture_output=True, timeout=timeout)


def split_head(output):
    """curl -i output: (status line, {lower-case name: value}, body)."""
    head, _, body = output.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    headers = {}
    for line in lines[1:]:
        name, _, value = line.partition(":")
        headers[name.strip().lower()] = value.strip()
    return lines[0], headers, body


# --------------------------------------------------------------------------------------------
# 1. curl


class CurlTest(ServerTestCase):
    def test_get_root_answers_hello_world_with_type_length_and_date(self):
        r = run_curl("-i", self.base + "/")
        self.assertEqual(r.returncode, 0, r.stderr)
        status, headers, body = split_head(r.stdout)
        self.assertEqual(status, "HTTP/1.1 200 OK")
        self.assertEqual(body, b"Hello, World!")
        self.assertTrue(headers["content-type"].startswith("text/plain"), headers)
        self.assertEqual(headers["content-length"], "13")
        self.assertRegex(headers["date"], r"^\w{3}, \d\d \w{3} \d{4} \d\d:\d\d:\d\d GMT$")

    def test_keep_alive_connection_is_reused_for_a_second_request(self):
        r = run_curl("-v", self.base + "/count", self.base + "/count")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(r.stdout, b"12")
        self.assertRegex(r.stderr.decode(), r"Re-?using existing")
        self.assertEqual(r.stderr.decode().count("Connected to"), 1)

    def test_chunked_upload_is_echoed(self):
        data = b"".join(b"line %d of a streamed upload\n" % i for i in range(500))
        r = run_curl("-v", "-H", "Transfer-Encoding: chunked", "-H", "Content-Type: text/x-test",
                     "--data-binary", "@-", self.base + "/echo", stdin=data)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn(b"Transfer-Encoding: chunked", r.stderr)  # curl really sent it chunked
        self.assertEqual(r.stdout, data)

    def test_expect_100_continue_gets_interim_answer_before_body(self):
        data = b"x" * 5000
        start = time.monotonic()
        r = run_curl("-v", "--expect100-timeout", "5", "-H", "Expect: 100-continue",
                     "--data-binary", "@-", self.base + "/echo", stdin=data)
        elapsed = time.monotonic() - start
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn(b"HTTP/1.1 100 Continue", r.stderr)
        self.assertEqual(r.stdout, data)
        self.assertLess(elapsed, 4, "curl waited for its expect100 timeout")

    def test_a_status_code_without_a_name_is_sent_with_reason_unknown(self):
        conn = self.connect()
        conn.send(get("/status/299") + get("/"))
        odd = conn.read_response()
        self.assertEqual((odd.status, odd.reason, odd.body), (299, "Unknown", b"odd\n"))
        follow = conn.read_response()  # the framing after it is intact
        self.assertEqual((follow.status, follow.body), (200, b"Hello, World!"))
        r = run_curl("-sS", "-o", "/dev/null", "-w", "%{http_code}", self.base + "/status/299")
        self.assertEqual((r.returncode, r.stdout), (0, b"299"))

    def test_head_reports_content_length_of_get_without_body(self):
        r = run_curl("-I", self.base + "/")
        self.assertEqual(r.returncode, 0, r.stderr)
        status, headers, body = split_head(r.stdout)
        self.assertEqual(status, "HTTP/1.1 200 OK")
        self.assertEqual(headers["content-length"], "13")
        self.assertEqual(body, b"")

    def test_head_answer_carries_no_body_bytes_on_the_wire(self):
        conn = self.connect()
        conn.send(b"HEAD / HTTP/1.1\r\nHost: t\r\n\r\n" + get("/users/7"))
        head = conn.read_response(method="HEAD")
        self.assertEqual(head.status, 200)
        self.assertEqual(head.header("content-length"), "13")
        # The very next bytes must be the second answer's status line.
        follow = conn.read_response()
        self.assertEqual((follow.status, follow.body), (200, b"user 7"))


# --------------------------------------------------------------------------------------------
# 2. http.client


class HttpClientTest(ServerTestCase):
    def request(self, method, path, body=None, headers=None, conn=None):
        c = conn or self.http_client()
        c.request(method, path, body=body, headers=headers or {})
        r = c.getresponse()
        return r, r.read()

    def test_path_parameter_is_passed_to_handler(self):
        r, body = self.request("GET", "/users/42")
        self.assertEqual((r.status, body), (200, b"user 42"))

    def test_literal_segment_beats_parameter(self):
        r, body = self.request("GET", "/users/me")
        self.assertEqual((r.status, body), (200, b"the current user"))

    def test_wildcard_captures_rest_of_path(self):
        r, body = self.request("GET", "/files/a/b/c")
        self.assertEqual((r.status, body), (200, b"file a/b/c"))

    def test_post_body_round_trips(self):
        data = bytes(range(256)) * 40
        r, body = self.request("POST", "/echo", body=data,
                               headers={"Content-Type": "application/octet-stream"})
        self.assertEqual(r.status, 200)
        self.assertEqual(body, data)
        self.assertEqual(r.getheader("Content-Type"), "application/octet-stream")

    def test_unknown_path_is_404(self):
        r, _ = self.request("GET", "/nowhere")
        self.assertEqual(r.status, 404)

    def test_wrong_method_is_405_with_allow(self):
        r, _ = self.request("DELETE", "/echo")
        self.assertEqual(r.status, 405)
        allowed = {m.strip() for m in r.getheader("Allow", "").split(",")}
        self.assertTrue({"POST", "PUT"} <= allowed, allowed)
        self.assertNotIn("DELETE", allowed)

    def test_handler_exception_is_500_and_connection_stays_usable(self):
        c = self.http_client()
        r, _ = self.request("GET", "/throw", conn=c)
        self.assertEqual(r.status, 500)
        self.assertFalse(r.will_close)
        r, body = self.request("GET", "/users/1", conn=c)
        self.assertEqual((r.status, body), (200, b"user 1"))

    def test_json_response_has_status_and_type(self):
        r, body = self.request("GET", "/json")
        self.assertEqual(r.status, 201)
        self.assertEqual(r.getheader("Content-Type"), "application/json")
        self.assertEqual(body, b'{"ok":true}')

    def test_no_content_has_no_length_and_no_body(self):
        c = self.http_client()
        r, body = self.request("GET", "/no-content", conn=c)
        self.assertEqual(r.status, 204)
        self.assertIsNone(r.getheader("Content-Length"))
        self.assertIsNone(r.getheader("Transfer-Encoding"))
        self.assertEqual(body, b"")
        # Any stray body byte would corrupt the next answer on this connection.
        r, body = self.request("GET", "/", conn=c)
        self.assertEqual((r.status, body), (200, b"Hello, World!"))

    def test_streamed_body_is_chunked_and_reassembled(self):
        c = self.http_client()
        r, body = self.request("GET", "/stream/5", conn=c)
        self.assertEqual(r.status, 200)
        self.assertEqual(r.getheader("Transfer-Encoding"), "chunked")
        self.assertIsNone(r.getheader("Content-Length"))
        self.assertEqual(body, b"".join(b"chunk %d\n" % i for i in range(5)))
        r, body = self.request("GET", "/", conn=c)  # keep-alive survives a streamed answer
        self.assertEqual((r.status, body), (200, b"Hello, World!"))

    def test_http10_request_without_keep_alive_is_closed_after_answer(self):
        c = self.http_client()
        c._http_vsn, c._http_vsn_str = 10, "HTTP/1.0"
        r, body = self.request("GET", "/", conn=c)
        self.assertEqual((r.status, body), (200, b"Hello, World!"))
        self.assertTrue(r.will_close)
        # On the wire: the answer, then EOF.
        conn = self.connect()
        conn.send(b"GET / HTTP/1.0\r\n\r\n")
        res = conn.read_response()
        self.assertEqual((res.status, res.body), (200, b"Hello, World!"))
        self.assertNotEqual(res.header("connection"), "keep-alive")
        self.assert_closed_by_server(conn)

    def test_http10_keep_alive_request_keeps_connection_open(self):
        conn = self.connect()
        for i in range(2):
            conn.send(get(f"/users/{i}", "1.0", "Connection: keep-alive\r\n"))
            res = conn.read_response()
            self.assertEqual((res.status, res.body), (200, b"user %d" % i))
            self.assertEqual(res.header("connection"), "keep-alive")

    def test_http10_streamed_body_is_close_delimited(self):
        conn = self.connect()
        conn.send(get("/stream/3", "1.0", "Connection: keep-alive\r\n"))
        res = conn.read_response()  # no length, no chunking: read to EOF
        self.assertEqual(res.status, 200)
        self.assertIsNone(res.header("transfer-encoding"))
        self.assertIsNone(res.header("content-length"))
        self.assertEqual(res.body, b"chunk 0\nchunk 1\nchunk 2\n")
        self.assertTrue(conn.eof)


# --------------------------------------------------------------------------------------------
# 3. Pipelining


class PipeliningTest(ServerTestCase):
    def test_pipelined_requests_are_answered_in_order(self):
        paths, expected = [], []
        for i in range(16):
            if i % 5 == 3:
                paths.append("/json")
                expected.append((201, b'{"ok":true}'))
            elif i % 5 == 4:
                paths.append("/no-content")
                expected.append((204, b""))
            else:
                paths.append(f"/users/{i}")
                expected.append((200, b"user %d" % i))
        conn = self.connect()
        conn.send(b"".join(get(p) for p in paths))
        got = [conn.read_response() for _ in paths]
        self.assertEqual([(r.status, r.body) for r in got], expected)
        self.assertTrue(conn.nothing_within(0.1), "extra bytes after the last answer")

    def test_many_connections_idle_between_requests_are_all_served(self):
        # More connections than a worker keeps serving coroutines parked for: each goes
        # idle after its answer, then comes back, in an order unlike the first.
        conns = [self.connect() for _ in range(150)]
        for round_ in range(3):
            order = conns if round_ % 2 == 0 else list(reversed(conns))
            for i, conn in enumerate(order):
                conn.send(get(f"/users/{i}"))
            for i, conn in enumerate(order):
                res = conn.read_response()
                self.assertEqual((res.status, res.body), (200, b"user %d" % i))
            time.sleep(0.05)

    def three_requests(self):
        return (get("/users/1") +
                b"POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: 5\r\n\r\nhello" +
                get("/files/x/y"))

    def answers(self, conn):
        return [(r.status, r.body, r.header("content-length"))
                for r in (conn.read_response() for _ in range(3))]

    def test_requests_split_at_every_byte_get_the_same_answers(self):
        whole = self.connect()
        whole.send(self.three_requests())
        expected = self.answers(whole)
        self.assertEqual([a[:2] for a in expected],
                         [(200, b"user 1"), (200, b"hello"), (200, b"file x/y")])

        trickle = self.connect()
        for i in range(len(self.three_requests())):
            trickle.send(self.three_requests()[i:i + 1])
            time.sleep(0.001)
        self.assertEqual(self.answers(trickle), expected)


# --------------------------------------------------------------------------------------------
# 4. Malformed input: 400, Connection: close, EOF; the server keeps serving others


class MalformedInputTest(ServerTestCase):
    def test_bad_method_is_rejected(self):
        self.assert_bad_request_then_close(b"GE T / HTTP/1.1\r\nHost: t\r\n\r\n")

    def test_bad_version_is_rejected(self):
        self.assert_bad_request_then_close(b"GET / HTTP/1.x\r\nHost: t\r\n\r\n")

    def test_header_without_colon_is_rejected(self):
        self.assert_bad_request_then_close(b"GET / HTTP/1.1\r\nHost x\r\n\r\n")

    def test_content_length_with_chunked_is_rejected(self):
        self.assert_bad_request_then_close(
            b"POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: 5\r\n"
            b"Transfer-Encoding: chunked\r\n\r\n0\r\n\r\n")

    def test_conflicting_content_lengths_are_rejected(self):
        self.assert_bad_request_then_close(
            b"POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\n"
            b"hello!")

    def test_invalid_chunk_size_is_rejected(self):
        self.assert_bad_request_then_close(
            b"POST /echo HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\nhi\r\n0\r\n\r\n")

    def test_bare_lf_line_endings_are_rejected(self):
        self.assert_bad_request_then_close(b"GET / HTTP/1.1\nHost: t\n\n")

    def test_obs_fold_continuation_line_is_rejected(self):
        self.assert_bad_request_then_close(b"GET / HTTP/1.1\r\nHost: t\r\nX-A: b\r\n c\r\n\r\n")

    def test_nul_byte_in_header_value_is_rejected(self):
        self.assert_bad_request_then_close(b"GET / HTTP/1.1\r\nHost: t\r\nX-A: a\x00b\r\n\r\n")

    def test_whitespace_before_colon_is_rejected(self):
        self.assert_bad_request_then_close(b"GET / HTTP/1.1\r\nHost : a\r\n\r\n")

    def test_bare_cr_inside_header_line_is_rejected(self):
        self.assert_bad_request_then_close(
            b"POST /echo HTTP/1.1\r\nHost: t\r\nX-Abc: \rxTransfer-Encoding: chunked\r\n\r\n"
            b"0\r\n\r\n")

    def test_http09_request_line_is_rejected(self):
        self.assert_bad_request_then_close(b"GET /x\n")


# --------------------------------------------------------------------------------------------
# 5. Limits


class LimitsTest(ServerTestCase):
    def test_head_over_limit_is_431(self):
        conn = self.connect()
        conn.send(b"GET / HTTP/1.1\r\nHost: t\r\nX-Big: " + b"a" * (MAX_HEADER + 100) + b"\r\n\r\n")
        res = conn.read_response()
        self.assertEqual(res.status, 431)
        self.assertEqual(res.header("connection"), "close")
        self.assert_closed_by_server(conn)

    def test_head_just_under_limit_is_served(self):
        start = b"GET / HTTP/1.1\r\nHost: t\r\nX-Big: "
        pad = MAX_HEADER - len(start) - 4 - 64
        conn = self.connect()
        conn.send(start + b"a" * pad + b"\r\n\r\n")
        self.assertEqual(conn.read_response().status, 200)

    def test_announced_body_over_limit_is_413_before_body_is_sent(self):
        conn = self.connect(timeout=1.0)  # well under the 2 s body timeout
        start = time.monotonic()
        conn.send(b"POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: %d\r\n\r\n" % (MAX_BODY + 1))
        res = conn.read_response()
        self.assertEqual(res.status, 413)
        self.assertLess(time.monotonic() - start, 1.0)
        self.assertEqual(res.header("connection"), "close")

    def test_chunked_body_over_limit_is_413(self):
        chunk = b"y" * (40 * 1024)
        body = b"".join(b"%x\r\n%s\r\n" % (len(chunk), chunk) for _ in range(2)) + b"0\r\n\r\n"
        conn = self.connect()
        conn.send(b"POST /echo HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n" + body)
        res = conn.read_response()
        self.assertEqual(res.status, 413)
        self.assertEqual(res.header("connection"), "close")
        self.assert_closed_by_server(conn)

    def test_chunked_body_at_limit_is_accepted(self):
        chunk = b"z" * (MAX_BODY // 4)
        body = b"".join(b"%x\r\n%s\r\n" % (len(chunk), chunk) for _ in range(4)) + b"0\r\n\r\n"
        conn = self.connect()
        conn.send(b"POST /echo HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n" + body)
        res = conn.read_response()
        self.assertEqual(res.status, 200)
        self.assertEqual(len(res.body), MAX_BODY)

    def test_unsupported_expectation_is_417(self):
        conn = self.connect()
        conn.send(b"POST /echo HTTP/1.1\r\nHost: t\r\nExpect: something-else\r\n"
                  b"Content-Length: 3\r\n\r\nabc")
        res = conn.read_response()
        self.assertEqual(res.status, 417)
        self.assertEqual(res.header("connection"), "close")

    def test_unsupported_expectation_without_body_is_417(self):
        conn = self.connect()
        conn.send(b"GET / HTTP/1.1\r\nHost: t\r\nExpect: something-else\r\n\r\n")
        res = conn.read_response()
        self.assertEqual(res.status, 417)
        self.assertEqual(res.header("connection"), "close")

    def test_expect_100_continue_without_body_is_answered_without_100(self):
        conn = self.connect()
        conn.send(b"GET / HTTP/1.1\r\nHost: t\r\nExpect: 100-continue\r\n\r\n" + get("/users/3"))
        res = conn.read_response()
        self.assertEqual((res.status, res.body), (200, b"Hello, World!"))
        follow = conn.read_response()
        self.assertEqual((follow.status, follow.body), (200, b"user 3"))

    def test_expect_100_continue_to_unknown_path_gets_404_without_100(self):
        conn = self.connect()
        conn.send(b"POST /nowhere HTTP/1.1\r\nHost: t\r\nExpect: 100-continue\r\n"
                  b"Content-Length: 10\r\n\r\n")
        res = conn.read_response()
        self.assertEqual(res.status, 404)
        rest = conn.read_to_eof()
        self.assertNotIn(b"100 Continue", rest)

    def test_expect_100_continue_to_known_path_gets_100_then_answer(self):
        conn = self.connect()
        conn.send(b"POST /echo HTTP/1.1\r\nHost: t\r\nExpect: 100-continue\r\n"
                  b"Content-Length: 5\r\n\r\n")
        interim = conn.read_response()
        self.assertEqual(interim.status, 100)
        conn.send(b"hello")
        res = conn.read_response()
        self.assertEqual((res.status, res.body), (200, b"hello"))


# --------------------------------------------------------------------------------------------
# 6. Timeouts


class PeerCloseTest(ServerTestCase):
    def test_a_client_closing_mid_body_is_let_go_at_once(self):
        # Head, half the body and the FIN in one burst: the server sees the end of stream at
        # once, rather than holding the connection until its 2 s body timeout.
        for _ in range(30):
            conn = self.connect()
            conn.send(b"POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: 4096\r\n\r\n" + b"b" * 2048)
            conn.sock.shutdown(socket.SHUT_WR)
            start = time.monotonic()
            conn.read_to_eof(timeout=1.5)
            self.assertLess(time.monotonic() - start, 1.0)
            conn.sock.close()


class TimeoutTest(ServerTestCase):
    HEADER_MS, BODY_MS, IDLE_MS = 300, 300, 500
    flags = ("--header-timeout", HEADER_MS, "--body-timeout", BODY_MS, "--idle-timeout", IDLE_MS)

    def test_stalled_head_gets_408_and_close(self):
        conn = self.connect()
        start = time.monotonic()
        conn.send(b"GET / HTTP/1.1\r\nHost: t\r\n")
        res = conn.read_response()
        self.assertEqual(res.status, 408)
        self.assertEqual(res.header("connection"), "close")
        self.assert_closed_by_server(conn)
        self.assertLess(time.monotonic() - start, self.HEADER_MS / 1000 + 1)

    def test_head_trickled_slowly_still_times_out(self):
        # The header timeout runs from the first byte, not between bytes (slowloris).
        conn = self.connect()
        start = time.monotonic()
        answer = b""
        for b in b"GET / HTTP/1.1\r\nHost: t\r\nX-Slow: " + b"s" * 100:
            try:
                conn.send(bytes([b]))
            except (BrokenPipeError, ConnectionResetError):
                break
            if not conn.nothing_within(0.05):
                break
        res = conn.read_response()
        self.assertEqual(res.status, 408)
        self.assertLess(time.monotonic() - start, self.HEADER_MS / 1000 + 1)

    def test_silent_new_connection_is_closed_without_answer(self):
        conn = self.connect()
        start = time.monotonic()
        self.assert_closed_by_server(conn)
        self.assertLess(time.monotonic() - start, self.HEADER_MS / 1000 + 1)

    def test_idle_keep_alive_connection_is_closed_silently(self):
        conn = self.connect()
        conn.send(get("/"))
        self.assertEqual(conn.read_response().status, 200)
        start = time.monotonic()
        self.assert_closed_by_server(conn)
        elapsed = time.monotonic() - start
        self.assertGreater(elapsed, self.IDLE_MS / 1000 / 2, "closed long before the idle timeout")
        self.assertLess(elapsed, self.IDLE_MS / 1000 + 1)

    def test_many_idle_keep_alive_connections_are_all_closed_at_the_idle_timeout(self):
        conns = self.idle_connections(150)
        start = time.monotonic()
        for c in conns:
            self.assert_closed_by_server(c)
        elapsed = time.monotonic() - start
        self.assertGreater(elapsed, self.IDLE_MS / 1000 / 2, "closed long before the idle timeout")
        self.assertLess(elapsed, self.IDLE_MS / 1000 + 2)

    def test_partial_head_after_a_pipelined_request_times_out(self):
        # The answered request must not leave the next, unfinished head without a deadline.
        conn = self.connect()
        start = time.monotonic()
        conn.send(get("/") + b"GET / HTTP/1.1\r\nHost: t\r\n")
        self.assertEqual(conn.read_response().status, 200)
        res = conn.read_response()
        self.assertEqual(res.status, 408)
        self.assert_closed_by_server(conn)
        self.assertLess(time.monotonic() - start, self.HEADER_MS / 1000 + 1)

    def test_stalled_body_gets_408_and_close(self):
        conn = self.connect()
        conn.send(b"POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: 10\r\n\r\nhello")
        start = time.monotonic()
        res = conn.read_response()
        self.assertEqual(res.status, 408)
        self.assertEqual(res.header("connection"), "close")
        self.assert_closed_by_server(conn)
        self.assertLess(time.monotonic() - start, self.BODY_MS / 1000 + 1)

    def test_slow_but_steady_body_is_not_timed_out(self):
        # The body timeout bounds each pause, not the whole body.
        conn = self.connect()
        conn.send(b"POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: 5\r\n\r\n")
        for b in b"abcde":
            time.sleep(self.BODY_MS / 1000 / 2)
            conn.send(bytes([b]))
        res = conn.read_response()
        self.assertEqual((res.status, res.body), (200, b"abcde"))


# --------------------------------------------------------------------------------------------
# 7. Connection limits


class MaxConnectionsTest(ServerTestCase):
    flags = ("--max-connections", 2)

    def held_connection(self):
        conn = self.connect()
        conn.send(get("/"))  # an answer proves the server has accepted and counted it
        self.assertEqual(conn.read_response().status, 200)
        return conn

    def test_connection_over_limit_gets_503_and_close(self):
        held = [self.held_connection(), self.held_connection()]
        extra = self.connect()
        res = extra.read_response()
        self.assertEqual(res.status, 503)
        self.assertEqual(res.header("connection"), "close")
        self.assert_closed_by_server(extra)

        held[0].sock.close()
        # The server learns of the close asynchronously: allow it a moment.
        deadline = time.monotonic() + 2
        while True:
            conn = self.connect()
            conn.send(get("/"))
            res = conn.read_response()
            if res.status == 200 or time.monotonic() > deadline:
                break
            time.sleep(0.02)
        self.assertEqual(res.status, 200)


class MaxRequestsTest(ServerTestCase):
    flags = ("--max-requests", 3)

    def test_last_allowed_request_is_answered_with_close(self):
        conn = self.connect()
        for i in range(1, 4):
            conn.send(get(f"/users/{i}"))
            res = conn.read_response()
            self.assertEqual((res.status, res.body), (200, b"user %d" % i))
            if i < 3:
                self.assertNotEqual(res.header("connection"), "close")
        self.assertEqual(res.header("connection"), "close")
        self.assert_closed_by_server(conn)


# --------------------------------------------------------------------------------------------
# 8. Graceful shutdown


class GracefulShutdownTest(ServerTestCase):
    flags = ("--idle-timeout", 10000)

    def test_in_flight_request_is_answered_during_drain(self):
        conn = self.connect()
        conn.send(get("/slow/800"))
        time.sleep(0.1)
        self.server.terminate()
        res = conn.read_response()
        self.assertEqual((res.status, res.body), (200, b"slow 800"))
        self.assertEqual(res.header("connection"), "close")
        self.assert_closed_by_server(conn)

    def test_new_connections_are_refused_during_drain(self):
        conn = self.connect()
        conn.send(get("/slow/800"))
        time.sleep(0.1)
        self.server.terminate()
        time.sleep(0.2)
        try:
            late = socket.create_connection((HOST, self.port), timeout=SOCKET_TIMEOUT)
        except ConnectionRefusedError:
            pass
        else:
            with late:
                late.sendall(get("/"))
                late.settimeout(SOCKET_TIMEOUT)
                try:
                    self.assertEqual(late.recv(100), b"", "a new connection was served")
                except ConnectionResetError:
                    pass
        self.assertEqual(conn.read_response().status, 200)

    def test_server_exits_zero_after_drain(self):
        conn = self.connect()
        conn.send(get("/slow/800"))
        time.sleep(0.1)
        start = time.monotonic()
        self.server.terminate()
        self.assertEqual(conn.read_response().status, 200)
        code = self.server.wait(timeout=5)
        self.assertEqual(code, 0)
        self.assertLess(time.monotonic() - start, 3)
        self.assertIn(b"stopped", self.server.stdout)

    def test_idle_keep_alive_connections_are_closed_promptly(self):
        conns = self.idle_connections(150)
        start = time.monotonic()
        self.server.terminate()
        for c in conns:
            self.assert_closed_by_server(c, within=2)
        code = self.server.wait(timeout=5)
        self.assertEqual(code, 0)
        self.assertLess(time.monotonic() - start, 2, "the drain waited for idle connections")


# --------------------------------------------------------------------------------------------
# 9. Response header injection


class HeaderInjectionTest(ServerTestCase):
    def test_header_value_with_crlf_is_refused_with_500(self):
        conn = self.connect()
        conn.send(get("/bad-header"))
        res = conn.read_response()
        self.assertEqual(res.status, 500)
        self.assertEqual(res.all("set-cookie"), [])
        self.assertEqual(res.all("x-injected"), [])
        # The connection is still in a known state.
        conn.send(get("/"))
        self.assertEqual(conn.read_response().body, b"Hello, World!")


# --------------------------------------------------------------------------------------------
# 10. Streamed answers whose head waits for the first write (stream_head::deferred)


class DeferredHeadTest(ServerTestCase):
    def test_by_default_the_head_goes_out_before_the_producer_writes(self):
        conn = self.connect()
        conn.send(get("/stream/1?delay=2000"))
        began = time.monotonic()
        _, status, _, headers = conn.read_head()
        self.assertEqual(status, 200)
        self.assertLess(time.monotonic() - began, 1.5, "the head waited for the first write")
        self.assertEqual(conn._read_chunked(), b"chunk 0\n")

    def test_head_waits_for_the_first_write_and_carries_the_producers_headers(self):
        conn = self.connect()
        conn.send(get("/deferred/2?delay=600"))
        # The producer sleeps before its first write: not even the status line may come.
        self.assertTrue(conn.nothing_within(0.3), "the head went out before the first write")
        res = conn.read_response()
        self.assertEqual(res.status, 200)
        self.assertEqual(res.header("transfer-encoding"), "chunked")
        self.assertEqual(res.header("content-type"), "text/plain")
        self.assertEqual(res.header("x-chunks"), "2")  # set after the handler returned
        self.assertEqual(res.header("x-head-sent"), "no")
        self.assertEqual(res.all("x-late"), [])  # set after the first write: never sent
        self.assertEqual(res.body, b"chunk 0\nhead sent\nchunk 1\n")
        conn.send(get("/"))  # keep-alive survives
        self.assertEqual(conn.read_response().body, b"Hello, World!")

    def test_a_producer_that_writes_nothing_still_sends_its_head(self):
        c = self.http_client()
        c.request("GET", "/deferred/0")
        r = c.getresponse()
        self.assertEqual((r.status, r.read()), (200, b""))
        self.assertEqual(r.getheader("X-Chunks"), "0")
        self.assertEqual(r.getheader("Transfer-Encoding"), "chunked")
        c.request("GET", "/")
        self.assertEqual(c.getresponse().read(), b"Hello, World!")

    def test_curl_reads_the_deferred_head(self):
        r = run_curl("-i", self.base + "/deferred/3")
        self.assertEqual(r.returncode, 0, r.stderr)
        status, headers, body = split_head(r.stdout)
        self.assertEqual(status, "HTTP/1.1 200 OK")
        self.assertEqual(headers["x-chunks"], "3")
        self.assertEqual(body, b"chunk 0\nhead sent\nchunk 1\nchunk 2\n")

    def test_head_request_gets_the_producers_headers_and_no_body(self):
        conn = self.connect()
        conn.send(b"HEAD /deferred/3 HTTP/1.1\r\nHost: t\r\n\r\n")
        res = conn.read_response(method="HEAD")
        self.assertEqual(res.status, 200)
        self.assertEqual(res.header("x-chunks"), "3")
        # No body bytes: the next answer on the connection starts right away.
        conn.send(get("/"))
        self.assertEqual(conn.read_response().body, b"Hello, World!")

    def test_http10_deferred_body_is_close_delimited(self):
        conn = self.connect()
        conn.send(get("/deferred/2", "1.0", "Connection: keep-alive\r\n"))
        res = conn.read_response()
        self.assertEqual(res.status, 200)
        self.assertIsNone(res.header("transfer-encoding"))
        self.assertIsNone(res.header("content-length"))
        self.assertEqual(res.header("x-chunks"), "2")
        self.assertEqual(res.body, b"chunk 0\nhead sent\nchunk 1\n")
        self.assertTrue(conn.eof)

    def test_http10_producer_that_writes_nothing_sends_its_head_then_closes(self):
        conn = self.connect()
        conn.send(get("/deferred/0", "1.0"))
        res = conn.read_response()
        self.assertEqual((res.status, res.body), (200, b""))
        self.assertEqual(res.header("x-chunks"), "0")
        self.assertTrue(conn.eof)

    def test_a_throw_before_the_first_write_is_a_complete_500(self):
        conn = self.connect()
        conn.send(get("/deferred-throw/before"))
        res = conn.read_response()
        self.assertEqual(res.status, 500)
        self.assertEqual(res.body, b"Internal Server Error\n")
        conn.send(get("/"))  # a complete answer: the connection is still good
        self.assertEqual(conn.read_response().body, b"Hello, World!")

    def test_a_throw_after_the_first_write_ends_without_the_last_chunk(self):
        conn = self.connect()
        conn.send(get("/deferred-throw/after"))
        version, status, _, headers = conn.read_head()
        self.assertEqual(status, 200)
        rest = conn.read_to_eof()
        self.assertIn(b"partial\n", rest)
        self.assertFalse(rest.endswith(b"0\r\n\r\n"), "a failed body must not look complete")

    def test_a_bad_field_from_the_producer_is_refused_with_500(self):
        conn = self.connect()
        conn.send(get("/deferred-bad-header"))
        res = conn.read_response()
        self.assertEqual(res.status, 500)
        self.assertEqual(res.all("set-cookie"), [])
        self.assertEqual(res.all("x-injected"), [])
        self.assertNotIn(b"must not be sent", res.body)
        conn.send(get("/"))
        self.assertEqual(conn.read_response().body, b"Hello, World!")

    def test_earlier_pipelined_answers_do_not_wait_for_the_producer(self):
        conn = self.connect()
        began = time.monotonic()
        conn.send(get("/users/1") + get("/deferred/1?delay=2000") + get("/users/2"))
        res = conn.read_response()
        self.assertEqual(res.body, b"user 1")
        self.assertLess(time.monotonic() - began, 1.5, "the first answer waited for the producer")
        res = conn.read_response()
        self.assertEqual((res.header("x-chunks"), res.body), ("1", b"chunk 0\nhead sent\n"))
        self.assertEqual(conn.read_response().body, b"user 2")


if __name__ == "__main__":
    if len(sys.argv) < 2:
        sys.exit("usage: http_server_test.py PATH_TO_http_test_server [unittest args]")
    SERVER = os.path.abspath(sys.argv.pop(1))
    unittest.main(verbosity=2)
