"""The Connect protocol and gRPC-Web on the HTTP/1.1 side of the one port, spoken to by the
real curl binary and Python's http.client: the README's curl line against coronet-demo, then
coronet-protocols-test-server (hello.proto's greeter and coronet.bench.v1.Bench) with JSON and
binary bodies, GET for the side-effect-free Lookup, gzip both ways, every error code and the
HTTP status Connect gives it, deadlines, streaming envelopes, gRPC-Web frames and CORS. Every
bad request gets its status and a Connect error body, and the same keep-alive connection then
serves a good request.

Usage: connect_curl_test.py CORONET_DEMO PROTOCOLS_TEST_SERVER   (CURL in the environment)
"""
import base64
import gzip
import http.client
import json
import os
import re
import struct
import subprocess
import sys
import tempfile
import time
import unittest
import urllib.parse
import zlib

DEMO = sys.argv[1]
SERVER = sys.argv[2]
del sys.argv[1:3]

import demo_process
from greeting_wire import decode_greeting, encode_greeting, varint

CURL = os.environ.get("CURL", "curl")
ORIGIN = "https://app.example"
UNARY = "/coronet.bench.v1.Bench/Unary"
LOOKUP = "/coronet.bench.v1.Bench/Lookup"
STREAM = "/coronet.bench.v1.Bench/ServerStream"

# Connect's codes: number, name, HTTP status of a unary error (connectrpc.com/docs/protocol).
CODES = [
    (1, "canceled", 499), (2, "unknown", 500), (3, "invalid_argument", 400),
    (4, "deadline_exceeded", 504), (5, "not_found", 404), (6, "already_exists", 409),
    (7, "permission_denied", 403), (8, "resource_exhausted", 429),
    (9, "failed_precondition", 400), (10, "aborted", 409), (11, "out_of_range", 400),
    (12, "unimplemented", 501), (13, "internal", 500), (14, "unavailable", 503),
    (15, "data_loss", 500), (16, "unauthenticated", 401),
]


# ---- the Greeting message and the envelopes, by hand (no generated code) -------------------

def greeting(text):
    """Greeting{message: text} in the protobuf binary format; the empty text is the empty
    message, as proto3 writes it."""
    return encode_greeting(text) if text else b""


read_greeting = decode_greeting


def envelope(payload, flags=0):
    return struct.pack(">BI", flags, len(payload)) + payload


def envelopes(body):
    """[(flags, payload)] of a whole enveloped body; fails on a truncated one."""
    out, pos = [], 0
    while pos < len(body):
        assert len(body) - pos >= 5, "truncated envelope prefix: %r" % body[pos:]
        flags, length = struct.unpack(">BI", body[pos:pos + 5])
        assert len(body) - pos - 5 >= length, "truncated envelope: %r" % body[pos:]
        out.append((flags, body[pos + 5:pos + 5 + length]))
        pos += 5 + length
    return out


# ---- the servers ---------------------------------------------------------------------------

def start_demo():
    return demo_process.start([DEMO, "--listen", "127.0.0.1:0", "--threads", "2"],
                 r"listening on 127\.0\.0\.1:(\d+)")


def start_protocols_server(*args):
    # "listening on [HOST:]PORT" or "port N", as the other test servers print it.
    return demo_process.start([SERVER, *args], r"(?:listening on|port)\s+(?:\S*:)?(\d+)")


def curl(*args, binary=False, input=None):
    return subprocess.run([CURL, "-sS", "--max-time", "10", *args], input=input,
                          capture_output=True, text=not binary, timeout=20)


class Response:
    def __init__(self, r):
        self.status = r.status
        self.headers = r.headers
        self.body = r.read()

    def header(self, name):
        return self.headers.get(name)

    def json(self):
        return json.loads(self.body)


class ConnectCase(unittest.TestCase):
    """A protocols test server per class, and helpers that keep one keep-alive connection."""

    server_args = ("--cors-origin", ORIGIN)

    @classmethod
    def setUpClass(cls):
        cls.proc, cls.port = start_protocols_server(*cls.server_args)

    @classmethod
    def tearDownClass(cls):
        demo_process.stop(cls.proc)

    def setUp(self):
        self.conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=10)

    def tearDown(self):
        self.conn.close()

    def request(self, method, path, body=None, headers=None, conn=None):
        conn = conn or self.conn
        conn.request(method, path, body=body, headers=headers or {})
        return Response(conn.getresponse())

    def post_json(self, path, obj, headers=None, conn=None):
        raw = obj if isinstance(obj, (bytes, str)) else json.dumps(obj)
        return self.request("POST", path, raw,
                            {"Content-Type": "application/json", **(headers or {})}, conn)

    def post_proto(self, path, raw, headers=None, conn=None):
        return self.request("POST", path, raw,
                            {"Content-Type": "application/proto", **(headers or {})}, conn)

    def assert_error(self, r, status, code):
        """A Connect unary error: the status, a JSON body, the code name in it."""
        self.assertEqual(r.status, status, r.body)
        content_type = r.header("Content-Type") or ""
        self.assertTrue(content_type.startswith("application/json"), content_type)
        try:
            body = json.loads(r.body.decode("utf-8"))  # JSON is UTF-8 (RFC 8259)
        except ValueError as e:  # UnicodeDecodeError included
            self.fail("the error body is not JSON in UTF-8 (%s): %r" % (e, r.body))
        self.assertEqual(body["code"], code, body)
        return body

    def open_connection(self):
        """A good call on this test's connection; remembers which socket it is (http.client
        would silently reconnect after the server closed it)."""
        self.assert_good_call()
        self.socket_name = self.conn.sock.getsockname()

    def assert_good_call(self):
        r = self.post_json(UNARY, {"message": "still here"})
        self.assertEqual(r.status, 200, r.body)
        self.assertEqual(r.json(), {"message": "still here"})

    def assert_still_serves(self):
        """The connection open_connection opened is still open and answers a good call."""
        self.assertIsNotNone(self.conn.sock, "the server closed the connection")
        self.assertEqual(self.conn.sock.getsockname(), self.socket_name)
        self.assert_good_call()
        self.assertIsNotNone(self.conn.sock, "the server closed the connection")
        self.assertEqual(self.conn.sock.getsockname(), self.socket_name)


class DemoTest(unittest.TestCase):
    """coronet-demo: the README's curl line, and the binary format, on the demo's one port."""

    @classmethod
    def setUpClass(cls):
        cls.proc, cls.port = start_demo()
        cls.url = "http://127.0.0.1:%d/HelloWorld/SayHello" % cls.port

    @classmethod
    def tearDownClass(cls):
        demo_process.stop(cls.proc)

    def test_readme_curl_line_answers_json(self):
        r = curl("-H", "content-type: application/json", "-d", '{"message":"x"}', self.url)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(json.loads(r.stdout), {"message": "Hello, x"})

    def test_json_answer_is_200_application_json(self):
        r = curl("-i", "-H", "content-type: application/json", "-d", '{"message":"x"}', self.url)
        head = r.stdout.split("\n\n", 1)[0]
        self.assertIn("HTTP/1.1 200", head)
        self.assertRegex(head, r"(?im)^content-type: application/json")

    def test_binary_request_and_answer(self):
        with tempfile.NamedTemporaryFile() as f:
            f.write(greeting("proto"))
            f.flush()
            r = curl("-H", "content-type: application/proto", "--data-binary", "@" + f.name,
                     "-w", "\n%{content_type}", self.url, binary=True)
        self.assertEqual(r.returncode, 0, r.stderr)
        body, content_type = r.stdout.rsplit(b"\n", 1)
        self.assertEqual(content_type, b"application/proto")
        self.assertEqual(read_greeting(body), "Hello, proto")

    def test_grpc_web_on_the_demo(self):
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=10)
        try:
            conn.request("POST", "/HelloWorld/SayHello", body=envelope(greeting("web")),
                         headers={"Content-Type": "application/grpc-web+proto", "X-Grpc-Web": "1"})
            r = Response(conn.getresponse())
        finally:
            conn.close()
        self.assertEqual(r.status, 200)
        frames = envelopes(r.body)
        self.assertEqual([read_greeting(p) for f, p in frames if f == 0], ["Hello, web"])
        self.assertIn(b"grpc-status:0", frames[-1][1])

    def test_the_http_routes_still_answer(self):
        self.assertEqual(curl("http://127.0.0.1:%d/" % self.port).stdout, "Hello, World!")


class UnaryTest(ConnectCase):
    def test_json_echo(self):
        r = self.post_json(UNARY, {"message": "hi"}, {"Connect-Protocol-Version": "1"})
        self.assertEqual(r.status, 200, r.body)
        self.assertTrue(r.header("Content-Type").startswith("application/json"))
        self.assertEqual(r.json(), {"message": "hi"})

    def test_json_with_charset_is_accepted(self):
        r = self.request("POST", UNARY, '{"message": "caf\u00e9"}'.encode(),
                         {"Content-Type": "application/json; charset=utf-8"})
        self.assertEqual(r.status, 200, r.body)
        self.assertEqual(r.json(), {"message": "caf\u00e9"})

    def test_empty_json_object_is_the_empty_message(self):
        r = self.post_json(UNARY, {})
        self.assertEqual(r.status, 200, r.body)
        self.assertEqual(r.json(), {})

    def test_proto_echo(self):
        text = "x" * 300  # a two-byte length prefix
        r = self.post_proto(UNARY, greeting(text))
        self.assertEqual(r.status, 200, r.body)
        self.assertEqual(r.header("Content-Type"), "application/proto")
        self.assertEqual(read_greeting(r.body), text)

    def test_hello_world_on_the_test_server(self):
        r = self.post_json("/HelloWorld/SayHello", {"message": "x"})
        self.assertEqual(r.status, 200, r.body)
        self.assertEqual(r.json(), {"message": "Hello, x"})

    def test_curl_json_post(self):
        r = curl("-H", "content-type: application/json", "-d", '{"message":"curl"}',
                 "http://127.0.0.1:%d%s" % (self.port, UNARY))
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(json.loads(r.stdout), {"message": "curl"})

    def test_every_code_has_its_http_status_and_name(self):
        self.open_connection()
        for number, name, status in CODES:
            with self.subTest(code=name):
                text = "failed with %s: \"quoted\" caf\u00e9" % name
                r = self.post_json(UNARY, {"message": "fail:%d:%s" % (number, text)})
                body = self.assert_error(r, status, name)
                self.assertEqual(body.get("message"), text)
        self.assert_still_serves()

    def test_every_code_over_the_binary_format_too(self):
        for number, name, status in CODES:
            with self.subTest(code=name):
                r = self.post_proto(UNARY, greeting("fail:%d:binary" % number))
                self.assertEqual(self.assert_error(r, status, name).get("message"), "binary")

    def test_headers_and_trailers(self):
        raw = bytes([0, 1, 2, 250, 255])
        r = self.post_json(UNARY, {"message": "meta"}, {
            "X-Echo": "hello there", "X-Bin-Bin": base64.b64encode(raw).decode().rstrip("=")})
        self.assertEqual(r.status, 200, r.body)
        self.assertEqual(r.json(), {"message": "hello there"})
        self.assertEqual(r.header("X-Echo"), "hello there")
        # Connect sends a unary call's trailers as headers prefixed with "Trailer-".
        self.assertEqual(r.header("Trailer-X-Echo-Trailer"), "hello there")
        value = r.header("X-Bin-Bin")
        self.assertIsNotNone(value, r.headers)
        self.assertEqual(base64.b64decode(value + "=" * (-len(value) % 4)), raw)


class DeadlineTest(ConnectCase):
    def test_timeout_expires_with_504_deadline_exceeded(self):
        self.open_connection()
        began = time.monotonic()
        r = self.post_json(UNARY, {"message": "sleep:2000"}, {"Connect-Timeout-Ms": "100"})
        elapsed = time.monotonic() - began
        self.assert_error(r, 504, "deadline_exceeded")
        self.assertLess(elapsed, 1.5, "the deadline did not cut the 2 s sleep short")
        self.assert_still_serves()

    def test_a_generous_timeout_lets_the_call_finish(self):
        r = self.post_json(UNARY, {"message": "sleep:50"}, {"Connect-Timeout-Ms": "5000"})
        self.assertEqual(r.status, 200, r.body)
        self.assertEqual(r.json(), {"message": "sleep:50"})

    def test_bad_timeouts_are_invalid_argument(self):
        self.open_connection()
        for value in ["12345678901", "abc", "-5", "1.5", "10s"]:
            with self.subTest(timeout=value):
                r = self.post_json(UNARY, {"message": "x"}, {"Connect-Timeout-Ms": value})
                self.assert_error(r, 400, "invalid_argument")
                self.assert_still_serves()


class BadInputTest(ConnectCase):
    def setUp(self):
        super().setUp()
        self.open_connection()

    def test_malformed_json(self):
        for body in [b'{"message":', b"not json", b'{"message": 5}', b"\xff\xfe",
                     b'{"message": "\xff"}']:
            with self.subTest(body=body):
                self.assert_error(self.post_json(UNARY, body), 400, "invalid_argument")
                self.assert_still_serves()

    def test_unknown_json_fields_are_ignored(self):
        r = self.post_json(UNARY, {"message": "x", "notAField": 1})
        self.assertEqual(r.status, 200, r.body)
        self.assertEqual(r.json(), {"message": "x"})

    def test_other_connect_protocol_versions_are_invalid_argument(self):
        for version in ["2", "0", "v1"]:
            with self.subTest(version=version):
                r = self.post_json(UNARY, {"message": "x"}, {"Connect-Protocol-Version": version})
                self.assert_error(r, 400, "invalid_argument")
                self.assert_still_serves()

    def test_a_handler_that_throws_is_unknown(self):
        # The test server's handler parses the milliseconds with std::stoi, which throws here.
        self.assert_error(self.post_json(UNARY, {"message": "sleep:forever"}), 500, "unknown")
        self.assert_still_serves()

    def test_malformed_proto(self):
        # a length past the end; a varint that never ends; wire type 7, which does not exist
        for body in [b"\x0a\x05ab", b"\x0a\xff\xff\xff", b"\x0f\x00"]:
            with self.subTest(body=body):
                self.assert_error(self.post_proto(UNARY, body), 400, "invalid_argument")
                self.assert_still_serves()

    def test_unknown_method_and_service_are_404(self):
        # The router's 404, which Connect clients read as unimplemented (docs/connect.md).
        for path in ["/coronet.bench.v1.Bench/Nope", "/no.such.Service/Method"]:
            with self.subTest(path=path):
                r = self.post_json(path, {"message": "x"})
                self.assertEqual(r.status, 404, r.body)
                if (r.header("Content-Type") or "").startswith("application/json"):
                    self.assertEqual(r.json()["code"], "unimplemented")
                self.assert_still_serves()

    def test_bidi_on_http_1_1_is_505_and_close(self):
        # Full duplex needs HTTP/2: answered as connect-go does, and the connection closes.
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=10)
        try:
            r = self.request("POST", "/coronet.bench.v1.Bench/Bidi", envelope(b'{"message":"x"}'),
                             {"Content-Type": "application/connect+json"}, conn)
            self.assertEqual(r.status, 505, r.body)
            self.assertEqual((r.header("Connection") or "").lower(), "close")
        finally:
            conn.close()
        self.assert_still_serves()

    def test_wrong_content_type_is_415_with_accept_post(self):
        for content_type in ["text/plain", "application/xml", "application/protobuf-nope",
                             "application/json; charset=latin1", "application/grpc-web-text",
                             "application/connect+json", None]:
            with self.subTest(content_type=content_type):
                headers = {"Content-Type": content_type} if content_type else {}
                r = self.request("POST", UNARY, b'{"message":"x"}', headers)
                self.assertEqual(r.status, 415, r.body)
                accept = (r.header("Accept-Post") or "").lower()
                self.assertIn("application/json", accept)
                self.assertIn("application/proto", accept)
                self.assert_still_serves()

    def test_wrong_http_method_is_405_with_allow(self):
        for method in ["PUT", "DELETE", "PATCH"]:
            with self.subTest(method=method):
                r = self.request(method, UNARY, b'{"message":"x"}', {"Content-Type": "application/json"})
                self.assertEqual(r.status, 405, r.body)
                self.assertIn("POST", (r.header("Allow") or "").upper())
                self.assert_still_serves()

    def test_get_of_a_method_with_side_effects_is_405(self):
        r = self.request("GET", UNARY + "?connect=v1&encoding=json&message=%7B%7D")
        self.assertEqual(r.status, 405, r.body)
        allow = [m.strip() for m in (r.header("Allow") or "").upper().split(",")]
        self.assertIn("POST", allow)
        self.assertNotIn("GET", allow)
        self.assert_still_serves()

    def test_a_message_over_the_limit(self):
        # 5 MiB: over the 4 MiB default message limit, under the HTTP server's 8 MiB body limit.
        self.assert_error(self.post_proto(UNARY, greeting("a" * (5 << 20))), 429, "resource_exhausted")
        self.assert_still_serves()

    def test_a_body_over_the_http_limit(self):
        # 9 MiB: over the HTTP server's 8 MiB default; it may answer before reading the body.
        with tempfile.NamedTemporaryFile() as f:
            f.write(greeting("a" * (9 << 20)))
            f.flush()
            r = curl("-o", "/dev/null", "-w", "%{http_code}", "-H", "content-type: application/proto",
                     "--data-binary", "@" + f.name, "http://127.0.0.1:%d%s" % (self.port, UNARY))
        self.assertEqual(r.stdout, "413", r.stderr)  # the HTTP server's answer, then it closes
        # The port keeps serving (on a new connection if the server closed that one).
        self.conn.close()
        self.assert_good_call()


class CompressionTest(ConnectCase):
    def test_gzip_request(self):
        self.open_connection()
        for content_type, body, decode in [
                ("application/json", json.dumps({"message": "zipped"}).encode(), lambda b: json.loads(b)["message"]),
                ("application/proto", greeting("zipped"), read_greeting)]:
            with self.subTest(content_type=content_type):
                r = self.request("POST", UNARY, gzip.compress(body),
                                 {"Content-Type": content_type, "Content-Encoding": "gzip"})
                self.assertEqual(r.status, 200, r.body)
                raw = gzip.decompress(r.body) if r.header("Content-Encoding") == "gzip" else r.body
                self.assertEqual(decode(raw), "zipped")
        self.assert_still_serves()

    def test_gzip_response_when_accepted(self):
        text = "compress me " * 1000
        r = self.post_json(UNARY, {"message": text}, {"Accept-Encoding": "gzip"})
        self.assertEqual(r.status, 200, r.body)
        self.assertEqual(r.header("Content-Encoding"), "gzip")
        self.assertLess(len(r.body), len(text) // 4)
        self.assertEqual(json.loads(gzip.decompress(r.body)), {"message": text})

    def test_no_gzip_response_unless_accepted(self):
        text = "compress me " * 1000
        for accept in [None, "identity", "br"]:
            with self.subTest(accept_encoding=accept):
                headers = {"Accept-Encoding": accept} if accept else {}
                r = self.post_json(UNARY, {"message": text}, headers)
                self.assertEqual(r.status, 200, r.body)
                self.assertIn(r.header("Content-Encoding"), [None, "identity"])
                self.assertEqual(r.json(), {"message": text})

    def test_curl_compressed(self):
        text = "compress me " * 1000
        r = curl("--compressed", "-H", "content-type: application/json", "-w", "\n%{size_download}",
                 "-d", json.dumps({"message": text}), "http://127.0.0.1:%d%s" % (self.port, UNARY))
        self.assertEqual(r.returncode, 0, r.stderr)
        body, downloaded = r.stdout.rsplit("\n", 1)
        self.assertEqual(json.loads(body), {"message": text})
        self.assertLess(int(downloaded), len(text) // 4, "the answer was not compressed")

    def test_corrupt_gzip_is_invalid_argument(self):
        self.open_connection()
        zipped = gzip.compress(greeting("x" * 100))
        for body in [b"not gzip at all", zipped[:len(zipped) // 2], zipped + b"trailing"]:
            with self.subTest(body=body[:20]):
                r = self.request("POST", UNARY, body,
                                 {"Content-Type": "application/proto", "Content-Encoding": "gzip"})
                self.assert_error(r, 400, "invalid_argument")
                self.assert_still_serves()

    def test_unsupported_content_encoding_is_unimplemented(self):
        self.open_connection()
        r = self.request("POST", UNARY, b"\x00\x01",
                         {"Content-Type": "application/proto", "Content-Encoding": "snappy"})
        self.assert_error(r, 501, "unimplemented")
        self.assert_still_serves()

    def test_gzip_bomb_is_resource_exhausted(self):
        self.open_connection()
        # 64 MiB of one letter in a Greeting: about 64 KiB of gzip.
        compressor = zlib.compressobj(9, zlib.DEFLATED, 31)
        size = 64 << 20
        bomb = compressor.compress(b"\x0a" + varint(size))
        chunk = b"a" * (1 << 20)
        for _ in range(size // len(chunk)):
            bomb += compressor.compress(chunk)
        bomb += compressor.flush()
        self.assertLess(len(bomb), 1 << 20)
        r = self.request("POST", UNARY, bomb,
                         {"Content-Type": "application/proto", "Content-Encoding": "gzip"})
        self.assert_error(r, 429, "resource_exhausted")
        self.assert_still_serves()


class GetTest(ConnectCase):
    def lookup_url(self, **params):
        return "http://127.0.0.1:%d%s?%s" % (self.port, LOOKUP, urllib.parse.urlencode(params))

    def test_curl_get_json(self):
        r = curl("-i", self.lookup_url(connect="v1", encoding="json", message='{"message":"x"}'))
        self.assertEqual(r.returncode, 0, r.stderr)
        head, body = r.stdout.split("\n\n", 1)
        self.assertIn("HTTP/1.1 200", head)
        self.assertEqual(json.loads(body), {"message": "found: x"})

    def test_curl_get_base64_proto(self):
        message = base64.urlsafe_b64encode(greeting("b64")).decode().rstrip("=")
        r = curl("-w", "\n%{content_type}", self.lookup_url(
            connect="v1", encoding="proto", base64="1", message=message), binary=True)
        self.assertEqual(r.returncode, 0, r.stderr)
        body, content_type = r.stdout.rsplit(b"\n", 1)
        self.assertEqual(content_type, b"application/proto")
        self.assertEqual(read_greeting(body), "found: b64")

    def test_get_base64_json(self):
        message = base64.urlsafe_b64encode(b'{"message":"json64"}').decode()  # padded is fine too
        r = curl(self.lookup_url(connect="v1", encoding="json", base64="1", message=message))
        self.assertEqual(json.loads(r.stdout), {"message": "found: json64"})

    def test_get_gzip_compressed_message(self):
        message = base64.urlsafe_b64encode(gzip.compress(greeting("zipped"))).decode().rstrip("=")
        r = curl("--compressed", self.lookup_url(
            connect="v1", encoding="proto", base64="1", compression="gzip", message=message), binary=True)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(read_greeting(r.stdout), "found: zipped")

    def test_post_to_lookup_works_too(self):
        r = self.post_json(LOOKUP, {"message": "posted"})
        self.assertEqual(r.status, 200, r.body)
        self.assertEqual(r.json(), {"message": "found: posted"})

    def test_bad_base64_is_invalid_argument(self):
        self.open_connection()
        for message in ["!!!!", "a", "ab$d"]:
            with self.subTest(message=message):
                path = "%s?%s" % (LOOKUP, urllib.parse.urlencode(
                    {"connect": "v1", "encoding": "proto", "base64": "1", "message": message}))
                self.assert_error(self.request("GET", path), 400, "invalid_argument")
                self.assert_still_serves()

    def test_get_without_encoding_is_415(self):
        self.open_connection()
        for query in [{"message": '{"message":"x"}'}, {"encoding": "xml", "message": "x"}]:
            with self.subTest(query=query):
                r = self.request("GET", "%s?%s" % (LOOKUP, urllib.parse.urlencode(query)))
                self.assertEqual(r.status, 415, r.body)
                self.assert_still_serves()

    def test_malformed_json_in_the_query_is_invalid_argument(self):
        self.open_connection()
        path = "%s?%s" % (LOOKUP, urllib.parse.urlencode(
            {"connect": "v1", "encoding": "json", "message": "{nope"}))
        self.assert_error(self.request("GET", path), 400, "invalid_argument")
        self.assert_still_serves()


class ConnectStreamTest(ConnectCase):
    def stream(self, body_json=None, body_proto=None, path=STREAM, headers=None):
        if body_json is not None:
            content_type, payload = "application/connect+json", json.dumps(body_json).encode()
        else:
            content_type, payload = "application/connect+proto", body_proto
        r = self.request("POST", path, envelope(payload),
                         {"Content-Type": content_type, "Connect-Protocol-Version": "1", **(headers or {})})
        self.response = r
        self.assertEqual(r.status, 200, r.body)
        self.assertEqual(r.header("Content-Type"), content_type)
        frames = envelopes(r.body)
        self.assertTrue(frames, "no end-of-stream message")
        *messages, (last_flags, last) = frames
        self.assertEqual(last_flags & 0x02, 0x02, "the last message is not end-of-stream")
        for flags, _ in messages:
            self.assertEqual(flags, 0)
        return messages, json.loads(last)

    def test_json_stream(self):
        messages, end = self.stream(body_json={"message": "3"})
        self.assertEqual([json.loads(p) for _, p in messages],
                         [{"message": "0"}, {"message": "1"}, {"message": "2"}])
        self.assertNotIn("error", end)

    def test_proto_stream_with_delays(self):
        messages, end = self.stream(body_proto=greeting("4:20"))
        self.assertEqual([read_greeting(p) for _, p in messages], ["0", "1", "2", "3"])
        self.assertNotIn("error", end)

    def test_error_after_some_messages(self):
        messages, end = self.stream(body_json={"message": "fail-after:2:9"})
        self.assertEqual(len(messages), 2)
        self.assertEqual(end["error"]["code"], "failed_precondition")
        self.assertEqual(end["error"]["message"], "failed after 2")

    def test_error_before_any_message(self):
        messages, end = self.stream(body_proto=greeting("fail-after:0:5"))
        self.assertEqual(messages, [])
        self.assertEqual(end["error"]["code"], "not_found")

    def test_a_deadline_ends_the_stream_with_deadline_exceeded(self):
        began = time.monotonic()
        messages, end = self.stream(body_json={"message": "100:50"}, headers={"Connect-Timeout-Ms": "300"})
        self.assertLess(time.monotonic() - began, 2, "the stream outlived its deadline")
        self.assertLess(len(messages), 100)
        self.assertEqual(end["error"]["code"], "deadline_exceeded", end)

    def test_gzip_request_envelope(self):
        payload = gzip.compress(json.dumps({"message": "2"}).encode())
        r = self.request("POST", STREAM, envelope(payload, flags=0x01), {
            "Content-Type": "application/connect+json", "Connect-Content-Encoding": "gzip"})
        self.assertEqual(r.status, 200, r.body)
        *messages, (flags, end) = envelopes(r.body)
        self.assertEqual([json.loads(p) for _, p in messages], [{"message": "0"}, {"message": "1"}])
        self.assertEqual(flags, 0x02)
        self.assertNotIn("error", json.loads(end))

    def test_the_connection_keeps_serving_after_a_stream(self):
        self.open_connection()
        self.stream(body_json={"message": "2"})
        self.assert_still_serves()

    def test_a_streaming_handlers_headers_are_http_headers(self):
        raw = bytes([0, 1, 2, 250, 255])
        for spec, count in [("meta:3", 3), ("meta:0", 0)]:
            with self.subTest(spec=spec):
                messages, end = self.stream(body_json={"message": spec}, headers={
                    "X-Echo": "stream meta", "X-Bin-Bin": base64.b64encode(raw).decode().rstrip("=")})
                self.assertEqual([json.loads(p)["message"] for _, p in messages],
                                 [str(i) for i in range(count)])
                r = self.response
                self.assertEqual(r.header("X-Echo"), "stream meta")
                value = r.header("X-Bin-Bin")
                self.assertIsNotNone(value, r.headers)
                self.assertEqual(base64.b64decode(value + "=" * (-len(value) % 4)), raw)
                # Trailers stay in the end-of-stream message, and headers are not repeated there.
                metadata = end.get("metadata", {})
                self.assertEqual(metadata.get("x-echo-trailer"), ["stream meta"], end)
                self.assertNotIn("x-echo", metadata)
                self.assertNotIn("error", end)
                # A header added once the first message (and so the head) was out can only
                # travel with the trailers.
                if count:
                    self.assertIsNone(r.header("X-Late"))
                    self.assertEqual(metadata.get("x-late"), ["after the first message"])

    def test_headers_of_a_stream_that_fails_before_any_message(self):
        messages, end = self.stream(body_proto=greeting("meta:fail-after:0:5"),
                                    headers={"X-Echo": "failing"})
        self.assertEqual(messages, [])
        self.assertEqual(end["error"]["code"], "not_found")
        self.assertEqual(self.response.header("X-Echo"), "failing")
        self.assertEqual(end["metadata"]["x-echo-trailer"], ["failing"])

    def test_a_client_streaming_handlers_headers_are_http_headers(self):
        body = b"".join(envelope(json.dumps({"message": m}).encode()) for m in ["a", "meta", "b"])
        r = self.request("POST", "/coronet.bench.v1.Bench/ClientStream", body, {
            "Content-Type": "application/connect+json", "X-Echo": "upload"})
        self.assertEqual(r.status, 200, r.body)
        *messages, (flags, last) = envelopes(r.body)
        self.assertEqual([json.loads(p) for _, p in messages], [{"message": "a,meta,b"}])
        self.assertEqual(flags, 0x02)
        self.assertEqual(r.header("X-Echo"), "upload")
        end = json.loads(last)
        self.assertEqual(end["metadata"], {"x-echo-trailer": ["upload"]})

    def test_curl_sees_a_streams_header_before_its_trailers(self):
        r = curl("-i", "-H", "Content-Type: application/connect+json", "-H", "X-Echo: via curl",
                 "--data-binary", "@-", "http://127.0.0.1:%d%s" % (self.port, STREAM),
                 binary=True, input=envelope(b'{"message": "meta:1"}'))
        self.assertEqual(r.returncode, 0, r.stderr)
        head, _, body = r.stdout.partition(b"\r\n\r\n")
        self.assertIn(b"\r\nx-echo: via curl", head.lower())
        (_, first), (flags, last) = envelopes(body)
        self.assertEqual(json.loads(first), {"message": "0"})
        self.assertEqual(json.loads(last)["metadata"]["x-echo-trailer"], ["via curl"])


class GrpcWebTest(ConnectCase):
    def call(self, path, message, content_type="application/grpc-web+proto", headers=None):
        r = self.request("POST", path, envelope(greeting(message)), {
            "Content-Type": content_type, "X-Grpc-Web": "1", **(headers or {})})
        self.assertEqual(r.status, 200, r.body)
        self.assertTrue(r.header("Content-Type").startswith("application/grpc-web"), r.header("Content-Type"))
        frames = envelopes(r.body)
        messages = [read_greeting(p) for f, p in frames if not f & 0x80]
        trailer_frames = [p for f, p in frames if f & 0x80]
        self.assertLessEqual(len(trailer_frames), 1)
        for f, _ in frames[:-1]:
            self.assertFalse(f & 0x80, "a trailer frame before the end")
        trailers = {}
        if trailer_frames:
            for line in trailer_frames[0].decode().split("\r\n"):
                if line:
                    key, value = line.split(":", 1)
                    trailers[key.strip().lower()] = value.strip()
        else:  # trailers-only: the status is in the headers
            for key in ("grpc-status", "grpc-message"):
                if r.header(key) is not None:
                    trailers[key] = r.header(key)
        self.assertIn("grpc-status", trailers, r.body)
        return r, messages, trailers

    def test_unary(self):
        for content_type in ["application/grpc-web+proto", "application/grpc-web"]:
            with self.subTest(content_type=content_type):
                _, messages, trailers = self.call(UNARY, "web", content_type)
                self.assertEqual(messages, ["web"])
                self.assertEqual(trailers["grpc-status"], "0")

    def test_server_stream(self):
        _, messages, trailers = self.call(STREAM, "3:10")
        self.assertEqual(messages, ["0", "1", "2"])
        self.assertEqual(trailers["grpc-status"], "0")

    def test_stream_failing_after_some_messages(self):
        _, messages, trailers = self.call(STREAM, "fail-after:1:9")
        self.assertEqual(messages, ["0"])
        self.assertEqual(trailers["grpc-status"], "9")
        self.assertEqual(urllib.parse.unquote(trailers["grpc-message"]), "failed after 1")

    def test_every_code(self):
        for number, name, _ in CODES:
            with self.subTest(code=name):
                text = "50% off, caf\u00e9"
                _, messages, trailers = self.call(UNARY, "fail:%d:%s" % (number, text))
                self.assertEqual(messages, [])
                self.assertEqual(trailers["grpc-status"], str(number))
                # grpc-message is percent-encoded (PROTOCOL-HTTP2.md)
                self.assertEqual(urllib.parse.unquote(trailers["grpc-message"]), text)

    def test_gzip_request_message(self):
        r = self.request("POST", UNARY, envelope(gzip.compress(greeting("zipped web")), flags=0x01), {
            "Content-Type": "application/grpc-web+proto", "grpc-encoding": "gzip"})
        self.assertEqual(r.status, 200, r.body)
        frames = envelopes(r.body)
        self.assertEqual([read_greeting(p) for f, p in frames if f == 0], ["zipped web"])
        self.assertIn(b"grpc-status:0", frames[-1][1])

    def test_grpc_timeout(self):
        began = time.monotonic()
        _, messages, trailers = self.call(UNARY, "sleep:2000", headers={"grpc-timeout": "100m"})
        self.assertLess(time.monotonic() - began, 1.5)
        self.assertEqual(messages, [])
        self.assertEqual(trailers["grpc-status"], "4")

    def test_headers_and_trailers(self):
        r, messages, trailers = self.call(UNARY, "meta", headers={"X-Echo": "web meta"})
        self.assertEqual(messages, ["web meta"])
        self.assertEqual(r.header("X-Echo"), "web meta")
        self.assertEqual(trailers.get("x-echo-trailer"), "web meta")

    def test_a_streaming_handlers_headers_are_http_headers(self):
        raw = bytes([0, 1, 2, 250, 255])
        for spec, count in [("meta:2", 2), ("meta:0", 0)]:
            with self.subTest(spec=spec):
                r, messages, trailers = self.call(STREAM, spec, headers={
                    "X-Echo": "web stream", "X-Bin-Bin": base64.b64encode(raw).decode()})
                self.assertEqual(messages, [str(i) for i in range(count)])
                self.assertEqual(r.header("X-Echo"), "web stream")
                # gRPC-Web clients expect padded base64.
                self.assertEqual(base64.b64decode(r.header("X-Bin-Bin"), validate=True), raw)
                self.assertEqual(trailers["grpc-status"], "0")
                self.assertEqual(trailers.get("x-echo-trailer"), "web stream")
                self.assertNotIn("x-echo", trailers)
                if count:
                    self.assertIsNone(r.header("X-Late"))
                    self.assertEqual(trailers.get("x-late"), "after the first message")

    def test_unknown_method_is_unimplemented(self):
        # gRPC-Web clients read HTTP 404 as unimplemented too; otherwise grpc-status 12.
        r = self.request("POST", "/coronet.bench.v1.Bench/Nope", envelope(greeting("x")),
                         {"Content-Type": "application/grpc-web+proto"})
        if r.status != 404:
            self.assertEqual(r.status, 200, r.body)
            status = r.header("grpc-status")
            if status is None:
                status = re.search(rb"grpc-status:\s*(\d+)", r.body).group(1).decode()
            self.assertEqual(status, "12")


class CorsTest(ConnectCase):
    def preflight(self, origin, method="POST", headers="content-type,connect-protocol-version,"
                  "connect-timeout-ms,x-grpc-web,x-user-agent,grpc-timeout"):
        return self.request("OPTIONS", UNARY, None, {
            "Origin": origin, "Access-Control-Request-Method": method,
            "Access-Control-Request-Headers": headers})

    def test_preflight_from_a_configured_origin(self):
        r = self.preflight(ORIGIN)
        self.assertIn(r.status, (200, 204), r.body)
        self.assertEqual(r.header("Access-Control-Allow-Origin"), ORIGIN)
        methods = (r.header("Access-Control-Allow-Methods") or "").upper()
        self.assertIn("POST", methods)
        allowed = (r.header("Access-Control-Allow-Headers") or "").lower()
        if allowed.strip() != "*":
            for name in ["content-type", "connect-protocol-version", "connect-timeout-ms",
                         "x-grpc-web", "x-user-agent", "grpc-timeout"]:
                self.assertIn(name, allowed)
        self.assertIn("origin", (r.header("Vary") or "").lower())

    def test_preflight_for_get(self):
        r = self.request("OPTIONS", LOOKUP, None, {
            "Origin": ORIGIN, "Access-Control-Request-Method": "GET"})
        self.assertIn(r.status, (200, 204), r.body)
        self.assertIn("GET", (r.header("Access-Control-Allow-Methods") or "").upper())

    def test_preflight_from_another_origin_is_403(self):
        r = self.preflight("https://evil.example")
        self.assertEqual(r.status, 403, r.body)
        self.assertNotEqual(r.header("Access-Control-Allow-Origin"), "https://evil.example")
        self.assertNotEqual(r.header("Access-Control-Allow-Origin"), "*")

    def test_a_cross_origin_call_exposes_the_protocol_headers(self):
        r = self.post_json(UNARY, {"message": "cors"}, {"Origin": ORIGIN})
        self.assertEqual(r.status, 200, r.body)
        self.assertEqual(r.header("Access-Control-Allow-Origin"), ORIGIN)
        exposed = (r.header("Access-Control-Expose-Headers") or "").lower()
        for name in ["grpc-status", "grpc-message"]:
            self.assertIn(name, exposed)

    def test_a_cross_origin_call_exposes_the_headers_the_server_names(self):
        r = self.post_json(UNARY, {"message": "meta"}, {"Origin": ORIGIN, "X-Echo": "v"})
        self.assertEqual(r.status, 200, r.body)
        self.assertEqual(r.header("x-echo"), "v")
        exposed = [n.strip().lower() for n in (r.header("Access-Control-Expose-Headers") or "").split(",")]
        self.assertIn("x-echo", exposed)
        self.assertIn("trailer-x-echo-trailer", exposed)

    def test_a_grpc_web_error_from_another_origin_is_readable(self):
        r = self.request("POST", UNARY, envelope(greeting("fail:5:gone")), {
            "Content-Type": "application/grpc-web+proto", "Origin": ORIGIN})
        self.assertEqual(r.status, 200)
        self.assertEqual(r.header("Access-Control-Allow-Origin"), ORIGIN)
        self.assertIn("grpc-status", (r.header("Access-Control-Expose-Headers") or "").lower())

    def test_a_call_from_another_origin_gets_no_cors_headers(self):
        r = self.post_json(UNARY, {"message": "x"}, {"Origin": "https://evil.example"})
        self.assertIsNone(r.header("Access-Control-Allow-Origin"))


if __name__ == "__main__":
    unittest.main(verbosity=2)
