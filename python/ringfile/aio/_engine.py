"""One ringfile Engine per asyncio event loop, and how ops are awaited on it.

The engine is created on the loop's thread the first time that loop needs it; its
eventfd is watched with loop.add_reader, and each time it fires, poll() delivers
completions, which resolve asyncio Futures on the loop's thread. An op that is done
before its start call returns (a page-cached read) is returned without a Future.
"""
import asyncio
import os
import threading
import time
import weakref

from .._ringfile import Engine, Pending

# A run of ops that all complete at once would never give the loop a turn; after
# this long without one, the next op yields once (asyncio.sleep(0)).
YIELD_AFTER_S = 0.001

_engines = weakref.WeakKeyDictionary()
_current = threading.local()


class LoopEngine:
    """The engine of one event loop."""

    __slots__ = ("loop", "engine", "last_yield", "_fd", "__weakref__")

    def __init__(self, loop):
        self.loop = loop
        self.engine = Engine()  # Backend::Auto: RINGFILE_BACKEND decides as in C++
        self._fd = self.engine.event_fd()
        loop.add_reader(self._fd, self.engine.poll)
        self.last_yield = time.monotonic()
        _drain_when_closed(loop, self)

    async def result(self, started):
        """The value of an op: at once if it is done, else when the engine delivers it."""
        if started.__class__ is Pending:
            future = self.loop.create_future()
            started.attach(future)
            try:
                value = await future
            except asyncio.CancelledError:
                # The op completes exactly once, later; its buffer stays held until then.
                started.cancel()
                raise
            self.last_yield = time.monotonic()
            return value
        now = time.monotonic()
        if now - self.last_yield > YIELD_AFTER_S:
            self.last_yield = now
            await asyncio.sleep(0)
        return started

    async def offload(self, func, *args, executor=None, **kwargs):
        """Runs a call the engine has no op for on the loop's executor, as aiofiles does."""
        if kwargs:
            return await self.loop.run_in_executor(executor, lambda: func(*args, **kwargs))
        return await self.loop.run_in_executor(executor, func, *args)

    def due(self):
        """Whether a run of ops done at once has kept the loop waiting long enough."""
        return time.monotonic() - self.last_yield > YIELD_AFTER_S

    def close(self):
        """Cancels what is in flight and delivers every completion."""
        if self.engine is None:
            return
        try:
            self.loop.remove_reader(self._fd)
        except Exception:  # the loop may already be past accepting calls
            pass
        self.engine.close()
        self.engine = None
        _engines.pop(self.loop, None)
        if getattr(_current, "engine", None) is self:
            _current.engine = None


def _drain_when_closed(loop, loop_engine):
    original_close = loop.close

    def close():
        loop_engine.close()
        original_close()

    try:
        loop.close = close
    except (AttributeError, TypeError):  # a loop type whose methods can't be replaced
        weakref.finalize(loop, loop_engine.close)


def engine_for(loop=None):
    """The LoopEngine of `loop` (the running loop by default), created on first use."""
    if loop is None:
        loop = asyncio.get_running_loop()
    current = getattr(_current, "engine", None)
    if current is not None and current.loop is loop:
        return current
    loop_engine = _engines.get(loop)
    if loop_engine is None:
        if loop.is_closed():
            raise RuntimeError("Event loop is closed")
        loop_engine = LoopEngine(loop)
        _engines[loop] = loop_engine
    _current.engine = loop_engine
    return loop_engine


def encode_path(path):
    """(bytes for the engine, the name errors carry) for a str, bytes or PathLike
    path: the name is os.fspath(path), as os and open() report it."""
    name = os.fspath(path)
    encoded = os.fsencode(name) if isinstance(name, str) else name
    if b"\0" in encoded:
        raise ValueError("embedded null byte")
    return encoded, name


def stat_result(fields):
    """An os.stat_result from the engine's statx fields, computed as os.stat does."""
    (mode, ino, dev, nlink, uid, gid, size, a_s, a_ns, m_s, m_ns, c_s, c_ns, blksize, blocks, rdev) = fields
    return os.stat_result((
        mode, ino, dev, nlink, uid, gid, size, a_s, m_s, c_s,
        a_s + a_ns * 1e-9, m_s + m_ns * 1e-9, c_s + c_ns * 1e-9,
        a_s * 1000000000 + a_ns, m_s * 1000000000 + m_ns, c_s * 1000000000 + c_ns,
        blksize, blocks, rdev,
    ))
