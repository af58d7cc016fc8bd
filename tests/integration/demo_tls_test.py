"""The demo over TLS, as the README shows it: HTTPS with curl and coronet-demo-client, gRPC
over TLS with python3-grpcio and coronet-demo-client, mutual TLS, and SIGHUP reloading the
certificates. The PKI is made at test time (tests/support/make_test_pki.sh).

    python3 demo_tls_test.py build/examples/coronet-demo build/examples/coronet-demo-client \
        tests/support/make_test_pki.sh
"""

import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import unittest

import grpc

import demo_process
from greeting_wire import decode_greeting, encode_greeting

CURL = os.environ.get("CURL", "curl")
DEMO = CLIENT = PKI = None  # from argv


def pki(name):
    return os.path.join(PKI, name)


class TlsDemo:
    """coronet-demo with TLS on ephemeral ports; reads the ports it prints."""

    def __init__(self, *args, cert="server.pem", key="server.key"):
        self.proc = subprocess.Popen(
            [DEMO, "--listen", "127.0.0.1:0", "--threads", "2", "--tls-cert", cert if os.path.isabs(cert) else pki(cert),
             "--tls-key", key if os.path.isabs(key) else pki(key), "--tls-listen", "127.0.0.1:0",
             "--grpc-tls-listen", "127.0.0.1:0", "--debug", *args],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        lines = [self.proc.stdout.readline() for _ in range(3)]
        https = re.search(r"HTTPS on 127\.0\.0\.1:(\d+)", lines[1])
        grpcs = re.search(r"gRPC over TLS on 127\.0\.0\.1:(\d+)", lines[2])
        if not https or not grpcs:
            self.proc.kill()
            raise RuntimeError("coronet-demo did not start: %s %s" % (lines, self.proc.stderr.read()))
        self.https = "https://localhost:%s" % https.group(1)
        self.grpc = "localhost:%s" % grpcs.group(1)

    def stop(self):
        return demo_process.stop(self.proc)


def curl(*args):
    return subprocess.run([CURL, "-sS", "--max-time", "10", *args], capture_output=True, text=True, timeout=20)


def say_hello(target, message, root=None, key=None, chain=None):
    creds = grpc.ssl_channel_credentials(
        root_certificates=open(root or pki("ca.pem"), "rb").read(),
        private_key=open(key, "rb").read() if key else None,
        certificate_chain=open(chain, "rb").read() if chain else None)
    with grpc.secure_channel(target, creds) as channel:
        call = channel.unary_unary("/HelloWorld/SayHello", request_serializer=encode_greeting,
                                   response_deserializer=decode_greeting)
        return call(message, timeout=10)


class DemoTlsTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.demo = TlsDemo()

    @classmethod
    def tearDownClass(cls):
        cls.demo.stop()
        assert cls.demo.proc.returncode == 0

    def test_curl_https_says_hello_world(self):
        r = curl("--cacert", pki("ca.pem"), self.demo.https + "/")
        self.assertEqual(r.stdout, "Hello, World!", r.stderr)
        r = curl("--cacert", pki("ca.pem"), self.demo.https + "/hello/tls")  # gateway over HTTPS
        self.assertEqual(r.stdout, "Hello, tls", r.stderr)

    def test_curl_without_the_ca_is_refused(self):
        r = curl(self.demo.https + "/")
        self.assertEqual(r.returncode, 60, r.stderr)  # peer certificate cannot be authenticated

    def test_demo_client_https(self):
        r = subprocess.run([CLIENT, "http", self.demo.https + "/", "--ca", pki("ca.pem")],
                           capture_output=True, text=True, timeout=20)
        self.assertEqual((r.returncode, r.stdout), (0, "Hello, World!\n"), r.stderr)
        r = subprocess.run([CLIENT, "http", self.demo.https + "/"], capture_output=True, text=True, timeout=20)
        self.assertEqual(r.returncode, 1)
        self.assertIn("certificate verification failed", r.stderr)

    def test_grpcio_secure_channel(self):
        self.assertEqual(say_hello(self.demo.grpc, "grpcio"), "Hello, grpcio")
        with self.assertRaises(grpc.RpcError) as e:
            say_hello(self.demo.grpc, "x", root=pki("rogue-ca.pem"))
        self.assertEqual(e.exception.code(), grpc.StatusCode.UNAVAILABLE)

    def test_demo_client_grpc_over_tls(self):
        r = subprocess.run([CLIENT, "grpc", self.demo.grpc, "tls", "--ca", pki("ca.pem")],
                           capture_output=True, text=True, timeout=20)
        self.assertEqual((r.returncode, r.stdout), (0, "Hello, tls\n"), r.stderr)


class DemoMutualTlsTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.demo = TlsDemo("--client-ca", pki("ca.pem"))

    @classmethod
    def tearDownClass(cls):
        cls.demo.stop()

    def test_https_needs_the_client_certificate(self):
        ok = curl("--cacert", pki("ca.pem"), "--cert", pki("client.pem"), "--key", pki("client.key"),
                  self.demo.https + "/")
        self.assertEqual(ok.stdout, "Hello, World!", ok.stderr)
        refused = curl("--cacert", pki("ca.pem"), self.demo.https + "/")
        self.assertNotEqual(refused.returncode, 0)
        r = subprocess.run([CLIENT, "http", self.demo.https + "/", "--ca", pki("ca.pem"), "--cert",
                            pki("client.pem"), "--key", pki("client.key")],
                           capture_output=True, text=True, timeout=20)
        self.assertEqual((r.returncode, r.stdout), (0, "Hello, World!\n"), r.stderr)

    def test_grpc_needs_the_client_certificate(self):
        self.assertEqual(say_hello(self.demo.grpc, "m", key=pki("client.key"), chain=pki("client.pem")),
                         "Hello, m")
        with self.assertRaises(grpc.RpcError) as e:
            say_hello(self.demo.grpc, "x")
        self.assertEqual(e.exception.code(), grpc.StatusCode.UNAVAILABLE)
        r = subprocess.run([CLIENT, "grpc", self.demo.grpc, "mtls", "--ca", pki("ca.pem"), "--cert",
                            pki("client.pem"), "--key", pki("client.key")],
                           capture_output=True, text=True, timeout=20)
        self.assertEqual((r.returncode, r.stdout), (0, "Hello, mtls\n"), r.stderr)


class DemoReloadTest(unittest.TestCase):
    def test_sighup_reloads_the_https_certificate(self):
        with tempfile.TemporaryDirectory() as d:
            cert, key = os.path.join(d, "cert.pem"), os.path.join(d, "key.pem")
            shutil.copy(pki("expired-server.pem"), cert)
            shutil.copy(pki("expired-server.key"), key)
            demo = TlsDemo(cert=cert, key=key)
            try:
                r = curl("--cacert", pki("ca.pem"), demo.https + "/")
                self.assertNotEqual(r.returncode, 0)  # expired
                shutil.copy(pki("server.pem"), cert)
                shutil.copy(pki("server.key"), key)
                demo.proc.send_signal(signal.SIGHUP)
                self.assertIn("certificates reloaded", demo.proc.stdout.readline())
                r = curl("--cacert", pki("ca.pem"), demo.https + "/")
                self.assertEqual(r.stdout, "Hello, World!", r.stderr)
            finally:
                demo.stop()


if __name__ == "__main__":
    DEMO, CLIENT, script = sys.argv[1:4]
    del sys.argv[1:4]
    with tempfile.TemporaryDirectory(prefix="coronet-pki-") as d:
        PKI = d
        subprocess.run(["bash", script, d], check=True)
        unittest.main(verbosity=2)
