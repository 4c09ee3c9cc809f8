#!/usr/bin/env bash
# Static files over HTTP on loopback: ringfile-serve (io_uring engine, then the
# thread-pool engine) beside nginx from apt in two configurations, with the same
# number of workers and access logs off, all loaded by wrk with the same
# connections and duration. Rounds are interleaved (every server once per round,
# starting from a different server each round) and the median of the rounds is
# reported.
#
#   bench/serve_compare.sh [--workers 1] [--connections 64] [--duration 5] [--wrk-threads 2]
#                          [--rounds 3] [--quick] [--json [FILE|-]] [--server PATH]
#                          [--servers LIST] [--workloads LIST] [--cold-files 40000]
#                          [--dir DIR] [--no-install] [--keep]
#
# Servers (--servers, comma-separated, default all): ringfile-io_uring,
#   ringfile-threadpool, nginx-sendfile (sendfile on, no aio), nginx-aio
#   (aio threads; sendfile on). ringfile-serve gets --threads N, nginx
#   worker_processes N (--workers). nginx runs in the foreground with its own
#   prefix, config, pid file and error log in the work directory, its defaults
#   otherwise, except keepalive_requests (raised: no reconnects mid-run).
# Workloads (--workloads, default all): hot-4k, hot-64k, hot-1m (one file each,
#   read into the page cache before every run) and cold-mix (90% of requests to
#   200 hot 64 KiB files, 10% to --cold-files 64 KiB files whose pages are
#   dropped with POSIX_FADV_DONTNEED before every run).
# --server PATH (or $RINGFILE_SERVE) names the ringfile-serve binary; without it
#   the script builds one in build-serve-bench (release). --quick: 1 s runs, one
#   round, 2000 cold files. --json FILE writes every number as JSON; --json or
#   --json - prints it on stdout (the tables then go to stderr). --dir: where the
#   temporary tree goes (default /var/tmp: it must be a disk filesystem, not
#   tmpfs). --no-install: never call apt-get. --keep: leave the work directory.
# Run as root on Debian 12, it installs what is missing with apt-get.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo=$(cd "$here/.." && pwd)
workers=1
connections=64
duration=5
wrk_threads=2
rounds=3
cold_files=40000
hot_mix_files=200
hot_mix_pct=90
server=${RINGFILE_SERVE:-}
servers=ringfile-io_uring,ringfile-threadpool,nginx-sendfile,nginx-aio
workloads=hot-4k,hot-64k,hot-1m,cold-mix
json=""
parent_dir=/var/tmp
install=1
keep=0

die() { echo "serve_compare.sh: $*" >&2; exit 2; }
say() { echo "$*" >&2; }
positive() { [[ $2 =~ ^[0-9]+$ && $2 -ge 1 ]] || die "$1: expected a positive integer, got '$2'"; }

while [ $# -gt 0 ]; do
  case $1 in
    --workers) workers=$2; shift 2 ;;
    --connections) connections=$2; shift 2 ;;
    --duration) duration=$2; shift 2 ;;
    --wrk-threads) wrk_threads=$2; shift 2 ;;
    --rounds) rounds=$2; shift 2 ;;
    --cold-files) cold_files=$2; shift 2 ;;
    --quick) duration=1; rounds=1; cold_files=2000; shift ;;
    --json)
      if [ $# -ge 2 ] && [[ $2 != --* ]]; then json=$2; shift 2; else json=-; shift; fi ;;
    --server) server=$2; shift 2 ;;
    --servers) servers=$2; shift 2 ;;
    --workloads) workloads=$2; shift 2 ;;
    --dir) parent_dir=$2; shift 2 ;;
    --no-install) install=0; shift ;;
    --keep) keep=1; shift ;;
    -h|--help) awk 'NR > 1 && !/^#/ { exit } NR > 1 { sub(/^# ?/, ""); print }' "$0"; exit 0 ;;
    *) die "unknown argument '$1' (see --help)" ;;
  esac
done
positive --workers "$workers"
positive --connections "$connections"
positive --duration "$duration"
positive --wrk-threads "$wrk_threads"
positive --rounds "$rounds"
positive --cold-files "$cold_files"
[ "$wrk_threads" -le "$connections" ] || die "--wrk-threads must not exceed --connections"
IFS=, read -r -a server_list <<<"$servers"
IFS=, read -r -a workload_list <<<"$workloads"
want_ringfile=0
for s in "${server_list[@]}"; do
  case $s in
    ringfile-io_uring|ringfile-threadpool) want_ringfile=1 ;;
    nginx-sendfile|nginx-aio) ;;
    *) die "--servers: unknown server '$s'" ;;
  esac
done
for w in "${workload_list[@]}"; do
  case $w in hot-4k|hot-64k|hot-1m|cold-mix) ;; *) die "--workloads: unknown workload '$w'" ;; esac
done

# ---------------------------------------------------------------- what it needs
need_packages=(nginx wrk curl python3 procps util-linux)
build=0
if [ "$want_ringfile" = 1 ] && [ -z "$server" ]; then
  build=1
  need_packages+=(g++ meson ninja-build pkg-config liburing-dev libhttp-parser-dev)
fi
missing=()
for p in "${need_packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  if [ "$install" = 1 ] && [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    say "installing ${missing[*]} with apt-get"
    apt-get update -qq >&2
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >&2
  else
    for p in "${missing[@]}"; do
      case $p in nginx|wrk|curl|python3) command -v "$p" >/dev/null ||
        die "$p not found: apt-get install ${missing[*]} (or run this as root)" ;; esac
    done
  fi
fi
nginx_bin=$(command -v nginx || echo /usr/sbin/nginx)
[ -x "$nginx_bin" ] || die "nginx not found"
python=/usr/bin/python3   # Debian's, whatever else PATH holds
[ -x "$python" ] || python=$(command -v python3) || die "python3 not found"

if [ "$build" = 1 ]; then
  builddir=$repo/build-serve-bench
  say "building ringfile-serve in $builddir (release)"
  if [ ! -f "$builddir/build.ninja" ]; then
    log=$(meson setup "$builddir" "$repo" --buildtype=release -Dexamples=enabled -Dtests=disabled \
      -Dbench=disabled -Dpython=disabled 2>&1) || { echo "$log" >&2; die "meson setup failed"; }
  fi
  ninja -C "$builddir" >"$builddir/serve-compare-build.log" 2>&1 ||
    { tail -n 40 "$builddir/serve-compare-build.log" >&2; die "the build failed (log: $builddir/serve-compare-build.log)"; }
  server=$builddir/examples/ringfile-serve
  [ -x "$server" ] ||
    die "the build made no $server (is libhttp-parser-dev installed?); --servers nginx-sendfile,nginx-aio runs nginx alone"
fi
if [ "$want_ringfile" = 1 ]; then
  [ -x "$server" ] || die "ringfile-serve not found at '$server' (--server PATH)"
  server=$(cd "$(dirname "$server")" && pwd)/$(basename "$server")
  server_commit=$(git -C "$(dirname "$server")" rev-parse --short HEAD 2>/dev/null || echo unknown)
  if [ "$server_commit" != unknown ] &&
     [ -n "$(git -C "$(dirname "$server")" status --porcelain --untracked-files=no 2>/dev/null)" ]; then
    server_commit="$server_commit+changes"
  fi
else
  server=""; server_commit=""
fi

# ---------------------------------------------------------------- work directory
work=$(mktemp -d "$parent_dir/serve-compare.XXXXXX")
chmod 755 "$work"   # nginx's workers run as nobody when started as root
www=$work/www
pids=()
wrk_pid=""

stop_pid() {  # pid: TERM, then KILL after 5 s
  local pid=$1 i
  kill -TERM "$pid" 2>/dev/null || return 0
  for ((i = 0; i < 50; i++)); do
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.1
  done
  kill -KILL "$pid" 2>/dev/null || true
  wait "$pid" 2>/dev/null || true
}
cleanup() {
  local pid
  [ -n "$wrk_pid" ] && stop_pid "$wrk_pid"
  for pid in "${pids[@]}"; do stop_pid "$pid"; done
  if [ "$keep" = 1 ]; then say "work directory kept: $work"; else rm -rf "$work"; fi
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

fstype=$(df --output=fstype "$work" | tail -n 1)
[ "$fstype" != tmpfs ] || say "warning: $work is on tmpfs: POSIX_FADV_DONTNEED drops nothing there, the cold mix is not cold (use --dir)"

say "generating the tree in $www ($cold_files cold files)"
"$python" - "$www" "$hot_mix_files" "$cold_files" <<'EOF'
import os, sys
www, hot_n, cold_n = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
for d in ("hot", "mix/hot", "mix/cold"):
    os.makedirs(os.path.join(www, d))
for name, size in (("4k.bin", 4096), ("64k.bin", 65536), ("1m.bin", 1 << 20)):
    with open(os.path.join(www, "hot", name), "wb") as f:
        f.write(os.urandom(size))
block = bytearray(os.urandom(65536))
for kind, n in (("hot", hot_n), ("cold", cold_n)):
    for i in range(n):
        block[:16] = f"{kind}{i:012d}".encode()[:16].ljust(16)   # no two files alike
        with open(os.path.join(www, "mix", kind, f"{i:05d}.bin"), "wb") as f:
            f.write(block)
os.sync()   # dirty pages would survive POSIX_FADV_DONTNEED
EOF

warm() { find "$@" -type f -print0 | xargs -0 cat >/dev/null; }
drop_cold() {  # drops the cold files' pages; prints the fraction still resident
  "$python" - "$www/mix/cold" <<'EOF'
import os, sys
with os.scandir(sys.argv[1]) as entries:
    for e in entries:
        fd = os.open(e.path, os.O_RDONLY)
        try:
            os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
        finally:
            os.close(fd)
EOF
  find "$www/mix/cold" -type f -print0 | xargs -0 fincore -n -b -o RES,SIZE |
    awk '{ res += $1; size += $2 } END { printf "%.3f\n", size ? res / size : 0 }'
}

# ---------------------------------------------------------------- wrk scripts
cat >"$work/report.lua" <<'EOF'
function done(summary, latency, requests)
  local e = summary.errors
  local cold = 0
  for _, t in ipairs(threads or {}) do cold = cold + (t:get("cold_sent") or 0) end
  io.write(string.format('RESULT {"requests": %.0f, "bytes": %.0f, "duration_us": %.0f, ' ..
    '"p50_us": %.0f, "p99_us": %.0f, "mean_us": %.1f, "max_us": %.0f, "non2xx": %.0f, ' ..
    '"connect_errors": %.0f, "read_errors": %.0f, "write_errors": %.0f, "timeouts": %.0f, ' ..
    '"cold_requests": %.0f}\n',
    summary.requests, summary.bytes, summary.duration, latency:percentile(50),
    latency:percentile(99), latency.mean, latency.max, e.status, e.connect, e.read, e.write,
    e.timeout, cold))
end
EOF
# The mix: each wrk thread walks its own slice of the cold files in order, so a
# cold file is read once per round until the requests outnumber the files.
cat >"$work/mix.lua" <<'EOF'
threads = {}
local next_id = 0
function setup(thread)
  thread:set("id", next_id)
  next_id = next_id + 1
  table.insert(threads, thread)
end
function init(args)
  hot_n, cold_n, hot_pct, nthreads = tonumber(args[1]), tonumber(args[2]), tonumber(args[3]), tonumber(args[4])
  math.randomseed(12345 + id)
  cold_next = math.floor(id * cold_n / nthreads)
  cold_sent = 0
end
function request()
  local path
  if math.random(100) <= hot_pct then
    path = string.format("/mix/hot/%05d.bin", math.random(hot_n) - 1)
  else
    path = string.format("/mix/cold/%05d.bin", cold_next)
    cold_next = (cold_next + 1) % cold_n
    cold_sent = cold_sent + 1
  end
  return wrk.format("GET", path)
end
EOF
cat "$work/report.lua" >>"$work/mix.lua"

# ---------------------------------------------------------------- servers
free_port() {
  "$python" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}
declare -A port server_pid

# CPU time (user + system, clock ticks) of a server: the process and its
# children (nginx's workers; threads are counted in their process).
cpu_ticks() {
  local pid=$1 child total=0 stat
  local -a children fields
  read -r -a children <<<"$(ps -o pid= --ppid "$pid" | tr '\n' ' ')"
  for child in "$pid" "${children[@]}"; do
    stat=$(cat "/proc/$child/stat" 2>/dev/null) || continue
    # utime and stime are fields 14 and 15; field 3 is the first after the ") " that ends the name.
    read -r -a fields <<<"${stat##*) }"
    total=$((total + fields[11] + fields[12]))
  done
  echo "$total"
}

start_nginx() {  # name aio(0|1)
  local name=$1 aio=$2 prefix=$work/$1 attempt p
  mkdir -p "$prefix"
  for ((attempt = 1; attempt <= 5; attempt++)); do
    p=$(free_port)
    {
      echo "daemon off;"
      echo "master_process on;"
      echo "worker_processes $workers;"
      echo "pid $prefix/nginx.pid;"
      echo "error_log $prefix/error.log warn;"
      echo "events { worker_connections $((connections * 2 + 256)); }"
      echo "http {"
      echo "  include /etc/nginx/mime.types;"
      echo "  default_type application/octet-stream;"
      echo "  access_log off;"
      echo "  sendfile on;"
      [ "$aio" = 1 ] && echo "  aio threads;"
      echo "  keepalive_requests 1000000000;"
      for t in client_body proxy fastcgi uwsgi scgi; do echo "  ${t}_temp_path $prefix/$t;"; done
      echo "  server {"
      echo "    listen 127.0.0.1:$p;"
      echo "    root $www;"
      echo "  }"
      echo "}"
    } >"$prefix/nginx.conf"
    "$nginx_bin" -p "$prefix/" -c "$prefix/nginx.conf" -e "$prefix/error.log" >"$prefix/stdout" 2>&1 &
    local pid=$!
    pids+=("$pid")
    local i
    for ((i = 0; i < 100; i++)); do
      if ! kill -0 "$pid" 2>/dev/null; then break; fi
      if curl -s -o /dev/null "http://127.0.0.1:$p/"; then port[$name]=$p; server_pid[$name]=$pid; return 0; fi
      sleep 0.1
    done
    stop_pid "$pid"
    grep -q 'Address already in use' "$prefix/error.log" 2>/dev/null || break
  done
  cat "$prefix/error.log" "$prefix/stdout" >&2 2>/dev/null || true
  die "$name did not start"
}

start_ringfile() {  # name engine
  local name=$1 engine=$2 dir=$work/$1 i line
  mkdir -p "$dir"
  "$server" --listen 127.0.0.1:0 --threads "$workers" --engine "$engine" "$www" \
    >"$dir/stdout" 2>"$dir/stderr" &
  local pid=$!
  pids+=("$pid")
  for ((i = 0; i < 100; i++)); do
    line=$(head -n 1 "$dir/stdout" 2>/dev/null || true)
    if [[ $line =~ ^listening\ on\ 127\.0\.0\.1:([0-9]+)$ ]]; then
      port[$name]=${BASH_REMATCH[1]}
      server_pid[$name]=$pid
      return 0
    fi
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.1
  done
  cat "$dir/stdout" "$dir/stderr" >&2
  die "$name did not start (expected 'listening on 127.0.0.1:PORT' on its first line)"
}

body_check=$work/check.body
body_matches() {  # name url-path expected-file: 200 and the file's bytes within 5 s
  local status
  status=$(curl -s --max-time 5 -o "$body_check" -w '%{http_code}' "http://127.0.0.1:${port[$1]}$2") || status=000
  [ "$status" = 200 ] && cmp -s "$body_check" "$3"
}
check_body() {  # name url-path expected-file
  body_matches "$@" ||
    die "$1: GET $2 did not answer 200 with the $(stat -c %s "$3") bytes of $3 within 5 s: its numbers would mean nothing"
}

for s in "${server_list[@]}"; do
  case $s in
    ringfile-io_uring) start_ringfile "$s" io_uring ;;
    ringfile-threadpool) start_ringfile "$s" threadpool ;;
    nginx-sendfile) start_nginx "$s" 0 ;;
    nginx-aio) start_nginx "$s" 1 ;;
  esac
  for f in hot/4k.bin hot/64k.bin hot/1m.bin mix/hot/00000.bin mix/cold/00000.bin \
           "mix/cold/$(printf %05d $((cold_files - 1))).bin"; do
    check_body "$s" "/$f" "$www/$f"
  done
  say "$s: port ${port[$s]}, bodies checked"
done
# What ringfile-serve says of itself on stderr (its threads and engine), for the report.
engines=""
for s in ringfile-io_uring ringfile-threadpool; do
  [ -f "$work/$s/stderr" ] || continue
  engines+="$s: $(grep -m 1 'engine' "$work/$s/stderr" || echo '(nothing on stderr)')"$'\n'
done

# ---------------------------------------------------------------- runs
results=$work/results.jsonl
clk_tck=$(getconf CLK_TCK)
: >"$results"
run_wrk() {  # server workload round
  local s=$1 w=$2 r=$3 out=$work/wrk.$1.$2.$3 residency=null url
  url="http://127.0.0.1:${port[$s]}"
  # wrk's default 2 s timeout: a request stalled that long counts as an error (the slowest
  # response seen here took under 0.5 s).
  local args=(-t "$wrk_threads" -c "$connections" -d "${duration}s" --timeout 2s --latency)
  case $w in
    hot-4k) warm "$www/hot/4k.bin"; args+=(-s "$work/report.lua" "$url/hot/4k.bin") ;;
    hot-64k) warm "$www/hot/64k.bin"; args+=(-s "$work/report.lua" "$url/hot/64k.bin") ;;
    hot-1m) warm "$www/hot/1m.bin"; args+=(-s "$work/report.lua" "$url/hot/1m.bin") ;;
    cold-mix)
      warm "$www/mix/hot"
      residency=$(drop_cold)
      args+=(-s "$work/mix.lua" "$url" -- "$hot_mix_files" "$cold_files" "$hot_mix_pct" "$wrk_threads") ;;
  esac
  local ticks_before ticks_after
  ticks_before=$(cpu_ticks "${server_pid[$s]}")
  wrk "${args[@]}" >"$out" 2>&1 &
  wrk_pid=$!
  wait "$wrk_pid" || { cat "$out" >&2; die "wrk failed against $s"; }
  wrk_pid=""
  ticks_after=$(cpu_ticks "${server_pid[$s]}")
  # A server that stalls some connections can look fast on the rest; it must still answer.
  local answered=true
  body_matches "$s" /hot/4k.bin "$www/hot/4k.bin" || { answered=false; say "$s did not answer GET /hot/4k.bin after the run"; }
  local line
  line=$(grep '^RESULT ' "$out" | head -n 1) || { cat "$out" >&2; die "no result from wrk against $s"; }
  printf '{"server": "%s", "workload": "%s", "round": %d, "cold_resident_before": %s, "server_cpu_s": %s, "answered_after": %s, "wrk": %s}\n' \
    "$s" "$w" "$r" "$residency" "$(awk -v t=$((ticks_after - ticks_before)) -v hz="$clk_tck" 'BEGIN { print t / hz }')" \
    "$answered" "${line#RESULT }" >>"$results"
  # Any server that died under load makes the run worthless.
  local pid
  for pid in "${pids[@]}"; do kill -0 "$pid" 2>/dev/null || die "a server (pid $pid) exited during the run against $s"; done
}

# Every round runs each server once; round r starts at server r, so no server
# always runs first (just after the cache warm-up) or last.
nservers=${#server_list[@]}
total=$(( ${#workload_list[@]} * rounds * nservers ))
n=0
for w in "${workload_list[@]}"; do
  for ((r = 1; r <= rounds; r++)); do
    for ((k = 0; k < nservers; k++)); do
      s=${server_list[$(( (r - 1 + k) % nservers ))]}
      n=$((n + 1))
      say "[$n/$total] $w round $r/$rounds: $s"
      run_wrk "$s" "$w" "$r"
    done
  done
done

# ---------------------------------------------------------------- report
cpu_model=$(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -n 1)
nginx_version=$("$nginx_bin" -v 2>&1 | sed 's/^nginx version: //')
wrk_version=$(wrk -v 2>&1 | head -n 1 | awk '{ print $2 }' || true)
export SB_KERNEL SB_CPUS SB_CPU_MODEL SB_NGINX SB_WRK SB_SERVER SB_SERVER_COMMIT SB_WORKERS \
  SB_CONNECTIONS SB_DURATION SB_WRK_THREADS SB_ROUNDS SB_FS SB_COLD SB_HOT_MIX SB_HOT_PCT \
  SB_SERVERS SB_WORKLOADS SB_ENGINES
SB_KERNEL=$(uname -r) SB_CPUS=$(nproc) SB_CPU_MODEL=$cpu_model SB_NGINX=$nginx_version
SB_WRK=$wrk_version SB_SERVER=$server SB_SERVER_COMMIT=$server_commit SB_WORKERS=$workers
SB_CONNECTIONS=$connections SB_DURATION=$duration SB_WRK_THREADS=$wrk_threads SB_ROUNDS=$rounds
SB_FS=$fstype SB_COLD=$cold_files SB_HOT_MIX=$hot_mix_files SB_HOT_PCT=$hot_mix_pct
SB_SERVERS=$servers SB_WORKLOADS=$workloads SB_ENGINES=$engines
# With the JSON on stdout (--json -), the tables go to stderr.
"$python" - "$results" "$json" <<'EOF'
import json, os, statistics, sys

results_path, json_path = sys.argv[1], sys.argv[2]
env = os.environ
setup = {
    "kernel": env["SB_KERNEL"], "cpus": int(env["SB_CPUS"]), "cpu_model": env["SB_CPU_MODEL"],
    "nginx": env["SB_NGINX"], "wrk": env["SB_WRK"],
    "ringfile_serve": env["SB_SERVER"], "ringfile_serve_commit": env["SB_SERVER_COMMIT"],
    "workers": int(env["SB_WORKERS"]), "connections": int(env["SB_CONNECTIONS"]),
    "duration_s": int(env["SB_DURATION"]), "wrk_threads": int(env["SB_WRK_THREADS"]),
    "rounds": int(env["SB_ROUNDS"]), "tree_fs": env["SB_FS"], "cold_files": int(env["SB_COLD"]),
    "hot_mix_files": int(env["SB_HOT_MIX"]), "hot_mix_pct": int(env["SB_HOT_PCT"]),
    "file_size_mix": 65536, "pinning": "none (wrk and the servers share the CPUs)",
    "ringfile_serve_says": env["SB_ENGINES"].splitlines(),
}
servers = env["SB_SERVERS"].split(",")
workloads = env["SB_WORKLOADS"].split(",")
titles = {"hot-4k": "hot 4 KiB file", "hot-64k": "hot 64 KiB file", "hot-1m": "hot 1 MiB file",
          "cold-mix": "cold mix: %d%% of requests to %d hot 64 KiB files, the rest to %d files "
                      "dropped from the page cache before every run"
                      % (setup["hot_mix_pct"], setup["hot_mix_files"], setup["cold_files"])}

body_size = {"hot-4k": 4096, "hot-64k": 65536, "hot-1m": 1 << 20, "cold-mix": 65536}
runs = [json.loads(line) for line in open(results_path)]
median_or_none = lambda values: statistics.median(values) if values else None
for r in runs:
    x = r["wrk"]
    # Fewer bytes than requests x body size: some responses came without their body.
    r["short_bodies"] = int(x["bytes"] < x["requests"] * body_size[r["workload"]])
    # Little's law: requests in flight on average = req/s x mean latency of the answered ones.
    # Every connection always has one request out, so far fewer than the connections means
    # most of them waited the run through on responses that never came (wrk's latencies
    # only count answered requests). Healthy runs here gave 0.5 to 3.5 times the connections.
    r["busy_connections"] = x["requests"] / (x["duration_us"] / 1e6) * x["mean_us"] / 1e6
    r["stalled"] = int(r["busy_connections"] < setup["connections"] / 4)
summary = {}
for w in workloads:
    summary[w] = {}
    for s in servers:
        mine = [r for r in runs if r["server"] == s and r["workload"] == w]
        if not mine:
            continue
        secs = [r["wrk"]["duration_us"] / 1e6 for r in mine]
        rps = [r["wrk"]["requests"] / t for r, t in zip(mine, secs)]
        mib = [r["wrk"]["bytes"] / t / 2**20 for r, t in zip(mine, secs)]
        errors = {k: sum(r["wrk"][k] for r in mine)
                  for k in ("non2xx", "connect_errors", "read_errors", "write_errors", "timeouts")}
        errors["runs_with_short_bodies"] = sum(r["short_bodies"] for r in mine)
        errors["runs_not_answered_after"] = sum(not r["answered_after"] for r in mine)
        errors["runs_mostly_stalled"] = sum(r["stalled"] for r in mine)
        cold = [r["wrk"]["cold_requests"] for r in mine]
        summary[w][s] = {
            "requests_per_s": statistics.median(rps), "mib_per_s": statistics.median(mib),
            "p50_ms": statistics.median(r["wrk"]["p50_us"] for r in mine) / 1e3,
            "p99_ms": statistics.median(r["wrk"]["p99_us"] for r in mine) / 1e3,
            "server_cpu_us_per_request": median_or_none(
                [1e6 * r["server_cpu_s"] / r["wrk"]["requests"] for r in mine if r["wrk"]["requests"]]),
            "rounds_requests_per_s": rps,
            "spread_pct": 100 * (max(rps) - min(rps)) / 2 / statistics.median(rps),
            "errors": errors,
            "errors_total": sum(errors.values()),
            "cold_requests_max": max(cold),
            "cold_resident_before_max": max((r["cold_resident_before"] or 0) for r in mine),
        }
    nginx = [summary[w][s] for s in ("nginx-sendfile", "nginx-aio") if s in summary[w]]
    best_rps = max((n["requests_per_s"] for n in nginx), default=None)
    best_p99 = min((n["p99_ms"] for n in nginx), default=None)
    for row in summary[w].values():
        row["rps_vs_best_nginx"] = row["requests_per_s"] / best_rps if best_rps else None
        row["p99_vs_best_nginx"] = row["p99_ms"] / best_p99 if best_p99 else None

out = []
out.append("setup: %d CPU(s) (%s), kernel %s, %s, wrk %s; tree on %s; no pinning: wrk and the "
           "servers share the CPUs" % (setup["cpus"], setup["cpu_model"], setup["kernel"], setup["nginx"],
                                       setup["wrk"], setup["tree_fs"], ))
if setup["ringfile_serve"]:
    out.append("ringfile-serve: %s (checkout at %s)" % (setup["ringfile_serve"], setup["ringfile_serve_commit"]))
    out.extend("  " + line for line in setup["ringfile_serve_says"])
out.append("%d worker(s) per server; wrk -t %d -c %d -d %ds --latency, %d round(s) interleaved, medians; "
           "+- is half the range of the rounds' req/s; CPU us is the server's CPU time (user + system, all its "
           "processes and threads) per request; MiB/s counts response bytes with headers; ratios are against the nginx with more req/s "
           "(req/s) and the one with the lower p99 (p99)"
           % (setup["workers"], setup["wrk_threads"], setup["connections"], setup["duration_s"], setup["rounds"]))
for w in workloads:
    out.append("")
    out.append(titles[w])
    out.append("%-20s %10s %5s %9s %9s %9s %8s %12s %10s  %s" % (
        "server", "req/s", "+-", "MiB/s", "p50 ms", "p99 ms", "CPU us", "req/s ratio", "p99 ratio", "errors"))
    for s, row in summary[w].items():
        fmt = lambda v: "-" if v is None else "%.2fx" % v
        flag = "" if row["errors_total"] == 0 else "%d  <- NOT VALID: %s" % (
            row["errors_total"], ", ".join("%s %d" % kv for kv in row["errors"].items() if kv[1]))
        cpu = row["server_cpu_us_per_request"]
        out.append("%-20s %10.0f %4.0f%% %9.1f %9.2f %9.2f %8s %12s %10s  %s" % (
            s, row["requests_per_s"], row["spread_pct"], row["mib_per_s"], row["p50_ms"], row["p99_ms"],
            "-" if cpu is None else "%.1f" % cpu,
            fmt(row["rps_vs_best_nginx"]), fmt(row["p99_vs_best_nginx"]), flag or "0"))
    if w == "cold-mix" and summary[w]:
        worst = max(r["cold_requests_max"] for r in summary[w].values())
        resident = max(r["cold_resident_before_max"] for r in summary[w].values())
        out.append("  cold files resident after the drop: up to %.1f%%; cold requests per run: up to %d "
                   "(of %d files%s)" % (100 * resident, worst, setup["cold_files"],
                                         "" if worst <= setup["cold_files"] else
                                         ": the rest hit files already read in that run"))

verdicts = []
def verdict(workload, target, row, ok, measured):
    target = "%s: %s" % (workload, target)
    if row is None:
        return {"target": target, "result": "not measured", "measured": measured}
    if row["errors_total"]:
        return {"target": target, "result": "missed (errors)", "measured": measured}
    if any(summary[workload][s]["errors_total"] for s in ("nginx-sendfile", "nginx-aio")
           if s in summary[workload]):
        return {"target": target, "result": "not valid (nginx errors)", "measured": measured}
    return {"target": target, "result": "met" if ok else "missed", "measured": measured}

uring = "ringfile-io_uring"
for w in ("hot-4k", "hot-64k", "hot-1m"):
    if w not in summary:
        continue
    row = summary[w].get(uring)
    ratio = row and row["rps_vs_best_nginx"]
    verdicts.append(verdict(w, "ringfile-serve io_uring req/s >= 1.0x the faster nginx",
                            row if ratio is not None else None, ratio is not None and ratio >= 1.0,
                            "%.2fx" % ratio if ratio is not None else "-"))
if "cold-mix" in summary:
    row = summary["cold-mix"].get(uring)
    rr = row and row["rps_vs_best_nginx"]
    pr = row and row["p99_vs_best_nginx"]
    have = rr is not None and pr is not None
    verdicts.append(verdict("cold-mix", "ringfile-serve io_uring p99 <= the better nginx p99",
                            row if have else None, have and pr <= 1.0, "%.2fx" % pr if have else "-"))
    verdicts.append(verdict("cold-mix", "ringfile-serve io_uring req/s >= the better nginx req/s",
                            row if have else None, have and rr >= 1.0, "%.2fx" % rr if have else "-"))
out.append("")
out.append("targets (as measured in this run):")
for v in verdicts:
    out.append("  %-66s %-8s %s" % (v["target"], v["measured"], v["result"]))
tp = "ringfile-threadpool"
for w in workloads:
    row = summary[w].get(tp)
    if row and row["rps_vs_best_nginx"] is not None:
        out.append("  (threadpool engine, %s: req/s %.2fx, p99 %.2fx the better nginx)"
                   % (w, row["rps_vs_best_nginx"], row["p99_vs_best_nginx"]))
print("\n".join(out), file=sys.stderr if json_path == "-" else sys.stdout)

doc = {"setup": setup, "summary": summary, "verdicts": verdicts, "runs": runs}
if json_path == "-":
    json.dump(doc, sys.stdout, indent=1)
    print()
elif json_path:
    with open(json_path, "w") as f:
        json.dump(doc, f, indent=1)
        f.write("\n")
EOF
