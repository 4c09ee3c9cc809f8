// ringfile-bench: io_uring vs thread offload vs plain pread on this machine's disk,
// same workload, one run, with the method printed beside the numbers.

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cctype>
#include <cstdlib>
#include <fstream>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <fcntl.h>
#include <sys/resource.h>
#include <sys/utsname.h>
#include <unistd.h>

#include "bench_support.hpp"
#include "device_flushes.hpp"
#include "ringfile/ringfile.hpp"
#include "runners.hpp"
#include "stall.hpp"

namespace ringfile::bench {
namespace {

constexpr const char* kDefaultFile = "ringfile-bench.dat";
constexpr double kDirectPassSeconds = 1.0;
constexpr double kMinRoundSeconds = 0.25;

struct UsageError {
  std::string message;
};

struct Options {
  std::string file;
  bool file_given = false;
  std::uint64_t size = 256ull << 20;
  std::vector<std::string> engines;
  Rw rw = Rw::RandRead;
  std::size_t bs = 4096;
  std::vector<unsigned> qds{1, 32};
  double seconds = 2.0;
  std::optional<bool> direct;  // unset: the cached pass, then a short O_DIRECT pass
  std::vector<std::string> fsyncs{"0"};  // each "N" or "group": one set of cases each
  bool json = false;
  bool stall = false;
  bool realtime = false;
  bool qd_given = false;
  unsigned rounds = 4;
  std::optional<bool> fast_path;  // ringfile engines' cached-read fast path; unset: library default
};

void print_help() {
  std::printf(
      "usage: ringfile-bench [--file PATH] [--size 256M] [--engine LIST|all] [--rw RW] [--bs 4k]\n"
      "                      [--qd 1,8,32] [--time 2] [--rounds 4] [--direct[=0|1]] [--fsync LIST]\n"
      "                      [--fast-path=0|1] [--json] [--stall [--rt]] [--help]\n"
      "fio's spellings work too: --filename (--file), --ioengine (--engine), --iodepth (--qd),\n"
      "--runtime (--time; 30, 30s, 500ms, 2m), --output-format=json|normal (--json), --direct=0|1.\n"
      "\n"
      "Runs the same workload on each engine from one thread, keeping QD ops in flight, and prints\n"
      "throughput, latency and CPU cost side by side. With no arguments: a 256 MiB file of random bytes\n"
      "(created in the current directory, or $TMPDIR, and reused), warmed into the page cache; 4 KiB\n"
      "random reads at QD 1 and 32 on every engine, 2 s each; then a 1 s-per-case O_DIRECT pass.\n"
      "\n"
      "  --file PATH     (--filename) the file (default ./%s, or $TMPDIR/%s if . is read-only);\n"
      "                  one at least --size long is reused, otherwise it is written with random bytes\n"
      "  --size N        bytes the ops cover (suffixes k, M, G: powers of 1024); default 256M\n"
      "  --engine LIST   (--ioengine) comma-separated engines, or all (default)\n"
      "  --rw RW         randread (default), randwrite, read, write, randrw (50%% writes)\n"
      "  --bs N          op size (default 4k); a multiple of 512 with --direct\n"
      "  --qd LIST       (--iodepth) queue depths, comma-separated (default 1,32)\n"
      "  --time S        (--runtime) measured seconds per case (default 2); s, ms or m may follow\n"
      "  --rounds N      split each case's time into up to N rounds (at least 0.25 s each) run\n"
      "                  round-robin over the engines, so drift hits all alike (default 4)\n"
      "  --direct[=1]    O_DIRECT only; --direct=0: page cache only; default: both\n"
      "  --fsync LIST    comma-separated: N = fsync after every N writes; group = every write durable\n"
      "                  through File::write_durable (group commit) on ringfile's engines, and on pread\n"
      "                  the ideal group commit: qd pwrites, then one fdatasync for them (the ceiling).\n"
      "                  Each value is its own set of cases in the same run, e.g. --fsync 1,group\n"
      "  --fast-path=0|1 turn ringfile's cached-read fast path off/on (default: the library's)\n"
      "  --json          (--output-format=json) one JSON object per case on stdout, nothing else there\n"
      "  --stall         the event-loop stall benchmark instead (1 ms timer, 64 reads in flight)\n"
      "  --rt            with --stall: run the loop thread SCHED_FIFO, so other load on a shared\n"
      "                  machine doesn't count as lateness (needs root or CAP_SYS_NICE)\n"
      "  --help          this text\n"
      "\nengines:\n",
      kDefaultFile, kDefaultFile);
  for (const auto& e : engine_list()) std::printf("  %-11s %s\n", e.name, e.what);
}

std::vector<std::string> split(std::string_view s) {
  std::vector<std::string> out;
  while (true) {
    auto comma = s.find(',');
    out.emplace_back(s.substr(0, comma));
    if (comma == std::string_view::npos) break;
    s.remove_prefix(comma + 1);
  }
  return out;
}

std::uint64_t parse_size(const std::string& opt, const std::string& s) {
  char* end = nullptr;
  errno = 0;
  unsigned long long v = std::strtoull(s.c_str(), &end, 10);
  if (end == s.c_str() || errno != 0 || s[0] == '-') throw UsageError{opt + ": not a size: '" + s + "'"};
  std::string suffix(end);
  std::transform(suffix.begin(), suffix.end(), suffix.begin(), [](unsigned char c) { return std::tolower(c); });
  unsigned shift = 0;
  if (suffix.empty() || suffix == "b") shift = 0;
  else if (suffix == "k" || suffix == "kb" || suffix == "kib") shift = 10;
  else if (suffix == "m" || suffix == "mb" || suffix == "mib") shift = 20;
  else if (suffix == "g" || suffix == "gb" || suffix == "gib") shift = 30;
  else throw UsageError{opt + ": unknown size suffix in '" + s + "'"};
  if (v > (~0ull >> shift)) throw UsageError{opt + ": too large: '" + s + "'"};
  return v << shift;
}

unsigned parse_uint(const std::string& opt, const std::string& s, unsigned lo, unsigned hi) {
  char* end = nullptr;
  errno = 0;
  long long v = std::strtoll(s.c_str(), &end, 10);
  if (s.empty() || *end != '\0' || errno != 0 || v < lo || v > hi) {
    throw UsageError{opt + ": expected an integer in " + std::to_string(lo) + ".." + std::to_string(hi) +
                     ", got '" + s + "'"};
  }
  return static_cast<unsigned>(v);
}

// Seconds, with fio's suffixes: "2", "2s", "500ms", "1m"; within (0, 3600].
double parse_seconds(const std::string& v) {
  char* end = nullptr;
  const double t = std::strtod(v.c_str(), &end);
  const std::string suffix = end ? end : "";
  const double scale = suffix.empty() || suffix == "s" ? 1 : suffix == "ms" ? 1e-3 : suffix == "m" ? 60 : 0;
  const double seconds = t * scale;
  if (v.empty() || end == v.c_str() || scale == 0 || !(seconds > 0) || seconds > 3600) {
    throw UsageError{"--time: expected seconds in (0, 3600] (suffix s, ms or m), got '" + v + "'"};
  }
  return seconds;
}

// pread and preadv2: the blocking loops on the calling thread.
bool is_pread_loop(const std::string& engine) { return engine == "pread" || engine == "preadv2"; }

bool any_fsync(const Options& o) {
  return std::any_of(o.fsyncs.begin(), o.fsyncs.end(), [](const std::string& f) { return f != "0"; });
}

Options parse_args(int argc, char** argv, bool& help) {
  Options o;
  help = false;
  for (int i = 1; i < argc; ++i) {
    std::string arg = argv[i];
    std::optional<std::string> inline_value;
    if (auto eq = arg.find('='); arg.rfind("--", 0) == 0 && eq != std::string::npos) {
      inline_value = arg.substr(eq + 1);
      arg.resize(eq);
    }
    auto value = [&]() -> std::string {
      if (inline_value) return *inline_value;
      if (i + 1 >= argc) throw UsageError{arg + " needs a value"};
      return argv[++i];
    };
    auto no_value = [&] {
      if (inline_value) throw UsageError{arg + " takes no value"};
    };
    // fio's spellings of the same options.
    if (arg == "--filename") arg = "--file";
    else if (arg == "--ioengine") arg = "--engine";
    else if (arg == "--iodepth") arg = "--qd";
    else if (arg == "--runtime") arg = "--time";
    if (arg == "--help" || arg == "-h") {
      no_value();
      help = true;
    } else if (arg == "--file") {
      o.file = value();
      o.file_given = true;
      if (o.file.empty()) throw UsageError{"--file: empty path"};
    } else if (arg == "--size") {
      o.size = parse_size(arg, value());
    } else if (arg == "--engine") {
      o.engines = split(value());
    } else if (arg == "--rw") {
      std::string v = value();
      if (!parse_rw(v, o.rw)) throw UsageError{"--rw: unknown workload '" + v + "'"};
    } else if (arg == "--bs") {
      std::uint64_t bs = parse_size(arg, value());
      if (bs == 0 || bs > (64u << 20)) throw UsageError{"--bs: must be between 1 and 64M"};
      o.bs = static_cast<std::size_t>(bs);
    } else if (arg == "--qd") {
      o.qds.clear();
      for (const auto& q : split(value())) o.qds.push_back(parse_uint("--qd", q, 1, 4096));
      o.qd_given = true;
    } else if (arg == "--time") {
      o.seconds = parse_seconds(value());
    } else if (arg == "--direct") {
      if (!inline_value) {
        o.direct = true;
      } else if (*inline_value == "1" || *inline_value == "0") {
        o.direct = *inline_value == "1";
      } else {
        throw UsageError{"--direct: expected 0 or 1, got '" + *inline_value + "'"};
      }
    } else if (arg == "--rounds") {
      o.rounds = parse_uint(arg, value(), 1, 1000);
    } else if (arg == "--fast-path") {
      std::string v = value();
      if (v != "0" && v != "1") throw UsageError{"--fast-path: expected 0 or 1, got '" + v + "'"};
      o.fast_path = v == "1";
    } else if (arg == "--fsync") {
      o.fsyncs = split(value());
      for (const auto& f : o.fsyncs) {
        if (f != "group") parse_uint(arg, f, 0, 1u << 30);
      }
    } else if (arg == "--json") {
      no_value();
      o.json = true;
    } else if (arg == "--output-format") {
      const std::string v = value();
      if (v != "json" && v != "normal") throw UsageError{"--output-format: json or normal, got '" + v + "'"};
      o.json = v == "json";
    } else if (arg == "--stall") {
      no_value();
      o.stall = true;
    } else if (arg == "--rt") {
      no_value();
      o.realtime = true;
    } else {
      throw UsageError{"unknown argument '" + std::string(argv[i]) + "' (see --help)"};
    }
  }
  if (help) return o;

  std::vector<std::string> built;
  for (const auto& e : engine_list()) {
    if (e.built) built.emplace_back(e.name);
  }
  const bool engines_given = !o.engines.empty() && !(o.engines.size() == 1 && o.engines[0] == "all");
  if (!engines_given) {
    o.engines = built;
  } else {
    for (const auto& name : o.engines) {
      auto it = std::find_if(engine_list().begin(), engine_list().end(),
                             [&](const EngineInfo& e) { return name == e.name; });
      if (it == engine_list().end()) throw UsageError{"--engine: unknown engine '" + name + "'"};
      if (!it->built) throw UsageError{"--engine: " + name + " is not built into this binary: " + it->what};
    }
  }
  if (o.stall) {
    std::vector<std::string> kept;
    for (const auto& name : o.engines) {
      if (is_pread_loop(name) || name == "threadpool" || name == "io_uring") kept.push_back(name);
      else if (engines_given) throw UsageError{"--stall: runs pread, preadv2, threadpool and io_uring, not " + name};
    }
    o.engines = kept;
  }
  if (o.direct.value_or(false) && o.bs % 512 != 0) {
    throw UsageError{"--bs: " + std::to_string(o.bs) + " is not a multiple of 512, which --direct needs"};
  }
  if (o.size < o.bs) throw UsageError{"--size: smaller than one block of --bs"};
  const bool syncing = any_fsync(o);
  if (syncing && !writes(o.rw)) throw UsageError{"--fsync: needs a write workload (--rw)"};
  if (syncing && o.stall) throw UsageError{"--fsync: not with --stall"};
  if (o.realtime && !o.stall) throw UsageError{"--rt: only with --stall"};
  if (o.stall && !o.qd_given) o.qds = {64};
  if (o.stall && o.qds.size() != 1) throw UsageError{"--stall: takes a single --qd"};
  if (o.stall && o.bs % 512 != 0) throw UsageError{"--stall: --bs must be a multiple of 512 (O_DIRECT)"};
  if (!o.file_given) o.file = default_file_path(kDefaultFile);
  return o;
}

struct CaseResult {
  std::string engine;
  Workload w;
  // Sums over the case's rounds.
  double seconds = 0;
  std::uint64_t ops = 0;
  double cpu_us = 0;
  double ctx = 0;
  std::int64_t syscalls = 0;  // negative once any round could not count them
  std::int64_t flushes = 0;   // device flushes; negative when not counted
  Histogram histogram;
  std::vector<double> round_iops;
  // Derived by finish().
  double iops = 0;
  double mib_s = 0;
  double ns_per_op = 0;
  double p50_us = 0;
  double p99_us = 0;
  double ctx_per_op = 0;
  double cpu_us_per_op = 0;
  double sys_per_op = -1;
  double flushes_per_op = -1;
  double spread = 0;  // (max - min) / 2 / mean of the rounds' IOPS
  std::string error;
  std::string notes;
};

struct Usage {
  double cpu_us;
  double ctx;
};

Usage usage_now() {
  rusage ru{};
  ::getrusage(RUSAGE_SELF, &ru);
  auto us = [](const timeval& t) { return static_cast<double>(t.tv_sec) * 1e6 + static_cast<double>(t.tv_usec); };
  return {us(ru.ru_utime) + us(ru.ru_stime), static_cast<double>(ru.ru_nvcsw + ru.ru_nivcsw)};
}

// Durable writes: the cases whose device flushes are counted.
bool syncs(const Workload& w) { return writes(w.rw) && (w.fsync_group || w.fsync_every != 0); }

// One round of a case: a fresh engine, a short warm-up, then `seconds` measured.
void run_round(CaseResult& c, double seconds, std::optional<bool> fast_path, const DeviceFlushes& device) {
  auto runner = make_runner(c.engine, fast_path);
  if (!runner) {
    c.error = "not built";
    return;
  }
  if (auto err = runner->open(c.w); !err.empty()) {
    c.error = err;
    return;
  }
  // Warm-up: threads started, rings and pools filled, caches hot.
  const double warm = std::min(0.2, seconds / 4);
  {
    Pace pace(~0ull, now_ns() + static_cast<std::uint64_t>(warm * 1e9), nullptr);
    runner->run(pace);
    if (!pace.error().empty()) {
      c.error = pace.error();
      return;
    }
  }
  Histogram histogram;
  const bool count_flushes = syncs(c.w) && c.flushes >= 0;
  const auto flushes0 = count_flushes ? device.count() : std::nullopt;
  const std::int64_t sys0 = runner->syscalls();
  const Usage u0 = usage_now();
  const std::uint64_t t0 = now_ns();
  Pace pace(~0ull, t0 + static_cast<std::uint64_t>(seconds * 1e9), &histogram);
  runner->run(pace);
  const std::uint64_t t1 = now_ns();
  const Usage u1 = usage_now();
  const std::int64_t sys1 = runner->syscalls();
  const auto flushes1 = count_flushes ? device.count() : std::nullopt;
  runner->drain();
  if (!pace.error().empty()) {
    c.error = pace.error();
    return;
  }
  if (c.notes.empty()) c.notes = runner->notes();
  const double secs = static_cast<double>(t1 - t0) / 1e9;
  c.seconds += secs;
  c.ops += pace.ops();
  c.cpu_us += u1.cpu_us - u0.cpu_us;
  c.ctx += u1.ctx - u0.ctx;
  if (sys0 < 0 || sys1 < 0 || c.syscalls < 0) c.syscalls = -1;
  else c.syscalls += sys1 - sys0;
  if (flushes0 && flushes1) c.flushes += static_cast<std::int64_t>(*flushes1 - *flushes0);
  else c.flushes = -1;
  c.histogram.merge(histogram);
  c.round_iops.push_back(static_cast<double>(pace.ops()) / secs);
}

void finish(CaseResult& c) {
  if (!c.error.empty()) return;
  if (c.ops == 0) {
    c.error = "no op completed";
    return;
  }
  const auto ops = static_cast<double>(c.ops);
  c.iops = ops / c.seconds;
  c.mib_s = c.iops * static_cast<double>(c.w.bs) / (1 << 20);
  c.ns_per_op = c.seconds * 1e9 / ops;
  c.p50_us = c.histogram.quantile(0.50) / 1e3;
  c.p99_us = c.histogram.quantile(0.99) / 1e3;
  c.ctx_per_op = c.ctx / ops;
  c.cpu_us_per_op = c.cpu_us / ops;
  if (c.syscalls >= 0) c.sys_per_op = static_cast<double>(c.syscalls) / ops;
  if (c.flushes >= 0 && syncs(c.w)) c.flushes_per_op = static_cast<double>(c.flushes) / ops;
  auto [lo, hi] = std::minmax_element(c.round_iops.begin(), c.round_iops.end());
  c.spread = (*hi - *lo) / 2 / c.iops;
}

std::string bs_text(std::size_t bs) {
  if (bs % (1u << 20) == 0) return std::to_string(bs >> 20) + "M";
  if (bs % 1024 == 0) return std::to_string(bs >> 10) + "k";
  return std::to_string(bs);
}

void print_json(const CaseResult& r) {
  char flushes[32] = "null";
  if (r.flushes_per_op >= 0) std::snprintf(flushes, sizeof flushes, "%.4f", r.flushes_per_op);
  std::printf(
      "{\"engine\": \"%s\", \"rw\": \"%s\", \"bs\": %zu, \"qd\": %u, \"direct\": %s, \"seconds\": %.3f, "
      "\"ops\": %llu, \"iops\": %.1f, \"mib_s\": %.2f, \"ns_per_op\": %.1f, \"p50_us\": %.2f, "
      "\"p99_us\": %.2f, \"ctx_switches_per_op\": %.4f, \"cpu_us_per_op\": %.3f, \"fsync\": \"%s\", "
      "\"device_flushes_per_op\": %s}\n",
      r.engine.c_str(), to_string(r.w.rw), r.w.bs, r.w.qd, r.w.direct ? "true" : "false", r.seconds,
      static_cast<unsigned long long>(r.ops), r.iops, r.mib_s, r.ns_per_op, r.p50_us, r.p99_us, r.ctx_per_op,
      r.cpu_us_per_op, fsync_text(r.w).c_str(), flushes);
  std::fflush(stdout);
}

// The pread loops' qd: one op at a time (*), or with --fsync group batches of qd ops per fdatasync (#).
std::string qd_text(const CaseResult& r) {
  std::string qd = std::to_string(r.w.qd);
  if (!is_pread_loop(r.engine) || r.w.qd == 1) return qd;
  return qd + (r.w.fsync_group ? "#" : "*");
}

// Tables of durable-write cases get a flush/op column; the others keep their format.
void print_table(const std::vector<CaseResult>& results) {
  const bool flush_column = std::any_of(results.begin(), results.end(), [](const CaseResult& r) { return syncs(r.w); });
  std::printf("%-11s %-9s %4s %4s %5s %8s %6s %8s %8s %8s %8s %7s %8s %7s%s\n", "engine", "rw", "bs", "qd", "fsync",
              "kIOPS", "+-", "MiB/s", "ns/op", "p50 us", "p99 us", "cs/op", "CPUus/op", "sys/op",
              flush_column ? " flush/op" : "");
  for (const auto& r : results) {
    const std::string qd = qd_text(r);
    if (!r.error.empty()) {
      std::printf("%-11s %-9s %4s %4s %5s   skipped: %s\n", r.engine.c_str(), to_string(r.w.rw),
                  bs_text(r.w.bs).c_str(), qd.c_str(), fsync_text(r.w).c_str(), r.error.c_str());
      continue;
    }
    char sys[16] = "-";
    if (r.sys_per_op >= 0) std::snprintf(sys, sizeof sys, "%.2f", r.sys_per_op);
    char spread[16] = "-";
    if (r.round_iops.size() > 1) std::snprintf(spread, sizeof spread, "%.0f%%", r.spread * 100);
    char flushes[24] = "";
    if (flush_column) {
      if (r.flushes_per_op >= 0) std::snprintf(flushes, sizeof flushes, " %8.3f", r.flushes_per_op);
      else std::snprintf(flushes, sizeof flushes, " %8s", "-");
    }
    std::printf("%-11s %-9s %4s %4s %5s %8.1f %6s %8.1f %8.0f %8.2f %8.2f %7.3f %8.2f %7s%s\n", r.engine.c_str(),
                to_string(r.w.rw), bs_text(r.w.bs).c_str(), qd.c_str(), fsync_text(r.w).c_str(), r.iops / 1e3, spread, r.mib_s, r.ns_per_op,
                r.p50_us, r.p99_us, r.ctx_per_op, r.cpu_us_per_op, sys, flushes);
  }
  if (std::any_of(results.begin(), results.end(), [](const CaseResult& r) { return qd_text(r).back() == '#'; })) {
    std::printf("# pread fsync=group: qd pwrites back to back, then one fdatasync for all of them; each write's\n"
                "  latency ends when that fdatasync returns. The ideal group commit from one thread: the ceiling.\n");
  }
}

// "QD32: io_uring 1.02x liburing, 2.10x threadpool, ..." for each depth; with
// several --fsync values, "QD32: io_uring fsync=group 4.8x io_uring fsync=1, ...,
// 0.92x pread fsync=group": group commit against one sync per write and against
// the ideal group commit (pread's batches).
void print_verdicts(const std::vector<CaseResult>& results, const std::vector<unsigned>& qds) {
  auto label = [](const CaseResult& r, bool with_fsync) {
    return with_fsync ? r.engine + " fsync=" + fsync_text(r.w) : r.engine;
  };
  for (unsigned qd : qds) {
    std::vector<const CaseResult*> at;
    for (const auto& r : results) {
      if (r.w.qd == qd && r.error.empty()) at.push_back(&r);
    }
    if (at.size() < 2) continue;
    const bool with_fsync = std::any_of(at.begin(), at.end(), [&](auto* r) { return fsync_text(r->w) != fsync_text(at[0]->w); });
    std::vector<const CaseResult*> subjects;
    for (const char* preferred : {"threadpool", "io_uring"}) {
      for (const auto* r : at) {
        if (r->engine == preferred && (!with_fsync || r->w.fsync_group)) subjects.push_back(r);
      }
    }
    if (subjects.empty()) subjects.push_back(at[0]);
    if (!with_fsync) subjects.erase(subjects.begin(), subjects.end() - 1);
    for (const CaseResult* subject : subjects) {
      std::string line = "QD" + std::to_string(qd) + ": " + label(*subject, with_fsync);
      bool first = true;
      for (const auto* r : at) {
        if (r == subject || (with_fsync && r->w.fsync_group && !is_pread_loop(r->engine))) continue;
        char buf[96];
        std::snprintf(buf, sizeof buf, "%s %.2fx %s", first ? "" : ",", subject->iops / r->iops,
                      label(*r, with_fsync).c_str());
        line += buf;
        first = false;
      }
      const CaseResult* best =
          *std::max_element(at.begin(), at.end(), [](auto* a, auto* b) { return a->iops < b->iops; });
      line += "; fastest: " + label(*best, with_fsync);
      std::printf("  %s\n", line.c_str());
    }
  }
}

std::string cpu_model() {
  std::ifstream in("/proc/cpuinfo");
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind("model name", 0) == 0) {
      auto colon = line.find(':');
      if (colon != std::string::npos) return line.substr(colon + 2);
    }
  }
  return "unknown CPU";
}

struct Pass {
  bool direct;
  double seconds;
  std::string skipped;  // why it didn't run
  std::vector<CaseResult> results;
};

// Why O_DIRECT can't run on this file, or empty when it can.
std::string direct_problem(const Options& o) {
  if (o.bs % 512 != 0) return "--bs " + std::to_string(o.bs) + " is not a multiple of 512";
  int fd = ::open(o.file.c_str(), O_RDONLY | O_DIRECT | O_CLOEXEC);
  if (fd < 0) return "open(O_DIRECT) failed on this filesystem: " + errno_text(errno);
  ::close(fd);
  return {};
}

int run(const Options& o) {
  PreparedFile file = prepare_file(o.file, o.size);
  if (!file.error.empty()) {
    std::fprintf(stderr, "ringfile-bench: %s\n", file.error.c_str());
    return 2;
  }
  std::fprintf(stderr, "file: %s (%llu MiB of random bytes, %s)\n", file.path.c_str(),
               static_cast<unsigned long long>(o.size >> 20), file.created ? "created" : "reused");

  Workload base;
  base.path = o.file;
  base.size = o.size;
  base.bs = o.bs;
  base.rw = o.rw;
  if (o.stall) {
    base.qd = o.qds[0];
    StallOptions so;
    so.seconds = o.seconds;
    so.json = o.json;
    so.fast_path = o.fast_path;
    so.direct = o.direct;
    so.engines = o.engines;
    so.realtime = o.realtime;
    return run_stall(base, so);
  }

  std::vector<Pass> passes;
  if (!o.direct.value_or(false)) passes.push_back({false, o.seconds, {}, {}});
  if (o.direct.value_or(true)) {
    double secs = o.direct ? o.seconds : std::min(o.seconds, kDirectPassSeconds);
    passes.push_back({true, secs, direct_problem(o), {}});
  }

  double resident = -1;
  if (!passes.front().direct) {
    resident = warm_page_cache(o.file, o.size);
    std::fprintf(stderr, "page cache: warmed, %.0f%% of the file resident\n", resident * 100);
  }

  // Whether io_uring is available, and if not, why Auto would fall back.
  std::string uring_problem;
  std::string auto_describe;
  {
    EngineOptions eo;
    eo.backend = Backend::IoUring;
    if (auto e = Engine::create(eo); !e) uring_problem = e.error().message();
    if (auto a = Engine::create(EngineOptions{})) {
      auto_describe = a->describe();
      if (!a->fallback_reason().empty()) uring_problem += (uring_problem.empty() ? "" : "; ") + a->fallback_reason();
    }
  }

  const DeviceFlushes device = DeviceFlushes::for_file(o.file);
  std::string flush_source;
  if (any_fsync(o)) {
    flush_source = device.available()
                       ? "flush/op: flushes completed by " + device.device() + " (" + device.stat_path() +
                             ", field 16) during the case / ops"
                       : "flush/op: not available for this file (no block device stat with a flush count: "
                         "tmpfs, overlay, or a kernel before 5.5)";
  }

  std::size_t total = 0;
  for (const auto& p : passes) {
    if (p.skipped.empty()) total += o.qds.size() * o.engines.size() * o.fsyncs.size();
  }
  std::size_t n = 0;
  std::map<std::string, std::string> notes;
  for (auto& pass : passes) {
    if (!pass.skipped.empty()) {
      std::fprintf(stderr, "O_DIRECT pass skipped: %s\n", pass.skipped.c_str());
      continue;
    }
    // Rounds interleave the engines so that drift on a shared machine (other
    // processes, device hiccups) lands on all of them alike.
    const auto rounds = static_cast<unsigned>(
        std::clamp(std::floor(pass.seconds / kMinRoundSeconds), 1.0, static_cast<double>(o.rounds)));
    const double round_seconds = pass.seconds / rounds;
    for (unsigned qd : o.qds) {
      std::vector<CaseResult> cases;
      for (const auto& fsync : o.fsyncs) {
        for (const auto& engine : o.engines) {
          CaseResult c;
          c.engine = engine;
          c.w = base;
          c.w.qd = qd;
          c.w.direct = pass.direct;
          c.w.fsync_group = fsync == "group";
          c.w.fsync_every = c.w.fsync_group ? 0 : static_cast<unsigned>(std::stoul(fsync));
          if (c.w.fsync_group && engine != "io_uring" && engine != "threadpool" && !is_pread_loop(engine)) {
            c.error = "--fsync group: ringfile's engines and the pread loops only";
          }
          cases.push_back(std::move(c));
        }
      }
      for (unsigned round = 0; round < rounds; ++round) {
        for (auto& c : cases) {
          if (c.error.empty()) run_round(c, round_seconds, o.fast_path, device);
        }
      }
      for (auto& c : cases) {
        finish(c);
        std::fprintf(stderr, "[%zu/%zu] %-10s %s bs=%s qd=%u fsync=%s %s %ux%gs: ", ++n, total, c.engine.c_str(),
                     to_string(c.w.rw), bs_text(c.w.bs).c_str(), qd, fsync_text(c.w).c_str(),
                     pass.direct ? "O_DIRECT" : "buffered", rounds, round_seconds);
        if (c.error.empty()) {
          std::fprintf(stderr, "%.1f kIOPS (+-%.0f%%), p99 %.1f us\n", c.iops / 1e3, c.spread * 100, c.p99_us);
          if (o.json) print_json(c);
          if (!c.notes.empty()) notes.emplace(c.engine, c.notes);
        } else {
          std::fprintf(stderr, "skipped: %s\n", c.error.c_str());
        }
        pass.results.push_back(std::move(c));
      }
    }
  }
  if (!uring_problem.empty()) std::fprintf(stderr, "io_uring not available: %s\n", uring_problem.c_str());
  if (o.json) return 0;

  utsname un{};
  ::uname(&un);
  std::printf("ringfile-bench: %s %s, %s, %ld CPUs; one thread per engine\n", un.sysname, un.release,
              cpu_model().c_str(), ::sysconf(_SC_NPROCESSORS_ONLN));
  std::printf("file: %s, %llu MiB of random bytes (%s)\n", file.path.c_str(),
              static_cast<unsigned long long>(o.size >> 20), file.created ? "created" : "reused");
  if (!auto_describe.empty()) std::printf("Backend::Auto here: %s\n", auto_describe.c_str());
  if (!uring_problem.empty()) std::printf("io_uring not available: %s\n", uring_problem.c_str());
  if (!flush_source.empty()) std::printf("%s\n", flush_source.c_str());
  for (const auto& pass : passes) {
    std::printf("\n");
    if (!pass.skipped.empty()) {
      std::printf("O_DIRECT pass skipped: %s\n", pass.skipped.c_str());
      continue;
    }
    if (pass.direct) {
      std::printf("O_DIRECT (device-bound, page cache bypassed), %.1f s per case\n", pass.seconds);
    } else if (resident >= 0) {
      std::printf("buffered I/O, page cache (%.0f%% of the file resident before the runs), %.1f s per case\n",
                  resident * 100, pass.seconds);
    } else {
      std::printf("buffered I/O, page cache, %.1f s per case\n", pass.seconds);
    }
    print_table(pass.results);
    print_verdicts(pass.results, o.qds);
  }
  if (!notes.empty()) {
    std::printf("\nengines:\n");
    for (const auto& [name, text] : notes) std::printf("  %-10s %s\n", name.c_str(), text.c_str());
  }
  std::printf(
      "\nMethod: each engine is driven from one thread that keeps qd ops in flight; every completion\n"
      "issues that slot's next op. Offsets are uniformly random multiples of bs over the first --size\n"
      "bytes (sequential for read/write), the same sequence for every engine. Each case's measured\n"
      "time is split into rounds run round-robin across the engines (a fresh engine and a short\n"
      "warm-up each); kIOPS = completions / measured wall time summed over the rounds, +- = half the\n"
      "range of the rounds' kIOPS; ns/op = wall time / ops.\n"
      "Latency: per op, from issue to completion callback, in a log histogram (~3%% buckets).\n"
      "cs/op and CPU us/op: getrusage(RUSAGE_SELF) deltas over the case (every thread, user+sys) / ops.\n"
      "sys/op: io_uring_enter calls (plus preadv2 fast-path reads for ringfile's io_uring engine) or\n"
      "pread/pwrite/fsync/fdatasync calls; '-' where the engine can't count them (thread pools, Asio).\n"
      "pread runs one blocking op at a time whatever qd says (marked *); so does preadv2, whose reads\n"
      "try preadv2(RWF_NOWAIT) first, the call ringfile's cached-read fast path makes (its floor).\n"
      "io_uring and threadpool are ringfile's engines with default EngineOptions; cached-read fast\n"
      "path: %s.\n"
      "--fsync N: with N=1 ringfile's engines use File::write_then_fsync (linked with IOSQE_IO_LINK on\n"
      "io_uring), otherwise the fsync goes out from the Nth write's callback; the liburing loop links\n"
      "it (IOSQE_IO_LINK), libuv uses uv_fs_fsync,\n"
      "Asio calls sync_all() in the handler (it has no async fsync), pread calls fsync(2); an op's\n"
      "latency then includes its fsync. --fsync group: ringfile's engines use File::write_durable, whose\n"
      "callback runs once an fdatasync started after the write has finished; concurrent writes share it.\n"
      "pread with --fsync group (qd marked #) is the ideal group commit from one thread: qd pwrites back\n"
      "to back (the same offsets, file and workload), then one fdatasync; ops count writes, and each\n"
      "write's latency runs from its pwrite to that fdatasync's return.\n"
      "flush/op (durable-write cases): cache flushes the block device holding the file completed during\n"
      "the measured time (its /sys/dev/block stat, field 16; a partition's disk) / ops. It counts the whole\n"
      "device: other processes' I/O on it adds to the number; '-' where it can't be read.\n"
      "Asio runs one op at a time per file object: asio gives each slot its own random_access_file (on a\n"
      "dup()ed fd), asio-1file shares one object, as an application with one object per file would.\n"
      "libuv: its default pool of 4 threads (UV_THREADPOOL_SIZE).\n",
      !o.fast_path ? "on (the default)" : *o.fast_path ? "on (--fast-path=1)" : "OFF (--fast-path=0)");
  return 0;
}

}  // namespace
}  // namespace ringfile::bench

int main(int argc, char** argv) {
  using namespace ringfile::bench;
  Options options;
  bool help = false;
  try {
    options = parse_args(argc, argv, help);
  } catch (const UsageError& e) {
    std::fprintf(stderr, "ringfile-bench: %s\n", e.message.c_str());
    return 2;
  }
  if (help) {
    print_help();
    return 0;
  }
  try {
    return run(options);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "ringfile-bench: %s\n", e.what());
    return 1;
  }
}
