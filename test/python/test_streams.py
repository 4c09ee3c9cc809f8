"""The standard streams and threadpool.wrap/open, under aiofiles' names."""
import subprocess
import sys

import ringfile.aio as aio
from ringfile.aio import threadpool

PROGRAM = r'''
import asyncio, ringfile.aio as aiofiles
async def main():
    line = await aiofiles.stdin_bytes.readline()
    await aiofiles.stdout_bytes.write(b"bytes:" + line)
    await aiofiles.stdout_bytes.flush()
    rest = await aiofiles.stdin.read()
    await aiofiles.stdout.write("text:" + rest)
    await aiofiles.stdout.flush()
    await aiofiles.stderr.write("to stderr\n")
    await aiofiles.stderr_bytes.write(b"raw stderr\n")
    await aiofiles.stderr_bytes.flush()
asyncio.run(main())
'''


def test_standard_streams():
    out = subprocess.run([sys.executable, "-c", PROGRAM], input=b"hello\nrest of it", capture_output=True,
                         check=True, timeout=60)
    assert out.stdout == b"bytes:hello\ntext:rest of it"
    assert out.stderr == b"to stderr\nraw stderr\n"


async def test_threadpool_open_and_wrap(tmp):
    assert threadpool.open is aio.open
    p = tmp / "f"
    async with threadpool.open(p, "w") as f:
        await f.write("via threadpool.open\n")
    with open(p) as sync:
        wrapped = threadpool.wrap(sync)
        assert await wrapped.readline() == "via threadpool.open\n"
        assert wrapped.name == str(p)
    with open(p, "rb") as sync:
        assert await threadpool.wrap(sync).read() == b"via threadpool.open\n"
