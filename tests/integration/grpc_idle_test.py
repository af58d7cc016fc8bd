"""gRPC connections that carry no call are closed after rpc::server_options'
max_connection_idle, both those gRPC accepts itself and those coronet::listener hands over
from the shared port, while a busy grpcio client is served throughout and an idle one
reconnects on its next call.

Usage: grpc_idle_test.py CORONET_DEMO
"""
import os
import re
import select
import socket
import subprocess
import sys
import threading
import time
import unittest

import grpc

DEMO = sys.argv[1]

IDLE_S = 1.0
# gRPC's idle timer closes a connection one to two idle times after its last activity (a
# timer round that saw activity runs once more); the margin is for a loaded 2-core machine.
CLOSE_BOUND_S = 2 * IDLE_S + 1.5
# On the shared port a preface without SETTINGS never reaches gRPC: the listener waits this
# long for the SETTINGS frame that must follow it, then closes the connection unanswered.
PREFACE_TIMEOUT_S = 1.5
PREFACE = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"
EMPTY_SETTINGS = bytes([0, 0, 0, 0x4, 0, 0, 0, 0, 0])
GOAWAY = 0x7


import demo_process
from greeting_wire import decode_greeting, encode_greeting


def frame_types(data):
    types, i = [], 0
    while i + 9 <= len(data):
        types.append(data[i + 3])
        i += 9 + int.from_bytes(data[i : i + 3], "big")
    return types


class Demo:
    """coronet-demo with the shared port and a gRPC-only port, idle timeout IDLE_S."""

    def __init__(self, preface_timeout_s=PREFACE_TIMEOUT_S):
        self.proc = subprocess.Popen(
            [DEMO, "--listen", "127.0.0.1:0", "--grpc-listen", "127.0.0.1:0", "--threads", "1",
             "--grpc-idle-timeout", str(int(IDLE_S * 1000)),
             "--preface-timeout", str(int(preface_timeout_s * 1000))],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        first, second = self.proc.stdout.readline(), self.proc.stdout.readline()
        shared = re.search(r"listening on 127\.0\.0\.1:(\d+)", first)
        direct = re.search(r"gRPC also on port (\d+)", second)
        if not shared or not direct:
            self.proc.kill()
            raise RuntimeError("coronet-demo did not start: " + first + second)
        self.shared_port, self.grpc_port = int(shared.group(1)), int(direct.group(1))

    def stop(self):
        demo_process.stop(self.proc)


class SilentPeer:
    """An HTTP/2 client that sends the preface (and maybe SETTINGS), then nothing."""

    def __init__(self, port, settings):
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=5)
        self.sock.setblocking(False)
        self.settings = settings
        self.sock.sendall(PREFACE + (EMPTY_SETTINGS if settings else b""))
        self.opened = time.monotonic()
        self.closed_after = None
        self.received = b""

    def read(self):
        try:
            data = self.sock.recv(65536)
        except ConnectionResetError:
            data = b""
        if data:
            self.received += data
        else:
            self.closed_after = time.monotonic() - self.opened
            self.sock.close()


def busy_client(address, stop, results, states):
    """SayHello every 50 ms on one channel until told to stop."""
    with grpc.insecure_channel(address) as channel:
        channel.subscribe(states.append, try_to_connect=False)
        say_hello = channel.unary_unary("/HelloWorld/SayHello",
                                        request_serializer=encode_greeting,
                                        response_deserializer=decode_greeting)
        while not stop.is_set():
            try:
                ok = say_hello("busy", timeout=5) == "Hello, busy"
            except grpc.RpcError as e:
                ok = False
                results.append(e.code())
            results.append(ok)
            time.sleep(0.05)
        channel.unsubscribe(states.append)


class IdleConnectionTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.demo = Demo()

    @classmethod
    def tearDownClass(cls):
        cls.demo.stop()

    def test_silent_http2_connections_are_closed_with_goaway_after_the_idle_timeout(self):
        stop, results, states = threading.Event(), [], []
        busy = threading.Thread(target=busy_client,
                                args=("127.0.0.1:%d" % self.demo.shared_port, stop, results, states))
        busy.start()
        try:
            start = time.monotonic()
            peers = {}
            for name, port in (("shared", self.demo.shared_port), ("grpc", self.demo.grpc_port)):
                peers[name] = ([SilentPeer(port, settings=False) for _ in range(50)]
                               + [SilentPeer(port, settings=True) for _ in range(20)])
            everyone = peers["shared"] + peers["grpc"]
            deadline = start + 10
            while time.monotonic() < deadline:
                open_peers = [p for p in everyone if p.closed_after is None]
                if not open_peers:
                    break
                readable, _, _ = select.select([p.sock for p in open_peers], [], [], 0.5)
                for p in open_peers:
                    if p.sock in readable:
                        p.read()
            for p in everyone:
                if p.closed_after is None:
                    p.sock.close()
            # Past twice the idle time: long enough for the busy channel's connection to
            # have been closed, were calls not keeping it in use.
            time.sleep(max(0.0, start + 2.5 * IDLE_S - time.monotonic()))
        finally:
            stop.set()
            busy.join(timeout=15)

        for name, group in peers.items():
            times = [p.closed_after for p in group if p.closed_after is not None]
            print("%s port: %d/%d silent connections closed, %.2f-%.2f s after opening"
                  % (name, len(times), len(group), min(times, default=0), max(times, default=0)),
                  file=sys.stderr)
            self.assertEqual(len(times), len(group), name)
            self.assertGreaterEqual(min(times), IDLE_S * 0.9, name)  # the idle timer, not a refusal
            self.assertLessEqual(max(times), CLOSE_BOUND_S, name)
            for p in group:
                if name == "shared" and not p.settings:
                    # The listener's preface timeout: closed with nothing sent.
                    self.assertEqual(p.received, b"", name)
                    self.assertGreaterEqual(p.closed_after, PREFACE_TIMEOUT_S * 0.9, name)
                else:
                    self.assertEqual(frame_types(p.received)[-1], GOAWAY, name)
        print("busy client: %d calls, %d failed" % (len(results), results.count(False)),
              file=sys.stderr)
        self.assertGreater(len(results), 20)
        self.assertTrue(all(r is True for r in results), results)
        # One connection for the whole run: a connection in use is not idle.
        ready = grpc.ChannelConnectivity.READY
        self.assertEqual(states[states.index(ready):], [ready], states)

    def test_idle_grpcio_channel_is_disconnected_and_reconnects_on_its_next_call(self):
        address = "127.0.0.1:%d" % self.demo.shared_port
        with grpc.insecure_channel(address) as channel:
            states = []
            channel.subscribe(states.append, try_to_connect=False)
            say_hello = channel.unary_unary("/HelloWorld/SayHello",
                                            request_serializer=encode_greeting,
                                            response_deserializer=decode_greeting)
            self.assertEqual(say_hello("first", timeout=5), "Hello, first")
            ready = grpc.ChannelConnectivity.READY
            deadline = time.monotonic() + CLOSE_BOUND_S
            while time.monotonic() < deadline and (ready not in states or states[-1] == ready):
                time.sleep(0.05)
            self.assertIn(ready, states)
            self.assertNotEqual(states[-1], ready, states)
            print("idle channel: %s" % [s.name for s in states], file=sys.stderr)
            self.assertEqual(say_hello("again", timeout=5), "Hello, again")
            channel.unsubscribe(states.append)


def cpu_seconds(pid):
    with open("/proc/%d/stat" % pid) as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


class PartialPrefaceTest(unittest.TestCase):
    """The shared port's listener waits for the rest of a partial HTTP/2 preface without
    spinning (it used to peek in a busy loop until sniff_timeout), closes a connection whose
    client half-closes after part of it, and still tells slow prefaces and slow HTTP/1.1
    heads apart."""

    @classmethod
    def setUpClass(cls):
        cls.demo = Demo(preface_timeout_s=10)  # the held prefaces must outlast the test

    @classmethod
    def tearDownClass(cls):
        cls.demo.stop()

    def connect(self):
        s = socket.create_connection(("127.0.0.1", self.demo.shared_port), timeout=5)
        self.addCleanup(s.close)
        return s

    def test_partial_prefaces_cost_no_cpu_and_half_closed_ones_are_closed(self):
        held, half_closed = [], []
        for _ in range(8):
            s = self.connect()
            s.sendall(PREFACE[:12])
            held.append(s)
            s = self.connect()
            s.sendall(PREFACE[:12])
            s.shutdown(socket.SHUT_WR)
            half_closed.append(s)
        time.sleep(0.2)
        before = cpu_seconds(self.demo.proc.pid)
        time.sleep(2)
        used = cpu_seconds(self.demo.proc.pid) - before
        print("16 partial prefaces: %.2f s of CPU in 2 s" % used, file=sys.stderr)
        self.assertLess(used, 0.25)  # a busy loop takes what it can get of a core: up to 2 s
        for s in half_closed:  # closed by the server, not at sniff_timeout (10 s)
            s.settimeout(1)
            try:
                self.assertEqual(s.recv(100), b"")
            except ConnectionResetError:
                pass
        for s in held:
            s.setblocking(False)
            with self.assertRaises(BlockingIOError):  # still open, nothing sent
                s.recv(100)
        s = held[0]
        s.setblocking(True)
        s.sendall(PREFACE[12:] + EMPTY_SETTINGS)
        self.assertEqual(frame_types(s.recv(9)), [0x4])  # the gRPC server's SETTINGS

    def test_a_preface_byte_by_byte_reaches_the_grpc_server(self):
        s = self.connect()
        for b in PREFACE:
            s.sendall(bytes([b]))
            time.sleep(0.01)
        s.sendall(EMPTY_SETTINGS)
        self.assertEqual(frame_types(s.recv(9)), [0x4])

    def test_an_http_head_that_starts_like_the_preface_is_served(self):
        s = self.connect()
        s.sendall(b"P")  # as "PRI" starts
        time.sleep(0.2)
        s.sendall(b"UT / HTTP/1.0\r\n\r\n")
        s.shutdown(socket.SHUT_WR)
        self.assertTrue(s.recv(100).startswith(b"HTTP/1.1 405 "))


if __name__ == "__main__":
    unittest.main(argv=sys.argv[:1], verbosity=2)
