"""The engine-backed state behind one open file: position, read-ahead, queued writes.

Regular files are read and written at explicit offsets (pread/pwrite style) from a
position kept here, so no op depends on the kernel's file offset; pipes, FIFOs and
terminals use the descriptor's own position. Writes are buffered as Python's
buffered files buffer them, and queued in order (with truncations) until drained.
"""
import io
import os
import stat as stat_module

STREAM_OFFSET = -1  # the descriptor's own position (pipes, FIFOs, ttys)
READ_AHEAD = 64 * 1024


class StreamBacked:
    """The attributes every file object built on a Stream (in self._stream) shows."""

    @property
    def closed(self):
        return self._stream.closed

    @property
    def name(self):
        return self._stream.name

    @name.setter
    def name(self, value):
        self._stream.name = value

    @property
    def mode(self):
        return self._stream.mode

    async def _closed_by_us(self):
        """Runs what was asked to follow the close (a tempfile's removal), once."""
        on_close, self._on_close = self._on_close, None
        if on_close is not None:
            await on_close()


class Stream:
    __slots__ = (
        "le", "file", "fd", "name", "mode", "readable", "writable", "append", "seekable",
        "closed", "pos", "buffer_size", "_rbuf", "_roff", "_eof", "_wbuf", "_wpos",
        "_queued", "_reposition_fd", "_isatty",
    )

    def __init__(self, le, file, name, mode, readable, writable, append, st, adopted, reposition_fd):
        self.le = le
        self.file = file
        self.fd = file.fileno()
        self.name = name
        self.mode = mode
        self.readable = readable
        self.writable = writable
        self.append = append
        self.closed = False
        self.seekable = stat_module.S_ISREG(st.st_mode) or stat_module.S_ISBLK(st.st_mode)
        self.buffer_size = st.st_blksize if st.st_blksize > 1 else io.DEFAULT_BUFFER_SIZE
        self._isatty = None
        self.pos = 0
        if self.seekable:
            # Where Python's FileIO would start: the end when appending, else the
            # descriptor's offset (the caller's position for open(fd), 0 for a path).
            if append:
                self.pos = st.st_size
            elif adopted:
                self.pos = os.lseek(self.fd, 0, os.SEEK_CUR)
        self._reposition_fd = reposition_fd  # open(fd, closefd=False): leave its offset where we got to
        self._rbuf = b""  # read-ahead: bytes at self.pos onward, from self._roff
        self._roff = 0
        self._eof = False  # the read-ahead reaches the end of the file
        self._wbuf = bytearray()  # buffered writes, starting at self._wpos
        self._wpos = 0
        self._queued = []  # ("write", offset, bytes) / ("truncate", size), in order

    # ---- state checks, as Python's io raises them ----
    def check_open(self, what="I/O operation on closed file."):
        if self.closed:
            raise ValueError(what)

    def check_readable(self):
        self.check_open()
        if not self.readable:
            raise io.UnsupportedOperation("read")

    def check_writable(self):
        self.check_open()
        if not self.writable:
            raise io.UnsupportedOperation("write")

    def check_seekable(self):
        self.check_open()
        if not self.seekable:
            raise OSError(29, "Illegal seek")

    def offset(self, at):
        return at if self.seekable else STREAM_OFFSET

    def isatty(self):
        if self._isatty is None:
            self._isatty = os.isatty(self.fd)
        return self._isatty

    # ---- read-ahead ----
    def buffered(self):
        return len(self._rbuf) - self._roff

    def take(self, n):
        """Up to n read-ahead bytes (all when n < 0), consumed."""
        start = self._roff
        end = len(self._rbuf) if n < 0 else min(len(self._rbuf), start + n)
        data = self._rbuf[start:end] if start or end != len(self._rbuf) else self._rbuf
        self._roff = end
        self.pos += end - start
        if self._roff == len(self._rbuf):
            self._rbuf, self._roff = b"", 0
        return data

    def peek_buffer(self):
        return memoryview(self._rbuf)[self._roff:]

    def drop_read_ahead(self):
        self._rbuf, self._roff, self._eof = b"", 0, False

    def at_eof(self):
        return self._eof and self.buffered() == 0

    def begin_read(self):
        """Each read call looks at the file afresh once the read-ahead is used up:
        a file that grew since is read on, as Python's files do."""
        if self._eof and self._roff == len(self._rbuf):
            self._eof = False

    async def fill(self, want=READ_AHEAD, exact=False):
        """Reads up to `want` more bytes into the read-ahead; False at end of file.
        exact: read on until `want` bytes or the end, which a short count then means."""
        if self._eof:
            return False
        await self.drain()
        at = self.pos + self.buffered()
        data = await self.le.result(self.file.read(want, self.offset(at), exact))
        if len(data) < want and exact:
            self._eof = True
        if not data:
            self._eof = True
            return False
        rest = self._rbuf[self._roff:]
        self._rbuf = rest + data if rest else data
        self._roff = 0
        return True

    async def fill_until(self, predicate, want=READ_AHEAD):
        # Each read at least doubles what is buffered: a line of n bytes costs
        # O(n log n) copying, not O(n^2).
        while not predicate() and await self.fill(max(want, self.buffered())):
            pass

    async def fill_to_eof(self):
        if self.seekable and not self._eof:
            await self.drain()
            size = os.fstat(self.fd).st_size  # a hint only: the loop below reads on to the real end
            # One byte more than the size says: a short count is the end, no second read.
            await self.fill(max(size - self.pos - self.buffered(), 0) + 1, exact=True)
        while await self.fill(max(READ_AHEAD, self.buffered())):
            pass

    def read_now(self, n):
        """Blocking read at the position: only when text decoding outran the read-ahead."""
        self.drain_now()
        want = max(n, READ_AHEAD) if n >= 0 else READ_AHEAD
        at = self.pos + self.buffered()
        data = os.pread(self.fd, want, at) if self.seekable else os.read(self.fd, want)
        if not data:
            self._eof = True
        else:
            self._rbuf = self._rbuf[self._roff:] + data
            self._roff = 0

    # ---- writes ----
    def buffer_write(self, data):
        """Queues `data` at the position, as a buffered file's write() does."""
        if self.buffered():
            self.drop_read_ahead()
        if self.append and self.seekable:
            self.pos = max(self.pos, self._end_of_queue())
        if self._wbuf and self._wpos + len(self._wbuf) != self.pos:
            self._queue_wbuf()
        if not self._wbuf:
            self._wpos = self.pos
        self._wbuf += data
        self.pos += len(data)
        return len(data)

    def _end_of_queue(self):
        return self._wpos + len(self._wbuf) if self._wbuf else self.pos

    def _queue_wbuf(self):
        if self._wbuf:
            self._queued.append(("write", self._wpos, bytes(self._wbuf)))
            self._wbuf = bytearray()

    def queue_truncate(self, size):
        self._queue_wbuf()
        self._queued.append(("truncate", size))
        self._eof = False

    def has_queued(self):
        return bool(self._wbuf or self._queued)

    def write_buffer_full(self):
        return len(self._wbuf) >= self.buffer_size

    def _take_queue(self):
        self._queue_wbuf()
        queued, self._queued = self._queued, []
        return queued

    async def drain(self):
        """Writes and truncates everything queued, in order. An op leaves the queue
        once it is done; one whose await is cancelled stays to be redone by the next
        drain where redoing is harmless (a write at an offset, a truncate), and is
        dropped where it is not (an append or a stream, which may have taken it)."""
        if not (self._wbuf or self._queued):
            return
        self._queue_wbuf()
        while self._queued:
            op = self._queued[0]
            try:
                if op[0] == "write":
                    await self.le.result(self.file.write(op[2], self.offset(op[1])))
                else:
                    await self.le.result(self.file.truncate(op[1]))
            except BaseException:
                if op[0] == "write" and (self.append or not self.seekable):
                    self._queued.pop(0)
                raise
            self._queued.pop(0)

    def drain_now(self):
        """Blocking drain, for a file dropped without close() and the rare blocking read."""
        for op in self._take_queue():
            if op[0] == "write":
                view = memoryview(op[2])
                at = op[1]
                while view:
                    n = os.pwrite(self.fd, view, at) if self.seekable else os.write(self.fd, view)
                    view, at = view[n:], at + n
            else:
                os.truncate(self.fd, op[1])

    # ---- position ----
    async def seek(self, offset, whence):
        self.check_seekable()
        if whence == os.SEEK_SET:
            if offset < 0:
                raise ValueError("negative seek position %r" % (offset,))
            target = offset
        elif whence == os.SEEK_CUR:
            target = self.pos + offset
        elif whence == os.SEEK_END:
            await self.drain()
            target = (await self.size()) + offset
        else:
            raise ValueError("whence value %r unsupported" % (whence,))
        if target < 0:
            raise OSError(22, "Invalid argument")
        self.seek_to(target)
        return target

    def seek_to(self, target):
        ahead = target - self.pos
        if 0 <= ahead <= self.buffered():
            self._roff += ahead
        else:
            self.drop_read_ahead()
        self.pos = target

    async def size(self):
        st = await self.le.result(self.file.stat())
        return st[6]

    async def close(self):
        if self.closed:
            return
        try:
            await self.drain()
        finally:
            self.closed = True
            self.drop_read_ahead()
            if self._reposition_fd and self.seekable:
                os.lseek(self.fd, self.pos, os.SEEK_SET)
            # With closefd=False the engine holds a duplicate descriptor: closing it
            # leaves the caller's open.
            await self.le.result(self.file.close())

    def __del__(self):
        # Dropped without close(): flush like a garbage-collected io file would.
        if not self.closed and (self._wbuf or self._queued):
            try:
                self.drain_now()
            except OSError:
                pass
