"""ringfile.aio.tempfile against tempfile."""
import os

import pytest

import ringfile.aio as aio


@pytest.mark.parametrize("mode", ["w+b", "w+", "wb"])
async def test_temporary_file_round_trip(tmp, mode):
    async with aio.tempfile.TemporaryFile(mode, dir=tmp) as f:
        data = b"temp data\n" * 1000 if "b" in mode else "temp text\n" * 1000
        await f.write(data)
        if "+" in mode:
            await f.seek(0)
            assert await f.read() == data
    assert os.listdir(tmp) == []


async def test_named_temporary_file_has_a_name_and_goes_away(tmp):
    async with aio.tempfile.NamedTemporaryFile("w+", dir=tmp, prefix="pre", suffix=".txt") as f:
        assert os.path.dirname(f.name) == str(tmp)
        assert os.path.basename(f.name).startswith("pre") and f.name.endswith(".txt")
        assert f.delete is True
        await f.write("hello\n")
        await f.flush()
        with open(f.name) as sync:
            assert sync.read() == "hello\n"
        name = f.name
    assert not os.path.exists(name)
    async with aio.tempfile.NamedTemporaryFile(dir=tmp, delete=False) as f:
        await f.write(b"kept")
        name = f.name
    with open(name, "rb") as sync:
        assert sync.read() == b"kept"


async def test_spooled_temporary_file_rolls_over(tmp):
    async with aio.tempfile.SpooledTemporaryFile(max_size=10, dir=tmp) as f:
        await f.write(b"small")
        assert not f._file._rolled
        await f.write(b"and now larger than ten")
        assert f._file._rolled
        await f.seek(0)
        assert await f.read() == b"smalland now larger than ten"


async def test_temporary_directory_gives_its_name_and_is_removed(tmp):
    async with aio.tempfile.TemporaryDirectory(dir=tmp) as d:
        assert os.path.isdir(d)
        async with aio.open(os.path.join(d, "f"), "w") as f:
            await f.write("x")
    assert not os.path.exists(d)
