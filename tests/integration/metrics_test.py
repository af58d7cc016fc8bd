"""coronet::metrics seen from outside: metrics_test_server serves HTTP routes and the hello.proto
greeter on one port, both counting into one coronet::metrics at GET /metrics. Real clients
(curl, Python's http.client, a raw socket, python3-grpcio) make a known mix of requests and
calls; then promtool accepts the exposition, and Python's Prometheus parser reads counters
that match exactly what was sent: per route, method and status class, per gRPC method and
status code, connections, errors, bytes.

Usage: metrics_test.py METRICS_TEST_SERVER   (PROMTOOL and CURL in the environment; without
PROMTOOL the other checks run, and the test then exits 77, skipped)
"""
import http.client
import os
import re
import socket
import subprocess
import sys
import time
import unittest

import grpc
from prometheus_client.parser import text_string_to_metric_families

SERVER = sys.argv[1]
del sys.argv[1:2]

import demo_process
from greeting_wire import decode_greeting, encode_greeting

CURL = os.environ.get("CURL", "curl")
PROMTOOL = os.environ.get("PROMTOOL", "")


def samples(text):
    """{(sample name, frozenset of labels): value} of an exposition."""
    out = {}
    for family in text_string_to_metric_families(text):
        for s in family.samples:
            out[(s.name, frozenset(s.labels.items()))] = s.value
    return out


def value(all_samples, name, **labels):
    return all_samples.get((name, frozenset(labels.items())), 0)


class Metrics(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.proc = subprocess.Popen([SERVER], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        first = cls.proc.stdout.readline()
        match = re.match(r"port (\d+)", first)
        if not match:
            cls.proc.kill()
            _, err = cls.proc.communicate(timeout=10)
            raise RuntimeError("metrics_test_server did not start: " + first + err)
        cls.port = int(match.group(1))
        cls.traffic()

    @classmethod
    def tearDownClass(cls):
        demo_process.stop(cls.proc)

    @classmethod
    def traffic(cls):
        """The requests and calls whose counts the tests check; one HTTP connection each for
        the two curl runs, the http.client session and the malformed request."""
        base = "http://127.0.0.1:%d" % cls.port
        for user in ("1", "2"):
            out = subprocess.run([CURL, "-sS", "-o", "/dev/null", "-w", "%{http_code}", base + "/users/" + user],
                                 capture_output=True, text=True, timeout=10)
            assert out.stdout == "200", out
        conn = http.client.HTTPConnection("127.0.0.1", cls.port, timeout=10)
        for method, path, body, status in [("GET", "/users/3", None, 200), ("GET", "/nope", None, 404),
                                           ("POST", "/echo", b"hello", 200), ("GET", "/fail", None, 500),
                                           ("DELETE", "/users/3", None, 405)]:
            conn.request(method, path, body=body)
            res = conn.getresponse()
            res.read()
            assert res.status == status, (method, path, res.status)
        conn.close()
        with socket.create_connection(("127.0.0.1", cls.port), timeout=10) as s:
            s.sendall(b"GARBAGE\r\n\r\n")
            answer = s.recv(4096)
            assert answer.startswith(b"HTTP/1.1 400"), answer
        with grpc.insecure_channel("127.0.0.1:%d" % cls.port) as channel:
            say_hello = channel.unary_unary("/HelloWorld/SayHello", request_serializer=encode_greeting,
                                            response_deserializer=decode_greeting)
            assert say_hello("a", timeout=10) == "hello a"
            assert say_hello("b", timeout=10) == "hello b"
            try:
                say_hello("missing", timeout=10)
                raise AssertionError("NOT_FOUND expected")
            except grpc.RpcError as e:
                assert e.code() == grpc.StatusCode.NOT_FOUND, e
            # Streams: every message each way is counted.
            bench = "/coronet.bench.v1.Bench/"
            server_stream = channel.unary_stream(bench + "ServerStream", request_serializer=encode_greeting,
                                                 response_deserializer=decode_greeting)
            assert list(server_stream("3", timeout=10)) == ["0", "1", "2"]
            client_stream = channel.stream_unary(bench + "ClientStream", request_serializer=encode_greeting,
                                                 response_deserializer=decode_greeting)
            assert client_stream(iter(["a", "b", "c", "d"]), timeout=10) == "a,b,c,d"
            bidi = channel.stream_stream(bench + "Bidi", request_serializer=encode_greeting,
                                         response_deserializer=decode_greeting)
            assert list(bidi(iter(["x", "y"]), timeout=10)) == ["echo: x", "echo: y"]
            nope = channel.unary_unary("/HelloWorld/Nope", request_serializer=encode_greeting,
                                       response_deserializer=decode_greeting)
            try:
                nope("x", timeout=10)
                raise AssertionError("UNIMPLEMENTED expected")
            except grpc.RpcError as e:
                assert e.code() == grpc.StatusCode.UNIMPLEMENTED, e
        # One connection for every scrape: the server has seen the others close once the
        # open-connections gauge is down to this one.
        cls.scraper = http.client.HTTPConnection("127.0.0.1", cls.port, timeout=10)
        cls.scrapes = 0
        deadline = time.monotonic() + 10
        while True:
            cls.text = cls.scrape()
            cls.samples = samples(cls.text)
            if value(cls.samples, "coronet_http_connections_open") == 1 or time.monotonic() > deadline:
                break
            time.sleep(0.05)

    @classmethod
    def scrape(cls):
        cls.scraper.request("GET", "/metrics")
        res = cls.scraper.getresponse()
        body = res.read().decode()
        assert res.status == 200, res.status
        assert res.getheader("Content-Type") == "text/plain; version=0.0.4; charset=utf-8"
        cls.scrapes += 1
        return body

    def test_promtool_accepts_the_exposition(self):
        if not PROMTOOL:
            self.skipTest("promtool not installed")
        out = subprocess.run([PROMTOOL, "check", "metrics"], input=self.text, capture_output=True, text=True,
                             timeout=30)
        self.assertEqual(out.returncode, 0, out.stdout + out.stderr)
        self.assertEqual(out.stdout + out.stderr, "")

    def test_http_requests_are_counted_by_method_route_and_status_class(self):
        expected = {
            ("GET", "/users/{id}", "2xx"): 3,
            ("GET", "(unmatched)", "4xx"): 1,
            ("DELETE", "(unmatched)", "4xx"): 1,
            ("POST", "/echo", "2xx"): 1,
            ("GET", "/fail", "5xx"): 1,
            # Every scrape before the one read here (a request is counted once answered).
            ("GET", "/metrics", "2xx"): self.scrapes - 1,
        }
        found = {(dict(labels)["method"], dict(labels)["route"], dict(labels)["code"]): v
                 for (name, labels), v in self.samples.items() if name == "coronet_http_requests_total"}
        self.assertEqual(found, {k: v for k, v in expected.items() if v})

    def test_each_request_has_one_duration(self):
        for (method, route), n in {("GET", "/users/{id}"): 3, ("POST", "/echo"): 1, ("GET", "(unmatched)"): 1,
                                   ("GET", "/fail"): 1}.items():
            self.assertEqual(value(self.samples, "coronet_http_request_duration_seconds_count",
                                   method=method, route=route), n)
            self.assertEqual(value(self.samples, "coronet_http_request_duration_seconds_bucket",
                                   method=method, route=route, le="+Inf"), n)
            self.assertGreater(value(self.samples, "coronet_http_request_duration_seconds_sum",
                                     method=method, route=route), 0)

    def test_connections_bytes_and_errors(self):
        # curl twice, http.client, the malformed request, the scraper; gRPC's connection went
        # to the gRPC server.
        self.assertEqual(value(self.samples, "coronet_http_connections_accepted_total"), 5)
        self.assertEqual(value(self.samples, "coronet_http_connections_refused_total"), 0)
        self.assertEqual(value(self.samples, "coronet_http_connections_open"), 1)
        self.assertGreater(value(self.samples, "coronet_http_received_bytes_total"), 0)
        self.assertGreater(value(self.samples, "coronet_http_sent_bytes_total"), 0)
        self.assertEqual(value(self.samples, "coronet_http_errors_total", reason="bad_request"), 1)
        self.assertEqual(value(self.samples, "coronet_http_errors_total", reason="handler_exception"), 1)
        self.assertEqual(value(self.samples, "coronet_http_errors_total", reason="header_timeout"), 0)
        # Every answer went out in a write of its own (nothing was pipelined).
        answers = 2 + 5 + 1 + (self.scrapes - 1)  # curl, http.client, the 400
        self.assertEqual(value(self.samples, "coronet_http_responses_per_write_count"), answers)
        self.assertEqual(value(self.samples, "coronet_http_responses_per_write_bucket", le="1"), answers)

    def test_sent_bytes_are_every_byte_clients_read(self):
        """coronet_http_sent_bytes_total grows by exactly what clients read, an interim
        100 Continue included. Raw sockets with Connection: close, each read to EOF, so every
        byte was written (and counted) before the next scrape."""
        def exchange(head, body=b""):
            with socket.create_connection(("127.0.0.1", self.port), timeout=10) as s:
                s.sendall(head)
                data = b""
                if body:
                    while b"\r\n\r\n" not in data:  # the interim answer, then the body
                        chunk = s.recv(4096)
                        self.assertTrue(chunk, data)
                        data += chunk
                    s.sendall(body)
                while True:
                    chunk = s.recv(65536)
                    if not chunk:
                        return data
                    data += chunk

        def sent(scrape):
            head, _, body = scrape.partition(b"\r\n\r\n")
            self.assertTrue(head.startswith(b"HTTP/1.1 200"), head)
            self.assertNotIn(b"chunked", head.lower())
            return value(samples(body.decode()), "coronet_http_sent_bytes_total")

        scrape = b"GET /metrics HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n"
        first = exchange(scrape)
        echo = exchange(b"POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: 5\r\n"
                        b"Expect: 100-continue\r\nConnection: close\r\n\r\n", b"hello")
        self.assertTrue(echo.startswith(b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200"), echo)
        second = exchange(scrape)
        self.assertEqual(sent(second) - sent(first), len(first) + len(echo))

    def test_grpc_calls_are_counted_by_method_and_code(self):
        hello = {"grpc_service": "HelloWorld", "grpc_method": "SayHello", "grpc_type": "unary"}
        self.assertEqual(value(self.samples, "coronet_grpc_server_started_total", **hello), 3)
        self.assertEqual(value(self.samples, "coronet_grpc_server_handled_total", grpc_code="OK", **hello), 2)
        self.assertEqual(value(self.samples, "coronet_grpc_server_handled_total", grpc_code="NOT_FOUND", **hello), 1)
        self.assertEqual(value(self.samples, "coronet_grpc_server_handling_seconds_count", **hello), 3)
        self.assertEqual(value(self.samples, "coronet_grpc_server_msg_received_total", **hello), 3)
        self.assertEqual(value(self.samples, "coronet_grpc_server_msg_sent_total", **hello), 2)
        # A method no service has: counted, under a label value the client cannot choose.
        unknown = {"grpc_service": "unknown", "grpc_method": "unknown", "grpc_type": "bidi_stream"}
        self.assertEqual(value(self.samples, "coronet_grpc_server_handled_total", grpc_code="UNIMPLEMENTED",
                               **unknown), 1)
        self.assertNotIn("Nope", self.text)
        handled = sum(v for (name, _), v in self.samples.items() if name == "coronet_grpc_server_handled_total")
        self.assertEqual(handled, 7)

    def test_stream_messages_are_counted_each_way(self):
        for method, kind, received, sent in [("ServerStream", "server_stream", 1, 3),
                                             ("ClientStream", "client_stream", 4, 1),
                                             ("Bidi", "bidi_stream", 2, 2)]:
            labels = {"grpc_service": "coronet.bench.v1.Bench", "grpc_method": method, "grpc_type": kind}
            with self.subTest(method=method):
                self.assertEqual(value(self.samples, "coronet_grpc_server_started_total", **labels), 1)
                self.assertEqual(value(self.samples, "coronet_grpc_server_handled_total", grpc_code="OK",
                                       **labels), 1)
                self.assertEqual(value(self.samples, "coronet_grpc_server_msg_received_total", **labels), received)
                self.assertEqual(value(self.samples, "coronet_grpc_server_msg_sent_total", **labels), sent)

    def test_process_figures(self):
        self.assertEqual(value(self.samples, "coronet_io_threads"), 2)
        self.assertGreater(value(self.samples, "process_open_fds"), 3)
        self.assertGreater(value(self.samples, "process_resident_memory_bytes"), 1 << 20)
        self.assertGreater(value(self.samples, "process_start_time_seconds"), 1.6e9)
        self.assertGreater(value(self.samples, "process_cpu_seconds_total"), 0)


if __name__ == "__main__":
    result = unittest.main(verbosity=2, exit=False).result
    if not result.wasSuccessful():
        sys.exit(1)
    # Without promtool the format went unchecked: meson reports the test skipped (77).
    sys.exit(0 if PROMTOOL else 77)
