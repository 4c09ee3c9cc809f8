"""Async temporary files and directories, as aiofiles.tempfile offers them.

The file is created by Python's tempfile on the loop's executor (the same names,
flags and clean-up rules), then its descriptor is handed to the loop's engine, which
does every read and write. SpooledTemporaryFile stays in memory until it rolls
over and then runs on the executor, as in aiofiles.
"""
import asyncio
import os
from functools import partial
from tempfile import (
    NamedTemporaryFile as syncNamedTemporaryFile,
    SpooledTemporaryFile as syncSpooledTemporaryFile,
    TemporaryDirectory as syncTemporaryDirectory,
    TemporaryFile as syncTemporaryFile,
)

from ..base import AiofilesContextManager
from ..threadpool import _open
from .temptypes import AsyncSpooledTemporaryFile, AsyncTemporaryDirectory

__all__ = [
    "NamedTemporaryFile",
    "TemporaryFile",
    "SpooledTemporaryFile",
    "TemporaryDirectory",
]


def NamedTemporaryFile(mode="w+b", buffering=-1, encoding=None, newline=None, suffix=None, prefix=None, dir=None,
                       delete=True, loop=None, executor=None):
    """A temporary file with a name in the filesystem (removed on close when delete)."""
    return AiofilesContextManager(_temporary_file(
        True, mode, buffering, encoding, newline, suffix, prefix, dir, delete, loop, executor))


def TemporaryFile(mode="w+b", buffering=-1, encoding=None, newline=None, suffix=None, prefix=None, dir=None,
                  loop=None, executor=None):
    """A temporary file without a name (O_TMPFILE where the filesystem has it)."""
    return AiofilesContextManager(_temporary_file(
        False, mode, buffering, encoding, newline, suffix, prefix, dir, True, loop, executor))


def SpooledTemporaryFile(max_size=0, mode="w+b", buffering=-1, encoding=None, newline=None, suffix=None,
                         prefix=None, dir=None, loop=None, executor=None):
    """A temporary file kept in memory until it grows past max_size."""
    return AiofilesContextManager(_spooled_temporary_file(
        max_size, mode, buffering, encoding, newline, suffix, prefix, dir, loop, executor))


def TemporaryDirectory(suffix=None, prefix=None, dir=None, loop=None, executor=None):
    """A temporary directory; `async with` gives its name and removes it at the end."""
    return AiofilesContextManagerTempDir(_temporary_directory(suffix, prefix, dir, loop, executor))


async def _temporary_file(named, mode, buffering, encoding, newline, suffix, prefix, dir, delete, loop, executor):
    if loop is None:
        loop = asyncio.get_running_loop()
    # Python's tempfile makes the file (binary, so the descriptor is all that is
    # kept); the engine gets a duplicate and the object itself is closed with ours.
    if named:
        make = partial(syncNamedTemporaryFile, mode="w+b", buffering=0, suffix=suffix, prefix=prefix, dir=dir,
                       delete=delete)
    else:
        make = partial(syncTemporaryFile, mode="w+b", buffering=0, suffix=suffix, prefix=prefix, dir=dir)
    sync_file = await loop.run_in_executor(executor, make)
    try:
        fd = os.dup(sync_file.fileno())
    except BaseException:
        sync_file.close()
        raise

    async def close_sync_file():
        await loop.run_in_executor(executor, sync_file.close)  # removes a named file when delete

    try:
        result = await _open(fd, mode, buffering, encoding, None, newline, True, None, loop=loop,
                             executor=executor, on_close=close_sync_file, name=sync_file.name if named else fd)
    except BaseException:
        os.close(fd)
        await close_sync_file()
        raise
    if named:
        result.delete = delete
    return result


async def _spooled_temporary_file(max_size, mode, buffering, encoding, newline, suffix, prefix, dir, loop, executor):
    if loop is None:
        loop = asyncio.get_running_loop()
    make = partial(syncSpooledTemporaryFile, max_size=max_size, mode=mode, buffering=buffering, encoding=encoding,
                   newline=newline, suffix=suffix, prefix=prefix, dir=dir)
    return AsyncSpooledTemporaryFile(await loop.run_in_executor(executor, make), loop=loop, executor=executor)


async def _temporary_directory(suffix, prefix, dir, loop, executor):
    if loop is None:
        loop = asyncio.get_running_loop()
    make = partial(syncTemporaryDirectory, suffix, prefix, dir)
    return AsyncTemporaryDirectory(await loop.run_in_executor(executor, make), loop=loop, executor=executor)


class AiofilesContextManagerTempDir(AiofilesContextManager):
    """`async with` gives the directory's name, as tempfile.TemporaryDirectory does."""

    async def __aenter__(self):
        self._obj = await self._coro
        return self._obj.name
