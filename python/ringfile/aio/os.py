"""Async versions of the os module's file functions, as aiofiles.os names them.

Path calls that ringfile has an op for go through the loop's engine; the others
(and calls with dir_fd, a descriptor instead of a path, or follow_symlinks=False
where the engine has no such form) run os's own function on the executor.
Results and errors are os's: os.stat_result, str or bytes names as given, and the
OSError subclass with filename (and filename2) set.
"""
import asyncio
import os
from functools import partial, wraps

from ._engine import encode_path, engine_for, stat_result


def wrap(func):
    """An async function that runs `func` on the loop's executor."""

    @wraps(func)
    async def run(*args, loop=None, executor=None, **kwargs):
        if loop is None:
            loop = asyncio.get_running_loop()
        return await loop.run_in_executor(executor, partial(func, *args, **kwargs))

    return run


def _engine_or_executor(func):
    """Decorator: the engine version, unless a call needs what only os offers."""

    def decorate(engine_version):
        threaded = wrap(func)

        @wraps(func)
        async def run(*args, loop=None, executor=None, **kwargs):
            if any(v is not None for k, v in kwargs.items() if k in ("dir_fd", "src_dir_fd", "dst_dir_fd")) or (
                    args and isinstance(args[0], int)):
                return await threaded(*args, loop=loop, executor=executor, **kwargs)
            return await engine_version(engine_for(loop), *args, **kwargs)

        return run

    return decorate


from . import ospath as path  # noqa: E402  (ospath uses wrap from here)


@_engine_or_executor(os.stat)
async def stat(le, p, *, dir_fd=None, follow_symlinks=True):
    encoded, name = encode_path(p)
    return stat_result(await le.result(le.engine.stat(encoded, follow_symlinks, name)))


@_engine_or_executor(os.lstat)
async def lstat(le, p, *, dir_fd=None):
    encoded, name = encode_path(p)
    return stat_result(await le.result(le.engine.stat(encoded, False, name)))


async def _two_paths(le, op, src, dst):
    src_encoded, src_name = encode_path(src)
    dst_encoded, dst_name = encode_path(dst)
    await le.result(op(src_encoded, dst_encoded, src_name, dst_name))


@_engine_or_executor(os.rename)
async def rename(le, src, dst, *, src_dir_fd=None, dst_dir_fd=None):
    await _two_paths(le, le.engine.rename, src, dst)


@_engine_or_executor(os.replace)
async def replace(le, src, dst, *, src_dir_fd=None, dst_dir_fd=None):
    await _two_paths(le, le.engine.rename, src, dst)  # rename(2) replaces on Linux, as os.replace


@_engine_or_executor(os.link)
async def link(le, src, dst, *, src_dir_fd=None, dst_dir_fd=None, follow_symlinks=True):
    if not follow_symlinks:
        return await wrap(os.link)(src, dst, follow_symlinks=False)
    await _two_paths(le, le.engine.link, src, dst)


@_engine_or_executor(os.symlink)
async def symlink(le, src, dst, target_is_directory=False, *, dir_fd=None):
    await _two_paths(le, le.engine.symlink, src, dst)


@_engine_or_executor(os.unlink)
async def unlink(le, p, *, dir_fd=None):
    encoded, name = encode_path(p)
    await le.result(le.engine.unlink(encoded, name))


@_engine_or_executor(os.remove)
async def remove(le, p, *, dir_fd=None):
    encoded, name = encode_path(p)
    await le.result(le.engine.unlink(encoded, name))


@_engine_or_executor(os.rmdir)
async def rmdir(le, p, *, dir_fd=None):
    encoded, name = encode_path(p)
    await le.result(le.engine.rmdir(encoded, name))


@_engine_or_executor(os.mkdir)
async def mkdir(le, p, mode=0o777, *, dir_fd=None):
    encoded, name = encode_path(p)
    await le.result(le.engine.mkdir(encoded, mode, name))


@_engine_or_executor(os.readlink)
async def readlink(le, p, *, dir_fd=None):
    encoded, name = encode_path(p)
    target = await le.result(le.engine.readlink(encoded, name))
    return target if isinstance(name, bytes) else os.fsdecode(target)


async def listdir(p=None, *, loop=None, executor=None):
    if p is None:
        p = "."
    if isinstance(p, int):
        return await wrap(os.listdir)(p, loop=loop, executor=executor)
    le = engine_for(loop)
    encoded, name = encode_path(p)
    entries = await le.result(le.engine.listdir(encoded, name))
    if isinstance(name, bytes):
        return [entry[0] for entry in entries]
    return [os.fsdecode(entry[0]) for entry in entries]


@_engine_or_executor(os.access)
async def access(le, p, mode, *, dir_fd=None, effective_ids=False, follow_symlinks=True):
    if effective_ids or not follow_symlinks:
        return await wrap(os.access)(p, mode, effective_ids=effective_ids, follow_symlinks=follow_symlinks)
    encoded, name = encode_path(p)
    try:
        await le.result(le.engine.access(encoded, mode, name))
    except OSError:
        return False
    return True


@_engine_or_executor(os.statvfs)
async def statvfs(le, p):
    encoded, name = encode_path(p)
    return os.statvfs_result(await le.result(le.engine.statvfs(encoded, name)))


async def makedirs(name, mode=0o777, exist_ok=False, *, loop=None, executor=None):
    """os.makedirs, each mkdir through the engine (the same steps in the same order)."""
    head, tail = os.path.split(name)
    if not tail:
        head, tail = os.path.split(head)
    if head and tail and not await path.exists(head, loop=loop):
        try:
            await makedirs(head, exist_ok=exist_ok, loop=loop, executor=executor)
        except FileExistsError:
            pass  # another task made it meanwhile
        cdir = os.curdir
        if isinstance(tail, bytes):
            cdir = bytes(os.curdir, "ASCII")
        if tail == cdir:
            return
    try:
        await mkdir(name, mode, loop=loop)
    except OSError:
        if not exist_ok or not await path.isdir(name, loop=loop):
            raise


async def removedirs(name, *, loop=None, executor=None):
    """os.removedirs, each rmdir through the engine."""
    await rmdir(name, loop=loop)
    head, tail = os.path.split(name)
    if not tail:
        head, tail = os.path.split(head)
    while head and tail:
        try:
            await rmdir(head, loop=loop)
        except OSError:
            break
        head, tail = os.path.split(head)


async def renames(old, new, *, loop=None, executor=None):
    """os.renames, the rename and directory steps through the engine."""
    head, tail = os.path.split(new)
    if head and tail and not await path.exists(head, loop=loop):
        await makedirs(head, loop=loop)
    await rename(old, new, loop=loop)
    head, tail = os.path.split(old)
    if head and tail:
        try:
            await removedirs(head, loop=loop)
        except OSError:
            pass


scandir = wrap(os.scandir)
getcwd = wrap(os.getcwd)
if hasattr(os, "sendfile"):
    _threaded_sendfile = wrap(os.sendfile)

    @wraps(os.sendfile)
    async def sendfile(out_fd, in_fd, offset, count, *, loop=None, executor=None, **kwargs):
        """os.sendfile through the engine (File::send_to): cached data to a non-blocking
        socket goes at once, the rest without a thread per call. It returns once `count`
        bytes are sent, the file ends, or an error comes: a full non-blocking socket
        (asyncio's are) is waited on inside the engine instead of raising
        BlockingIOError. offset=None (the descriptor's own position, which os.sendfile
        moves) runs os.sendfile on the executor, as aiofiles does."""
        if offset is None or kwargs:
            return await _threaded_sendfile(out_fd, in_fd, offset, count, loop=loop, executor=executor, **kwargs)
        le = engine_for(loop)
        return await le.result(le.engine.sendfile(out_fd, in_fd, offset, count))
