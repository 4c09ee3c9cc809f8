#pragma once

// A log written through the worker's engine. Lines are buffered and go out one
// write at a time, so logging never blocks the loop: a slow disk or a stdout
// nobody reads delays the log, never a response. The server opens each log once,
// O_APPEND (before it drops privileges, as nginx does), and every thread's
// LogFile writes whole lines to it, so their lines never interleave.
// A log that cannot keep up keeps at most kMaxBuffered bytes and drops the rest,
// saying how many lines it dropped in the next line it writes.

#include <cstdint>
#include <string>
#include <string_view>

#include <ringfile/engine.hpp>
#include <ringfile/file.hpp>

namespace serve {

class LogFile {
 public:
  static constexpr std::size_t kFlushAt = 64 * 1024;
  static constexpr std::size_t kMaxBuffered = 1024 * 1024;

  // A descriptor for the server's lifetime: "-" is stdout, "stderr" stderr,
  // anything else a file opened for appending (created 0644). -1 and errno when
  // it cannot be opened.
  static int open_descriptor(const std::string& path);
  // Writes to `fd` (which stays the caller's) through `engine`. An error message, or empty.
  std::string open(ringfile::Engine& engine, int fd);
  bool is_open() const { return file_.is_open(); }
  // One line, its newline included.
  void append(std::string_view line);
  // Starts a write of what is buffered, unless one is in flight.
  void flush();
  // Nothing buffered and nothing in flight.
  bool idle() const { return buffer_.empty() && !writing_now_; }
  void close() { file_.close(); }

 private:
  void write_buffered();

  ringfile::File file_;
  std::string buffer_;
  std::string writing_;
  bool writing_now_ = false;
  std::uint64_t dropped_ = 0;
};

}  // namespace serve
