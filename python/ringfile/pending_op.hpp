#pragma once

// One op started from Python: what the engine hands back (filled on the engine's
// thread with the GIL released) and the Python objects it keeps alive until then.

#include <pybind11/pybind11.h>

#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <ringfile/ringfile.hpp>

namespace ringfile::python {

namespace py = pybind11;

class PyEngine;

// How a completed op's payload becomes a Python value.
enum class Shape : std::uint8_t { Count, Bytes, None, File, Stat, Text, Entries, Bool, FsStats };

struct PendingOp {
  explicit PendingOp(Shape s) : shape(s) {}
  PendingOp(const PendingOp&) = delete;
  PendingOp& operator=(const PendingOp&) = delete;
  // The last reference can go away inside an engine call made without the GIL.
  ~PendingOp() {
    if (future || has_view || filename || filename2 || bytes) {
      py::gil_scoped_acquire gil;
      release_python();
    }
  }

  void release_python() {
    if (has_view) PyBuffer_Release(&view);
    has_view = false;
    Py_CLEAR(bytes);
    future = py::object();
    filename = py::object();
    filename2 = py::object();
  }

  // Engine side: set by the completion callback.
  const Shape shape;
  int err = 0;
  bool completed = false;
  std::size_t count = 0;
  PyObject* bytes = nullptr;  // where Bytes reads land; released only after completion
  std::optional<ringfile::File> file;
  FileStat stat{};
  std::string text;
  std::vector<DirEntry> entries;
  bool flag = false;
  FsStats fs_stats{};
  OpHandle handle;

  // Python side: touched only with the GIL held.
  bool caller_waits_inline = false;  // the starting call returns the result itself
  py::object future;                 // an asyncio.Future once the caller awaits
  py::object filename, filename2;    // for the OSError, as os and open() set them
  Py_buffer view{};                  // a caller's buffer the engine reads or writes
  bool has_view = false;
};

using OpPtr = std::shared_ptr<PendingOp>;

}  // namespace ringfile::python
