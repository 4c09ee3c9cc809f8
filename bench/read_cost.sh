#!/usr/bin/env bash
# Instructions per cached 4 KiB read through the public API, counted by callgrind:
# ringfile-read-cost runs at two read counts and the difference is divided by the
# difference in reads, so set-up and teardown cancel out. Every thread is counted
# (a thread-pool worker's share too). Repeatable on any machine, unlike a timing.
#
#   bench/read_cost.sh [--bin build/bench/ringfile-read-cost] [--qd 1,32] [--engine io_uring,threadpool]
#
# Needs valgrind (apt-get install valgrind). Use a release build (-Dbuildtype=release).
set -euo pipefail

bin=build/bench/ringfile-read-cost
qds=1,32
engines=io_uring,threadpool
small=2000
large=12000

die() { echo "read_cost.sh: $*" >&2; exit 2; }
while [ $# -gt 0 ]; do
  case $1 in
    --bin) bin=$2; shift 2 ;;
    --qd) qds=$2; shift 2 ;;
    --engine) engines=$2; shift 2 ;;
    -h|--help) sed -n '2,9p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) die "unknown option $1" ;;
  esac
done
[ -x "$bin" ] || die "no $bin: build first (meson setup build -Dbuildtype=release && ninja -C build)"
command -v valgrind >/dev/null || die "valgrind is not installed"

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

# Total instructions of one run, all threads.
instructions() {
  local out=$work/cg.out
  valgrind --tool=callgrind --callgrind-out-file="$out" "$bin" --engine "$1" --qd "$2" --reads "$3" \
    --file "$work/data" >/dev/null 2>&1 || die "ringfile-read-cost --engine $1 --qd $2 failed"
  awk '/^(summary|totals):/ { print $2; exit }' "$out"
}

printf '%-11s %4s %14s\n' engine qd instr/read
for engine in ${engines//,/ }; do
  for qd in ${qds//,/ }; do
    a=$(instructions "$engine" "$qd" "$small")
    b=$(instructions "$engine" "$qd" "$large")
    printf '%-11s %4s %14s\n' "$engine" "$qd" "$(( (b - a) / (large - small) ))"
  done
done
