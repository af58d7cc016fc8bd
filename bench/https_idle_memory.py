#!/usr/bin/python3
"""What an idle keep-alive connection costs the HTTPS server, against a plaintext one.

Opens N connections to tests/integration/https_test_server's plaintext port, one request
each, and measures the server's RSS growth; closes them; then the same on its TLS port.
Loopback only; the certificates come from tests/support/make_test_pki.sh.

    bench/https_idle_memory.py [BUILD_DIR] [N]      (defaults: build, 2000)
"""
import os
import resource
import socket
import ssl
import subprocess
import sys
import tempfile
import time

root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
build = sys.argv[1] if len(sys.argv) > 1 else os.path.join(root, "build")
n = int(sys.argv[2]) if len(sys.argv) > 2 else 2000
soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
resource.setrlimit(resource.RLIMIT_NOFILE, (min(hard, max(soft, 2 * n + 256)), hard))

with tempfile.TemporaryDirectory(prefix="coronet-pki-") as pki:
    subprocess.run(["bash", os.path.join(root, "tests/support/make_test_pki.sh"), pki], check=True)
    server = subprocess.Popen([os.path.join(build, "tests/integration/https_test_server"),
                               "--cert", pki + "/server.pem", "--key", pki + "/server.key",
                               "--threads", "1", "--header-timeout", "60000"],
                              stdout=subprocess.PIPE, preexec_fn=lambda: resource.setrlimit(
                                  resource.RLIMIT_NOFILE, (min(hard, 2 * n + 256), hard)))
    words = server.stdout.readline().split()
    ports = {"plaintext": int(words[1]), "TLS": int(words[3])}
    context = ssl.create_default_context(cafile=pki + "/ca.pem")

    def rss_kib():
        with open(f"/proc/{server.pid}/status") as f:
            return next(int(l.split()[1]) for l in f if l.startswith("VmRSS"))

    try:
        for kind, port in ports.items():
            time.sleep(0.5)
            before = rss_kib()
            conns = []
            for _ in range(n):
                s = socket.create_connection(("127.0.0.1", port), timeout=10)
                if kind == "TLS":
                    s = context.wrap_socket(s, server_hostname="localhost")
                s.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
                data = b""
                while not data.endswith(b"Hello, World!"):
                    data += s.recv(4096)
                conns.append(s)
            time.sleep(0.5)
            after = rss_kib()
            print(f"{kind:>9}: {n} idle keep-alive connections, server RSS {before} -> {after} KiB, "
                  f"{(after - before) / n:.2f} KiB each")
            for s in conns:
                s.close()
    finally:
        server.terminate()
        server.wait()
