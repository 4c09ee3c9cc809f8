"""Binary file objects: buffered (as io.BufferedReader/Writer/Random) and raw (as
io.FileIO), with every read and write done by the loop's ringfile engine."""
import io
import os

from .._engine import Pending
from .._stream import READ_AHEAD, STREAM_OFFSET, StreamBacked
from ..base import AsyncBase
from .utils import IndirectBase, ThreadedBase, delegate_to_executor, delegating


class _EngineFile(StreamBacked, AsyncBase):
    """What every engine-backed file object has: sync attributes, position, sync ops."""

    def __init__(self, stream, on_close=None):
        self._stream = stream
        self._on_close = on_close

    def __repr__(self):
        return "<%s name=%r mode=%r>" % (type(self).__name__, self._stream.name, self._stream.mode)

    # -- synchronous, as in aiofiles --
    def fileno(self):
        self._stream.check_open()
        return self._stream.fd

    def readable(self):
        self._stream.check_open()
        return self._stream.readable

    # -- asynchronous --
    async def isatty(self):
        self._stream.check_open()
        return self._stream.isatty()

    async def seekable(self):
        self._stream.check_open()
        return self._stream.seekable

    async def writable(self):
        self._stream.check_open()
        return self._stream.writable

    async def seek(self, offset, whence=os.SEEK_SET):
        s = self._stream
        if whence == os.SEEK_SET and s.seekable and not s.closed and offset.__class__ is int and offset >= 0:
            s.seek_to(offset)
            return offset
        return await s.seek(offset, whence)

    async def tell(self):
        self._stream.check_seekable()
        return self._stream.pos

    async def truncate(self, size=None):
        s = self._stream
        s.check_writable()
        await s.drain()
        if size is None:
            size = s.pos
        await s.le.result(s.file.truncate(size))
        s.drop_read_ahead()
        return size

    async def flush(self):
        self._stream.check_open("flush of closed file")
        await self._stream.drain()

    async def close(self):
        if self._stream.closed:
            return
        try:
            await self._stream.close()
        finally:
            await self._closed_by_us()

    async def readall(self):
        s = self._stream
        s.check_readable()
        s.begin_read()
        await s.fill_to_eof()
        return s.take(-1)

    # -- beyond aiofiles: positional I/O and durability, no seek round trip --
    async def pread(self, size, offset):
        """Up to `size` bytes at `offset` (fewer only at end of file); the position is unchanged."""
        s = self._stream
        s.check_readable()
        await s.drain()
        return await s.le.result(s.file.read(size, offset, True))

    async def pwrite(self, data, offset):
        """Writes all of `data` at `offset`; the position is unchanged."""
        s = self._stream
        s.check_writable()
        await s.drain()
        s.drop_read_ahead()
        return await s.le.result(s.file.write(data, offset, True))

    async def fsync(self):
        s = self._stream
        s.check_open()
        await s.drain()
        await s.le.result(s.file.fsync(False))

    async def fdatasync(self):
        s = self._stream
        s.check_open()
        await s.drain()
        await s.le.result(s.file.fsync(True))


class AsyncBufferedIOBase(_EngineFile):
    """The engine version of io.BufferedWriter and BufferedIOBase."""

    def detach(self):
        raise io.UnsupportedOperation("detach")

    @property
    def raw(self):
        return AsyncFileIO(self._stream)

    async def read(self, size=-1):
        s = self._stream
        if s.closed or not s.readable:
            s.check_readable()
        s.begin_read()
        if size is None or size < 0:
            await s.fill_to_eof()
            return s.take(-1)
        have = len(s._rbuf) - s._roff
        if have >= size or s._eof:
            return s.take(size)
        if s._wbuf or s._queued:
            await s.drain()
        le = s.le
        rest = s.file.read(size - have, s.pos + have if s.seekable else STREAM_OFFSET, True)
        if rest.__class__ is Pending or le.due():
            rest = await le.result(rest)
        if not have:
            s.pos += len(rest)
            return rest
        head = s.take(have)
        s.pos += len(rest)
        return head + rest

    async def read1(self, size=-1):
        s = self._stream
        s.check_readable()
        s.begin_read()
        if size is None or size < 0:
            size = s.buffer_size
        if s.buffered() == 0 and size > 0:
            await s.fill(max(size, s.buffer_size))
        return s.take(size)

    async def readinto(self, buffer):
        s = self._stream
        s.check_readable()
        s.begin_read()
        view = memoryview(buffer).cast("B")
        have = min(s.buffered(), len(view))
        if have == len(view) or (have and s.at_eof()):
            view[:have] = s.take(have)
            return have
        await s.drain()
        got = await s.le.result(s.file.readinto(view[have:], s.offset(s.pos + have), True))
        if have:
            view[:have] = s.take(have)
        s.pos += got
        return have + got

    async def readline(self, size=-1):
        s = self._stream
        s.check_readable()
        s.begin_read()
        if size is None:
            size = -1
        while True:
            end = s._rbuf.find(b"\n", s._roff)
            if end >= 0:
                n = end + 1 - s._roff
                return s.take(n if size < 0 else min(n, size))
            if 0 <= size <= s.buffered():
                return s.take(size)
            if not await s.fill(max(s.buffer_size, READ_AHEAD, s.buffered())):
                return s.take(-1 if size < 0 else size)

    async def write(self, data):
        s = self._stream
        s.check_writable()
        view = memoryview(data)
        n = view.nbytes
        if not s.has_queued() and n >= s.buffer_size:
            s.drop_read_ahead()
            written = await s.le.result(s.file.write(data, s.offset(s.pos), True))
            s.pos += written
            return written
        s.buffer_write(view.tobytes())
        if s.write_buffer_full():
            await s.drain()
        return n

    async def writelines(self, lines):
        for line in lines:
            await self.write(line)


class AsyncBufferedReader(AsyncBufferedIOBase):
    """The engine version of io.BufferedReader and BufferedRandom."""

    async def peek(self, size=0):
        s = self._stream
        s.check_readable()
        s.begin_read()
        if s.buffered() == 0:
            await s.fill(max(size, s.buffer_size))
        return bytes(s.peek_buffer())


class AsyncFileIO(_EngineFile):
    """The engine version of io.FileIO: unbuffered, one system call's worth per op."""

    async def _advance(self, started):
        """The result of one op started at the position, which moves past what it moved."""
        result = await self._stream.le.result(started)
        self._stream.pos += result if result.__class__ is int else len(result)
        return result

    async def read(self, size=-1):
        s = self._stream
        s.check_readable()
        if size is None or size < 0:
            return await self.readall()
        return await self._advance(s.file.read(size, s.offset(s.pos), False))

    async def readinto(self, buffer):
        s = self._stream
        s.check_readable()
        return await self._advance(s.file.readinto(buffer, s.offset(s.pos), False))

    async def readline(self, size=-1):
        # FileIO reads a byte at a time here; the result is the same line.
        line = bytearray()
        while size is None or size < 0 or len(line) < size:
            byte = await self.read(1)
            if not byte:
                break
            line += byte
            if byte == b"\n":
                break
        return bytes(line)

    async def write(self, data):
        s = self._stream
        s.check_writable()
        s.drop_read_ahead()
        return await self._advance(s.file.write(data, s.offset(s.pos), False))

    async def writelines(self, lines):
        for line in lines:
            await self.write(line)


# Thread-offloaded versions, for the standard streams and wrap(): the same lists of
# methods aiofiles delegates.
_buffered = delegating(
    ("close", "flush", "isatty", "read", "read1", "readinto", "readline", "readlines",
     "seek", "seekable", "tell", "truncate", "writable", "write", "writelines"),
    ("detach", "fileno", "readable"),
    ("closed", "raw", "name", "mode"))
_fileio = delegating(
    ("close", "flush", "isatty", "read", "readall", "readinto", "readline", "readlines",
     "seek", "seekable", "tell", "truncate", "writable", "write", "writelines"),
    ("fileno", "readable"),
    ("closed", "name", "mode"))
_peek = delegate_to_executor("peek")


@_buffered
class ThreadedBufferedIOBase(ThreadedBase):
    """A synchronous buffered binary file, its blocking methods run on the executor."""


@_peek
class ThreadedBufferedReader(ThreadedBufferedIOBase):
    pass


@_fileio
class ThreadedFileIO(ThreadedBase):
    pass


@_buffered
class AsyncIndirectBufferedIOBase(IndirectBase):
    """sys.stdin.buffer and friends, looked up at each use."""


@_peek
class AsyncIndirectBufferedReader(AsyncIndirectBufferedIOBase):
    pass


@_fileio
class AsyncIndirectFileIO(IndirectBase):
    pass
