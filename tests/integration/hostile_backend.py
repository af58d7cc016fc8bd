"""An HTTP/1.1 backend that misbehaves on purpose, for tests of coronet's HTTP client.

Each request picks its misbehaviour by its path (the query string is ignored); /ok answers
properly and keeps the connection, so a client may send a hostile request on a pooled
connection and a good one after it:

    /ok                     200 "ok" with Content-Length, keep-alive
    /reset-mid-response     a head promising 1000 bytes and 100 of them, then RST (SO_LINGER 0)
    /truncated-chunked      a chunked body without its last chunk, then FIN
    /cl-and-te              both Content-Length and Transfer-Encoding: chunked, then waits
    /oversized-head         a complete response whose head is about 16 KiB
    /endless-head           a status line, then a header line every 10 ms, never the end
    /endless-status-line    "HTTP/1.1 200 " and a reason phrase that never ends
    /endless-interim        "HTTP/1.1 100 Continue" interim responses, forever
    /trickle                a complete small response, one byte per second
    /never-answers          reads the request and never writes
    /garbage                bytes that are not HTTP, then waits
    /close-before-response  reads the request and closes without a byte (FIN)
    /huge-body              Content-Length: 8 MiB, and the 8 MiB

With --scenario NAME every connection gets that scenario as soon as it is accepted, whatever
it sends (e.g. never-answers for a gRPC client, whose preface is not HTTP/1.1).

Bounded: loopback only, at most --max-connections at once, every endless scenario stops
after ENDLESS_SECONDS or when the peer goes away, and the process exits after --lifetime
seconds or when its stdin closes (keep a pipe to it open), whichever comes first. It prints
"port N" once it listens.

    /usr/bin/python3 hostile_backend.py [--lifetime S] [--scenario NAME]
"""

import argparse
import os
import socket
import struct
import sys
import threading
import time

HOST = "127.0.0.1"
ENDLESS_SECONDS = 30   # no misbehaviour lasts longer than this
READ_TIMEOUT = 10      # waiting for a request head or for the peer to close
MAX_HEAD = 16 * 1024   # a request head longer than this ends the connection


class PeerGone(Exception):
    """The client closed or reset the connection: the scenario ends."""


def send(conn, data):
    try:
        conn.sendall(data)
    except OSError as e:
        raise PeerGone() from e


def read_head(conn, buffered):
    """Reads up to the end of a request head; returns (head, rest) or (None, b"") at EOF."""
    while b"\r\n\r\n" not in buffered:
        if len(buffered) > MAX_HEAD:
            return None, b""
        try:
            chunk = conn.recv(4096)
        except OSError:
            return None, b""
        if not chunk:
            return None, b""
        buffered += chunk
    head, rest = buffered.split(b"\r\n\r\n", 1)
    return head, rest


def wait_for_close(conn, seconds=ENDLESS_SECONDS):
    """Reads and discards until the peer closes or `seconds` pass; never writes."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        conn.settimeout(max(0.01, min(1.0, deadline - time.monotonic())))
        try:
            if not conn.recv(4096):
                return
        except socket.timeout:
            continue
        except OSError:
            return


def repeat(conn, piece, interval):
    """Sends `piece` every `interval` seconds until the peer goes away or the bound passes."""
    deadline = time.monotonic() + ENDLESS_SECONDS
    while time.monotonic() < deadline:
        send(conn, piece)
        time.sleep(interval)


# Each scenario gets the connection after the request head was read. It returns True when
# the connection may carry another request, False when it is finished.

def ok(conn):
    send(conn, b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 2\r\n\r\nok")
    return True


def reset_mid_response(conn):
    send(conn, b"HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\n" + b"r" * 100)
    time.sleep(0.1)  # the client reads the head and the first bytes before the reset
    conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    return False


def truncated_chunked(conn):
    send(conn, b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n")
    time.sleep(0.1)
    conn.shutdown(socket.SHUT_WR)
    wait_for_close(conn, READ_TIMEOUT)
    return False


def cl_and_te(conn):
    # RFC 9112 6.3: a response with both "ought to be handled as an error"; a client that
    # takes it anyway gets its next request answered on this connection.
    send(conn, b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n"
               b"5\r\nhello\r\n0\r\n\r\n")
    return True


def oversized_head(conn):
    fillers = b"".join(b"X-Filler-%03d: %s\r\n" % (i, b"f" * 60) for i in range(200))
    send(conn, b"HTTP/1.1 200 OK\r\n" + fillers + b"Content-Length: 2\r\n\r\nok")
    return True


def endless_head(conn):
    send(conn, b"HTTP/1.1 200 OK\r\n")
    deadline = time.monotonic() + ENDLESS_SECONDS
    line = 0
    while time.monotonic() < deadline:
        send(conn, b"X-Endless-%d: yes\r\n" % line)
        line += 1
        time.sleep(0.01)
    return False


def endless_status_line(conn):
    send(conn, b"HTTP/1.1 200 ")
    repeat(conn, b"A" * 1024, 0.01)
    return False


def endless_interim(conn):
    repeat(conn, b"HTTP/1.1 100 Continue\r\n\r\n" * 16, 0.01)
    return False


def trickle(conn):
    deadline = time.monotonic() + ENDLESS_SECONDS
    for byte in b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello":
        if time.monotonic() > deadline:
            return False
        send(conn, bytes([byte]))
        time.sleep(1.0)
    return True


def never_answers(conn):
    wait_for_close(conn)
    return False


def garbage(conn):
    send(conn, b"\x16\x03\x01\x00\xa5\x01\x00\x00\xa1\x03\x03SSH-2.0-hostile\r\n\x00\xff\xfe")
    wait_for_close(conn, READ_TIMEOUT)
    return False


def close_before_response(conn):
    return False


def huge_body(conn):
    size = 8 * 1024 * 1024
    send(conn, b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n" % size)
    piece = b"h" * (64 * 1024)
    for _ in range(size // len(piece)):
        send(conn, piece)
    return True


SCENARIOS = {
    "ok": ok,
    "reset-mid-response": reset_mid_response,
    "truncated-chunked": truncated_chunked,
    "cl-and-te": cl_and_te,
    "oversized-head": oversized_head,
    "endless-head": endless_head,
    "endless-status-line": endless_status_line,
    "endless-interim": endless_interim,
    "trickle": trickle,
    "never-answers": never_answers,
    "garbage": garbage,
    "close-before-response": close_before_response,
    "huge-body": huge_body,
}


def not_found(conn):
    send(conn, b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n")
    return True


def scenario_for(head):
    """The scenario the request line names: "GET /trickle?x=1 HTTP/1.1" -> trickle."""
    parts = head.split(b"\r\n", 1)[0].split(b" ")
    if len(parts) != 3:
        return None
    path = parts[1].split(b"?", 1)[0].decode("latin-1")
    return SCENARIOS.get(path.lstrip("/"), not_found)


def serve(conn, forced, slots):
    try:
        conn.settimeout(READ_TIMEOUT)
        if forced is not None:
            forced(conn)
            return
        buffered = b""
        while True:
            conn.settimeout(READ_TIMEOUT)
            head, buffered = read_head(conn, buffered)
            if head is None:
                return
            scenario = scenario_for(head)
            if scenario is None or not scenario(conn):
                return
    except PeerGone:
        pass
    finally:
        conn.close()
        slots.release()


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--lifetime", type=float, default=60.0,
                        help="exit after this many seconds (default 60)")
    parser.add_argument("--scenario", choices=sorted(SCENARIOS),
                        help="every connection gets this scenario, whatever it sends")
    parser.add_argument("--max-connections", type=int, default=64,
                        help="connections served at once; more are closed at once (default 64)")
    args = parser.parse_args()
    forced = SCENARIOS[args.scenario] if args.scenario else None

    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    listener.bind((HOST, 0))
    listener.listen(64)
    slots = threading.BoundedSemaphore(args.max_connections)

    def watch_stdin():
        try:
            while os.read(sys.stdin.fileno(), 4096):
                pass
        except OSError:
            pass
        os._exit(0)

    threading.Thread(target=watch_stdin, daemon=True).start()
    threading.Timer(args.lifetime, lambda: os._exit(0)).start()

    print("port", listener.getsockname()[1], flush=True)
    while True:
        conn, _ = listener.accept()
        if not slots.acquire(blocking=False):
            conn.close()
            continue
        threading.Thread(target=serve, args=(conn, forced, slots), daemon=True).start()


if __name__ == "__main__":
    main()
