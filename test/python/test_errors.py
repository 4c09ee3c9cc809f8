"""Errors are the OSError subclasses os and open() raise, with the same filenames."""
import os

import pytest

import ringfile.aio as aio


def python_error(call):
    try:
        call()
    except OSError as e:
        return e
    raise AssertionError("expected an error")


async def async_error(coro):
    try:
        await coro
    except OSError as e:
        return e
    raise AssertionError("expected an error")


def same(ours, theirs):
    assert type(ours) is type(theirs)
    assert (ours.errno, ours.strerror, ours.filename, ours.filename2) == (
        theirs.errno, theirs.strerror, theirs.filename, theirs.filename2)


async def test_open_errors(tmp):
    (tmp / "file").write_text("x")
    (tmp / "ro").write_text("x")
    os.chmod(tmp / "ro", 0o444)
    cases = [
        (tmp / "missing", "r"),
        (str(tmp / "missing"), "rb"),
        (tmp, "r"),  # IsADirectoryError from the fstat check, as FileIO does
        (tmp, "w"),
        (tmp / "file", "x"),
        (tmp / "file" / "below", "r"),
    ]
    if os.geteuid() != 0:
        cases.append((tmp / "ro", "w"))
    for path, mode in cases:
        same(await async_error(aio.open(path, mode)), python_error(lambda: open(path, mode)))


async def test_os_errors(tmp):
    (tmp / "file").write_text("x")
    (tmp / "dir").mkdir()
    (tmp / "dir" / "inside").write_text("x")
    missing = str(tmp / "missing")
    cases = [
        (aio.os.stat(missing), lambda: os.stat(missing)),
        (aio.os.stat(tmp / "file" / "x"), lambda: os.stat(tmp / "file" / "x")),
        (aio.os.rename(missing, tmp / "y"), lambda: os.rename(missing, tmp / "y")),
        (aio.os.remove(tmp / "dir"), lambda: os.remove(tmp / "dir")),
        (aio.os.rmdir(tmp / "dir"), lambda: os.rmdir(tmp / "dir")),
        (aio.os.rmdir(tmp / "file"), lambda: os.rmdir(tmp / "file")),
        (aio.os.mkdir(tmp / "file"), lambda: os.mkdir(tmp / "file")),
        (aio.os.link(missing, tmp / "z"), lambda: os.link(missing, tmp / "z")),
        (aio.os.symlink("t", tmp / "file"), lambda: os.symlink("t", tmp / "file")),
        (aio.os.readlink(tmp / "file"), lambda: os.readlink(tmp / "file")),
        (aio.os.listdir(missing), lambda: os.listdir(missing)),
        (aio.os.listdir(tmp / "file"), lambda: os.listdir(tmp / "file")),
        (aio.os.statvfs(missing), lambda: os.statvfs(missing)),
        (aio.read_bytes(missing), lambda: open(missing, "rb")),
    ]
    for ours, theirs in cases:
        same(await async_error(ours), python_error(theirs))


async def test_embedded_nul_is_a_value_error(tmp):
    with pytest.raises(ValueError):
        await aio.os.stat("a\0b")
    with pytest.raises(ValueError):
        await aio.open("a\0b")
