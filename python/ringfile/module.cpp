// ringfile._ringfile: the Engine, File and path ops for Python.
//
// Every op is started with the GIL released and followed by a poll(), so the
// engine has it before control returns to the event loop, and an op that is
// already done (a page-cached read served by the fast path) is returned at once.
// Otherwise the caller gets a Pending; its asyncio Future is resolved on the
// loop's thread when the loop sees the engine's eventfd and calls poll().

#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <chrono>
#include <cstring>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include <ringfile/ringfile.hpp>

#include "pending_op.hpp"

namespace ringfile::python {
namespace {

// OSError(errno, strerror, filename, None, filename2) picks the subclass Python
// uses for that errno and sets the filenames as os and open() do.
py::object make_os_error(int err, const py::object& filename, const py::object& filename2) {
  return py::reinterpret_borrow<py::object>(PyExc_OSError)(err, std::strerror(err), filename ? filename : py::none(),
                                                            py::none(), filename2 ? filename2 : py::none());
}

[[noreturn]] void raise_os_error(int err, const py::object& filename = py::none(),
                                 const py::object& filename2 = py::none()) {
  py::object error = make_os_error(err, filename, filename2);
  PyErr_SetObject(reinterpret_cast<PyObject*>(Py_TYPE(error.ptr())), error.ptr());
  throw py::error_already_set();
}

py::tuple stat_tuple(const FileStat& s) {
  return py::make_tuple(s.mode, s.inode, s.device, s.nlink, s.uid, s.gid, s.size, s.atime.tv_sec, s.atime.tv_nsec,
                        s.mtime.tv_sec, s.mtime.tv_nsec, s.ctime.tv_sec, s.ctime.tv_nsec, s.block_size, s.blocks,
                        s.special_device);
}

}  // namespace

class PyFile;

class PyEngine : public std::enable_shared_from_this<PyEngine> {
 public:
  explicit PyEngine(const std::string& backend) {
    EngineOptions options;
    if (backend == "io_uring") options.backend = Backend::IoUring;
    else if (backend == "threadpool") options.backend = Backend::ThreadPool;
    else if (!backend.empty() && backend != "auto") raise_os_error(EINVAL);
    Result<Engine> created = [&] {
      py::gil_scoped_release nogil;
      return Engine::create(options);
    }();
    if (!created) raise_os_error(created.error().value());
    engine_.emplace(std::move(*created));
  }

  ~PyEngine() {
    if (engine_) {
      py::gil_scoped_release nogil;
      engine_.reset();  // cancels and drains; completions land in done_
    }
    done_.clear();
  }

  Engine& engine() {
    if (!engine_) throw py::value_error("the ringfile engine is closed");
    // The library asserts on a foreign thread in debug builds; Python gets an exception.
    if (std::this_thread::get_id() != owner_) {
      throw std::runtime_error("a ringfile engine is used from the thread of its event loop only");
    }
    return *engine_;
  }

  // Starts an op with `begin(callback)` and returns its result if it is already
  // done, else a Pending for the caller to await.
  template <class T, class Begin>
  py::object start(OpPtr op, Begin&& begin);

  // The callback for each op: records the result for delivery under the GIL.
  template <class T>
  auto completion(const OpPtr& op);

  py::object poll() {
    Result<std::size_t> n = [&] {
      py::gil_scoped_release nogil;
      return engine().poll();
    }();
    deliver();
    if (!n) raise_os_error(n.error().value());
    return py::int_(*n);
  }

  void cancel(const OpPtr& op) {
    if (!engine_ || op->completed) return;
    engine();  // the owner-thread check
    {
      py::gil_scoped_release nogil;
      engine_->cancel(op->handle);
      (void)engine_->poll();
    }
    deliver();
  }

  // Cancels what is in flight, delivers every completion, then releases the engine.
  void close() {
    if (!engine_) return;
    engine();  // the owner-thread check
    {
      py::gil_scoped_release nogil;
      engine_->cancel_all();
      (void)engine_->run();
      engine_.reset();
    }
    deliver();
  }

  void attach(const OpPtr& op, py::object future) {
    op->future = std::move(future);
    if (op->completed) resolve(*op);
  }

  py::object file_from(ringfile::File file);
  py::object result_of(PendingOp& op);

 private:
  void deliver() {
    while (!done_.empty()) {
      delivering_.swap(done_);  // resolving can start ops that complete into done_
      for (auto& op : delivering_) {
        op->completed = true;
        if (!op->caller_waits_inline && op->future) resolve(*op);
      }
      delivering_.clear();
    }
  }

  void resolve(PendingOp& op) {
    py::object future = std::move(op.future);
    try {
      if (!future.attr("done")().cast<bool>()) {
        if (op.err) future.attr("set_exception")(make_os_error(op.err, op.filename, op.filename2));
        else future.attr("set_result")(result_of(op));
      }
    } catch (py::error_already_set& e) {
      // The loop was closed under a waiting op: nobody can receive it.
      e.discard_as_unraisable("ringfile: delivering a completion");
    }
    op.release_python();
  }

  std::optional<Engine> engine_;
  std::thread::id owner_ = std::this_thread::get_id();
  std::vector<OpPtr> done_;  // completed by the engine, not yet delivered
  std::vector<OpPtr> delivering_;
};

// A Pending op: await it through attach(future); cancel() cancels the op itself.
struct PyPending {
  std::shared_ptr<PyEngine> engine;
  OpPtr op;
};

class PyFile {
 public:
  PyFile(std::shared_ptr<PyEngine> engine, ringfile::File file) : engine_(std::move(engine)), file_(std::move(file)) {}

  int fileno() const { return file_.native_handle(); }
  bool is_open() const { return file_.is_open(); }

  py::object read(std::size_t length, std::int64_t offset, bool exact) {
    auto op = std::make_shared<PendingOp>(Shape::Bytes);
    // The op reads straight into a new bytes object nobody else sees until it completes.
    op->bytes = PyBytes_FromStringAndSize(nullptr, static_cast<Py_ssize_t>(length));
    if (!op->bytes) throw py::error_already_set();
    char* buf = PyBytes_AS_STRING(op->bytes);
    return engine_->start<std::size_t>(op, [&](auto cb) { return read_to(buf, length, offset, exact, std::move(cb)); });
  }

  py::object readinto(const py::buffer& target, std::int64_t offset, bool exact) {
    return with_buffer(target, PyBUF_WRITABLE, [&](char* buf, std::size_t len, auto cb) {
      return read_to(buf, len, offset, exact, std::move(cb));
    });
  }

  py::object write(const py::buffer& data, std::int64_t offset, bool all) {
    return with_buffer(data, PyBUF_SIMPLE, [&](const char* buf, std::size_t len, auto cb) {
      return all ? file_.write_all(buf, len, offset, std::move(cb)) : file_.write(buf, len, offset, std::move(cb));
    });
  }

  py::object fsync(bool data_only) {
    auto op = std::make_shared<PendingOp>(Shape::None);
    return engine_->start<void>(op, [&](auto cb) { return data_only ? file_.fdatasync(std::move(cb)) : file_.fsync(std::move(cb)); });
  }

  py::object stat() {
    auto op = std::make_shared<PendingOp>(Shape::Stat);
    return engine_->start<FileStat>(op, [&](auto cb) { return file_.stat(std::move(cb)); });
  }

  py::object truncate(std::int64_t length) {
    auto op = std::make_shared<PendingOp>(Shape::None);
    return engine_->start<void>(op, [&](auto cb) { return file_.truncate(length, std::move(cb)); });
  }

  py::object advise(std::int64_t offset, std::int64_t length, int advice) {
    auto op = std::make_shared<PendingOp>(Shape::None);
    return engine_->start<void>(op, [&](auto cb) { return file_.advise(offset, length, advice, std::move(cb)); });
  }

  py::object close() {
    auto op = std::make_shared<PendingOp>(Shape::None);
    return engine_->start<void>(op, [&](auto cb) { return file_.close(std::move(cb)); });
  }

 private:
  template <class Callback>
  OpHandle read_to(char* buf, std::size_t len, std::int64_t offset, bool exact, Callback&& cb) {
    return exact ? file_.read_exact(buf, len, offset, std::forward<Callback>(cb))
                 : file_.read(buf, len, offset, std::forward<Callback>(cb));
  }

  // An op on a caller's buffer (bytes, bytearray, memoryview...): the op holds the
  // buffer exported, so it stays alive and cannot be resized, until it completes.
  template <class Begin>
  py::object with_buffer(const py::buffer& buffer, int flags, Begin&& begin) {
    auto op = std::make_shared<PendingOp>(Shape::Count);
    if (PyObject_GetBuffer(buffer.ptr(), &op->view, flags | PyBUF_C_CONTIGUOUS) != 0) throw py::error_already_set();
    op->has_view = true;
    char* buf = static_cast<char*>(op->view.buf);
    auto len = static_cast<std::size_t>(op->view.len);
    return engine_->start<std::size_t>(op, [&](auto cb) { return begin(buf, len, std::move(cb)); });
  }

  std::shared_ptr<PyEngine> engine_;
  ringfile::File file_;
};

template <class T>
auto PyEngine::completion(const OpPtr& op) {
  return [this, op](Result<T> r) mutable {
    PendingOp& p = *op;
    if (!r) {
      p.err = r.error().value();
    } else if constexpr (std::is_same_v<T, std::size_t>) {
      p.count = *r;
    } else if constexpr (std::is_same_v<T, ringfile::File>) {
      p.file.emplace(std::move(*r));
    } else if constexpr (std::is_same_v<T, FileStat>) {
      p.stat = *r;
    } else if constexpr (std::is_same_v<T, std::string>) {
      p.text = std::move(*r);
    } else if constexpr (std::is_same_v<T, std::vector<DirEntry>>) {
      p.entries = std::move(*r);
    } else if constexpr (std::is_same_v<T, bool>) {
      p.flag = *r;
    } else if constexpr (std::is_same_v<T, FsStats>) {
      p.fs_stats = *r;
    }
    done_.push_back(std::move(op));
  };
}

template <class T, class Begin>
py::object PyEngine::start(OpPtr op, Begin&& begin) {
  Engine& e = engine();
  op->caller_waits_inline = true;
  Result<std::size_t> polled = std::size_t{0};
  {
    py::gil_scoped_release nogil;
    if constexpr (std::is_void_v<decltype(begin(completion<T>(op)))>) {
      begin(completion<T>(op));  // several ops in a row: no single handle to cancel
    } else {
      op->handle = begin(completion<T>(op));
    }
    // Submits what was queued and delivers what is already done (the fast path,
    // an argument error) without reaping.
    polled = e.wait(std::chrono::nanoseconds(0));
    // io_uring often completes an op inside the submitting call (an open, a close, a
    // buffered write): one look at the completion queue saves a turn of the loop.
    if (polled && done_.empty()) polled = e.poll();
  }
  deliver();
  op->caller_waits_inline = false;
  if (!polled) raise_os_error(polled.error().value());
  if (op->completed) {
    if (op->err) raise_os_error(op->err, op->filename, op->filename2);
    py::object value = result_of(*op);
    op->release_python();
    return value;
  }
  return py::cast(PyPending{shared_from_this(), std::move(op)});
}

py::object PyEngine::file_from(ringfile::File file) {
  return py::cast(std::make_shared<PyFile>(shared_from_this(), std::move(file)));
}

py::object PyEngine::result_of(PendingOp& op) {
  switch (op.shape) {
    case Shape::Count: return py::int_(op.count);
    case Shape::Bytes: {
      PyObject* data = std::exchange(op.bytes, nullptr);
      if (static_cast<std::size_t>(PyBytes_GET_SIZE(data)) != op.count &&
          _PyBytes_Resize(&data, static_cast<Py_ssize_t>(op.count)) != 0) {
        throw py::error_already_set();
      }
      return py::reinterpret_steal<py::object>(data);
    }
    case Shape::None: return py::none();
    case Shape::File: return file_from(std::move(*op.file));
    case Shape::Stat: return stat_tuple(op.stat);
    case Shape::Text: return py::bytes(op.text);
    case Shape::Entries: {
      py::list entries;
      for (const DirEntry& e : op.entries) {
        entries.append(py::make_tuple(py::bytes(e.name), static_cast<int>(e.type), e.inode));
      }
      return entries;
    }
    case Shape::Bool: return py::bool_(op.flag);
    case Shape::FsStats: {
      const FsStats& s = op.fs_stats;
      return py::make_tuple(s.block_size, s.fragment_size, s.blocks, s.blocks_free, s.blocks_available, s.files,
                            s.files_free, s.files_available, s.flags, s.name_max, s.fsid);
    }
  }
  return py::none();
}

namespace {

// Path ops: `path` is the encoded path the engine uses, `name` the object the
// caller passed, which errors carry as their filename.
OpPtr path_op(Shape shape, py::object name, py::object name2 = py::object()) {
  auto op = std::make_shared<PendingOp>(shape);
  op->filename = std::move(name);
  op->filename2 = std::move(name2);
  return op;
}

using EnginePtr = std::shared_ptr<PyEngine>;

// The binding of a path op: (path, name) -> its result, started by begin(engine, path, cb).
template <class T, class Begin>
auto path_binding(Shape shape, Begin begin) {
  return [shape, begin](PyEngine& self, const std::string& path, py::object name) {
    auto op = path_op(shape, std::move(name));
    return self.start<T>(op, [&](auto cb) { return begin(self.engine(), path, std::move(cb)); });
  };
}

// (from, to, name, name2) -> None, for the ops whose errors name both paths.
template <class Begin>
auto two_path_binding(Begin begin) {
  return [begin](PyEngine& self, const std::string& from, const std::string& to, py::object name, py::object name2) {
    auto op = path_op(Shape::None, std::move(name), std::move(name2));
    return self.start<void>(op, [&](auto cb) { return begin(self.engine(), from, to, std::move(cb)); });
  };
}

void bind_path_ops(py::class_<PyEngine, EnginePtr>& engine) {
  using Path = const std::string&;
  engine
      .def("open",
           [](PyEngine& self, Path path, int flags, int mode, py::object name) {
             auto op = path_op(Shape::File, std::move(name));
             return self.start<ringfile::File>(op, [&](auto cb) {
               return ringfile::File::open(self.engine(), path, flags, static_cast<mode_t>(mode), std::move(cb));
             });
           })
      .def("adopt",
           [](PyEngine& self, int fd) {
             Result<ringfile::File> file = ringfile::File::adopt(self.engine(), fd);
             if (!file) raise_os_error(file.error().value());
             return self.file_from(std::move(*file));
           })
      .def("stat",
           [](PyEngine& self, Path path, bool follow, py::object name) {
             auto op = path_op(Shape::Stat, std::move(name));
             return self.start<FileStat>(op, [&](auto cb) {
               return follow ? fs::stat(self.engine(), path, std::move(cb)) : fs::lstat(self.engine(), path, std::move(cb));
             });
           })
      .def("rename", two_path_binding([](Engine& e, Path from, Path to, auto cb) {
             return fs::rename(e, from, to, std::move(cb));
           }))
      .def("link", two_path_binding([](Engine& e, Path from, Path to, auto cb) {
             return fs::link(e, from, to, std::move(cb));
           }))
      .def("symlink", two_path_binding([](Engine& e, Path target, Path at, auto cb) {
             return fs::symlink(e, target, at, std::move(cb));
           }))
      .def("unlink", path_binding<void>(Shape::None, [](Engine& e, Path p, auto cb) {
             return fs::unlink(e, p, std::move(cb));
           }))
      .def("rmdir", path_binding<void>(Shape::None, [](Engine& e, Path p, auto cb) {
             return fs::rmdir(e, p, std::move(cb));
           }))
      .def("readlink", path_binding<std::string>(Shape::Text, [](Engine& e, Path p, auto cb) {
             return fs::readlink(e, p, std::move(cb));
           }))
      .def("listdir", path_binding<std::vector<DirEntry>>(Shape::Entries, [](Engine& e, Path p, auto cb) {
             return fs::list_directory(e, p, std::move(cb));
           }))
      .def("statvfs", path_binding<FsStats>(Shape::FsStats, [](Engine& e, Path p, auto cb) {
             return fs::statvfs(e, p, std::move(cb));
           }))
      .def("sendfile",
           // os.sendfile(out_fd, in_fd, offset, count) as File::send_to on in_fd, borrowed
           // for the op: every byte is sent (a full non-blocking socket is waited on in
           // the engine) unless end of file or an error comes first.
           [](PyEngine& self, int out_fd, int in_fd, std::int64_t offset, std::int64_t count) {
             Result<ringfile::File> in = ringfile::File::adopt(self.engine(), in_fd, ringfile::File::Ownership::Borrowed);
             if (!in) raise_os_error(in.error().value());
             auto file = std::make_shared<ringfile::File>(std::move(*in));
             auto op = std::make_shared<PendingOp>(Shape::Count);
             return self.start<std::size_t>(op, [&](auto cb) {
               // A negative count is above SSIZE_MAX as a size_t: EINVAL, as os.sendfile says.
               file->send_to(out_fd, offset, static_cast<std::size_t>(count),
                             [file, cb = std::move(cb)](Result<std::size_t> sent) mutable { cb(sent); });
             });
           })
      .def("read_file", path_binding<std::string>(Shape::Text, [](Engine& e, Path p, auto cb) {
             fs::read_file(e, p, std::move(cb));  // several ops in a row: no handle
           }))
      .def("mkdir",
           [](PyEngine& self, Path path, int mode, py::object name) {
             auto op = path_op(Shape::None, std::move(name));
             return self.start<void>(
                 op, [&](auto cb) { return fs::mkdir(self.engine(), path, static_cast<mode_t>(mode), std::move(cb)); });
           })
      .def("access",
           [](PyEngine& self, Path path, int mode, py::object name) {
             auto op = path_op(Shape::None, std::move(name));
             return self.start<void>(op, [&](auto cb) { return fs::access(self.engine(), path, mode, std::move(cb)); });
           })
      .def("write_file", [](PyEngine& self, Path path, std::string data, int mode, bool atomic, py::object name) {
        auto op = path_op(Shape::None, std::move(name));
        return self.start<void>(op, [&](auto cb) {
          if (atomic) fs::write_file_atomic(self.engine(), path, std::move(data), static_cast<mode_t>(mode), std::move(cb));
          else fs::write_file(self.engine(), path, std::move(data), static_cast<mode_t>(mode), std::move(cb));
        });
      });
}

}  // namespace
}  // namespace ringfile::python

PYBIND11_MODULE(_ringfile, m) {
  using namespace ringfile::python;
  m.doc() = "ringfile's Engine for Python; ringfile.aio builds the asyncio API on it";

  py::class_<PyPending>(m, "Pending")
      .def("attach", [](PyPending& p, py::object future) { p.engine->attach(p.op, std::move(future)); })
      .def("cancel", [](PyPending& p) { p.engine->cancel(p.op); })
      .def_property_readonly("done", [](const PyPending& p) { return p.op->completed; });

  py::class_<PyFile, std::shared_ptr<PyFile>>(m, "File")
      .def("fileno", &PyFile::fileno)
      .def_property_readonly("is_open", &PyFile::is_open)
      .def("read", &PyFile::read, py::arg("length"), py::arg("offset"), py::arg("exact") = false)
      .def("readinto", &PyFile::readinto, py::arg("buffer"), py::arg("offset"), py::arg("exact") = false)
      .def("write", &PyFile::write, py::arg("data"), py::arg("offset"), py::arg("all") = true)
      .def("fsync", &PyFile::fsync, py::arg("data_only") = false)
      .def("stat", &PyFile::stat)
      .def("truncate", &PyFile::truncate)
      .def("advise", &PyFile::advise)
      .def("close", &PyFile::close);

  py::class_<PyEngine, EnginePtr> engine(m, "Engine");
  engine.def(py::init<const std::string&>(), py::arg("backend") = "")
      .def("event_fd", [](PyEngine& self) { return self.engine().event_fd(); })
      .def("poll", &PyEngine::poll)
      .def("close", &PyEngine::close)
      .def("pending", [](PyEngine& self) { return self.engine().pending(); })
      .def_property_readonly("backend", [](PyEngine& self) { return std::string(to_string(self.engine().backend())); })
      .def_property_readonly("fallback_reason", [](PyEngine& self) { return self.engine().fallback_reason(); })
      .def("describe", [](PyEngine& self) { return self.engine().describe(); })
      .def("stats", [](PyEngine& self) {
        const ringfile::EngineStats s = self.engine().stats();
        py::dict d;
        d["submitted"] = s.submitted;
        d["completed"] = s.completed;
        d["in_flight"] = s.in_flight;
        d["queued"] = s.queued;
        d["fast_path_reads"] = s.fast_path_reads;
        d["ring_reads_without_request"] = s.ring_reads_without_request;
        d["fast_path_sends"] = s.fast_path_sends;
        d["cold_reads"] = s.cold_reads;
        d["kernel_enters"] = s.kernel_enters;
        d["worker_wakeups"] = s.worker_wakeups;
        return d;
      });
  bind_path_ops(engine);
}
