#pragma once

#include <string>
#include <string_view>

#include "ringfile/detail/inplace_function.hpp"
#include "ringfile/detail/op_awaitable.hpp"
#include "ringfile/engine.hpp"
#include "ringfile/export.hpp"
#include "ringfile/file.hpp"
#include "ringfile/result.hpp"

namespace ringfile {

class TempFile;
using TempFileCallback = detail::InplaceFunction<void(Result<TempFile>)>;

// A read-write file that goes away by itself. Where the filesystem supports
// O_TMPFILE it never has a name (path() is empty) and vanishes when closed, even if
// the process is killed; elsewhere it is created O_EXCL under a random name in the
// directory and that name is unlinked on destruction or close().
class RINGFILE_API TempFile {
 public:
  // extra_flags are added to O_RDWR (O_DIRECT, say).
  static void create(Engine& engine, std::string_view directory, int extra_flags, TempFileCallback callback);
  static void create(Engine& engine, std::string_view directory, TempFileCallback callback) {
    create(engine, directory, 0, std::move(callback));
  }
  static auto create(Engine& engine, std::string_view directory, int extra_flags = 0) {
    return detail::make_awaitable<TempFile>([&engine, directory, extra_flags](TempFileCallback cb) {
      create(engine, directory, extra_flags, std::move(cb));
    });
  }

  TempFile() noexcept = default;
  TempFile(TempFile&& other) noexcept;
  TempFile& operator=(TempFile&& other) noexcept;
  TempFile(const TempFile&) = delete;
  TempFile& operator=(const TempFile&) = delete;
  // Unlinks the name at once (one short blocking syscall; use close() to avoid it)
  // and closes the file in the background.
  ~TempFile();

  File& file() noexcept { return file_; }
  const File& file() const noexcept { return file_; }
  // The file's name, or empty when it has none (O_TMPFILE).
  const std::string& path() const noexcept { return path_; }
  bool anonymous() const noexcept { return path_.empty(); }

  // Unlinks the name, if any, and closes the file, without blocking.
  void close(DoneCallback callback);
  auto async_close() {
    return detail::make_awaitable<void>([this](DoneCallback cb) { close(std::move(cb)); });
  }

 private:
  struct Creating;
  TempFile(File file, std::string path) noexcept : file_(std::move(file)), path_(std::move(path)) {}
  void remove_now() noexcept;

  File file_;
  std::string path_;
};

}  // namespace ringfile
