#include "ringfile/temp_file.hpp"

#include <cstdint>
#include <memory>

#include <fcntl.h>
#include <unistd.h>

#include "api/engine_access.hpp"
#include "api/file_access.hpp"
#include "api/fs_ops.hpp"
#include "sys/random_name.hpp"

namespace ringfile {

using detail::EngineCore;

struct TempFile::Creating {
  EngineCore* core = nullptr;
  std::string directory;
  std::string path;
  int flags = 0;
  int attempts = 0;
  TempFileCallback callback;

  static void anonymous(std::unique_ptr<Creating> self) {
    Creating* s = self.get();
    detail::open_path(*s->core, s->directory, O_TMPFILE | O_RDWR | s->flags, 0600,
                      [self = std::move(self)](Result<File> file) mutable {
                        if (file) return self->callback(TempFile(std::move(*file), {}));
                        // Kernels without O_TMPFILE see O_DIRECTORY|O_RDWR: EISDIR.
                        auto e = file.error();
                        if (e == std::errc::operation_not_supported || e == std::errc::is_a_directory ||
                            e == std::errc::invalid_argument) {
                          return named(std::move(self));
                        }
                        self->callback(e);
                      });
  }

  static void named(std::unique_ptr<Creating> self) {
    Creating* s = self.get();
    s->path = s->directory + "/" + ".ringfile-tmp-" + detail::random_suffix();
    detail::open_path(*s->core, s->path, O_RDWR | O_CREAT | O_EXCL | s->flags, 0600,
                      [self = std::move(self)](Result<File> file) mutable {
                        if (file) return self->callback(TempFile(std::move(*file), std::move(self->path)));
                        if (file.error() == std::errc::file_exists && ++self->attempts < 16) {
                          return named(std::move(self));
                        }
                        self->callback(file.error());
                      });
  }
};

void TempFile::create(Engine& engine, std::string_view directory, int extra_flags, TempFileCallback callback) {
  auto s = std::make_unique<Creating>();
  s->core = &detail::EngineAccess::core(engine);
  s->directory.assign(directory.empty() ? std::string_view(".") : directory);
  s->flags = extra_flags;
  s->callback = std::move(callback);
  Creating::anonymous(std::move(s));
}

TempFile::TempFile(TempFile&& other) noexcept
    : file_(std::move(other.file_)), path_(std::exchange(other.path_, {})) {}

TempFile& TempFile::operator=(TempFile&& other) noexcept {
  if (this != &other) {
    remove_now();
    file_ = std::move(other.file_);
    path_ = std::exchange(other.path_, {});
  }
  return *this;
}

TempFile::~TempFile() { remove_now(); }

void TempFile::remove_now() noexcept {
  if (path_.empty()) return;
  detail::sys::unlinkat(AT_FDCWD, path_.c_str(), 0);
  path_.clear();
}

void TempFile::close(DoneCallback callback) {
  EngineCore* core = detail::FileAccess::core(file_);
  if (!core || path_.empty()) {
    remove_now();
    file_.close(std::move(callback));
    return;
  }
  struct Closing {
    EngineCore* core;
    std::string path;
    std::error_code error;
    DoneCallback callback;
  };
  auto s = std::make_unique<Closing>(Closing{core, std::exchange(path_, {}), {}, std::move(callback)});
  file_.close([s = std::move(s)](Result<void> closed) mutable {
    if (!closed) s->error = closed.error();
    Closing* c = s.get();
    detail::unlink_path(*c->core, c->path, 0, [s = std::move(s)](Result<void> unlinked) mutable {
      if (!s->error && !unlinked) s->error = unlinked.error();
      if (!s->callback) return;
      if (s->error) s->callback(s->error);
      else s->callback(Result<void>{});
    });
  });
}

}  // namespace ringfile
