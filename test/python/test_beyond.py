"""What ringfile.aio adds to aiofiles: positional I/O, fsync, whole-file helpers,
and offsets past 2 GiB."""
import os

import ringfile.aio as aio


async def test_pread_and_pwrite_leave_the_position(tmp):
    p = tmp / "f"
    p.write_bytes(b"0123456789")
    async with aio.open(p, "r+b") as f:
        await f.seek(2)
        assert await f.pread(3, 5) == b"567"
        assert await f.pread(10, 8) == b"89"
        assert await f.pwrite(b"AB", 0) == 2
        assert await f.tell() == 2
        assert await f.read(2) == b"23"
        await f.fsync()
        await f.fdatasync()
    assert p.read_bytes() == b"AB23456789"


async def test_read_bytes_and_write_bytes(tmp):
    p = tmp / "whole"
    await aio.write_bytes(p, b"first")
    assert await aio.read_bytes(p) == b"first"
    await aio.write_bytes(p, bytearray(b"second, atomic"))
    assert p.read_bytes() == b"second, atomic"
    assert os.listdir(tmp) == ["whole"]  # no temporary file left behind
    await aio.write_bytes(p, memoryview(b"third, in place"), atomic=False)
    assert await aio.read_bytes(str(p)) == b"third, in place"


async def test_sparse_file_larger_than_two_gib(tmp):
    p = tmp / "sparse"
    size = 3 * (1 << 30) + 123
    with open(p, "wb") as f:
        f.truncate(size)
        f.seek(size - 3)
        f.write(b"end")
        f.seek(2**31 + 7)
        f.write(b"middle")
    async with aio.open(p, "r+b") as f:
        assert (await aio.os.stat(p)).st_size == size
        assert await f.seek(0, os.SEEK_END) == size
        await f.seek(2**31 + 5)
        assert await f.read(10) == b"\0\0middle\0\0"
        assert await f.tell() == 2**31 + 15
        assert await f.pread(10, size - 5) == b"\0\0end"
        assert await f.pwrite(b"past 4 GiB", 2**32 + 1) == 10
        await f.seek(2**32 + 1)
        assert await f.read(10) == b"past 4 GiB"
    with open(p, "rb") as sync:
        sync.seek(2**32 + 1)
        assert sync.read(10) == b"past 4 GiB"
