// ringfile-read-cost: N cached 4 KiB reads through the public API at a given depth,
// and nothing else worth counting. bench/read_cost.sh runs it under callgrind at two
// N and divides the difference, which leaves set-up and teardown out of the figure.
//
//   ringfile-read-cost --engine io_uring|threadpool --qd 1 --reads 10000 --file PATH

#include <fcntl.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <optional>
#include <string>
#include <vector>

#include "ringfile/ringfile.hpp"

namespace {

constexpr std::size_t kBlock = 4096;
constexpr std::size_t kBlocks = 256;  // a 1 MiB file, read once first so it is cached

struct Options {
  ringfile::Backend backend = ringfile::Backend::IoUring;
  unsigned qd = 1;
  long reads = 10000;
  std::string file;
};

[[noreturn]] void usage(const char* why) {
  std::fprintf(stderr, "ringfile-read-cost: %s\n"
                       "usage: ringfile-read-cost --engine io_uring|threadpool [--qd N] [--reads N] --file PATH\n",
               why);
  std::exit(2);
}

Options parse(int argc, char** argv) {
  Options o;
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    if (i + 1 >= argc) usage(("missing value for " + arg).c_str());
    const char* value = argv[++i];
    if (arg == "--engine") {
      if (std::strcmp(value, "io_uring") == 0) o.backend = ringfile::Backend::IoUring;
      else if (std::strcmp(value, "threadpool") == 0) o.backend = ringfile::Backend::ThreadPool;
      else usage("--engine is io_uring or threadpool");
    } else if (arg == "--qd") {
      o.qd = static_cast<unsigned>(std::atoi(value));
    } else if (arg == "--reads") {
      o.reads = std::atol(value);
    } else if (arg == "--file") {
      o.file = value;
    } else {
      usage(("unknown option " + arg).c_str());
    }
  }
  if (o.file.empty()) usage("--file is required");
  if (o.qd == 0 || o.qd > kBlocks || o.reads <= 0) usage("--qd is 1..256 and --reads positive");
  return o;
}

void write_cached_file(const std::string& path) {
  std::vector<char> data(kBlock * kBlocks, 'r');
  const int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0 || ::pwrite(fd, data.data(), data.size(), 0) != static_cast<ssize_t>(data.size())) {
    std::perror(path.c_str());
    std::exit(1);
  }
  ::close(fd);
}

class Reader {
 public:
  Reader(ringfile::File& file, const Options& o) : file_(file), reads_(o.reads), buffers_(kBlock * o.qd) {}

  void issue(unsigned slot) {
    if (issued_ >= reads_) return;
    ++issued_;
    const auto block = static_cast<std::int64_t>((static_cast<std::size_t>(issued_) * 7919) % kBlocks);
    file_.read(buffers_.data() + kBlock * slot, kBlock, block * static_cast<std::int64_t>(kBlock),
               [this, slot](ringfile::Result<std::size_t> r) {
                 if (!r || *r != kBlock) std::abort();
                 ++done_;
                 issue(slot);
               });
  }
  bool finished() const noexcept { return done_ >= reads_; }

 private:
  ringfile::File& file_;
  long reads_;
  long issued_ = 0;
  long done_ = 0;
  std::vector<char> buffers_;
};

}  // namespace

int main(int argc, char** argv) {
  const Options o = parse(argc, argv);
  write_cached_file(o.file);
  ringfile::EngineOptions options;
  options.backend = o.backend;
  auto engine = ringfile::Engine::create(options);
  if (!engine) {
    std::fprintf(stderr, "ringfile-read-cost: %s\n", engine.error().message().c_str());
    return 1;
  }
  std::optional<ringfile::Result<ringfile::File>> opened;
  ringfile::File::open(*engine, o.file, O_RDONLY, [&](ringfile::Result<ringfile::File> r) { opened.emplace(std::move(r)); });
  while (!opened) (void)engine->wait();
  if (!*opened) {
    std::fprintf(stderr, "ringfile-read-cost: open: %s\n", opened->error().message().c_str());
    return 1;
  }
  ringfile::File file = std::move(**opened);
  Reader reader(file, o);
  for (unsigned slot = 0; slot < o.qd; ++slot) reader.issue(slot);
  while (!reader.finished()) {
    if (!engine->wait()) return 1;
  }
  file.close();
  return engine->run() ? 0 : 1;
}
