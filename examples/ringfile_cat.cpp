// ringfile-cat: writes files to stdout, reading them through a ringfile engine with
// several reads in flight and writing the blocks out in order as they complete.

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <ringfile/ringfile.hpp>

#include "common.hpp"

namespace {

using namespace ringfile;

struct Options {
  Backend backend = Backend::Auto;
  std::size_t queue_depth = 8;
  std::size_t block = 128 * 1024;
  std::vector<std::string> files;
};

bool write_stdout(const char* data, std::size_t size) {
  while (size > 0) {
    ssize_t n = ::write(STDOUT_FILENO, data, size);
    if (n < 0) {
      if (errno == EINTR) continue;
      return false;
    }
    data += n;
    size -= static_cast<std::size_t>(n);
  }
  return true;
}

// One block in the ring: read_exact fills it whole, except at end of file.
struct Slot {
  std::unique_ptr<char[]> data;
  std::int64_t offset = 0;
  bool busy = false;
  std::optional<Result<std::size_t>> result;
};

void close_file(Engine& engine, File& file) {
  std::optional<Result<void>> closed;
  file.close([&](Result<void> r) { closed.emplace(r); });
  (void)engine.run();
}

// A pipe, FIFO or terminal has no offsets: one read at a time from where it is,
// each written out before the next is issued, until end of file.
std::string cat_stream(Engine& engine, File& file, const Options& o) {
  auto block = std::make_unique<char[]>(o.block);
  std::string error;
  for (;;) {
    std::optional<Result<std::size_t>> got;
    file.read(block.get(), o.block, kStreamOffset, [&](Result<std::size_t> r) { got.emplace(r); });
    while (!got) (void)engine.wait();
    if (!*got) {
      error = got->error().message();
      break;
    }
    if (**got == 0) break;
    if (!write_stdout(block.get(), **got)) {
      error = std::string("stdout: ") + std::strerror(errno);
      break;
    }
  }
  close_file(engine, file);
  return error;
}

// Streams one file; returns an error message or empty.
std::string cat(Engine& engine, const std::string& path, const Options& o) {
  std::optional<Result<File>> opened;
  File::open(engine, path, O_RDONLY, [&](Result<File> f) { opened.emplace(std::move(f)); });
  while (!opened) (void)engine.wait();
  if (!*opened) return opened->error().message();
  File file = std::move(**opened);
  if (!file.seekable()) return cat_stream(engine, file, o);

  std::vector<Slot> slots(o.queue_depth);
  for (auto& s : slots) s.data = std::make_unique<char[]>(o.block);
  std::int64_t next_offset = 0;
  bool end_seen = false;  // a short read: nothing past it is issued or written
  std::string error;

  auto issue = [&](Slot& s) {
    s.offset = next_offset;
    next_offset += static_cast<std::int64_t>(o.block);
    s.busy = true;
    s.result.reset();
    file.read_exact(s.data.get(), o.block, s.offset, [&s](Result<std::size_t> r) { s.result.emplace(r); });
  };
  for (auto& s : slots) issue(s);

  // Slots complete in any order; they are written out in file order from `head`.
  std::size_t head = 0;
  while (!end_seen && error.empty()) {
    Slot& s = slots[head];
    while (!s.result) (void)engine.wait();
    s.busy = false;
    if (!*s.result) {
      error = s.result->error().message();
      break;
    }
    const std::size_t n = **s.result;
    if (!write_stdout(s.data.get(), n)) {
      error = std::string("stdout: ") + std::strerror(errno);
      break;
    }
    if (n < o.block) {
      end_seen = true;
      break;
    }
    issue(s);
    head = (head + 1) % slots.size();
  }
  // Reads past the end are still in flight; their buffers must outlive them.
  (void)engine.run();
  close_file(engine, file);
  return error;
}

int usage() {
  std::fprintf(stderr,
               "usage: ringfile-cat [--engine=auto|io_uring|threadpool] [--qd=N] [--block=BYTES[K|M]] FILE...\n");
  return 2;
}

}  // namespace

int main(int argc, char** argv) {
  Options o;
  for (int i = 1; i < argc; ++i) {
    std::string_view arg = argv[i], value;
    if (example::option(arg, "engine", value)) {
      if (!example::parse_backend(value, o.backend)) return usage();
    } else if (example::option(arg, "qd", value)) {
      if (!example::parse_size(value, o.queue_depth)) return usage();
    } else if (example::option(arg, "block", value)) {
      if (!example::parse_size(value, o.block)) return usage();
    } else if (arg.size() > 1 && arg[0] == '-') {
      return usage();
    } else {
      o.files.emplace_back(arg);
    }
  }
  if (o.files.empty()) return usage();

  EngineOptions eo;
  eo.backend = o.backend;
  auto engine = Engine::create(eo);
  if (!engine) {
    std::fprintf(stderr, "ringfile-cat: no engine: %s\n", engine.error().message().c_str());
    return 1;
  }
  std::fprintf(stderr, "ringfile-cat: engine: %s\n", engine->describe().c_str());

  int status = 0;
  for (const auto& path : o.files) {
    std::string error = cat(*engine, path, o);
    if (!error.empty()) {
      std::fprintf(stderr, "ringfile-cat: %s: %s\n", path.c_str(), error.c_str());
      status = 1;
    }
  }
  return status;
}
