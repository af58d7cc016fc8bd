"""gRPC over TLS between python3-grpcio and a coronet rpc::server's TLS port: a client that
trusts the test CA is served, one that trusts another CA is not; under mutual TLS the
handler names the client certificate's common name, and a client without a certificate, or
with an expired one, is refused. A key that does not match its certificate stops the server
at start, naming the file. Certificates come from tests/support/make_test_pki.sh, made
afresh in a temporary directory.

Usage: grpc_tls_test.py GRPC_TLS_SERVER MAKE_TEST_PKI_SH
"""
import os
import re
import shutil
import subprocess
import sys
import tempfile
import unittest

import grpc

SERVER, PKI_SCRIPT = sys.argv[1], sys.argv[2]
del sys.argv[1:3]

import demo_process
from greeting_wire import decode_greeting, encode_greeting

pki_dir = None


def pki(name):
    return os.path.join(pki_dir, name)


def read(name):
    with open(pki(name), "rb") as f:
        return f.read()


class Server:
    """grpc_tls_server with the given arguments, its TLS port read from its first line."""

    def __init__(self, *args):
        self.proc = subprocess.Popen([SERVER, *args], stdout=subprocess.PIPE,
                                     stderr=subprocess.PIPE, text=True)
        first = self.proc.stdout.readline()
        match = re.match(r"tls port (\d+)", first)
        if not match:
            self.proc.kill()
            _, err = self.proc.communicate(timeout=10)
            raise RuntimeError("grpc_tls_server did not start: " + first + err)
        self.port = int(match.group(1))

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        demo_process.stop(self.proc)


def say_hello(port, root="ca.pem", client=None):
    """SayHello("py") over TLS; returns (StatusCode, reply). client: "NAME" for NAME.pem/.key."""
    credentials = grpc.ssl_channel_credentials(
        root_certificates=read(root),
        private_key=read(client + ".key") if client else None,
        certificate_chain=read(client + ".pem") if client else None)
    # A connection of its own for each call: grpcio otherwise shares connections between
    # channels, and each call here must make its own handshake.
    options = [("grpc.use_local_subchannel_pool", 1)]
    with grpc.secure_channel("127.0.0.1:%d" % port, credentials, options) as channel:
        call = channel.unary_unary("/HelloWorld/SayHello", request_serializer=encode_greeting,
                                   response_deserializer=decode_greeting)
        try:
            return grpc.StatusCode.OK, call("py", timeout=10)
        except grpc.RpcError as e:
            return e.code(), ""


class ServerTls(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.server = Server(pki("server.pem"), pki("server.key"))

    @classmethod
    def tearDownClass(cls):
        cls.server.__exit__()

    def test_a_client_trusting_the_ca_is_served(self):
        self.assertEqual(say_hello(self.server.port),
                         (grpc.StatusCode.OK, "hello py from anonymous"))

    def test_a_client_trusting_another_ca_fails_unavailable(self):
        code, _ = say_hello(self.server.port, root="rogue-ca.pem")
        self.assertEqual(code, grpc.StatusCode.UNAVAILABLE)


class MutualTls(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.server = Server(pki("server.pem"), pki("server.key"), pki("ca.pem"))

    @classmethod
    def tearDownClass(cls):
        cls.server.__exit__()

    def test_the_handler_names_the_client_certificate(self):
        self.assertEqual(say_hello(self.server.port, client="client"),
                         (grpc.StatusCode.OK, "hello py from test-client"))

    def test_a_client_without_a_certificate_is_refused(self):
        code, _ = say_hello(self.server.port)
        self.assertEqual(code, grpc.StatusCode.UNAVAILABLE)

    def test_an_expired_client_certificate_is_refused(self):
        code, _ = say_hello(self.server.port, client="expired-client")
        self.assertEqual(code, grpc.StatusCode.UNAVAILABLE)

    def test_a_self_signed_client_certificate_is_refused(self):
        code, _ = say_hello(self.server.port, client="selfsigned-client")
        self.assertEqual(code, grpc.StatusCode.UNAVAILABLE)


class StartChecks(unittest.TestCase):
    def test_a_key_of_another_certificate_stops_the_server_naming_the_file(self):
        proc = subprocess.run([SERVER, pki("server.pem"), pki("other.key")],
                              capture_output=True, text=True, timeout=30)
        self.assertEqual(proc.returncode, 1, proc.stdout + proc.stderr)
        self.assertIn(pki("other.key"), proc.stderr)


if __name__ == "__main__":
    pki_dir = tempfile.mkdtemp(prefix="coronet-grpc-tls-")
    try:
        subprocess.run(["bash", PKI_SCRIPT, pki_dir], check=True, timeout=60)
        unittest.main()
    finally:
        shutil.rmtree(pki_dir, ignore_errors=True)
