"""ringfile.aio.os and ringfile.aio.os.path / ospath against os and os.path."""
import asyncio
import errno
import os
import pathlib
import socket

import pytest

import ringfile.aio as aio
import ringfile.aio.os
import ringfile.aio.ospath
from ringfile.aio._engine import engine_for


def test_modules_have_aiofiles_names():
    for name in ("stat", "rename", "renames", "replace", "remove", "unlink", "mkdir", "makedirs", "rmdir",
                 "removedirs", "link", "symlink", "readlink", "listdir", "scandir", "access", "sendfile",
                 "statvfs", "getcwd", "wrap", "path"):
        assert hasattr(aio.os, name), name
    for name in ("exists", "isfile", "isdir", "islink", "ismount", "getsize", "getmtime", "getatime", "getctime",
                 "samefile", "sameopenfile", "abspath"):
        assert hasattr(aio.os.path, name) and hasattr(aio.ospath, name), name
    assert aio.os.path is aio.ospath


@pytest.mark.parametrize("make", [str, pathlib.Path, os.fsencode])
async def test_stat_matches_os_stat(tmp, make):
    p = tmp / "f"
    p.write_bytes(b"12345")
    os.symlink(p, tmp / "link")
    for target in (p, tmp / "link", tmp):
        assert await aio.os.stat(make(str(target))) == os.stat(make(str(target)))
    assert await aio.os.stat(make(str(tmp / "link")), follow_symlinks=False) == os.lstat(tmp / "link")
    st = await aio.os.stat(make(str(p)))
    assert (st.st_mtime, st.st_mtime_ns, st.st_dev, st.st_blksize) == (
        os.stat(p).st_mtime, os.stat(p).st_mtime_ns, os.stat(p).st_dev, os.stat(p).st_blksize)


async def test_stat_of_a_descriptor_and_dir_fd_use_os(tmp):
    p = tmp / "f"
    p.write_bytes(b"x")
    fd = os.open(p, os.O_RDONLY)
    dfd = os.open(tmp, os.O_RDONLY)
    try:
        assert await aio.os.stat(fd) == os.stat(fd)
        assert await aio.os.stat("f", dir_fd=dfd) == os.stat("f", dir_fd=dfd)
    finally:
        os.close(fd)
        os.close(dfd)


async def test_directory_and_link_operations(tmp):
    d = tmp / "d"
    await aio.os.mkdir(d, 0o750)
    assert os.stat(d).st_mode & 0o777 == 0o750 & ~_umask()
    await aio.os.makedirs(tmp / "a" / "b" / "c")
    await aio.os.makedirs(tmp / "a" / "b" / "c", exist_ok=True)
    with pytest.raises(FileExistsError):
        await aio.os.makedirs(tmp / "a" / "b" / "c")
    (d / "f").write_text("x")
    await aio.os.rename(d / "f", d / "g")
    assert sorted(await aio.os.listdir(d)) == sorted(os.listdir(d)) == ["g"]
    assert await aio.os.listdir(os.fsencode(str(d))) == os.listdir(os.fsencode(str(d)))
    await aio.os.replace(d / "g", d / "h")
    await aio.os.link(d / "h", d / "hard")
    assert os.stat(d / "hard").st_nlink == 2
    await aio.os.symlink("h", d / "soft")
    assert await aio.os.readlink(d / "soft") == os.readlink(d / "soft") == "h"
    assert await aio.os.readlink(os.fsencode(str(d / "soft"))) == b"h"
    assert await aio.os.access(d / "h", os.R_OK) is os.access(d / "h", os.R_OK) is True
    assert await aio.os.access(d / "nope", os.F_OK) is False
    await aio.os.remove(d / "hard")
    await aio.os.unlink(d / "soft")
    await aio.os.unlink(d / "h")
    await aio.os.rmdir(d)
    assert not d.exists()
    await aio.os.renames(tmp / "a" / "b" / "c", tmp / "x" / "y")
    assert (tmp / "x" / "y").is_dir() and not (tmp / "a").exists()
    await aio.os.removedirs(tmp / "x" / "y")
    assert not (tmp / "x").exists()


def _umask():
    mask = os.umask(0)
    os.umask(mask)
    return mask


async def test_scandir_statvfs_getcwd_and_sendfile(tmp):
    (tmp / "f").write_bytes(b"payload")
    entries = await aio.os.scandir(tmp)
    assert [e.name for e in entries] == ["f"]
    got, want = await aio.os.statvfs(tmp), os.statvfs(tmp)
    for field in ("f_bsize", "f_frsize", "f_blocks", "f_files", "f_flag", "f_namemax", "f_fsid"):
        assert getattr(got, field) == getattr(want, field), field
    assert await aio.os.getcwd() == os.getcwd()
    src = os.open(tmp / "f", os.O_RDONLY)
    dst = os.open(tmp / "g", os.O_WRONLY | os.O_CREAT)
    try:
        assert await aio.os.sendfile(dst, src, 0, 7) == 7
    finally:
        os.close(src)
        os.close(dst)
    assert (tmp / "g").read_bytes() == b"payload"


async def _receive_after(receive):
    await asyncio.sleep(0.01)  # let the socket fill first
    return await receive()


async def test_sendfile_waits_out_a_full_non_blocking_socket_in_the_engine(tmp):
    # os.sendfile on the executor would raise BlockingIOError once the socket fills.
    data = os.urandom(4 << 20)
    (tmp / "f").write_bytes(data)
    a, b = socket.socketpair()
    a.setblocking(False)
    b.setblocking(False)
    fd = os.open(tmp / "f", os.O_RDONLY)
    loop = asyncio.get_running_loop()
    engine = engine_for().engine
    submitted = engine.stats()["submitted"]

    async def receive():
        got = bytearray()
        while len(got) < len(data) - 1000:
            chunk = await loop.sock_recv(b, 1 << 16)
            if not chunk:
                break
            got += chunk
        return bytes(got)

    try:
        sent, got = await asyncio.gather(aio.os.sendfile(a.fileno(), fd, 1000, len(data)), _receive_after(receive))
        assert sent == len(data) - 1000  # stops at end of file
        assert got == data[1000:]
        assert engine.stats()["submitted"] > submitted, "sent on the executor, not through the engine"
    finally:
        os.close(fd)
        a.close()
        b.close()


async def test_sendfile_of_cached_data_to_a_non_blocking_socket_is_done_at_once(tmp):
    (tmp / "f").write_bytes(b"hot bytes" * 100)
    a, b = socket.socketpair()
    a.setblocking(False)
    fd = os.open(tmp / "f", os.O_RDONLY)
    engine = engine_for().engine
    fast = engine.stats()["fast_path_sends"]
    try:
        assert await aio.os.sendfile(a.fileno(), fd, 0, 900) == 900
        assert engine.stats()["fast_path_sends"] == fast + 1
        assert b.recv(1000) == b"hot bytes" * 100
    finally:
        os.close(fd)
        a.close()
        b.close()


async def test_sendfile_errors_and_offset_none_match_os(tmp):
    (tmp / "f").write_bytes(b"0123456789")
    a, b = socket.socketpair()
    fd = os.open(tmp / "f", os.O_RDONLY)
    try:
        b.close()
        with pytest.raises(BrokenPipeError):
            await aio.os.sendfile(a.fileno(), fd, 0, 10)
        with pytest.raises(OSError) as bad:
            await aio.os.sendfile(a.fileno(), 10_000, 0, 10)
        assert bad.value.errno == errno.EBADF
        c, d = socket.socketpair()
        os.lseek(fd, 4, os.SEEK_SET)
        assert await aio.os.sendfile(c.fileno(), fd, None, 3) == 3  # from the position, which moves
        assert os.lseek(fd, 0, os.SEEK_CUR) == 7
        assert d.recv(10) == b"456"
        c.close()
        d.close()
    finally:
        os.close(fd)
        a.close()


async def test_path_predicates_match_os_path(tmp):
    f = tmp / "f"
    f.write_bytes(b"abc")
    os.symlink(f, tmp / "link")
    os.symlink(tmp / "missing", tmp / "dangling")
    cases = [f, tmp, tmp / "link", tmp / "dangling", tmp / "missing", tmp / "f" / "under-a-file"]
    for p in cases:
        for name in ("exists", "isfile", "isdir", "islink"):
            assert await getattr(aio.os.path, name)(p) == getattr(os.path, name)(p), (name, p)
    for name in ("getsize", "getmtime", "getatime", "getctime"):
        assert await getattr(aio.ospath, name)(f) == getattr(os.path, name)(f), name
    assert await aio.ospath.samefile(f, tmp / "link") is True
    assert await aio.ospath.samefile(f, tmp) is False
    assert await aio.ospath.ismount("/") is True
    assert await aio.ospath.abspath("x") == os.path.abspath("x")
    with open(f) as a, open(tmp / "link") as b:
        assert await aio.ospath.sameopenfile(a.fileno(), b.fileno()) is True
    with pytest.raises(FileNotFoundError):
        await aio.ospath.getsize(tmp / "missing")
