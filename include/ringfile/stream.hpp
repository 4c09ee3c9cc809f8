#pragma once

#include <coroutine>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <system_error>

#include "ringfile/detail/inplace_function.hpp"
#include "ringfile/detail/op_awaitable.hpp"
#include "ringfile/export.hpp"
#include "ringfile/file.hpp"
#include "ringfile/result.hpp"

namespace ringfile {

using LineCallback = detail::InplaceFunction<void(Result<std::optional<std::string_view>>)>;

// Reads a File sequentially through a buffer, by lines or by bytes, from `offset`
// on. One call at a time per reader; its callback runs on the engine's thread inside
// poll()/wait()/run(), like every op's, also when the data was already buffered.
// The File and the reader must outlive the calls in progress; the reader is pinned
// (not movable) because they point at it.
class RINGFILE_API BufferedReader {
 public:
  explicit BufferedReader(File& file, std::size_t buffer_size = 64 * 1024, std::int64_t offset = 0);
  BufferedReader(const BufferedReader&) = delete;
  BufferedReader& operator=(const BufferedReader&) = delete;
  ~BufferedReader();

  // The next line, without its '\n' (a '\r' before it is kept); the last line may
  // lack the '\n'; nullopt at end of file. Lines may be longer than the buffer. The
  // view stays valid until the next call on this reader. After nullopt, calling
  // again reads on from the same place, so a file that grows can be followed.
  // A line longer than the limit (EngineOptions::max_line_length, or
  // set_max_line_length) fails with ENOBUFS and the bytes read of it are dropped;
  // the next call goes on after them. Pipes and FIFOs are read as streams.
  void read_line(LineCallback callback);
  void set_max_line_length(std::size_t bytes) noexcept { max_line_ = bytes; }
  // Up to `length` bytes from the buffer or, when it is empty, from the file; 0 at
  // end of file.
  void read(void* buffer, std::size_t length, IoCallback callback);

  // Awaitable forms. A buffered line completes without suspending.
  auto read_line() {
    return detail::make_awaitable<std::optional<std::string_view>>(
        [this](auto done) { next_line(LineCallback(std::move(done)), false); });
  }
  auto read(void* buffer, std::size_t length) {
    return detail::make_awaitable<std::size_t>(
        [=, this](auto done) { read_some(buffer, length, IoCallback(std::move(done)), false); });
  }

  // Iterates over the lines in a coroutine:
  //   auto lines = reader.lines();
  //   while (co_await lines.next()) use(lines.line());
  //   if (lines.error()) ...
  class Lines;
  Lines lines() noexcept;

  // File position of the next byte a read would return.
  std::int64_t offset() const noexcept { return read_pos_ - static_cast<std::int64_t>(end_ - begin_); }

 private:
  friend class Lines;
  void next_line(LineCallback callback, bool defer);
  void read_some(void* buffer, std::size_t length, IoCallback callback, bool defer);
  bool scan(std::optional<std::string_view>& line);
  void pump_line(bool defer);
  void finish_line(Result<std::optional<std::string_view>> result, bool defer);
  void finish_read(Result<std::size_t> result, bool defer);

  File* file_;
  std::unique_ptr<char[]> buffer_;
  std::size_t capacity_;
  std::size_t begin_ = 0;  // unread bytes are buffer_[begin_, end_)
  std::size_t end_ = 0;
  std::int64_t read_pos_;  // file position of buffer_[end_]
  bool eof_ = false;
  std::size_t max_line_;
  std::string line_;       // a line that spans refills
  LineCallback line_callback_;
  IoCallback read_callback_;
  std::optional<Result<std::optional<std::string_view>>> ready_line_;
  std::optional<Result<std::size_t>> ready_read_;
};

class BufferedReader::Lines {
 public:
  explicit Lines(BufferedReader& reader) noexcept : reader_(&reader) {}

  class Next {
   public:
    explicit Next(Lines& lines) noexcept : lines_(&lines) {}
    Next(const Next&) = delete;
    Next& operator=(const Next&) = delete;
    bool await_ready() const noexcept { return false; }
    bool await_suspend(std::coroutine_handle<> waiter) {
      waiter_ = waiter;
      starting_ = true;
      lines_->reader_->next_line([this](Result<std::optional<std::string_view>> r) { finish(std::move(r)); },
                                 false);
      starting_ = false;
      return !finished_;
    }
    bool await_resume() const noexcept { return more_; }

   private:
    void finish(Result<std::optional<std::string_view>>&& r) {
      if (!r) {
        lines_->error_ = r.error();
      } else if (*r) {
        lines_->line_ = **r;
        more_ = true;
      }
      finished_ = true;
      if (!starting_) waiter_.resume();
    }
    Lines* lines_;
    std::coroutine_handle<> waiter_;
    bool starting_ = false;
    bool finished_ = false;
    bool more_ = false;
  };

  // True with line() set, false at end of file or on an error (see error()).
  [[nodiscard]] Next next() noexcept { return Next(*this); }
  std::string_view line() const noexcept { return line_; }
  std::error_code error() const noexcept { return error_; }

 private:
  BufferedReader* reader_;
  std::string_view line_;
  std::error_code error_;
};

inline BufferedReader::Lines BufferedReader::lines() noexcept { return Lines(*this); }

// Collects small writes in a buffer and writes it out at `offset` on, in order.
// One call at a time per writer; callbacks run on the engine's thread. Bytes still
// buffered when the writer is destroyed are dropped: flush() first. Pinned, like
// BufferedReader.
class RINGFILE_API BufferedWriter {
 public:
  explicit BufferedWriter(File& file, std::size_t buffer_size = 64 * 1024, std::int64_t offset = 0);
  BufferedWriter(const BufferedWriter&) = delete;
  BufferedWriter& operator=(const BufferedWriter&) = delete;
  ~BufferedWriter();

  // Copies `data` into the buffer and completes, once the buffer has room: when it
  // is full it is written out first (backpressure). Data at least as large as the
  // buffer is written straight from `data`, which must then stay valid until the
  // callback. On an error nothing of `data` was buffered.
  void write(std::string_view data, DoneCallback callback);
  // Writes out what is buffered. Not fsync: follow with File::fsync for durability.
  void flush(DoneCallback callback);

  auto write(std::string_view data) {
    return detail::make_awaitable<void>(
        [this, data](auto done) { write_some(data, DoneCallback(std::move(done)), false); });
  }
  auto flush() {
    return detail::make_awaitable<void>([this](auto done) { flush_all(DoneCallback(std::move(done)), false); });
  }

  std::size_t buffered() const noexcept { return size_; }
  // File position the next written byte will land at.
  std::int64_t offset() const noexcept { return write_pos_ + static_cast<std::int64_t>(size_); }

 private:
  void write_some(std::string_view data, DoneCallback callback, bool defer);
  void flush_all(DoneCallback callback, bool defer);
  void write_buffer();
  void write_pending();
  void finish(std::error_code error, bool defer);

  File* file_;
  std::unique_ptr<char[]> buffer_;
  std::size_t capacity_;
  std::size_t size_ = 0;
  std::int64_t write_pos_;  // file position of buffer_[0]
  std::string_view pending_;
  bool pending_write_ = false;  // after the flush, the pending data goes on
  DoneCallback callback_;
  std::error_code ready_;
};

}  // namespace ringfile
