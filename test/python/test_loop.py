"""Loop integration: cancellation, buffers held until completion, many files at once."""
import asyncio
import os

import pytest

import ringfile.aio as aio
from ringfile.aio._engine import engine_for


async def wait_idle(engine):
    for _ in range(500):
        if engine.pending() == 0:
            return
        await asyncio.sleep(0.01)
    raise AssertionError("ops still pending: %d" % engine.pending())


@pytest.fixture
def fifo(tmp):
    path = tmp / "fifo"
    os.mkfifo(path)
    writer = os.open(path, os.O_RDWR | os.O_NONBLOCK)  # so opening for read does not wait
    yield path, writer
    os.close(writer)


async def test_cancelling_the_task_cancels_the_op_and_never_touches_the_buffer(fifo):
    path, writer = fifo
    engine = engine_for().engine
    async with aio.open(path, "rb", buffering=0) as f:
        buf = bytearray(16)
        task = asyncio.ensure_future(f.readinto(buf))
        await asyncio.sleep(0.05)
        assert not task.done()
        with pytest.raises(BufferError):
            buf.append(0)  # exported to the op in flight: held alive and pinned
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        await wait_idle(engine)  # the op completed (cancelled), exactly once
        buf.append(0)  # released
        os.write(writer, b"late data")
        await asyncio.sleep(0.05)
        assert buf == bytearray(17)  # nothing arrived through the cancelled op
        assert await f.read(9) == b"late data"  # the data waited for the next read


async def test_a_dropped_buffer_stays_alive_until_its_op_completes(fifo):
    path, writer = fifo
    engine = engine_for().engine
    async with aio.open(path, "rb", buffering=0) as f:
        task = asyncio.ensure_future(f.readinto(memoryview(bytearray(8))))  # only the op holds it
        await asyncio.sleep(0.02)
        os.write(writer, b"12345678")
        assert await task == 8
        await wait_idle(engine)


async def test_cancelled_write_completes_once(tmp):
    engine = engine_for().engine
    async with aio.open(tmp / "w", "wb", buffering=0) as f:
        task = asyncio.ensure_future(f.write(b"x" * (8 << 20)))
        await asyncio.sleep(0)
        task.cancel()
        try:
            await task
        except asyncio.CancelledError:
            pass
        await wait_idle(engine)
    size = os.path.getsize(tmp / "w")
    assert size in range(0, (8 << 20) + 1)


async def test_many_files_at_once(tmp):
    count = 300
    paths = [tmp / ("f%03d" % i) for i in range(count)]

    async def write(i, p):
        async with aio.open(p, "w") as f:
            await f.write(("file %d\n" % i) * (i + 1))

    await asyncio.gather(*(write(i, p) for i, p in enumerate(paths)))

    async def read(p):
        async with aio.open(p) as f:
            return [line async for line in f]

    got = await asyncio.gather(*(read(p) for p in paths))
    for p, lines in zip(paths, got):
        with open(p) as sync:
            assert lines == sync.readlines()
    files = await asyncio.gather(*(aio.open(p, "rb") for p in paths))
    contents = await asyncio.gather(*(f.read() for f in files))
    await asyncio.gather(*(f.close() for f in files))
    assert contents == [p.read_bytes() for p in paths]


async def test_a_long_run_of_cached_reads_still_lets_the_loop_run(tmp):
    p = tmp / "cached"
    p.write_bytes(b"z" * (1 << 20))
    ticks = 0

    async def ticker():
        nonlocal ticks
        while True:
            ticks += 1
            await asyncio.sleep(0)

    t = asyncio.ensure_future(ticker())
    async with aio.open(p, "rb") as f:
        for _ in range(20000):
            await f.seek(0)
            await f.read(16)
    t.cancel()
    assert ticks > 1


async def test_a_cancelled_flush_loses_no_queued_write(tmp):
    p = tmp / "queued"
    async with aio.open(p, "wb") as f:
        await f.write(b"a" * 100)
        await f.seek(1000)
        await f.write(b"b" * 100)  # two queued writes at two offsets
        flush = asyncio.ensure_future(f.flush())
        await asyncio.sleep(0)
        flush.cancel()
        try:
            await flush
        except asyncio.CancelledError:
            pass
    data = p.read_bytes()
    assert data[:100] == b"a" * 100 and data[1000:1100] == b"b" * 100
