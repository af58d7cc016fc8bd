"""One kind of soak client against coronet-demo on 127.0.0.1, a fixed number at a time,
until a deadline or SIGTERM. Run by bench/soak/soak.py, one process per kind.

    clients.py KIND --port PORT --seconds S --concurrency N --stats FILE [--nice N]

Every second, and once more at the end, FILE is replaced by a JSON object:
{"done": work units finished, "errors": failures, "detail": {what: count}}. What a unit of
work is depends on the kind (see KINDS at the bottom). A kind that runs wrk or h2load runs it
in segments of at most 10 s, so its progress shows during the run, not only at its end.
"""
import argparse
import json
import os
import queue
import random
import re
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import threading
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..",
                                "tests", "integration"))
from greeting_wire import decode_greeting, encode_greeting  # noqa: E402

HOST = "127.0.0.1"
SEGMENT_S = 10
stop = threading.Event()


class Stats:
    def __init__(self, path):
        self.path = path
        self.lock = threading.Lock()
        self.done = 0
        self.errors = 0
        self.detail = {}

    def add(self, what, n=1, error=False):
        """n units of work done (or failed, with error), counted under what too."""
        with self.lock:
            if error:
                self.errors += n
            else:
                self.done += n
            self.detail[what] = self.detail.get(what, 0) + n

    def note(self, what, n=1):
        """A count for the detail only, not a unit of work."""
        with self.lock:
            self.detail[what] = self.detail.get(what, 0) + n

    def write(self):
        with self.lock:
            data = {"done": self.done, "errors": self.errors, "detail": dict(self.detail)}
        tmp = self.path + ".tmp"
        with open(tmp, "w") as f:
            json.dump(data, f)
        os.replace(tmp, self.path)


def pause(seconds):
    """Sleeps, waking early when the run stops; True while it goes on."""
    return not stop.wait(seconds)


# --- wrk and h2load, run in segments ----------------------------------------------------

child = None
child_lock = threading.Lock()


def run_segments(args, command_for, parse, stats):
    """Runs command_for(seconds) again and again until the deadline; parse(output) gives
    (done, {error kind: n}) for each run."""
    global child
    while not stop.is_set():
        left = args.deadline - time.monotonic()
        if left < 1:
            break
        seconds = int(min(SEGMENT_S, left))
        with child_lock:
            if stop.is_set():
                break
            child = subprocess.Popen(command_for(seconds), stdout=subprocess.PIPE,
                                     stderr=subprocess.STDOUT, text=True,
                                     preexec_fn=lambda: os.nice(args.nice))
        out, _ = child.communicate()
        with child_lock:
            child = None
        done, errors = parse(out)
        if done == 0 and not errors:
            errors = {"tool failed: " + out.strip().splitlines()[-1][:80] if out.strip() else "no output": 1}
        stats.add("requests", done)
        for what, n in errors.items():
            if n:
                stats.add(what, n, error=True)


def stop_child():
    with child_lock:
        if child is not None and child.poll() is None:
            child.send_signal(signal.SIGINT)  # wrk and h2load print what they did


WRK_LUA = {
    "pipelined": """
init = function(args)
  local r = {}
  for i = 1, 16 do r[i] = wrk.format(nil, "/") end
  req = table.concat(r)
end
request = function() return req end
""",
    # Every name differs, in content and length (up to 300 bytes): nothing the server keeps
    # per name could stay small.
    "gateway": """
counter = 0
request = function()
  counter = counter + 1
  return wrk.format(nil, "/hello/soak" .. counter .. string.rep("x", counter % 300))
end
""",
}


def parse_wrk(out):
    m = re.search(r"(\d+) requests in", out)
    done = int(m.group(1)) if m else 0
    errors = {}
    m = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", out)
    if m:
        for what, n in zip(("connect", "read", "write", "timeout"), m.groups()):
            errors["socket " + what] = int(n)
    m = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    if m:
        errors["non-2xx"] = int(m.group(1))
        done -= int(m.group(1))
    return done, errors


def wrk_kind(script):
    def run(args, stats):
        lua = None
        if script:
            fd, lua = tempfile.mkstemp(suffix=".lua")
            os.write(fd, WRK_LUA[script].encode())
            os.close(fd)
        try:
            run_segments(args, lambda s: ["wrk", "-t1", "-c%d" % args.concurrency, "-d%ds" % s,
                                          "--timeout", "10s"] + (["-s", lua] if lua else [])
                         + ["http://%s:%d/" % (HOST, args.port)], parse_wrk, stats)
        finally:
            if lua:
                os.unlink(lua)
    return run


def parse_h2load(out):
    """(calls answered 200, {error kind: n})."""
    m = re.search(r"requests: \d+ total, \d+ started, \d+ done, (\d+) succeeded, (\d+) failed, "
                  r"(\d+) errored, (\d+) timeout", out)
    if not m:
        return 0, {}
    ok, failed, errored, timeout = map(int, m.groups())
    return ok, {"failed": failed, "errored": errored, "timeout": timeout}


def h2load_kind(args, stats):
    fd, body = tempfile.mkstemp()
    greeting = encode_greeting("soak")
    os.write(fd, b"\x00" + struct.pack(">I", len(greeting)) + greeting)
    os.close(fd)
    streams = 8
    inflight = args.concurrency * streams

    def parse(out):
        ok, errors = parse_h2load(out)
        # A request still in flight when -D ends is counted as failed by h2load: not the
        # server's doing. At most clients * streams of them per run.
        errors["failed"] = max(0, errors.get("failed", 0) - inflight)
        return ok, errors
    try:
        run_segments(args, lambda s: ["h2load", "-c%d" % args.concurrency, "-m%d" % streams,
                                      "-D%d" % s, "-d", body, "-H", "content-type: application/grpc",
                                      "-H", "te: trailers",
                                      "http://%s:%d/HelloWorld/SayHello" % (HOST, args.port)],
                     parse, stats)
    finally:
        os.unlink(body)


# --- grpcio clients ------------------------------------------------------------------------

def grpc_channel(port):
    import grpc
    # A local subchannel pool: a new channel is a new connection, not one shared process-wide.
    return grpc.insecure_channel("%s:%d" % (HOST, port),
                                 options=[("grpc.use_local_subchannel_pool", 1)])


def threads(args, stats, body):
    ts = [threading.Thread(target=body, args=(args, stats, i), daemon=True)
          for i in range(args.concurrency)]
    for t in ts:
        t.start()
    while any(t.is_alive() for t in ts):
        if time.monotonic() >= args.deadline:
            stop.set()
        for t in ts:
            t.join(0.2)


def grpc_unary_worker(args, stats, me):
    """SayHello with a reply check; a new channel (connection) every 200 calls."""
    n = 0
    while not stop.is_set():
        with grpc_channel(args.port) as channel:
            say = channel.unary_unary("/HelloWorld/SayHello", request_serializer=encode_greeting,
                                      response_deserializer=decode_greeting)
            for _ in range(200):
                if stop.is_set():
                    break
                name = "s%d-%d-%s" % (me, n, "y" * (n % 100))
                n += 1
                try:
                    reply = say(name, timeout=10)
                    if reply == "Hello, " + name:
                        stats.add("calls")
                    else:
                        stats.add("wrong reply", error=True)
                except Exception as e:  # grpc.RpcError
                    if not stop.is_set():
                        stats.add("status " + str(getattr(e, "code", lambda: e)()), error=True)
        stats.note("channels")


def grpc_watch_worker(args, stats, me):
    """grpc.health.v1.Health/Watch (server streaming): "" (SERVING) or a name the server does
    not know (SERVICE_UNKNOWN), held 0.2-2 s, then cancelled by the client. A new channel
    every 20 streams."""
    n = 0
    while not stop.is_set():
        with grpc_channel(args.port) as channel:
            watch = channel.unary_stream("/grpc.health.v1.Health/Watch",
                                         request_serializer=lambda s: encode_greeting(s) if s else b"",
                                         response_deserializer=lambda raw: raw)
            for _ in range(20):
                if stop.is_set():
                    break
                n += 1
                name = "" if n % 2 else "unknown-%d-%d" % (me, n)
                want = b"\x08\x01" if not name else b"\x08\x03"
                call = watch(name, timeout=30)
                try:
                    first = next(call)
                    if first == want:
                        stats.add("streams")
                    else:
                        stats.add("wrong first status %r" % first, error=True)
                    pause(random.uniform(0.2, 2.0))
                except Exception as e:
                    if not stop.is_set():
                        stats.add("status " + str(getattr(e, "code", lambda: e)()), error=True)
                finally:
                    call.cancel()
        stats.note("channels")


def length_delimited(field, data):
    return bytes([field << 3 | 2, len(data)]) + data


def grpc_reflection_worker(args, stats, me):
    """grpc.reflection.v1alpha.ServerReflection/ServerReflectionInfo (bidi streaming): five
    list_services requests on one stream, each answer read before the next request; one
    stream in four is cancelled after its second answer instead."""
    n = 0
    with grpc_channel(args.port) as channel:
        info = channel.stream_stream("/grpc.reflection.v1alpha.ServerReflection/ServerReflectionInfo",
                                     request_serializer=lambda b: b, response_deserializer=lambda b: b)
        while not stop.is_set():
            n += 1
            requests = queue.Queue()

            def feed():
                while True:
                    item = requests.get()
                    if item is None:
                        return
                    yield item
            call = info(feed(), timeout=30)
            cancel_after = 2 if n % 4 == 0 else None
            try:
                for i in range(5):
                    requests.put(length_delimited(7, b""))  # list_services
                    answer = next(call)
                    if b"HelloWorld" in answer:
                        stats.add("messages")
                    else:
                        stats.add("answer without HelloWorld", error=True)
                    if cancel_after == i + 1:
                        call.cancel()
                        stats.note("streams cancelled")
                        break
                else:
                    requests.put(None)
                    for _ in call:
                        pass
                    stats.note("streams completed")
            except Exception as e:
                if not stop.is_set() and cancel_after is None:
                    stats.add("status " + str(getattr(e, "code", lambda: e)()), error=True)
            finally:
                requests.put(None)
                call.cancel()


# --- raw sockets: clients that misbehave ------------------------------------------------

# The raw-socket kinds connect from addresses of their own, so that a connection the server
# still holds after the load (soak.py writes them to descriptors-left.txt) says whose it was.
# An aborting client connects from 127.0.2.N, N the number of its variant in ABORTS (from 1).
SOURCE = {"slow_reader": "127.0.0.3", "slowloris": "127.0.0.4"}
source = "127.0.0.1"


def connect(port, rcvbuf=None, source_address=None):
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.bind((source_address or source, 0))
    if rcvbuf:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
    s.settimeout(5)
    s.connect((HOST, port))
    return s


def reset(s):
    """Closes with an RST instead of a FIN."""
    s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    s.close()


PREFACE = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"
EMPTY_SETTINGS = bytes([0, 0, 0, 0x4, 0, 0, 0, 0, 0])


def hpack_literal(name, value):
    """Literal header field without indexing, new name, no Huffman (RFC 7541 6.2.2); short
    strings only."""
    name, value = name.encode(), value.encode()
    return b"\x00" + bytes([len(name)]) + name + bytes([len(value)]) + value


def h2_frame(kind, flags, stream, payload):
    return struct.pack(">I", len(payload))[1:] + bytes([kind, flags]) + struct.pack(">I", stream) + payload


GRPC_HEADERS = h2_frame(0x1, 0x4, 1, b"".join(hpack_literal(n, v) for n, v in [
    (":method", "POST"), (":scheme", "http"), (":path", "/HelloWorld/SayHello"),
    (":authority", HOST), ("content-type", "application/grpc"), ("te", "trailers")]))
# A gRPC message announced as 64 bytes, of which 10 are sent.
GRPC_HALF_MESSAGE = h2_frame(0x0, 0x0, 1, b"\x00" + struct.pack(">I", 64) + b"\x0a\x3e" + b"z" * 8)

HTTP_HEAD = b"GET / HTTP/1.1\r\nHost: soak\r\nUser-Agent: soak-abort\r\nAccept: */*\r\n\r\n"
POST_HEAD = b"POST / HTTP/1.1\r\nHost: soak\r\nContent-Type: text/plain\r\nContent-Length: 4096\r\n\r\n"

ABORTS = {
    # name: (bytes to send, close with RST?)
    "connect, close": (b"", False),
    "half a head, close": (HTTP_HEAD[: len(HTTP_HEAD) // 2], False),
    "half a head, RST": (HTTP_HEAD[: len(HTTP_HEAD) // 2], True),
    "head and half a body, close": (POST_HEAD + b"b" * 2048, False),
    "head and half a body, RST": (POST_HEAD + b"b" * 2048, True),
    "request, RST before the answer is read": (HTTP_HEAD, True),
    "half the HTTP/2 preface, close": (PREFACE[:12], False),
    "gRPC call with half a message, RST": (PREFACE + EMPTY_SETTINGS + GRPC_HEADERS + GRPC_HALF_MESSAGE, True),
    "gRPC call with half a message, close": (PREFACE + EMPTY_SETTINGS + GRPC_HEADERS + GRPC_HALF_MESSAGE, False),
}


def abort_worker(args, stats, me):
    """Each round: connect, send part of a request (HTTP/1.1 or gRPC), wait 0-50 ms, close or
    reset. About 20 rounds a second per worker (FIN closes leave TIME_WAIT ports behind)."""
    names = list(ABORTS)
    while not stop.is_set():
        number = random.randrange(len(names))
        name = names[number]
        data, rst = ABORTS[name]
        try:
            s = connect(args.port, source_address="127.0.2.%d" % (number + 1))
            if data:
                s.sendall(data)
            pause(random.uniform(0, 0.05))
            (reset if rst else socket.socket.close)(s)
            stats.add(name)
        except OSError as e:
            stats.add("%s: %s" % (name, e.__class__.__name__), error=True)
        pause(0.05)


def slow_reader_worker(args, stats, me):
    """Each round: a connection with a 4 KiB receive buffer pipelines requests (GET / or the
    gateway with a 1,000-byte name: a ~1 KiB answer each) for 2-6 s, as fast as the server
    reads them, and never reads an answer; then closes (an RST: its buffer holds unread data)."""
    while not stop.is_set():
        gateway = random.random() < 0.5
        one = (b"GET /hello/" + b"r" * 1000 if gateway else b"GET /") + b" HTTP/1.1\r\nHost: soak\r\n\r\n"
        batch = one * 32
        sent = 0
        try:
            s = connect(args.port, rcvbuf=4096)
            s.setblocking(False)
            until = time.monotonic() + random.uniform(2, 6)
            pending = memoryview(batch)
            while not stop.is_set() and time.monotonic() < until and sent < 20000:
                try:
                    n = s.send(pending)
                except BlockingIOError:
                    pause(0.05)  # the server stopped reading: it holds our answers
                    continue
                pending = pending[n:]
                if not pending:
                    sent += 32
                    pending = memoryview(batch)
            s.close()
            stats.add("connections (gateway)" if gateway else "connections (GET /)")
            stats.note("requests sent", sent)
        except OSError as e:
            stats.add("connection: %s" % e.__class__.__name__, error=True)


SLOW_HEADS = [
    # A head one byte a second: cut at read_header_timeout (10 s) with 408.
    b"GET / HTTP/1.1\r\nHost: soak\r\nX-Slow: " + b"s" * 64 + b"\r\n\r\n",
    # A complete head, then a 20-byte body one byte a second: body_read_timeout limits the
    # pause between reads (30 s), not the body's total time, so this one is answered (404).
    b"POST /slow HTTP/1.1\r\nHost: soak\r\nContent-Length: 20\r\n\r\n" + b"b" * 20,
]


def slowloris(args, stats):
    """args.concurrency connections at once, each sending one byte a second (spread over the
    second); one ended by the server (an answer, then close) is replaced by a new one."""
    conns = {}  # socket -> [data, next byte, variant, next send time]

    def open_one(i):
        variant = random.randrange(len(SLOW_HEADS)) if i % 4 == 3 else 0
        try:
            s = connect(args.port)
            s.setblocking(False)
            head = SLOW_HEADS[variant]
            # The head of a body variant is sent whole; its body trickles.
            start = head.index(b"\r\n\r\n") + 4 if variant == 1 else 0
            if start:
                s.send(head[:start])
            conns[s] = [head, start, variant, time.monotonic() + random.random(), i]
        except OSError as e:
            stats.add("connect: %s" % e.__class__.__name__, error=True)

    for i in range(args.concurrency):
        open_one(i)
    import select
    while not stop.is_set() and time.monotonic() < args.deadline:
        now = time.monotonic()
        for s, c in list(conns.items()):
            if now >= c[3] and c[1] < len(c[0]):
                try:
                    s.send(c[0][c[1]:c[1] + 1])
                    c[1] += 1
                except OSError:
                    pass  # the server closed it: the read below says how
                c[3] += 1.0
        readable, _, _ = select.select(list(conns), [], [], 0.1)
        for s in readable:
            c = conns.pop(s)
            try:
                data = s.recv(4096)
            except OSError:
                data = b""
            status = data[9:12].decode(errors="replace") if data.startswith(b"HTTP/1.1 ") else None
            if c[2] == 0 and status == "408":
                stats.add("slow heads answered 408")
            elif c[2] == 1 and status == "404":
                stats.add("slow bodies answered 404")
            else:
                stats.add("variant %d ended with %r" % (c[2], data[:12]), error=True)
            s.close()
            open_one(c[4])
    for s in conns:
        s.close()


KINDS = {
    "http_keepalive": wrk_kind(None),   # requests answered 2xx
    "http_pipelined": wrk_kind("pipelined"),
    "gateway": wrk_kind("gateway"),
    "grpc_h2load": h2load_kind,          # SayHello calls answered 200
    "grpc_unary": lambda a, s: threads(a, s, grpc_unary_worker),          # checked replies
    "grpc_watch": lambda a, s: threads(a, s, grpc_watch_worker),          # streams
    "grpc_reflection": lambda a, s: threads(a, s, grpc_reflection_worker),  # messages
    "abort": lambda a, s: threads(a, s, abort_worker),                    # aborted requests
    "slow_reader": lambda a, s: threads(a, s, slow_reader_worker),        # connections
    "slowloris": slowloris,                                               # connections ended by the server
}


def main():
    p = argparse.ArgumentParser()
    p.add_argument("kind", choices=sorted(KINDS))
    p.add_argument("--port", type=int, required=True)
    p.add_argument("--seconds", type=float, required=True)
    p.add_argument("--concurrency", type=int, required=True)
    p.add_argument("--stats", required=True)
    p.add_argument("--nice", type=int, default=0, help="niceness added to wrk and h2load")
    args = p.parse_args()
    args.deadline = time.monotonic() + args.seconds
    global source
    source = SOURCE.get(args.kind, source)
    stats = Stats(args.stats)

    def on_term(*_):
        stop.set()
        stop_child()
    signal.signal(signal.SIGTERM, on_term)
    signal.signal(signal.SIGINT, on_term)

    def writer():
        while not stop.wait(1):
            stats.write()
    threading.Thread(target=writer, daemon=True).start()
    try:
        KINDS[args.kind](args, stats)
    finally:
        stop.set()
        stats.write()


if __name__ == "__main__":
    main()
