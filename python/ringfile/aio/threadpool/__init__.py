"""open(), wrap() and the standard streams, under the names aiofiles.threadpool uses.

open() does its I/O through the running loop's ringfile engine; the name stays
for code that imports from here. wrap() and the standard streams run a
synchronous file's methods on the loop's executor, as aiofiles does: those files
are shared with synchronous code (print, sys.stdout.write) that must stay in order.
"""
import builtins
import io
import os
import stat as stat_module
import sys
import warnings
from functools import singledispatch

from .._engine import encode_path, engine_for
from .._stream import Stream
from .._textbuffer import TextBuffer
from ..base import AiofilesContextManager
from .binary import (
    AsyncBufferedIOBase,
    AsyncBufferedReader,
    AsyncFileIO,
    AsyncIndirectBufferedIOBase,
    ThreadedBufferedIOBase,
    ThreadedBufferedReader,
    ThreadedFileIO,
)
from .text import AsyncTextIndirectIOWrapper, AsyncTextIOWrapper, ThreadedTextIOWrapper

sync_open = builtins.open

__all__ = (
    "open",
    "wrap",
    "stdin",
    "stdout",
    "stderr",
    "stdin_bytes",
    "stdout_bytes",
    "stderr_bytes",
)


def open(file, mode="r", buffering=-1, encoding=None, errors=None, newline=None, closefd=True, opener=None,
         *, loop=None, executor=None):
    """Opens a file like the built-in open(); await the result or use `async with`."""
    return AiofilesContextManager(_open(file, mode, buffering, encoding, errors, newline, closefd, opener,
                                        loop=loop, executor=executor))


class _OpenSpec:
    """What Python's open() makes of the arguments: flags, kind of object, mode name."""

    __slots__ = ("flags", "kind", "mode", "encoding", "errors", "readable", "writable", "append")


_specs = {}


def _open_spec(mode, buffering, encoding, errors, newline):
    """Python's own open() checks the arguments and computes the flags: it is run
    once per distinct set of arguments with an opener that hands it /dev/null."""
    key = (mode, buffering, encoding, errors, newline)
    try:
        return _specs[key]
    except (KeyError, TypeError):
        pass
    captured = []

    def opener(_path, flags):
        captured.append(flags)
        return os.open(os.devnull, os.O_RDWR | os.O_CLOEXEC)

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # raised again below, at the caller
        sham = sync_open(os.devnull, mode, buffering, encoding, errors, newline, True, opener)
    with sham:
        spec = _OpenSpec()
        spec.flags = captured[0]
        spec.mode = sham.mode
        spec.readable = sham.readable()
        spec.writable = sham.writable()
        spec.append = "a" in mode
        if isinstance(sham, io.TextIOWrapper):
            spec.kind = "text"
            spec.encoding, spec.errors = sham.encoding, sham.errors
        else:
            spec.kind = "raw" if isinstance(sham, io.FileIO) else ("writer" if isinstance(sham, io.BufferedWriter) else "reader")
            spec.encoding = spec.errors = None
    try:
        _specs[key] = spec
    except TypeError:  # unhashable arguments: checked every time
        pass
    return spec


async def _open(file, mode="r", buffering=-1, encoding=None, errors=None, newline=None, closefd=True, opener=None,
                *, loop=None, executor=None, on_close=None, name=None):
    le = engine_for(loop)
    if buffering == 1 and "b" in mode:
        warnings.warn("line buffering (buffering=1) isn't supported in binary mode, "
                      "the default buffer size will be used", RuntimeWarning, 2)
    spec = _open_spec(mode, buffering, encoding, errors, newline)
    from_fd = isinstance(file, int) and not isinstance(file, bool)
    if from_fd:
        if file < 0:
            raise ValueError("negative file descriptor")
        handle = le.engine.adopt(file if closefd else os.dup(file))
        file_name = file
    else:
        if not closefd:
            raise ValueError("Cannot use closefd=False with file name")
        path, file_name = encode_path(file)
        if opener is None:
            handle = await le.result(le.engine.open(path, spec.flags, 0o666, file_name))
        else:
            fd = await le.offload(opener, file_name, spec.flags, executor=executor)
            if not isinstance(fd, int) or fd < 0:
                raise ValueError("opener returned %r" % (fd,))
            handle = le.engine.adopt(fd)
    try:
        # fstat of an open descriptor needs no disk I/O; open() does the same check.
        st = os.fstat(handle.fileno())
        if stat_module.S_ISDIR(st.st_mode):
            raise IsADirectoryError(21, os.strerror(21), file_name)
    except BaseException:
        await le.result(handle.close())
        raise
    stream = Stream(le, handle, name if name is not None else file_name, spec.mode, spec.readable, spec.writable,
                    spec.append, st, adopted=from_fd or opener is not None, reposition_fd=from_fd and not closefd)
    if buffering > 1:
        stream.buffer_size = buffering
    if spec.kind == "raw":
        return AsyncFileIO(stream, on_close)
    if spec.kind == "writer":
        return AsyncBufferedIOBase(stream, on_close)
    if spec.kind == "reader":
        return AsyncBufferedReader(stream, on_close)
    line_buffering = buffering == 1 or (buffering < 0 and stream.isatty())
    text = io.TextIOWrapper(TextBuffer(stream), spec.encoding, spec.errors, newline, line_buffering)
    return AsyncTextIOWrapper(stream, text, on_close)


@singledispatch
def wrap(file, *, loop=None, executor=None):
    """An async object for an already open synchronous file: its methods run on the executor."""
    raise TypeError("Unsupported io type: {}.".format(file))


@wrap.register(io.TextIOBase)
def _(file, *, loop=None, executor=None):
    return ThreadedTextIOWrapper(file, loop=loop, executor=executor)


@wrap.register(io.BufferedWriter)
@wrap.register(io.BufferedIOBase)
def _(file, *, loop=None, executor=None):
    return ThreadedBufferedIOBase(file, loop=loop, executor=executor)


@wrap.register(io.BufferedReader)
@wrap.register(io.BufferedRandom)
def _(file, *, loop=None, executor=None):
    return ThreadedBufferedReader(file, loop=loop, executor=executor)


@wrap.register(io.FileIO)
def _(file, *, loop=None, executor=None):
    return ThreadedFileIO(file, loop=loop, executor=executor)


stdin = AsyncTextIndirectIOWrapper("sys.stdin", None, None, indirect=lambda: sys.stdin)
stdout = AsyncTextIndirectIOWrapper("sys.stdout", None, None, indirect=lambda: sys.stdout)
stderr = AsyncTextIndirectIOWrapper("sys.stderr", None, None, indirect=lambda: sys.stderr)
stdin_bytes = AsyncIndirectBufferedIOBase("sys.stdin.buffer", None, None, indirect=lambda: sys.stdin.buffer)
stdout_bytes = AsyncIndirectBufferedIOBase("sys.stdout.buffer", None, None, indirect=lambda: sys.stdout.buffer)
stderr_bytes = AsyncIndirectBufferedIOBase("sys.stderr.buffer", None, None, indirect=lambda: sys.stderr.buffer)
