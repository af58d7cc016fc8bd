"""coronet-demo on one port, spoken to by real clients: curl, python grpcio, and
coronet-demo-client; the gateway route with a dead and a stalled backend; SIGTERM while
requests are in flight; the health service through stubs generated from its .proto, and
server reflection describing every service, to a hand-written client and to buf curl;
GET /metrics after mixed traffic, checked by promtool and Python's Prometheus parser.

Usage: demo_test.py CORONET_DEMO CORONET_DEMO_CLIENT
"""
import importlib
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import unittest
import urllib.request

import grpc
from google.protobuf import descriptor_pb2

CURL = os.environ.get("CURL", "curl")  # found by meson
# buf (npm @bufbuild/buf): ./x test installs it under .tools/, where meson points this; else
# one on PATH. The tests that need it skip without it.
BUF = os.environ.get("CORONET_TEST_BUF", "")
if not os.access(BUF, os.X_OK):
    BUF = shutil.which("buf") or ""
PROTO_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "proto")

DEMO = sys.argv[1]
CLIENT = sys.argv[2]


import demo_process
from greeting_wire import decode_greeting, encode_greeting, read_varint


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
        demo_process.stop(self.proc)


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


def health_stubs():
    """health_pb2 and health_pb2_grpc, generated now from proto/grpc/health/v1/health.proto
    (Debian's grpcio has no grpc_health). The .proto is copied to a flat name first: a
    grpc/health/v1 module path would collide with the grpc package itself."""
    out = tempfile.mkdtemp(prefix="coronet-health-")
    shutil.copy(os.path.join(PROTO_DIR, "grpc", "health", "v1", "health.proto"), out)
    subprocess.run([sys.executable, "-m", "grpc_tools.protoc", "-I" + out, "--python_out=" + out,
                    "--grpc_python_out=" + out, os.path.join(out, "health.proto")],
                   check=True, capture_output=True, timeout=60)
    sys.path.insert(0, out)
    return importlib.import_module("health_pb2"), importlib.import_module("health_pb2_grpc")


class HealthTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.pb, cls.pb_grpc = health_stubs()
        cls.demo = Demo()

    @classmethod
    def tearDownClass(cls):
        cls.demo.stop()

    def check(self, address, service):
        with grpc.insecure_channel(address) as channel:
            stub = self.pb_grpc.HealthStub(channel)
            return stub.Check(self.pb.HealthCheckRequest(service=service), timeout=10).status

    def test_check_answers_serving_for_the_server_and_for_hello_world(self):
        SERVING = self.pb.HealthCheckResponse.SERVING
        self.assertEqual(self.check(self.demo.address, ""), SERVING)
        self.assertEqual(self.check(self.demo.address, "HelloWorld"), SERVING)

    def test_check_of_an_unknown_service_is_not_found(self):
        with self.assertRaises(grpc.RpcError) as raised:
            self.check(self.demo.address, "no.such.Service")
        self.assertEqual(raised.exception.code(), grpc.StatusCode.NOT_FOUND)

    def test_watch_sees_serving_then_not_serving_on_sigterm_and_the_demo_exits_zero_at_once(self):
        HealthCheckResponse = self.pb.HealthCheckResponse
        demo = Demo()  # its drain timeout is the default 10 s: the watches must not wait for it
        try:
            with grpc.insecure_channel(demo.address) as channel:
                stub = self.pb_grpc.HealthStub(channel)
                watches = [stub.Watch(self.pb.HealthCheckRequest(service=name), timeout=30)
                           for name in ("", "HelloWorld", "no.such.Service")]
                first = [next(w).status for w in watches]
                self.assertEqual(first, [HealthCheckResponse.SERVING, HealthCheckResponse.SERVING,
                                         HealthCheckResponse.SERVICE_UNKNOWN])
                start = time.monotonic()
                demo.proc.send_signal(signal.SIGTERM)
                rest = [[m.status for m in w] for w in watches]  # until each stream ends
                self.assertEqual(rest, [[HealthCheckResponse.NOT_SERVING]] * 3)
                self.assertEqual([w.code() for w in watches], [grpc.StatusCode.OK] * 3)
            self.assertEqual(demo.proc.wait(timeout=10), 0)
            self.assertLess(time.monotonic() - start, 5.0)
        finally:
            demo.stop()


def fields(data):
    """(field number, value) of each field of a serialized message: ints for varints, bytes
    for length-delimited fields."""
    i = 0
    while i < len(data):
        key, i = read_varint(data, i)
        number, wire_type = key >> 3, key & 7
        if wire_type == 0:
            value, i = read_varint(data, i)
        elif wire_type == 2:
            size, i = read_varint(data, i)
            value, i = data[i : i + size], i + size
        else:
            raise ValueError("unexpected wire type %d" % wire_type)
        yield number, value


def length_delimited(number, payload):
    assert len(payload) < 128
    return bytes([number << 3 | 2, len(payload)]) + payload


class ReflectionTest(unittest.TestCase):
    """What grpcurl's list and describe do, by hand: ServerReflectionInfo with list_services,
    then file_containing_symbol for each service, and the descriptors it answers."""

    @classmethod
    def setUpClass(cls):
        cls.demo = Demo()

    @classmethod
    def tearDownClass(cls):
        cls.demo.stop()

    def ask(self, request):
        with grpc.insecure_channel(self.demo.address) as channel:
            info = channel.stream_stream("/grpc.reflection.v1alpha.ServerReflection/ServerReflectionInfo")
            (answer,) = list(info(iter([request]), timeout=10))
        return dict(fields(answer))

    def test_every_listed_service_is_described_with_its_methods_and_messages(self):
        listed = self.ask(length_delimited(7, b""))[6]  # list_services -> list_services_response
        services = sorted(dict(fields(s))[1].decode() for n, s in fields(listed) if n == 1)
        self.assertEqual(services, ["HelloWorld", "grpc.health.v1.Health",
                                    "grpc.reflection.v1alpha.ServerReflection"])
        described = {}
        for service in services:
            answer = self.ask(length_delimited(4, service.encode()))  # file_containing_symbol
            self.assertIn(4, answer, "no descriptor for %s: %r" % (service, answer))
            files = [descriptor_pb2.FileDescriptorProto.FromString(raw)
                     for n, raw in fields(answer[4]) if n == 1]
            messages = {("." + f.package + "." if f.package else ".") + m.name
                        for f in files for m in f.message_type}
            for f in files:
                package = f.package + "." if f.package else ""
                for s in f.service:
                    if package + s.name != service:
                        continue
                    for m in s.method:
                        self.assertIn(m.input_type, messages, m.name)
                        self.assertIn(m.output_type, messages, m.name)
                        described[package + s.name + "/" + m.name] = (
                            m.input_type, m.output_type, m.client_streaming, m.server_streaming)
        self.assertEqual(described, {
            "HelloWorld/SayHello": (".Greeting", ".Greeting", False, False),
            "grpc.health.v1.Health/Check": (".grpc.health.v1.HealthCheckRequest",
                                            ".grpc.health.v1.HealthCheckResponse", False, False),
            "grpc.health.v1.Health/Watch": (".grpc.health.v1.HealthCheckRequest",
                                            ".grpc.health.v1.HealthCheckResponse", False, True),
            "grpc.reflection.v1alpha.ServerReflection/ServerReflectionInfo": (
                ".grpc.reflection.v1alpha.ServerReflectionRequest",
                ".grpc.reflection.v1alpha.ServerReflectionResponse", True, True),
        })

    def test_the_health_descriptor_has_its_canonical_file_name(self):
        answer = self.ask(length_delimited(4, b"grpc.health.v1.Health"))
        names = [descriptor_pb2.FileDescriptorProto.FromString(raw).name
                 for n, raw in fields(answer[4]) if n == 1]
        self.assertEqual(names, ["grpc/health/v1/health.proto"])


@unittest.skipUnless(BUF, "buf not found: ./x test installs it (npm @bufbuild/buf into .tools/); "
                          "or put buf on PATH")
class BufCurlTest(unittest.TestCase):
    """buf curl, a client that knows nothing of the demo's .protos: everything it sends and
    decodes comes from the server's reflection."""

    @classmethod
    def setUpClass(cls):
        cls.demo = Demo()

    @classmethod
    def tearDownClass(cls):
        cls.demo.stop()

    def buf_curl(self, *args):
        return subprocess.run([BUF, "curl", "--protocol", "grpc", "--http2-prior-knowledge",
                               "--timeout", "10s", *args],
                              capture_output=True, text=True, timeout=60)

    def test_list_methods_names_every_method_of_every_service(self):
        r = self.buf_curl("--list-methods", "http://" + self.demo.address)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(sorted(r.stdout.split()), [
            "HelloWorld/SayHello",
            "grpc.health.v1.Health/Check",
            "grpc.health.v1.Health/Watch",
            "grpc.reflection.v1alpha.ServerReflection/ServerReflectionInfo",
        ])

    def test_say_hello_through_reflection(self):
        r = self.buf_curl("-d", '{"message": "buf"}', "http://%s/HelloWorld/SayHello" % self.demo.address)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(json.loads(r.stdout), {"message": "Hello, buf"})

    def test_health_check_through_reflection(self):
        url = "http://%s/grpc.health.v1.Health/Check" % self.demo.address
        r = self.buf_curl("-d", '{"service": "HelloWorld"}', url)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(json.loads(r.stdout), {"status": "SERVING"})
        r = self.buf_curl("-d", '{"service": "no.such.Service"}', url)
        self.assertNotEqual(r.returncode, 0)
        self.assertEqual(json.loads(r.stderr)["code"], "not_found", r.stderr)


PROMTOOL = os.environ.get("PROMTOOL", "")  # found by meson; the check skips without it


class MetricsTest(unittest.TestCase):
    def test_metrics_after_mixed_traffic_pass_promtool_and_count_exactly(self):
        from prometheus_client.parser import text_string_to_metric_families
        demo = Demo()
        try:
            for _ in range(3):
                self.assertEqual(curl(demo.url("/")).stdout, "Hello, World!")
            self.assertEqual(curl("-X", "POST", "--data", "x", demo.url("/echo")).stdout, "x")
            self.assertEqual(curl("-o", "/dev/null", "-w", "%{http_code}", demo.url("/nope")).stdout, "404")
            with grpc.insecure_channel(demo.address) as channel:
                say_hello = channel.unary_unary("/HelloWorld/SayHello",
                                                request_serializer=encode_greeting,
                                                response_deserializer=decode_greeting)
                for _ in range(2):
                    self.assertEqual(say_hello("metrics", timeout=10), "Hello, metrics")
            r = curl("-i", demo.url("/metrics"))
            self.assertIn("Content-Type: text/plain; version=0.0.4; charset=utf-8", r.stdout)
            exposition = r.stdout.split("\n\n", 1)[1]
        finally:
            demo.stop()
        samples = {}
        for family in text_string_to_metric_families(exposition):
            for sample in family.samples:
                samples[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value

        def value(name, **labels):
            return samples.get((name, tuple(sorted(labels.items()))))

        self.assertEqual(value("coronet_http_requests_total", method="GET", route="/", code="2xx"), 3)
        self.assertEqual(value("coronet_http_requests_total", method="POST", route="/echo", code="2xx"), 1)
        self.assertEqual(value("coronet_http_requests_total", method="GET", route="(unmatched)", code="4xx"), 1)
        self.assertEqual(value("coronet_grpc_server_handled_total", grpc_service="HelloWorld",
                               grpc_method="SayHello", grpc_type="unary", grpc_code="OK"), 2)
        self.assertEqual(value("coronet_io_threads"), 2)
        if not PROMTOOL:
            self.skipTest("promtool not found (Debian package prometheus)")
        check = subprocess.run([PROMTOOL, "check", "metrics"], input=exposition,
                               capture_output=True, text=True, timeout=30)
        self.assertEqual(check.returncode, 0, check.stdout + check.stderr)

    def test_no_metrics_serves_no_metrics_route(self):
        demo = Demo("--no-metrics")
        try:
            r = curl("-o", "/dev/null", "-w", "%{http_code}", demo.url("/metrics"))
            self.assertEqual(r.stdout, "404")
        finally:
            demo.stop()


if __name__ == "__main__":
    unittest.main(argv=sys.argv[:1], verbosity=2)
