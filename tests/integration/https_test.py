"""Integration tests of coronet's HTTPS server against real TLS peers.

The peers are curl, Python's ssl and http.client, and `openssl s_client`, over 127.0.0.1.
Certificates come from tests/support/make_test_pki.sh, made when the suite starts.

    python3 https_test.py build/tests/integration/https_test_server tests/support/make_test_pki.sh
"""

import http.client
import os
import random
import shutil
import signal
import socket
import ssl
import subprocess
import sys
import tempfile
import threading
import time
import unittest

CURL = os.environ.get("CURL", "curl")
SERVER = None  # argv[1]
PKI = None     # made from argv[2] in __main__
HELLO_HTTPS = None  # argv[3], examples/hello_https when examples are built
HOST = "127.0.0.1"
TIMEOUT = 5.0


def pki(name):
    return os.path.join(PKI, name)


class Server:
    """https_test_server with the given flags; start() returns once it listens."""

    def __init__(self, *flags):
        self.flags = [str(f) for f in flags]
        self.errors = tempfile.TemporaryFile()

    def start(self):
        self.proc = subprocess.Popen([SERVER, *self.flags], stdout=subprocess.PIPE,
                                     stderr=self.errors, stdin=subprocess.DEVNULL)
        words = self.proc.stdout.readline().split()
        if len(words) != 4:
            self.stop()
            raise RuntimeError(f"server did not start: {words} {self.stderr()}")
        self.port, self.tls_port = int(words[1]), int(words[3])
        return self

    def stop(self):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.proc.stdout.close()
        return self.proc.returncode

    def stderr(self):
        self.errors.seek(0)
        text = self.errors.read().decode(errors="replace")
        self.errors.seek(0, os.SEEK_END)
        return text

    def alive(self):
        return self.proc.poll() is None


def client_context(cert=None, key=None, minimum=None, maximum=None, alpn=None, cafile=None):
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.load_verify_locations(cafile or pki("ca.pem"))
    if cert:
        ctx.load_cert_chain(cert, key)
    if minimum:
        ctx.minimum_version = minimum
    if maximum:
        ctx.maximum_version = maximum
    if alpn:
        ctx.set_alpn_protocols(alpn)
    return ctx


def get(port, path="/", ctx=None, server_hostname="localhost", session=None):
    """One HTTPS GET over a fresh connection: (status, body, ssl socket facts)."""
    ctx = ctx or client_context()
    raw = socket.create_connection((HOST, port), timeout=TIMEOUT)
    s = ctx.wrap_socket(raw, server_hostname=server_hostname, session=session)
    try:
        s.sendall(f"GET {path} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n".encode())
        data = b""
        while True:
            chunk = s.recv(65536)
            if not chunk:
                break
            data += chunk
        head, _, body = data.partition(b"\r\n\r\n")
        status = int(head.split(b" ")[1])
        return status, body, {"version": s.version(), "alpn": s.selected_alpn_protocol(),
                              "cert": s.getpeercert(), "session": s.session,
                              "reused": s.session_reused}
    finally:
        s.close()


def whoami(body):
    return dict(line.split("=", 1) for line in body.decode().splitlines())


class HttpsServerTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.server = Server("--cert", pki("server.pem"), "--key", pki("server.key"),
                            "--sni-cert", pki("other.pem"), "--sni-key", pki("other.key")).start()

    @classmethod
    def tearDownClass(cls):
        code = cls.server.stop()
        assert code == 0, f"exit {code}: {cls.server.stderr()}"

    def tearDown(self):
        self.assertTrue(self.server.alive(), self.server.stderr())

    def test_tls13_and_tls12_work(self):
        status, body, facts = get(self.server.tls_port, "/whoami")
        self.assertEqual(status, 200)
        self.assertEqual(facts["version"], "TLSv1.3")
        self.assertEqual(whoami(body)["version"], "TLSv1.3")
        ctx = client_context(maximum=ssl.TLSVersion.TLSv1_2)
        status, body, facts = get(self.server.tls_port, "/whoami", ctx)
        self.assertEqual(facts["version"], "TLSv1.2")
        self.assertEqual(whoami(body)["version"], "TLSv1.2")
        self.assertIn("ECDHE", whoami(body)["cipher"])

    def test_http_client_over_tls(self):
        conn = http.client.HTTPSConnection("localhost", self.server.tls_port, timeout=TIMEOUT,
                                           context=client_context())
        for _ in range(3):  # keep-alive: three requests, one connection
            conn.request("GET", "/")
            res = conn.getresponse()
            self.assertEqual((res.status, res.read()), (200, b"Hello, World!"))
        conn.request("POST", "/echo", body=b"z" * 300_000)
        res = conn.getresponse()
        self.assertEqual(res.read(), b"z" * 300_000)
        conn.close()

    def test_curl(self):
        out = subprocess.run([CURL, "-sS", "--cacert", pki("ca.pem"),
                              f"https://localhost:{self.server.tls_port}/"],
                             capture_output=True, timeout=TIMEOUT * 2)
        self.assertEqual(out.stdout, b"Hello, World!", out.stderr)
        out = subprocess.run([CURL, "-sS", "-o", "/dev/null", "-w", "%{http_code} %{size_download}",
                              "--cacert", pki("ca.pem"),
                              f"https://localhost:{self.server.tls_port}/big/2048"],
                             capture_output=True, timeout=TIMEOUT * 2)
        self.assertEqual(out.stdout, b"200 2097152", out.stderr)

    def test_old_protocols_refused(self):
        for flag in ("-tls1", "-tls1_1"):
            out = subprocess.run(["openssl", "s_client", "-connect", f"{HOST}:{self.server.tls_port}",
                                  flag, "-cipher", "DEFAULT@SECLEVEL=0"],
                                 input=b"", capture_output=True, timeout=TIMEOUT * 2)
            self.assertNotEqual(out.returncode, 0, flag)
            self.assertNotIn(b"Cipher is ECDHE", out.stdout, flag)

    def test_alpn_answers_http11(self):
        _, _, facts = get(self.server.tls_port, "/", client_context(alpn=["h2", "http/1.1"]))
        self.assertEqual(facts["alpn"], "http/1.1")
        out = subprocess.run(["openssl", "s_client", "-connect", f"{HOST}:{self.server.tls_port}",
                              "-alpn", "http/1.1", "-CAfile", pki("ca.pem")],
                             input=b"", capture_output=True, timeout=TIMEOUT * 2)
        self.assertIn(b"ALPN protocol: http/1.1", out.stdout)
        # A client that speaks only h2 learns in the handshake that this port does not.
        with self.assertRaises(ssl.SSLError):
            get(self.server.tls_port, "/", client_context(alpn=["h2"]))

    def test_sni_picks_the_certificate(self):
        _, _, facts = get(self.server.tls_port, "/", server_hostname="localhost")
        self.assertIn(("DNS", "localhost"), facts["cert"]["subjectAltName"])
        status, body, facts = get(self.server.tls_port, "/whoami", server_hostname="other.test")
        self.assertEqual(status, 200)
        self.assertEqual(facts["cert"]["subjectAltName"], (("DNS", "other.test"),))
        self.assertEqual(whoami(body)["sni"], "other.test")

    def test_plaintext_request_is_answered_400(self):
        with socket.create_connection((HOST, self.server.tls_port), timeout=TIMEOUT) as s:
            s.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
            data = b""
            while chunk := s.recv(4096):
                data += chunk
        self.assertTrue(data.startswith(b"HTTP/1.1 400 "), data)
        self.assertIn(b"plain HTTP request sent to HTTPS port", data)

    def test_session_resumption(self):
        ctx = client_context(maximum=ssl.TLSVersion.TLSv1_2)
        _, _, first = get(self.server.tls_port, "/", ctx)
        status, body, second = get(self.server.tls_port, "/whoami", ctx, session=first["session"])
        self.assertEqual(status, 200)
        self.assertTrue(second["reused"])
        self.assertEqual(whoami(body)["resumed"], "yes")
        ctx = client_context()  # TLS 1.3: the ticket arrives after the handshake
        _, _, first = get(self.server.tls_port, "/", ctx)
        _, body, second = get(self.server.tls_port, "/whoami", ctx, session=first["session"])
        self.assertTrue(second["reused"])
        self.assertEqual(whoami(body)["resumed"], "yes")

    def test_pipelined_requests_are_answered_in_order(self):
        raw = socket.create_connection((HOST, self.server.tls_port), timeout=TIMEOUT)
        with client_context().wrap_socket(raw, server_hostname="localhost") as s:
            s.sendall(b"".join(f"GET /big/{i} HTTP/1.1\r\nHost: x\r\n\r\n".encode() for i in range(16)))
            data = b""
            while data.count(b"HTTP/1.1 200") < 16 or not data.endswith(b"x" * (15 * 1024)):
                chunk = s.recv(65536)
                if not chunk:
                    break
                data += chunk
        self.assertEqual(data.count(b"HTTP/1.1 200"), 16)
        self.assertEqual(data.count(b"x"), sum(i * 1024 for i in range(16)))

    def test_close_notify_on_connection_close(self):
        raw = socket.create_connection((HOST, self.server.tls_port), timeout=TIMEOUT)
        ctx = client_context()
        s = ctx.wrap_socket(raw, server_hostname="localhost", suppress_ragged_eofs=False)
        s.sendall(b"GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        data = b""
        while True:
            chunk = s.recv(4096)  # a close without close_notify raises SSLEOFError here
            if not chunk:
                break
            data += chunk
        s.close()
        self.assertTrue(data.endswith(b"Hello, World!"))

    def test_streamed_response(self):
        status, body, _ = get(self.server.tls_port, "/stream/100")
        self.assertEqual(status, 200)
        self.assertIn(b"chunk 99\n", body)

    def test_plaintext_port_still_plaintext(self):
        conn = http.client.HTTPConnection(HOST, self.server.port, timeout=TIMEOUT)
        conn.request("GET", "/whoami")
        self.assertEqual(conn.getresponse().read(), b"plaintext\n")
        conn.close()


class StalledAndAbortedHandshakesTest(unittest.TestCase):
    def setUp(self):
        self.server = Server("--cert", pki("server.pem"), "--key", pki("server.key"),
                             "--header-timeout", "1000").start()

    def tearDown(self):
        self.assertEqual(self.server.stop(), 0, self.server.stderr())

    def closed_within(self, s, seconds):
        s.settimeout(seconds)
        try:
            while s.recv(4096):
                pass
            return True
        except (socket.timeout, TimeoutError):
            return False
        except ConnectionResetError:
            return True

    def test_stalled_handshake_is_closed_by_the_timeout(self):
        silent = socket.create_connection((HOST, self.server.tls_port))
        # Half a ClientHello, from a real one.
        partial = socket.create_connection((HOST, self.server.tls_port))
        incoming = ssl.MemoryBIO()
        outgoing = ssl.MemoryBIO()
        obj = client_context().wrap_bio(incoming, outgoing, server_hostname="localhost")
        with self.assertRaises(ssl.SSLWantReadError):
            obj.do_handshake()
        hello = outgoing.read()
        partial.sendall(hello[: len(hello) // 2])
        start = time.monotonic()
        self.assertTrue(self.closed_within(silent, 4))
        self.assertTrue(self.closed_within(partial, 4))
        self.assertLess(time.monotonic() - start, 4)
        silent.close()
        partial.close()
        self.assertEqual(get(self.server.tls_port)[0], 200)

    def test_200_concurrent_handshakes_with_random_aborts(self):
        rng = random.Random(7)
        results = {"ok": 0, "aborted": 0}
        lock = threading.Lock()

        def one(i):
            mode = rng.choice(["full", "full", "reset", "half", "garbage"])
            try:
                if mode == "full":
                    status, body, _ = get(self.server.tls_port, "/")
                    assert (status, body) == (200, b"Hello, World!")
                    with lock:
                        results["ok"] += 1
                    return
                s = socket.create_connection((HOST, self.server.tls_port), timeout=TIMEOUT)
                if mode == "half":
                    incoming, outgoing = ssl.MemoryBIO(), ssl.MemoryBIO()
                    obj = client_context().wrap_bio(incoming, outgoing, server_hostname="localhost")
                    try:
                        obj.do_handshake()
                    except ssl.SSLWantReadError:
                        pass
                    s.sendall(outgoing.read())
                    s.recv(100)  # the server's first flight, then go away
                elif mode == "garbage":
                    s.sendall(bytes([22, 3, 1, 0, 200]) + os.urandom(200))
                if mode == "reset":
                    s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")
                s.close()
                with lock:
                    results["aborted"] += 1
            except (OSError, ssl.SSLError):
                with lock:
                    results["aborted"] += 1

        threads = [threading.Thread(target=one, args=(i,)) for i in range(200)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(30)
        self.assertEqual(results["ok"] + results["aborted"], 200)
        self.assertGreater(results["ok"], 40)
        self.assertTrue(self.server.alive(), self.server.stderr())
        for _ in range(5):
            self.assertEqual(get(self.server.tls_port)[:2], (200, b"Hello, World!"))


class MutualTlsTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.server = Server("--cert", pki("server.pem"), "--key", pki("server.key"),
                            "--client-ca", pki("ca.pem")).start()

    @classmethod
    def tearDownClass(cls):
        code = cls.server.stop()
        assert code == 0, f"exit {code}: {cls.server.stderr()}"

    def refused(self, ctx):
        """With TLS 1.3 the client learns of the refusal at its first read."""
        try:
            status, _, _ = get(self.server.tls_port, "/", ctx)
        except (ssl.SSLError, ConnectionResetError, BrokenPipeError):
            return True
        except IndexError:  # no answer at all
            return True
        return False

    def test_good_client_certificate_is_accepted_and_seen(self):
        ctx = client_context(pki("client.pem"), pki("client.key"))
        status, body, _ = get(self.server.tls_port, "/whoami", ctx)
        self.assertEqual(status, 200)
        facts = whoami(body)
        self.assertEqual(facts["verified"], "yes")
        self.assertEqual(facts["cn"], "test-client")
        out = subprocess.run([CURL, "-sS", "--cacert", pki("ca.pem"), "--cert", pki("client.pem"),
                              "--key", pki("client.key"), f"https://localhost:{self.server.tls_port}/"],
                             capture_output=True, timeout=TIMEOUT * 2)
        self.assertEqual(out.stdout, b"Hello, World!", out.stderr)

    def test_missing_self_signed_and_expired_certificates_are_refused(self):
        self.assertTrue(self.refused(client_context()))
        self.assertTrue(self.refused(client_context(pki("selfsigned-client.pem"), pki("selfsigned-client.key"))))
        self.assertTrue(self.refused(client_context(pki("expired-client.pem"), pki("expired-client.key"))))
        self.assertTrue(self.refused(client_context(pki("client.pem"), pki("client.key"),
                                                    maximum=ssl.TLSVersion.TLSv1_2)) is False)
        self.assertTrue(self.refused(client_context(maximum=ssl.TLSVersion.TLSv1_2)))
        errors = self.server.stderr()
        self.assertIn("peer did not return a certificate", errors)
        self.assertIn("certificate has expired", errors)
        self.assertIn("self-signed certificate", errors)
        self.assertTrue(self.server.alive())


class HelloHttpsExampleTest(unittest.TestCase):
    def test_example_answers_over_tls_and_names_a_bad_certificate(self):
        if not HELLO_HTTPS:
            self.skipTest("examples not built")
        out = subprocess.run([HELLO_HTTPS, pki("server.pem"), pki("server.key"), pki("ca.pem")],
                             capture_output=True, text=True, timeout=20)
        self.assertEqual((out.returncode, out.stdout), (0, "Hello over TLSv1.3\n"), out.stderr)
        out = subprocess.run([HELLO_HTTPS, pki("other.pem"), pki("other.key"), pki("ca.pem")],
                             capture_output=True, text=True, timeout=20)
        self.assertIn("certificate verification failed: hostname mismatch", out.stderr)


class ReloadTest(unittest.TestCase):
    def test_sighup_rotates_the_certificate(self):
        with tempfile.TemporaryDirectory() as d:
            cert, key = os.path.join(d, "cert.pem"), os.path.join(d, "key.pem")
            shutil.copy(pki("server.pem"), cert)
            shutil.copy(pki("server.key"), key)
            server = Server("--cert", cert, "--key", key).start()
            try:
                der = lambda name: ssl.PEM_cert_to_DER_cert(open(pki(name)).read())
                raw = socket.create_connection((HOST, server.tls_port), timeout=TIMEOUT)
                before = client_context().wrap_socket(raw, server_hostname="localhost")
                self.assertEqual(before.getpeercert(binary_form=True), der("server.pem"))
                # The rotation: a new certificate (and key) for the same name.
                shutil.copy(pki("expired-server.pem"), cert)
                shutil.copy(pki("expired-server.key"), key)
                server.proc.send_signal(signal.SIGHUP)
                self.assertEqual(server.proc.stdout.readline().strip(), b"reloaded")
                ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
                ctx.check_hostname = False
                ctx.verify_mode = ssl.CERT_NONE
                raw = socket.create_connection((HOST, server.tls_port), timeout=TIMEOUT)
                with ctx.wrap_socket(raw) as after:
                    self.assertEqual(after.getpeercert(binary_form=True), der("expired-server.pem"))
                # The connection opened before keeps working on its certificate.
                before.sendall(b"GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
                self.assertIn(b"Hello, World!", before.recv(4096) + before.recv(4096))
                before.close()
                # A broken file: the reload fails and the old certificate stays.
                with open(key, "w") as f:
                    f.write("not a key\n")
                server.proc.send_signal(signal.SIGHUP)
                self.assertTrue(server.proc.stdout.readline().startswith(b"reload failed: cannot load private key"))
                raw = socket.create_connection((HOST, server.tls_port), timeout=TIMEOUT)
                with ctx.wrap_socket(raw) as still:
                    self.assertEqual(still.getpeercert(binary_form=True), der("expired-server.pem"))
            finally:
                self.assertEqual(server.stop(), 0, server.stderr())


if __name__ == "__main__":
    SERVER = sys.argv.pop(1)
    script = sys.argv.pop(1)
    HELLO_HTTPS = sys.argv.pop(1) if len(sys.argv) > 1 and not sys.argv[1].startswith("-") else None
    with tempfile.TemporaryDirectory(prefix="coronet-pki-") as d:
        PKI = d
        subprocess.run(["bash", script, d], check=True)
        unittest.main(verbosity=2)
