"""asyncio file I/O on ringfile's engine: a drop-in for aiofiles.

    import ringfile.aio as aiofiles

    async with aiofiles.open("data.txt") as f:
        async for line in f:
            ...

Besides aiofiles' API (open, os, os.path/ospath, tempfile, threadpool, the
standard streams), files have pread/pwrite/fsync/fdatasync, and read_bytes() /
write_bytes() read or replace a whole file.
"""
from . import os, ospath, tempfile, threadpool
from ._engine import encode_path, engine_for
from .threadpool import open, stderr, stderr_bytes, stdin, stdin_bytes, stdout, stdout_bytes

__all__ = [name for name in threadpool.__all__ if name != "wrap"] + ["tempfile", "read_bytes", "write_bytes"]


async def read_bytes(path, *, loop=None):
    """The whole content of `path`, read by the engine (open, size, reads, close)."""
    le = engine_for(loop)
    encoded, name = encode_path(path)
    return await le.result(le.engine.read_file(encoded, name))


async def write_bytes(path, data, atomic=True, mode=0o666, *, loop=None):
    """Replaces `path` with `data`. atomic: a temporary file in the same directory,
    fsynced, renamed over `path`, then the directory fsynced, so a crash leaves the
    old or the new content, never a mix. Not atomic: truncate and write in place."""
    le = engine_for(loop)
    encoded, name = encode_path(path)
    await le.result(le.engine.write_file(encoded, bytes(data), mode, atomic, name))
