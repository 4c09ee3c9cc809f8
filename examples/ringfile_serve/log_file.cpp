#include "log_file.hpp"

#include <fcntl.h>
#include <unistd.h>

namespace serve {

int LogFile::open_descriptor(const std::string& path) {
  if (path == "-") return STDOUT_FILENO;
  if (path == "stderr") return STDERR_FILENO;
  return ::open(path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
}

std::string LogFile::open(ringfile::Engine& engine, int fd) {
  auto f = ringfile::File::adopt(engine, fd, ringfile::File::Ownership::Borrowed);
  if (!f) return "log: " + f.error().message();
  file_ = std::move(*f);
  return {};
}

void LogFile::append(std::string_view line) {
  if (!file_.is_open()) return;
  if (buffer_.size() + line.size() > kMaxBuffered) {
    ++dropped_;
    return;
  }
  if (dropped_ > 0) {
    buffer_ += "ringfile-serve: the log fell behind and dropped " + std::to_string(dropped_) + " line(s)\n";
    dropped_ = 0;
  }
  buffer_.append(line);
  if (buffer_.size() >= kFlushAt) flush();
}

void LogFile::flush() {
  if (writing_now_ || buffer_.empty() || !file_.is_open()) return;
  write_buffered();
}

void LogFile::write_buffered() {
  writing_.swap(buffer_);
  buffer_.clear();
  writing_now_ = true;
  file_.write_all(writing_.data(), writing_.size(), ringfile::kStreamOffset, [this](ringfile::Result<std::size_t>) {
    // A failed write loses these lines; the log goes on with the next ones.
    writing_now_ = false;
    writing_.clear();
    if (buffer_.size() >= kFlushAt) flush();
  });
}

}  // namespace serve
