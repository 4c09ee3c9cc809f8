"""Async versions of os.path's functions that touch the filesystem.

The stat-based ones ask the loop's engine and interpret the answer as os.path
does (a failed stat is False for the predicates); the rest run os.path's own
function on the loop's executor.
"""
import stat as stat_module
from os import path


def _threaded(func):
    from .os import wrap

    return wrap(func)


async def _stat(p, follow, loop):
    from .os import lstat, stat

    return await (stat if follow else lstat)(p, loop=loop)


async def _test(p, follow, check, loop):
    try:
        st = await _stat(p, follow, loop)
    except (OSError, ValueError):
        return False
    return check(st.st_mode)


async def exists(p, *, loop=None, executor=None):
    if isinstance(p, int):
        return await _threaded(path.exists)(p, loop=loop, executor=executor)
    return await _test(p, True, lambda mode: True, loop)


async def isfile(p, *, loop=None, executor=None):
    return await _test(p, True, stat_module.S_ISREG, loop)


async def isdir(p, *, loop=None, executor=None):
    return await _test(p, True, stat_module.S_ISDIR, loop)


async def islink(p, *, loop=None, executor=None):
    return await _test(p, False, stat_module.S_ISLNK, loop)


async def getsize(p, *, loop=None, executor=None):
    return (await _stat(p, True, loop)).st_size


async def getmtime(p, *, loop=None, executor=None):
    return (await _stat(p, True, loop)).st_mtime


async def getatime(p, *, loop=None, executor=None):
    return (await _stat(p, True, loop)).st_atime


async def getctime(p, *, loop=None, executor=None):
    return (await _stat(p, True, loop)).st_ctime


async def samefile(f1, f2, *, loop=None, executor=None):
    s1 = await _stat(f1, True, loop)
    s2 = await _stat(f2, True, loop)
    return path.samestat(s1, s2)


sameopenfile = _threaded(path.sameopenfile)
ismount = _threaded(path.ismount)
abspath = _threaded(path.abspath)
