#!/usr/bin/env bash
# Data-plane benchmark (issue 5): requests/s and p50/p99 latency on loopback for
#   (a) direct to one backend,
#   (b) through Local Lattice, one HTTP listener forwarding 50/50 to two target groups,
#   (c) nginx (Debian package) with an upstream split 50/50 over the same two backends,
# measured with wrk in one run, interleaved over ROUNDS rounds; the table shows medians. The CPU
# column is the CPU time (user+system, from /proc) the serving process spent per request: the
# backends for (a), the data plane for (b), nginx's master and workers for (c). On a shared
# machine it is steadier than req/s, which depends on what else runs.
# Usage: bench/dataplane/run.sh   (env: DURATION=10s CONNS=64 THREADS=2 ROUNDS=3)
set -euo pipefail

DURATION=${DURATION:-10s}
CONNS=${CONNS:-64}
THREADS=${THREADS:-2}
ROUNDS=${ROUNDS:-3}
B1=127.0.60.1:8090
B2=127.0.60.2:8090
DP_IP=127.0.60.10
NGINX_ADDR=127.0.60.20:8080

cd "$(dirname "$0")/../.."

need=()
command -v wrk >/dev/null || need+=(wrk)
command -v nginx >/dev/null || [ -x /usr/sbin/nginx ] || need+=(nginx)
if [ ${#need[@]} -gt 0 ]; then
  sudo=""
  [ "$(id -u)" -eq 0 ] || sudo=sudo
  echo "installing ${need[*]} with apt-get" >&2
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "${need[@]}" >/dev/null
fi
NGINX=$(command -v nginx || echo /usr/sbin/nginx)

work=$(mktemp -d)
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT

go build -o "$work/dataplane-bench" ./bench/dataplane

# wait_ready FILE: wait until a process printed its READY line.
wait_ready() {
  for _ in $(seq 1 200); do
    grep -q '^READY' "$1" 2>/dev/null && return 0
    sleep 0.05
  done
  echo "timed out waiting for $1:" >&2
  cat "$1" >&2
  exit 1
}

"$work/dataplane-bench" backends "$B1" "$B2" >"$work/backends.out" 2>&1 &
pids+=($!)
backend_pid=$!
wait_ready "$work/backends.out"

"$work/dataplane-bench" lattice "$DP_IP" "$B1" "$B2" >"$work/lattice.out" 2>&1 &
pids+=($!)
lattice_pid=$!
wait_ready "$work/lattice.out"
read -r _ DP_ADDR DP_HOST < <(grep '^READY' "$work/lattice.out")

mkdir -p "$work/nginx"
cat >"$work/nginx/nginx.conf" <<CONF
worker_processes 2;
daemon off;
pid $work/nginx/nginx.pid;
error_log $work/nginx/error.log warn;
events { worker_connections 4096; }
http {
  access_log off;
  client_body_temp_path $work/nginx/body;
  proxy_temp_path $work/nginx/proxy;
  fastcgi_temp_path $work/nginx/fastcgi;
  uwsgi_temp_path $work/nginx/uwsgi;
  scgi_temp_path $work/nginx/scgi;
  upstream split {
    server $B1 weight=50;
    server $B2 weight=50;
    keepalive 128;
  }
  server {
    listen $NGINX_ADDR;
    location / {
      proxy_pass http://split;
      proxy_http_version 1.1;
      proxy_set_header Connection "";
      proxy_set_header Host \$host;
      proxy_set_header X-Forwarded-For \$remote_addr;
    }
  }
}
CONF
"$NGINX" -e "$work/nginx/error.log" -p "$work/nginx" -c "$work/nginx/nginx.conf" &
pids+=($!)
nginx_pid=$!
for _ in $(seq 1 100); do
  curl -fsS -o /dev/null "http://$NGINX_ADDR/" 2>/dev/null && break
  sleep 0.05
done

nginx_pids="$nginx_pid $(pgrep -P "$nginx_pid" | tr '\n' ' ')"

names=(direct lattice nginx)
serving=("$backend_pid" "$lattice_pid" "$nginx_pids")

# cpu_ticks PID...: user+system clock ticks of the processes (all threads).
cpu_ticks() {
  local t=0 p f
  for p in "$@"; do
    read -r -a f <"/proc/$p/stat"
    t=$((t + f[13] + f[14]))
  done
  echo "$t"
}
hz=$(getconf CLK_TCK)
urls=("http://$B1/" "http://$DP_ADDR/" "http://$NGINX_ADDR/")
hosts=("" "$DP_HOST" "")

# bench I: one wrk run of setup I, appending "rps p50ms p99ms cpu_us_per_request" to $work/I.res.
bench() {
  local i=$1 args=(-t"$THREADS" -c"$CONNS" -d"$DURATION" --latency) c0 c1
  [ -n "${hosts[$i]}" ] && args+=(-H "Host: ${hosts[$i]}")
  # shellcheck disable=SC2086 # the list of pids splits on purpose
  c0=$(cpu_ticks ${serving[$i]})
  wrk "${args[@]}" "${urls[$i]}" >"$work/wrk.out"
  # shellcheck disable=SC2086
  c1=$(cpu_ticks ${serving[$i]})
  if grep -q 'Non-2xx' "$work/wrk.out"; then
    echo "${names[$i]}: non-2xx answers" >&2
    cat "$work/wrk.out" >&2
    exit 1
  fi
  awk '
    function ms(v) { if (v ~ /us$/) return v/1000; if (v ~ /ms$/) return v+0; if (v ~ /s$/) return v*1000; return v }
    /Requests\/sec/ { rps = $2 }
    / requests in / { n = $1 }
    $1 == "50%" { p50 = ms($2) }
    $1 == "99%" { p99 = ms($2) }
    END { printf "%s %s %s %.1f\n", rps, p50, p99, ticks * 1e6 / hz / n }' ticks=$((c1 - c0)) hz="$hz" "$work/wrk.out" >>"$work/$i.res"
}

for i in 0 1 2; do
  wrk -t"$THREADS" -c"$CONNS" -d2s ${hosts[$i]:+-H "Host: ${hosts[$i]}"} "${urls[$i]}" >/dev/null
done
for r in $(seq 1 "$ROUNDS"); do
  for i in 0 1 2; do
    echo "round $r/$ROUNDS: ${names[$i]}" >&2
    bench "$i"
  done
done

# median COLUMN FILE
median() { awk -v c="$1" '{ print $c }' "$2" | sort -g | awk '{ v[NR] = $1 } END { print (NR % 2) ? v[(NR+1)/2] : (v[NR/2] + v[NR/2+1]) / 2 }'; }

declare -a rps p50 p99 cpu
for i in 0 1 2; do
  rps[$i]=$(median 1 "$work/$i.res")
  p50[$i]=$(median 2 "$work/$i.res")
  p99[$i]=$(median 3 "$work/$i.res")
  cpu[$i]=$(median 4 "$work/$i.res")
done

echo
echo "wrk -t$THREADS -c$CONNS -d$DURATION, median of $ROUNDS rounds, $(nproc) CPUs, $(date -u +%Y-%m-%dT%H:%MZ)"
printf '| %-25s | %9s | %7s | %7s | %11s | %14s | %13s |\n' setup req/s "p50 ms" "p99 ms" "req/s ratio" "p99 added ms" "CPU us/req"
echo "|---------------------------|-----------|---------|---------|-------------|----------------|---------------|"
labels=("(a) direct to backend" "(b) Local Lattice 50/50" "(c) nginx 50/50")
for i in 0 1 2; do
  awk -v l="${labels[$i]}" -v r="${rps[$i]}" -v a="${p50[$i]}" -v b="${p99[$i]}" -v r0="${rps[0]}" -v b0="${p99[0]}" -v c="${cpu[$i]}" \
    'BEGIN { printf "| %-25s | %9.0f | %7.2f | %7.2f | %10.2fx | %14.2f | %13.1f |\n", l, r, a, b, r / r0, b - b0, c }'
done
awk -v b="${rps[1]}" -v c="${rps[2]}" -v cb="${cpu[1]}" -v cc="${cpu[2]}" \
  'BEGIN { printf "\n(b)/(c): req/s %.2fx, CPU per request %.2fx\n", b / c, cb / cc }'
