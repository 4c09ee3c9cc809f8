"""Text files against Python's own text files: encodings, errors, newline modes,
tell/seek cookies, iteration, and writes read back byte for byte."""
import io
import os

import pytest

import ringfile.aio as aio

TEXT = "plain ascii\r\nmixed endings\rlone cr\nunix\n\u00e9t\u00e9 \u4e2d\u6587 \U0001f600 emoji\r\n" * 300 + "tail"
ENCODINGS = ["utf-8", "utf-16", "utf-32-le", "utf-8-sig", "gb18030"]
NEWLINES = [None, "", "\n", "\r", "\r\n"]


def write_raw(path, text, encoding):
    path.write_bytes(text.encode(encoding))


@pytest.mark.parametrize("encoding", ENCODINGS)
@pytest.mark.parametrize("newline", NEWLINES)
async def test_read_paths_match_python(tmp, encoding, newline):
    p = tmp / "t.txt"
    write_raw(p, TEXT, encoding)
    with open(p, encoding=encoding, newline=newline) as expected:
        async with aio.open(p, encoding=encoding, newline=newline) as f:
            assert f.encoding == expected.encoding and f.errors == expected.errors
            assert await f.read(1) == expected.read(1)
            assert await f.read(7) == expected.read(7)
            assert await f.readline() == expected.readline()
            cookie = await f.tell()
            assert cookie == expected.tell()
            assert await f.readline(5) == expected.readline(5)
            assert await f.read(1000) == expected.read(1000)
            assert await f.seek(cookie) == expected.seek(cookie)
            assert await f.readlines(50) == expected.readlines(50)
            assert await f.read() == expected.read()
            assert await f.read() == expected.read() == ""
            assert f.newlines == expected.newlines


@pytest.mark.parametrize("newline", NEWLINES)
async def test_iteration_matches_python(tmp, newline):
    p = tmp / "t.txt"
    write_raw(p, TEXT, "utf-8")
    with open(p, encoding="utf-8", newline=newline) as expected:
        want = list(expected)
    async with aio.open(p, encoding="utf-8", newline=newline) as f:
        got = [line async for line in f]
    assert got == want


async def test_tell_and_seek_cookies_everywhere_in_a_stateful_encoding(tmp):
    p = tmp / "t.txt"
    write_raw(p, TEXT[:3000], "utf-16")
    with open(p, encoding="utf-16") as expected:
        async with aio.open(p, encoding="utf-16") as f:
            cookies = []
            while True:
                cookie = await f.tell()
                assert cookie == expected.tell()
                want = expected.readline()
                got = await f.readline()
                assert got == want
                cookies.append((cookie, want))
                if not got:
                    break
            for cookie, line in reversed(cookies):
                await f.seek(cookie)
                assert await f.readline() == line


@pytest.mark.parametrize("errors", ["strict", "replace", "ignore", "surrogateescape", "backslashreplace"])
async def test_decoding_errors_follow_python(tmp, errors):
    p = tmp / "bad.txt"
    p.write_bytes(b"good \xff\xfe bad \xc3 half\nnext line \x80\n" * 50)

    def sync_read():
        with open(p, encoding="utf-8", errors=errors) as f:
            return f.read()

    try:
        want = sync_read()
    except UnicodeDecodeError as e:
        with pytest.raises(UnicodeDecodeError) as got:
            async with aio.open(p, encoding="utf-8", errors=errors) as f:
                await f.read()
        assert got.value.reason == e.reason
        return
    async with aio.open(p, encoding="utf-8", errors=errors) as f:
        assert await f.read() == want


async def test_a_long_run_of_ignored_bytes_still_decodes(tmp):
    # More undecodable bytes than any staging estimate: the blocking fallback reads on.
    p = tmp / "ignored.txt"
    p.write_bytes(b"\xff" * 300000 + b"x\nend")
    with open(p, encoding="utf-8", errors="ignore") as expected:
        async with aio.open(p, encoding="utf-8", errors="ignore") as f:
            assert await f.read(2) == expected.read(2)
            assert await f.readline() == expected.readline()


@pytest.mark.parametrize("encoding", ENCODINGS)
@pytest.mark.parametrize("newline", NEWLINES)
@pytest.mark.parametrize("mode", ["w", "a", "w+", "x"])
async def test_writes_are_byte_for_byte_python(tmp, encoding, newline, mode):
    ours, theirs = tmp / "ours", tmp / "theirs"
    if mode == "a":
        write_raw(ours, "before\n", encoding)
        write_raw(theirs, "before\n", encoding)
    with open(theirs, mode, encoding=encoding, newline=newline) as expected:
        async with aio.open(ours, mode, encoding=encoding, newline=newline) as f:
            assert f.mode == expected.mode
            assert await f.write("first\nsecond\r\nthird\r") == expected.write("first\nsecond\r\nthird\r")
            await f.writelines(["a\n", "b" * 10000, "\u00e9\n"])
            expected.writelines(["a\n", "b" * 10000, "\u00e9\n"])
            assert await f.tell() == expected.tell()
            if mode == "w+":
                await f.seek(0)
                expected.seek(0)
                assert await f.read() == expected.read()
                await f.write("end")
                expected.write("end")
    assert ours.read_bytes() == theirs.read_bytes()


async def test_read_write_mix_and_truncate_in_r_plus(tmp):
    ours, theirs = tmp / "ours", tmp / "theirs"
    for p in (ours, theirs):
        p.write_text("line 1\nline 2\nline 3\n")
    with open(theirs, "r+") as expected:
        async with aio.open(ours, "r+") as f:
            assert await f.readline() == expected.readline()
            cookie = await f.tell()
            assert cookie == expected.tell()
            await f.seek(cookie)
            expected.seek(cookie)
            await f.write("LINE 2\n")
            expected.write("LINE 2\n")
            assert await f.read() == expected.read()
            assert await f.seek(0, os.SEEK_END) == expected.seek(0, os.SEEK_END)
            await f.write("appended\n")
            expected.write("appended\n")
            assert await f.truncate(30) == expected.truncate(30)
    assert ours.read_bytes() == theirs.read_bytes()


async def test_text_unsupported_operations(tmp):
    p = tmp / "ro.txt"
    p.write_text("x")
    async with aio.open(p) as f:
        assert await f.readable() is True
        assert await f.writable() is False
        with pytest.raises(io.UnsupportedOperation):
            await f.write("y")
        with pytest.raises(io.UnsupportedOperation):
            await f.seek(1, os.SEEK_CUR)  # text: nonzero cur-relative seeks
    assert f.closed
    with pytest.raises(ValueError):
        await f.read()


async def test_bad_arguments_are_python_errors(tmp):
    p = tmp / "x"
    for mode in ("rw", "rt+b", "z", "rbt"):
        with pytest.raises(ValueError):
            await aio.open(p, mode)
    with pytest.raises(ValueError):
        await aio.open(p, "w", buffering=0)
    with pytest.raises(ValueError):
        await aio.open(p, "wb", encoding="utf-8")
    with pytest.raises(ValueError):
        await aio.open(p, "w", newline="x")
    with pytest.raises(LookupError):
        await aio.open(p, "w", encoding="no-such-codec")
    with pytest.raises(ValueError):
        await aio.open(p, "w", closefd=False)
    with pytest.raises(TypeError):
        await aio.open(1.5)
