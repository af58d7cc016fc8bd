# Sourced by the scripts that measure coronet next to nginx (http_plaintext.sh,
# https_compare.sh): the work directory and the cleanup of every process started, CPU time
# from /proc, wrk's pipelining script, the port a server prints, and nginx as one pinned worker answering
# "Hello, World!". The sourcing script sets server_cpu and declares `pid` and `port` as
# associative arrays first.

work=$(mktemp -d)
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; wait 2>/dev/null; rm -rf "$work"; }
trap cleanup EXIT

ticks=$(getconf CLK_TCK)
cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }
rss_kib() { awk '/^VmRSS:/ {print $2}' "/proc/$1/status"; }

# wrk's script for 16 requests per write ($work/pipeline.lua).
cat > "$work/pipeline.lua" <<'LUA'
init = function(args)
  local r = {}
  for i = 1, 16 do r[i] = wrk.format(nil, "/") end
  req = table.concat(r)
end
request = function() return req end
LUA

# wait_port FILE: the port a server printed as "port N".
wait_port() {
  for _ in $(seq 50); do grep -q port "$1" 2>/dev/null && break; sleep 0.1; done
  awk '/port/ {print $2}' "$1"
}

# launch_nginx SCHEME KEEPALIVE_REQUESTS [DIRECTIVE...]: nginx as one worker without a master,
# on a free port of 127.0.0.1 (with `ssl` when SCHEME is https), the DIRECTIVEs added to its
# server block; returns once it answers.
launch_nginx() {
  local scheme=$1 keepalive=$2 listen_ssl="" d extra=""
  shift 2
  [ "$scheme" = https ] && listen_ssl=" ssl"
  for d in "$@"; do extra+="    $d"$'\n'; done
  port[nginx]=$(/usr/bin/python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
  mkdir -p "$work/nginx"
  cat > "$work/nginx/nginx.conf" <<CONF
worker_processes 1;
daemon off;
master_process off;
worker_rlimit_nofile 65536;
error_log $work/nginx/error.log;
pid $work/nginx/nginx.pid;
events { worker_connections 20000; }
http {
  access_log off;
  keepalive_requests $keepalive;
  client_body_temp_path $work/nginx;
  proxy_temp_path $work/nginx;
  fastcgi_temp_path $work/nginx;
  uwsgi_temp_path $work/nginx;
  scgi_temp_path $work/nginx;
  server {
    listen 127.0.0.1:${port[nginx]}$listen_ssl;
$extra    location / { default_type text/plain; return 200 "Hello, World!"; }
  }
}
CONF
  taskset -c "$server_cpu" nginx -c "$work/nginx/nginx.conf" -e "$work/nginx/error.log" &
  pids+=($!)
  pid[nginx]=$!
  for _ in $(seq 50); do curl -sk "$scheme://127.0.0.1:${port[nginx]}/" >/dev/null 2>&1 && break; sleep 0.1; done
}
