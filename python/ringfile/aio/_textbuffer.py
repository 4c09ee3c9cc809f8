"""A synchronous buffered-binary face of a Stream, for io.TextIOWrapper to sit on.

Text mode is Python's own io.TextIOWrapper, so encodings, errors, newline
translation and tell()/seek() cookies follow Python's rules exactly. The async text
file stages bytes into the Stream's read-ahead with engine reads before it calls
the wrapper, and drains the writes the wrapper queued afterwards; this object
only hands over staged bytes and queues writes. When decoding needs more bytes
than were staged (a long run of undecodable bytes under errors='ignore', say) it
reads the rest with a blocking pread rather than give the wrapper a wrong answer.
"""
import io
import os

from ._stream import StreamBacked


class TextBuffer(StreamBacked, io.BufferedIOBase):
    def __init__(self, stream):
        super().__init__()
        self._stream = stream

    # TextIOWrapper reads through read1(), and read() for read(-1) and seek().
    def read1(self, size=-1):
        s = self._stream
        s.check_readable()
        if s.buffered() == 0 and not s._eof:
            s.read_now(size)
        return s.take(size)

    def read(self, size=-1):
        s = self._stream
        s.check_readable()
        chunks = []
        while size < 0 or size > 0:
            if s.buffered() == 0:
                if s._eof:
                    break
                s.read_now(size)
                continue
            chunk = s.take(size)
            chunks.append(chunk)
            if size > 0:
                size -= len(chunk)
        return b"".join(chunks)

    def write(self, data):
        self._stream.check_writable()
        return self._stream.buffer_write(data)

    def flush(self):
        self._stream.check_open("flush of closed file")  # queued writes are drained by the async file

    def seek(self, pos, whence=0):
        s = self._stream
        s.check_seekable()
        if whence == os.SEEK_END:
            s.drain_now()  # the async file drains first; this only runs for a direct caller
            pos += os.fstat(s.fd).st_size
        elif whence == os.SEEK_CUR:
            pos += s.pos
        if pos < 0:
            raise OSError(22, "Invalid argument")
        s.seek_to(pos)
        return pos

    def tell(self):
        s = self._stream
        s.check_seekable()
        return s.pos

    def truncate(self, pos=None):
        s = self._stream
        s.check_writable()
        if pos is None:
            pos = s.pos
        s.queue_truncate(pos)
        return pos

    def _open_stream(self):
        self._stream.check_open()
        return self._stream

    def readable(self):
        return self._open_stream().readable

    def writable(self):
        return self._open_stream().writable

    def seekable(self):
        return self._open_stream().seekable

    def fileno(self):
        return self._open_stream().fd

    def isatty(self):
        return self._open_stream().isatty()

    def close(self):
        # The async file closes the descriptor; a wrapper closed any other way
        # (garbage collection) still gets its queued writes out.
        s = self._stream
        if not s.closed and s.has_queued():
            s.drain_now()

    def detach(self):
        raise io.UnsupportedOperation("detach")
