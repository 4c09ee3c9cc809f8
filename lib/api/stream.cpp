#include "ringfile/stream.hpp"

#include <algorithm>
#include <cassert>
#include <cstring>
#include <new>

#include "api/complete_later.hpp"
#include "api/file_access.hpp"

namespace ringfile {

using detail::EngineCore;
using detail::FileAccess;

namespace {

// Delivers a result known at once. The callback forms (defer) get it at the next
// poll like every completion; the awaitable forms take it without suspending.
// `deliver` moves the stored callback out and calls it with the stored result.
template <class Deliver>
void complete(const File& file, bool defer, Deliver deliver) {
  EngineCore* core = FileAccess::core(file);
  if (!defer || !core) {
    deliver();  // a File without an engine fails its ops at once too
    return;
  }
  if (!core->on_owner_thread()) {
    (void)core->misuse();
    core->post([deliver]() mutable { deliver(); });
    return;
  }
  detail::complete_later(*core, [deliver](std::int64_t) mutable { deliver(); });
}

// A pipe or FIFO is read from where it is; a position would fail with ESPIPE.
std::int64_t position_or_stream(const File& file, std::int64_t position) {
  return file.seekable() ? position : kStreamOffset;
}

std::size_t default_max_line(const File& file) {
  EngineCore* core = FileAccess::core(file);
  return core ? core->options().max_line_length : EngineOptions{}.max_line_length;
}

}  // namespace

BufferedReader::BufferedReader(File& file, std::size_t buffer_size, std::int64_t offset)
    : file_(&file),
      buffer_(std::make_unique<char[]>(std::max<std::size_t>(buffer_size, 1))),
      capacity_(std::max<std::size_t>(buffer_size, 1)),
      read_pos_(offset),
      max_line_(default_max_line(file)) {}

BufferedReader::~BufferedReader() = default;

void BufferedReader::read_line(LineCallback callback) { next_line(std::move(callback), true); }

void BufferedReader::read(void* buffer, std::size_t length, IoCallback callback) {
  read_some(buffer, length, std::move(callback), true);
}

void BufferedReader::next_line(LineCallback callback, bool defer) {
  assert(!line_callback_ && !read_callback_ && "one call at a time per BufferedReader");
  line_.clear();
  line_callback_ = std::move(callback);
  pump_line(defer);
}

bool BufferedReader::scan(std::optional<std::string_view>& line) {
  const char* start = buffer_.get() + begin_;
  const std::size_t n = end_ - begin_;
  if (const void* nl = std::memchr(start, '\n', n)) {
    const auto len = static_cast<std::size_t>(static_cast<const char*>(nl) - start);
    begin_ += len + 1;
    if (line_.empty()) {
      line = std::string_view(start, len);
    } else {
      line_.append(start, len);
      line = line_;
    }
    return true;
  }
  if (eof_) {
    eof_ = false;  // the next call looks again
    begin_ = end_;
    if (n == 0 && line_.empty()) {
      line.reset();
    } else if (line_.empty()) {
      line = std::string_view(start, n);
    } else {
      line_.append(start, n);
      line = line_;
    }
    return true;
  }
  // The line goes on past the buffer: keep its start and refill from the beginning.
  line_.append(start, n);
  begin_ = end_ = 0;
  return false;
}

void BufferedReader::pump_line(bool defer) {
  std::optional<std::string_view> line;
  bool found = false;
  try {
    found = scan(line);
  } catch (const std::bad_alloc&) {
    line_.clear();
    return finish_line(errno_code(ENOMEM), defer);
  }
  const std::size_t length = found ? (line ? line->size() : 0) : line_.size();
  if (length > max_line_) {
    // The bytes of the over-long line read so far are dropped.
    line_.clear();
    return finish_line(errno_code(ENOBUFS), defer);
  }
  if (found) return finish_line(line, defer);
  file_->read(buffer_.get(), capacity_, position_or_stream(*file_, read_pos_), [this](Result<std::size_t> n) {
    if (!n) return finish_line(n.error(), false);
    if (*n == 0) {
      eof_ = true;
    } else {
      end_ = *n;
      read_pos_ += static_cast<std::int64_t>(*n);
    }
    pump_line(false);
  });
}

void BufferedReader::finish_line(Result<std::optional<std::string_view>> result, bool defer) {
  ready_line_.emplace(std::move(result));
  complete(*file_, defer, [this] {
    auto callback = std::move(line_callback_);
    auto result = std::move(*ready_line_);
    ready_line_.reset();
    callback(std::move(result));
  });
}

void BufferedReader::read_some(void* buffer, std::size_t length, IoCallback callback, bool defer) {
  assert(!line_callback_ && !read_callback_ && "one call at a time per BufferedReader");
  read_callback_ = std::move(callback);
  if (begin_ < end_ || length == 0) {
    const std::size_t n = std::min(length, end_ - begin_);
    std::memcpy(buffer, buffer_.get() + begin_, n);
    begin_ += n;
    return finish_read(n, defer);
  }
  eof_ = false;
  begin_ = end_ = 0;
  if (length >= capacity_) {  // the buffer would only add a copy
    file_->read(buffer, length, position_or_stream(*file_, read_pos_), [this](Result<std::size_t> n) {
      if (n) read_pos_ += static_cast<std::int64_t>(*n);
      finish_read(n, false);
    });
    return;
  }
  file_->read(buffer_.get(), capacity_, position_or_stream(*file_, read_pos_),
              [this, buffer, length](Result<std::size_t> n) {
    if (!n) return finish_read(n, false);
    end_ = *n;
    read_pos_ += static_cast<std::int64_t>(*n);
    const std::size_t take = std::min(length, end_);
    std::memcpy(buffer, buffer_.get(), take);
    begin_ = take;
    finish_read(take, false);
  });
}

void BufferedReader::finish_read(Result<std::size_t> result, bool defer) {
  ready_read_.emplace(result);
  complete(*file_, defer, [this] {
    auto callback = std::move(read_callback_);
    auto result = *ready_read_;
    ready_read_.reset();
    callback(result);
  });
}

BufferedWriter::BufferedWriter(File& file, std::size_t buffer_size, std::int64_t offset)
    : file_(&file),
      buffer_(std::make_unique<char[]>(std::max<std::size_t>(buffer_size, 1))),
      capacity_(std::max<std::size_t>(buffer_size, 1)),
      write_pos_(offset) {}

BufferedWriter::~BufferedWriter() = default;

void BufferedWriter::write(std::string_view data, DoneCallback callback) {
  write_some(data, std::move(callback), true);
}

void BufferedWriter::flush(DoneCallback callback) { flush_all(std::move(callback), true); }

void BufferedWriter::write_some(std::string_view data, DoneCallback callback, bool defer) {
  assert(!callback_ && "one call at a time per BufferedWriter");
  callback_ = std::move(callback);
  if (data.size() <= capacity_ - size_) {
    std::memcpy(buffer_.get() + size_, data.data(), data.size());
    size_ += data.size();
    return finish({}, defer);
  }
  pending_ = data;
  pending_write_ = true;
  if (size_ > 0) return write_buffer();
  write_pending();
}

void BufferedWriter::flush_all(DoneCallback callback, bool defer) {
  assert(!callback_ && "one call at a time per BufferedWriter");
  callback_ = std::move(callback);
  if (size_ == 0) return finish({}, defer);
  pending_write_ = false;
  write_buffer();
}

void BufferedWriter::write_buffer() {
  file_->write_all(buffer_.get(), size_, position_or_stream(*file_, write_pos_), [this](Result<std::size_t> n) {
    if (!n) return finish(n.error(), false);
    // write_all reports a short count only with an error, but keep what was not written.
    write_pos_ += static_cast<std::int64_t>(*n);
    if (*n < size_) {
      std::memmove(buffer_.get(), buffer_.get() + *n, size_ - *n);
      size_ -= *n;
      return finish(errno_code(EIO), false);
    }
    size_ = 0;
    if (pending_write_) return write_pending();
    finish({}, false);
  });
}

void BufferedWriter::write_pending() {
  pending_write_ = false;
  const std::string_view data = std::exchange(pending_, {});
  if (data.size() <= capacity_) {
    std::memcpy(buffer_.get(), data.data(), data.size());
    size_ = data.size();
    return finish({}, false);
  }
  file_->write_all(data.data(), data.size(), position_or_stream(*file_, write_pos_),
                   [this, size = data.size()](Result<std::size_t> n) {
    if (!n) return finish(n.error(), false);
    write_pos_ += static_cast<std::int64_t>(*n);
    finish(*n == size ? std::error_code{} : errno_code(EIO), false);
  });
}

void BufferedWriter::finish(std::error_code error, bool defer) {
  ready_ = error;
  complete(*file_, defer, [this] {
    auto callback = std::move(callback_);
    const std::error_code error = ready_;
    if (error) callback(error);
    else callback(Result<void>{});
  });
}

}  // namespace ringfile
