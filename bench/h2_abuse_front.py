"""The three HTTP/2 shapes gRPC 1.51 does not bound (rapid reset, a header block that keeps
growing, HPACK strings streamed byte by byte), each sent straight to coronet-demo's shared
port and then through nginx (`grpc_pass`) in front of it. A grpcio client calls SayHello
every 20 ms over the same path as the attacker. Prints one JSON line per shape and path: the
demo's CPU seconds and RSS, the healthy client's p50/p99.

Usage: /usr/bin/python3 bench/h2_abuse_front.py [CORONET_DEMO]   (nginx on PATH; loopback)
"""
import json
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "tests", "integration"))
import h2_attacks as A  # noqa: E402

DEMO = sys.argv[1] if len(sys.argv) > 1 else os.path.join(ROOT, "build", "examples", "coronet-demo")
NGINX_PORT = 20871

def nginx(upstream):
    d = tempfile.mkdtemp(prefix="front-")
    conf = f"""
worker_processes 1; daemon off; pid {d}/nginx.pid; error_log {d}/error.log warn;
events {{ worker_connections 4096; }}
http {{
  access_log off; client_body_temp_path {d}; proxy_temp_path {d}; fastcgi_temp_path {d};
  uwsgi_temp_path {d}; scgi_temp_path {d};
  upstream demo {{ server 127.0.0.1:{upstream}; keepalive 16; }}
  server {{ listen 127.0.0.1:{NGINX_PORT} http2; location / {{ grpc_pass grpc://demo; }} }}
}}"""
    open(f"{d}/nginx.conf", "w").write(conf)
    p = subprocess.Popen(["nginx", "-c", f"{d}/nginx.conf", "-e", f"{d}/error.log"])
    time.sleep(0.5)
    return p, d

def run(name, attack, via_nginx):
    demo = A.Demo(DEMO)
    ng, ng_dir = nginx(demo.port) if via_nginx else (None, None)
    port = NGINX_PORT if via_nginx else demo.port
    try:
        probe = A.Probe(port, timeout=20)
        s = A.Sampler(demo)
        rss0, cpu0 = demo.rss_kib(), demo.cpu_s()
        t = time.monotonic()
        try:
            attack(port)
        except OSError as e:  # the proxy or the server closed on the attacker: that is fine
            print("attack ended: %r" % e, file=sys.stderr)
        time.sleep(1.0)
        h = probe.finish()
        s.stop()
        lat = h["latencies"]
        out = {"shape": name, "via": "nginx" if via_nginx else "direct",
               "attack_s": round(time.monotonic() - t, 2),
               "demo_cpu_s": round(demo.cpu_s() - cpu0, 2),
               "demo_rss_mb": [round(rss0/1024), round(s.peak_rss_kib()/1024)],
               "probe_calls": len(lat), "probe_fail": len(h["failures"]),
               "p50_ms": round(1000*A.percentile(lat, 50), 1) if lat else None,
               "p99_ms": round(1000*A.percentile(lat, 99), 1) if lat else None,
               "alive": demo.alive()}
        print(json.dumps(out), flush=True)
    finally:
        if ng:
            ng.terminate()
            ng.wait()
            shutil.rmtree(ng_dir, ignore_errors=True)
        demo.stop()

def four_rr(port):
    ts = [threading.Thread(target=A.rapid_reset, args=(port, 2500, 20)) for _ in range(4)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()

shapes = {
  "rapid reset 4x2500": four_rr,
  "continuation grow 20 MB": lambda p: A.continuation_flood(p, 20000, 30, grow=1000),
  "hpack string 2 MiB": lambda p: A.header_attack(p, A.huge_varint_block(A.hpack.Encoder(), 1 << 28, 2 << 20), body=False, seconds=60),
}
if __name__ == "__main__":
    for name, fn in shapes.items():
        for via in (False, True):
            run(name, fn, via)
