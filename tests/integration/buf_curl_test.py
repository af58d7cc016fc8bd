"""buf curl (connect-go inside) against coronet's one port over all three protocols: Connect and
gRPC-Web on HTTP/1.1, gRPC on h2c. Against coronet-demo with the schema from
proto/hello.proto and from the server's reflection; against coronet-protocols-test-server with
the descriptor set of hello.proto and bench.proto: unary, server streaming, every error code,
metadata.

Usage: buf_curl_test.py CORONET_DEMO PROTOCOLS_TEST_SERVER DESCRIPTOR_SET PROTO_DIR
(CORONET_TEST_BUF in the environment, else buf on PATH; without buf every test skips and the
run exits 77)
"""
import concurrent.futures
import glob
import json
import os
import shutil
import subprocess
import sys
import unittest

DEMO, SERVER, DESCRIPTORS, PROTO_DIR = sys.argv[1:5]
del sys.argv[1:5]

import demo_process

# buf (npm @bufbuild/buf): ./x test installs it under .tools/, where meson points this.
BUF = os.environ.get("CORONET_TEST_BUF", "")
if not os.access(BUF, os.X_OK):
    BUF = shutil.which("buf") or ""


def native(buf):
    """npm's @bufbuild/buf installs a Node.js launcher (unless its install script ran) that
    starts the binary of @bufbuild/buf-<os>-<arch>: the binary itself, where it is, saves a
    Node.js start per call."""
    package = os.path.dirname(os.path.dirname(os.path.realpath(buf)))
    if os.path.basename(package) == "buf":
        for binary in glob.glob(os.path.join(os.path.dirname(package), "buf-*", "bin", "buf")):
            if os.access(binary, os.X_OK):
                return binary
    return buf


BUF = native(BUF) if BUF else ""
NO_BUF = "buf not found: ./x test installs it (npm @bufbuild/buf into .tools/); or put buf on PATH"

PROTOCOLS = {  # buf curl's flags for each protocol; gRPC needs HTTP/2, here h2c
    "connect": ["--protocol", "connect"],
    "grpcweb": ["--protocol", "grpcweb"],
    "grpc": ["--protocol", "grpc", "--http2-prior-knowledge"],
}
CODES = ["canceled", "unknown", "invalid_argument", "deadline_exceeded", "not_found",
         "already_exists", "permission_denied", "resource_exhausted", "failed_precondition",
         "aborted", "out_of_range", "unimplemented", "internal", "unavailable", "data_loss",
         "unauthenticated"]


def buf_curl(*args):
    return subprocess.run([BUF, "curl", "--timeout", "10s", *args],
                          capture_output=True, text=True, timeout=30)


def json_documents(text):
    """The JSON documents buf curl prints one after another (one per response message)."""
    decoder, out, pos = json.JSONDecoder(), [], 0
    text = text.strip()
    while pos < len(text):
        doc, pos = decoder.raw_decode(text, pos)
        out.append(doc)
        while pos < len(text) and text[pos].isspace():
            pos += 1
    return out


@unittest.skipUnless(BUF, NO_BUF)
class DemoTest(unittest.TestCase):
    """coronet-demo's SayHello from buf curl over each protocol."""

    @classmethod
    def setUpClass(cls):
        cls.proc, port = demo_process.start([DEMO, "--listen", "127.0.0.1:0", "--threads", "2"],
                               r"listening on 127\.0\.0\.1:(\d+)")
        cls.base = "http://127.0.0.1:%d" % port

    @classmethod
    def tearDownClass(cls):
        demo_process.stop(cls.proc)

    def test_say_hello_over_each_protocol_from_the_proto_file(self):
        for protocol, flags in PROTOCOLS.items():
            with self.subTest(protocol=protocol):
                r = buf_curl(*flags, "--schema", os.path.join(PROTO_DIR, "hello.proto"),
                             "-d", '{"message": "%s"}' % protocol, self.base + "/HelloWorld/SayHello")
                self.assertEqual(r.returncode, 0, r.stderr)
                self.assertEqual(json.loads(r.stdout), {"message": "Hello, " + protocol})

    def test_say_hello_over_grpc_from_reflection(self):
        r = buf_curl(*PROTOCOLS["grpc"], "-d", '{"message": "reflected"}',
                     self.base + "/HelloWorld/SayHello")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(json.loads(r.stdout), {"message": "Hello, reflected"})

    def test_reflection_lists_say_hello(self):
        r = buf_curl(*PROTOCOLS["grpc"], "--list-methods", self.base)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn("HelloWorld/SayHello", r.stdout.split())

    def test_verbose_connect_call_is_http_1_1_with_connect_headers(self):
        r = buf_curl("--protocol", "connect", "-v", "--schema", os.path.join(PROTO_DIR, "hello.proto"),
                     "-d", '{"message": "v"}', self.base + "/HelloWorld/SayHello")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertRegex(r.stderr, r"(?i)content-type: application/proto")
        self.assertRegex(r.stderr, r"HTTP/1\.1 200")


@unittest.skipUnless(BUF, NO_BUF)
class BenchTest(unittest.TestCase):
    """coronet.bench.v1.Bench on the protocols test server, from the descriptor set."""

    @classmethod
    def setUpClass(cls):
        cls.proc, port = demo_process.start([SERVER], r"(?:listening on|port)\s+(?:\S*:)?(\d+)")
        cls.base = "http://127.0.0.1:%d/coronet.bench.v1.Bench/" % port

    @classmethod
    def tearDownClass(cls):
        demo_process.stop(cls.proc)

    def call(self, protocol, method, message, *extra):
        return buf_curl(*PROTOCOLS[protocol], "--schema", DESCRIPTORS, *extra,
                        "-d", json.dumps({"message": message}), self.base + method)

    def test_unary(self):
        for protocol in PROTOCOLS:
            with self.subTest(protocol=protocol):
                r = self.call(protocol, "Unary", "echo " + protocol)
                self.assertEqual(r.returncode, 0, r.stderr)
                self.assertEqual(json.loads(r.stdout), {"message": "echo " + protocol})

    def test_a_large_message_both_ways(self):
        # buf asks for gzip (Accept-Encoding, Grpc-Accept-Encoding): a large answer may come
        # compressed, and must decode to the same message.
        text = "large " * 20000
        for protocol in PROTOCOLS:
            with self.subTest(protocol=protocol):
                r = self.call(protocol, "Unary", text)
                self.assertEqual(r.returncode, 0, r.stderr)
                self.assertEqual(json.loads(r.stdout), {"message": text})

    def test_lookup(self):
        for protocol in PROTOCOLS:
            with self.subTest(protocol=protocol):
                r = self.call(protocol, "Lookup", "it")
                self.assertEqual(r.returncode, 0, r.stderr)
                self.assertEqual(json.loads(r.stdout), {"message": "found: it"})

    def test_server_stream(self):
        for protocol in PROTOCOLS:
            with self.subTest(protocol=protocol):
                r = self.call(protocol, "ServerStream", "4:10")
                self.assertEqual(r.returncode, 0, r.stderr)
                self.assertEqual(json_documents(r.stdout), [{"message": str(i)} for i in range(4)])

    def test_server_stream_failing_midway(self):
        for protocol in PROTOCOLS:
            with self.subTest(protocol=protocol):
                r = self.call(protocol, "ServerStream", "fail-after:2:10")
                self.assertNotEqual(r.returncode, 0)
                self.assertEqual(json_documents(r.stdout), [{"message": "0"}, {"message": "1"}])
                error = json.loads(r.stderr)
                self.assertEqual(error["code"], "aborted")
                self.assertEqual(error["message"], "failed after 2")

    def test_every_code_over_each_protocol(self):
        cases = [(protocol, number, name) for protocol in PROTOCOLS
                 for number, name in enumerate(CODES, start=1)]
        with concurrent.futures.ThreadPoolExecutor(4) as pool:
            results = pool.map(lambda c: self.call(c[0], "Unary", "fail:%d:bad %s" % c[1:]), cases)
            for (protocol, _, name), r in zip(cases, results):
                with self.subTest(protocol=protocol, code=name):
                    self.assertNotEqual(r.returncode, 0)
                    error = json.loads(r.stderr)
                    self.assertEqual(error["code"], name, r.stderr)
                    self.assertEqual(error["message"], "bad " + name)

    def test_request_header_comes_back_as_header_and_trailer(self):
        for protocol in PROTOCOLS:
            with self.subTest(protocol=protocol):
                r = self.call(protocol, "Unary", "meta", "-v", "-H", "x-echo: from buf")
                self.assertEqual(r.returncode, 0, r.stderr)
                self.assertEqual(json.loads(r.stdout), {"message": "from buf"})
                # -v prints what crosses the wire to stderr, "buf: < (#1) Name: value" for the
                # response's header fields: the header, and the trailer as Connect sends it
                # (a "Trailer-" header) or gRPC does (HTTP/2 trailers). gRPC-Web's trailers
                # are in the body, which -v does not print.
                self.assertRegex(r.stderr, r"(?im)^buf: < \(#\d+\) x-echo: from buf\s*$")
                if protocol != "grpcweb":
                    self.assertRegex(r.stderr,
                                     r"(?im)^buf: < \(#\d+\) (trailer-)?x-echo-trailer: from buf\s*$")

if __name__ == "__main__":
    result = unittest.main(verbosity=2, exit=False).result
    if not result.wasSuccessful():
        sys.exit(1)
    sys.exit(0 if BUF else 77)  # without buf nothing ran: meson reports the test skipped
