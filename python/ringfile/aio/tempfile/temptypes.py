"""Async wrappers for spooled temporary files and temporary directories."""
from ..threadpool.utils import (
    ThreadedBase,
    cond_delegate_to_executor,
    delegate_to_executor,
    proxy_property_directly,
)


@delegate_to_executor("fileno", "rollover")
@cond_delegate_to_executor("close", "flush", "isatty", "read", "readline", "readlines", "seek", "tell", "truncate")
@proxy_property_directly("closed", "encoding", "mode", "name", "newlines")
class AsyncSpooledTemporaryFile(ThreadedBase):
    """In memory until max_size, then a real file whose calls run on the executor."""

    async def _check(self):
        if self._file._rolled:
            return
        max_size = self._file._max_size
        if max_size and self._file.tell() > max_size:
            await self.rollover()

    async def write(self, s):
        if self._file._rolled:
            return await self._loop.run_in_executor(self._executor, self._file.write, s)
        written = self._file._file.write(s)
        await self._check()
        return written

    async def writelines(self, iterable):
        if self._file._rolled:
            return await self._loop.run_in_executor(self._executor, self._file.writelines, iterable)
        self._file._file.writelines(iterable)
        await self._check()


@delegate_to_executor("cleanup")
@proxy_property_directly("name")
class AsyncTemporaryDirectory:
    """A temporary directory; cleanup() and close() remove it on the executor."""

    def __init__(self, file, loop, executor):
        self._file = file
        self._loop = loop
        self._executor = executor

    async def close(self):
        await self.cleanup()
