#!/usr/bin/env bash
# O_DIRECT random reads on one file, fio beside ringfile-bench: fio's io_uring
# engine against ringfile's io_uring engine at the same depth, and fio's psync
# against ringfile-bench's pread loop, with the same file, block size and time.
# Rounds alternate the tools so drift on a shared machine hits both alike; the
# median of the rounds is reported.
#
#   bench/fio_compare.sh [--file PATH] [--size 256M] [--bs 4k] [--qd 32] [--time 3]
#                        [--rounds 3] [--bench PATH/TO/ringfile-bench]
#
# Needs fio (apt-get install fio) and python3 (to read the JSON both tools print).
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
file=./ringfile-bench.dat
size=256M
bs=4k
qd=32
time=3
rounds=3
bench=${RINGFILE_BENCH:-}

die() { echo "fio_compare.sh: $*" >&2; exit 2; }

while [ $# -gt 0 ]; do
  case $1 in
    --file) file=$2; shift 2 ;;
    --size) size=$2; shift 2 ;;
    --bs) bs=$2; shift 2 ;;
    --qd) qd=$2; shift 2 ;;
    --time) time=$2; shift 2 ;;
    --rounds) rounds=$2; shift 2 ;;
    --bench) bench=$2; shift 2 ;;
    -h|--help) sed -n '2,13p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) die "unknown argument '$1' (see --help)" ;;
  esac
done
[[ $qd =~ ^[0-9]+$ && $qd -ge 1 ]] || die "--qd: expected a positive integer, got '$qd'"
[[ $rounds =~ ^[0-9]+$ && $rounds -ge 1 ]] || die "--rounds: expected a positive integer, got '$rounds'"

command -v fio >/dev/null || die "fio not found (apt-get install fio)"
command -v python3 >/dev/null || die "python3 not found"
if [ -z "$bench" ]; then
  for candidate in "$here"/../build*/bench/ringfile-bench; do
    if [ -x "$candidate" ]; then bench=$candidate; break; fi
  done
fi
[ -n "$bench" ] || bench=$(command -v ringfile-bench || true)
[ -x "$bench" ] || die "ringfile-bench not found: build it (meson, ninja) or pass --bench PATH"

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

# ringfile-bench creates the file (random bytes, synced) if it is not there yet.
"$bench" --file "$file" --size "$size" --bs "$bs" --qd 1 --time 0.05 --direct --engine pread --json \
  >/dev/null 2>"$work/setup.err" || { cat "$work/setup.err" >&2; die "ringfile-bench could not set up $file"; }

fio_run() {  # engine depth output
  fio --name=ringfile-compare --filename="$file" --size="$size" --rw=randread --bs="$bs" --direct=1 \
      --ioengine="$1" --iodepth="$2" --runtime="$time" --time_based --ramp_time=200ms --norandommap \
      --randrepeat=0 --invalidate=0 --output-format=json >"$3" 2>"$work/fio.err" ||
    { cat "$work/fio.err" >&2; die "fio --ioengine=$1 failed"; }
}

echo "O_DIRECT randread bs=$bs qd=$qd, ${time}s per run, $rounds round(s), file $file ($size)" >&2
for ((r = 1; r <= rounds; r++)); do
  echo "round $r/$rounds: fio io_uring, ringfile-bench io_uring+pread, fio psync" >&2
  fio_run io_uring "$qd" "$work/fio_uring.$r.json"
  "$bench" --file "$file" --size "$size" --bs "$bs" --qd "$qd" --time "$time" --direct \
    --engine io_uring,pread --json >"$work/ringfile.$r.jsonl" 2>"$work/ringfile.err" ||
    { cat "$work/ringfile.err" >&2; die "ringfile-bench failed"; }
  fio_run psync 1 "$work/fio_psync.$r.json"
done

python3 - "$work" "$rounds" "$qd" <<'EOF'
import json, statistics, sys

work, rounds, qd = sys.argv[1], int(sys.argv[2]), sys.argv[3]

def fio_iops(path):
    with open(path) as f:
        text = f.read()
    return json.loads(text[text.index("{"):])["jobs"][0]["read"]["iops"]

series = {"fio io_uring": [], "ringfile io_uring": [], "fio psync": [], "ringfile pread": []}
for r in range(1, rounds + 1):
    series["fio io_uring"].append(fio_iops(f"{work}/fio_uring.{r}.json"))
    series["fio psync"].append(fio_iops(f"{work}/fio_psync.{r}.json"))
    with open(f"{work}/ringfile.{r}.jsonl") as f:
        for line in f:
            case = json.loads(line)
            series["ringfile " + case["engine"]].append(case["iops"])

if not series["ringfile io_uring"]:
    print("ringfile io_uring engine did not run (io_uring unavailable?); see ringfile-bench's stderr",
          file=sys.stderr)
    series["ringfile io_uring"] = [float("nan")]

med = {k: statistics.median(v) for k, v in series.items()}
for name, values in series.items():
    rounds_text = " ".join(f"{v / 1e3:.1f}" for v in values)
    depth = "1" if name in ("fio psync", "ringfile pread") else qd
    print(f"{name:<18} qd {depth:>3}  {med[name] / 1e3:8.1f} kIOPS (median; rounds: {rounds_text})")
ratio_fio = med["ringfile io_uring"] / med["fio io_uring"]
ratio_pread = med["ringfile io_uring"] / med["ringfile pread"]
print(f"ringfile io_uring / fio io_uring = {ratio_fio:.3f}  (target >= 0.97)")
print(f"ringfile io_uring / ringfile pread = {ratio_pread:.2f}  (target >= 4)")
print(f"fio psync / ringfile pread = {med['fio psync'] / med['ringfile pread']:.3f}  (the two blocking loops)")
EOF
