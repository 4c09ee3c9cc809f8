"""Text file objects: Python's own io.TextIOWrapper over bytes the engine reads.

Each async method first stages enough bytes (engine reads into the read-ahead),
then runs the io.TextIOWrapper method, then drains what it wrote through the
engine. Decoding, newline translation and tell()/seek() cookies are therefore
Python's, unchanged.
"""
import io
import os

from .._stream import StreamBacked
from ..base import AsyncBase
from .binary import AsyncBufferedReader
from .utils import IndirectBase, ThreadedBase, delegating

# Most bytes one decoded character can take in the codecs Python ships, times two
# for a "\r\n" that becomes one "\n": enough staged for read(n) in all but freak
# cases, which the text buffer's blocking read covers.
_STAGE_BYTES_PER_CHAR = 8


def _encoded_newlines(encoding):
    """How "\\n" and "\\r" look in `encoding` after any BOM, or () if it can't say."""
    try:
        return tuple((c * 2).encode(encoding)[len(c.encode(encoding)):] for c in "\n\r")
    except (LookupError, UnicodeError, TypeError):
        return ()


class AsyncTextIOWrapper(StreamBacked, AsyncBase):
    """The engine version of io.TextIOWrapper."""

    def __init__(self, stream, text, on_close=None):
        self._stream = stream
        self._text = text
        self._on_close = on_close
        self._newlines = _encoded_newlines(text.encoding)

    def __repr__(self):
        return "<%s name=%r mode=%r encoding=%r>" % (
            type(self).__name__, self._stream.name, self._stream.mode, self._text.encoding)

    # -- synchronous, as in aiofiles --
    def fileno(self):
        return self._text.fileno()

    def detach(self):
        raise io.UnsupportedOperation("detach")

    @property
    def buffer(self):
        return AsyncBufferedReader(self._stream)

    encoding = property(lambda self: self._text.encoding)
    errors = property(lambda self: self._text.errors)
    line_buffering = property(lambda self: self._text.line_buffering)
    newlines = property(lambda self: self._text.newlines)

    # -- staging and draining around the synchronous wrapper --
    async def _stage(self, enough):
        s = self._stream
        if s.readable and not s.closed:
            s.begin_read()
            await s.fill_until(enough)

    def _line_staged(self):
        s = self._stream
        buf, start = s._rbuf, s._roff
        for pattern in self._newlines:
            at = buf.find(pattern, start)
            # One byte past the newline too: a "\r" may be the first half of "\r\n".
            if at >= 0 and at + len(pattern) < len(buf):
                return True
        return not self._newlines and s.buffered() > 0

    async def _after_write(self):
        s = self._stream
        if s.write_buffer_full() or (self._text.line_buffering and s.has_queued()):
            await s.drain()

    # -- asynchronous --
    async def read(self, size=-1):
        if size is None or size < 0:
            if self._stream.readable and not self._stream.closed:
                self._stream.begin_read()
                await self._stream.fill_to_eof()
        else:
            want = size * _STAGE_BYTES_PER_CHAR + 2
            await self._stage(lambda: self._stream.buffered() >= want)
        return self._text.read(size)

    async def readline(self, size=-1):
        await self._stage(self._line_staged)
        return self._text.readline(size)

    async def write(self, text):
        n = self._text.write(text)
        await self._after_write()
        return n

    async def writelines(self, lines):
        self._text.writelines(lines)
        await self._after_write()

    async def flush(self):
        self._text.flush()
        await self._stream.drain()

    async def seek(self, cookie, whence=os.SEEK_SET):
        if whence == os.SEEK_END:
            self._text.flush()
            await self._stream.drain()
        return self._text.seek(cookie, whence)

    async def tell(self):
        return self._text.tell()

    async def truncate(self, pos=None):
        result = self._text.truncate(pos)
        await self._stream.drain()
        return result

    async def close(self):
        if self._text.closed:
            return
        try:
            try:
                self._text.flush()
            finally:
                await self._stream.close()
        finally:
            await self._closed_by_us()

    async def isatty(self):
        return self._text.isatty()

    async def seekable(self):
        return self._text.seekable()

    async def writable(self):
        return self._text.writable()

    async def readable(self):
        return self._text.readable()


_text = delegating(
    ("close", "flush", "isatty", "read", "readable", "readline", "readlines", "seek",
     "seekable", "tell", "truncate", "write", "writable", "writelines"),
    ("detach", "fileno"),
    ("buffer", "closed", "encoding", "errors", "line_buffering", "newlines", "name", "mode"))


@_text
class ThreadedTextIOWrapper(ThreadedBase):
    """A synchronous text file, its blocking methods run on the executor."""


@_text
class AsyncTextIndirectIOWrapper(IndirectBase):
    """sys.stdin and friends, looked up at each use."""
