"""Binary files against Python's own buffered and raw files on the same data."""
import io
import os

import pytest

import ringfile.aio as aio

DATA = bytes(range(256)) * 40 + b"line one\nline two\n\nlast line without newline"


@pytest.fixture
def data_file(tmp):
    p = tmp / "data.bin"
    p.write_bytes(DATA)
    return p


@pytest.mark.parametrize("mode", ["rb", "rb+", "r+b"])
@pytest.mark.parametrize("buffering", [-1, 0, 16])
async def test_reads_match_python(data_file, mode, buffering):
    with open(data_file, mode, buffering=buffering) as expected:
        async with aio.open(data_file, mode, buffering=buffering) as f:
            assert f.mode == expected.mode
            assert f.name == expected.name
            assert f.readable() == expected.readable()
            assert await f.writable() == expected.writable()
            assert await f.seekable() is True
            assert await f.read(10) == expected.read(10)
            assert await f.seek(100) == expected.seek(100)
            assert await f.read(300) == expected.read(300)
            assert await f.tell() == expected.tell()
            assert await f.seek(-5, os.SEEK_END) == expected.seek(-5, os.SEEK_END)
            assert await f.read() == expected.read()
            assert await f.read(10) == expected.read(10) == b""
            await f.seek(len(DATA) - 60)
            expected.seek(len(DATA) - 60)
            assert await f.readline() == expected.readline()
            assert await f.readlines() == expected.readlines()
            await f.seek(3)
            expected.seek(3)
            buf, want = bytearray(50), bytearray(50)
            assert await f.readinto(buf) == expected.readinto(want)
            assert buf == want
            await f.seek(0)
            expected.seek(0)
            assert await f.seek(7, os.SEEK_CUR) == expected.seek(7, os.SEEK_CUR)
            assert await f.read(-1) == expected.read(-1)


async def test_read1_peek_readall(data_file):
    async with aio.open(data_file, "rb") as f:
        first = await f.read1(100)
        assert first == DATA[:100]
        peeked = await f.peek(1)
        assert DATA[100:].startswith(peeked) and peeked
        assert await f.read(5) == DATA[100:105]
    async with aio.open(data_file, "rb", buffering=0) as f:
        assert await f.readall() == DATA


async def test_async_iteration_yields_lines_like_python(data_file):
    with open(data_file, "rb") as expected:
        want = list(expected)
    async with aio.open(data_file, "rb") as f:
        got = [line async for line in f]
    assert got == want


@pytest.mark.parametrize("mode", ["wb", "ab", "xb", "w+b", "a+b"])
async def test_writes_match_python(tmp, mode):
    ours, theirs = tmp / "ours", tmp / "theirs"
    if "a" in mode:
        ours.write_bytes(b"existing\n")
        theirs.write_bytes(b"existing\n")
    chunks = [b"a" * 10, b"b" * 10000, b"c\n" * 7, memoryview(b"view"), bytearray(b"array")]
    with open(theirs, mode) as expected:
        async with aio.open(ours, mode) as f:
            assert f.mode == expected.mode
            assert await f.tell() == expected.tell()
            for chunk in chunks:
                assert await f.write(chunk) == expected.write(chunk)
                assert await f.tell() == expected.tell()
            await f.writelines([b"x", b"y"])
            expected.writelines([b"x", b"y"])
            if "+" in mode:
                await f.seek(2)
                expected.seek(2)
                assert await f.read(20) == expected.read(20)
            if "a" not in mode:
                await f.seek(5)
                expected.seek(5)
                await f.write(b"OVERWRITE")
                expected.write(b"OVERWRITE")
            await f.flush()
    assert ours.read_bytes() == theirs.read_bytes()


async def test_truncate_matches_python(tmp):
    ours, theirs = tmp / "ours", tmp / "theirs"
    for p in (ours, theirs):
        p.write_bytes(DATA)
    with open(theirs, "r+b") as expected:
        async with aio.open(ours, "r+b") as f:
            await f.seek(10)
            expected.seek(10)
            assert await f.truncate() == expected.truncate()
            assert await f.truncate(5) == expected.truncate(5)
            assert await f.tell() == expected.tell()
            await f.write(b"after")
            expected.write(b"after")
    assert ours.read_bytes() == theirs.read_bytes()


async def test_raw_write_returns_count_and_lands(tmp):
    p = tmp / "raw"
    async with aio.open(p, "wb", buffering=0) as f:
        assert await f.write(b"abc") == 3
        assert os.path.getsize(p) == 3  # unbuffered: on the file at once


async def test_unsupported_and_closed_operations_raise_like_python(data_file, tmp):
    async with aio.open(data_file, "rb") as f:
        with pytest.raises(io.UnsupportedOperation):
            await f.write(b"x")
    with pytest.raises(ValueError):
        await f.read()
    assert f.closed
    async with aio.open(tmp / "w", "wb") as f:
        with pytest.raises(io.UnsupportedOperation):
            await f.read()


async def test_open_fd_and_closefd_false_leave_the_descriptor(data_file):
    fd = os.open(data_file, os.O_RDONLY)
    try:
        os.lseek(fd, 4, os.SEEK_SET)
        async with aio.open(fd, "rb", closefd=False) as f:
            assert f.name == fd
            assert await f.read(4) == DATA[4:8]
        assert os.lseek(fd, 0, os.SEEK_CUR) == 8  # where Python's file would leave it
        assert os.read(fd, 2) == DATA[8:10]
    finally:
        os.close(fd)
    fd = os.open(data_file, os.O_RDONLY)
    async with aio.open(fd, "rb") as f:
        assert await f.read(3) == DATA[:3]
    with pytest.raises(OSError):
        os.fstat(fd)  # closefd=True: closed with the file


async def test_opener_is_called_with_python_flags(data_file):
    calls = []

    def opener(path, flags):
        calls.append(flags)
        return os.open(path, flags)

    async with aio.open(data_file, "rb", opener=opener) as f:
        assert await f.read(4) == DATA[:4]
    seen = []
    with open(data_file, "rb", opener=lambda p, fl: seen.append(fl) or os.open(p, fl)):
        pass
    assert calls == seen


async def test_pipe_reads_and_writes_use_the_stream(tmp):
    r, w = os.pipe()
    async with aio.open(w, "wb") as out:
        await out.write(b"through a pipe\n")
    async with aio.open(r, "rb") as inp:
        assert await inp.seekable() is False
        assert await inp.read() == b"through a pipe\n"
        with pytest.raises(OSError):
            await inp.tell()


async def test_a_line_longer_than_the_read_ahead(tmp):
    p = tmp / "long"
    p.write_bytes(b"x" * 1_000_000 + b"\nshort\n")
    async with aio.open(p, "rb") as f:
        assert await f.readline() == b"x" * 1_000_000 + b"\n"
        assert await f.readline() == b"short\n"
    async with aio.open(p) as f:
        assert await f.readline() == "x" * 1_000_000 + "\n"
        assert [line async for line in f] == ["short\n"]


async def test_reads_after_the_end_see_a_file_that_grew(tmp):
    p = tmp / "growing"
    p.write_bytes(b"one\n")
    with open(p, "ab", buffering=0) as writer:
        async with aio.open(p, "rb") as f, aio.open(p) as t:
            assert await f.readline() == b"one\n"
            assert await f.readline() == b""
            assert await t.readline() == "one\n"
            assert await t.readline() == ""
            writer.write(b"two\n")
            assert await f.readline() == b"two\n"
            assert await t.readline() == "two\n"
            writer.write(b"three")
            assert await f.read() == b"three"
            assert await t.read() == "three"
