"""A program written for aiofiles runs unchanged with only its imports replaced
(`import ringfile.aio as aiofiles` brings aiofiles.os, .ospath and .tempfile with
it, so `import aiofiles.os` lines go), and prints exactly what it prints under
aiofiles."""
import subprocess
import sys

import pytest

PROGRAM = r'''
import asyncio
import os
import sys
import aiofiles
import aiofiles.os
import aiofiles.ospath

async def main(workdir):
    path = os.path.join(workdir, "notes.txt")
    async with aiofiles.open(path, mode="w", encoding="utf-8", newline="\r\n") as f:
        await f.write("first line\n")
        await f.writelines(["second \u00e9\n", "third\n"])
        print("tell after write", await f.tell())
    async with aiofiles.open(path, mode="r", encoding="utf-8", newline="") as f:
        print("lines", [line async for line in f])
    async with aiofiles.open(path) as f:
        print("read", repr(await f.read()))
        await f.seek(0)
        print("readline", repr(await f.readline()), "name", os.path.basename(f.name), "mode", f.mode)
    f = await aiofiles.open(path, "ab")
    await f.write(b"appended\n")
    await f.close()
    async with aiofiles.open(path, "rb") as f:
        data = await f.read()
        print("bytes", len(data), data[-9:])
    st = await aiofiles.os.stat(path)
    print("size", st.st_size, st.st_size == os.stat(path).st_size)
    await aiofiles.os.mkdir(os.path.join(workdir, "sub"))
    await aiofiles.os.rename(path, os.path.join(workdir, "sub", "moved.txt"))
    print("listdir", sorted(await aiofiles.os.listdir(workdir)))
    print("exists", await aiofiles.os.path.exists(path), await aiofiles.ospath.isfile(os.path.join(workdir, "sub", "moved.txt")))
    async with aiofiles.tempfile.NamedTemporaryFile("w+", dir=workdir) as tmp:
        await tmp.write("temporary")
        await tmp.seek(0)
        print("temp", await tmp.read())
    async with aiofiles.tempfile.TemporaryDirectory(dir=workdir) as d:
        print("tempdir", os.path.isdir(d))
    try:
        await aiofiles.open(os.path.join(workdir, "missing"))
    except FileNotFoundError as e:
        print("error", type(e).__name__, e.errno, os.path.basename(e.filename))
    await aiofiles.os.remove(os.path.join(workdir, "sub", "moved.txt"))
    await aiofiles.os.rmdir(os.path.join(workdir, "sub"))
    print("left", sorted(os.listdir(workdir)))

asyncio.run(main(sys.argv[1]))
'''


def run(program, workdir):
    return subprocess.run([sys.executable, "-c", program, str(workdir)], capture_output=True, text=True,
                          check=True, timeout=60).stdout


def test_aiofiles_program_runs_unchanged_with_the_import_replaced(tmp):
    pytest.importorskip("aiofiles", reason="the comparison needs aiofiles itself (python3-aiofiles)")
    (tmp / "a").mkdir()
    (tmp / "b").mkdir()
    with_aiofiles = run(PROGRAM, tmp / "a")
    replaced = PROGRAM.replace("import aiofiles\n", "import ringfile.aio as aiofiles\n", 1)
    replaced = replaced.replace("import aiofiles.os\nimport aiofiles.ospath\n", "")
    assert replaced.count("ringfile") == 1
    with_ringfile = run(replaced, tmp / "b")
    assert "temp temporary" in with_aiofiles and "lines [" in with_aiofiles
    assert with_ringfile == with_aiofiles
