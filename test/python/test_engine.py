"""The loop's engine: which backend, one per loop, no polling when idle, close drains."""
import asyncio
import os
import select
import selectors
import threading

import pytest

import ringfile.aio as aio
from ringfile.aio._engine import engine_for

from conftest import BACKEND


async def test_engine_is_the_one_ringfile_backend_names():
    le = engine_for()
    if BACKEND in ("io_uring", "threadpool"):
        assert le.engine.backend == BACKEND
        assert le.engine.describe().startswith(BACKEND)


async def test_one_engine_per_loop_and_its_eventfd_is_quiet_when_idle(tmp):
    le = engine_for()
    assert engine_for() is le
    p = tmp / "f"
    p.write_bytes(b"x" * 10000)
    async with aio.open(p, "rb") as f:
        assert await f.read() == b"x" * 10000
    await asyncio.sleep(0.01)
    # Level-triggered add_reader would spin if the eventfd stayed readable.
    assert select.select([le.engine.event_fd()], [], [], 0)[0] == []
    assert le.engine.pending() == 0


def test_each_thread_loop_gets_its_own_engine(tmp):
    p = tmp / "f"
    p.write_bytes(b"abc")
    seen = []

    def run():
        async def main():
            async with aio.open(p, "rb") as f:
                seen.append((await f.read(), engine_for().engine))  # held: ids stay distinct

        asyncio.run(main())

    threads = [threading.Thread(target=run) for _ in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert [s[0] for s in seen] == [b"abc"] * 3
    assert len({id(s[1]) for s in seen}) == 3


def test_works_on_any_loop_with_add_reader(tmp):
    p = tmp / "f"
    p.write_text("poll selector\n")
    loop = asyncio.SelectorEventLoop(selectors.PollSelector())
    try:
        async def main():
            async with aio.open(p) as f:
                return await f.readline()

        assert loop.run_until_complete(main()) == "poll selector\n"
    finally:
        loop.close()


def test_closing_the_loop_with_ops_in_flight_drains_them(tmp):
    # A FIFO with no writer: the read stays in flight until the engine cancels it.
    fifo = tmp / "fifo"
    os.mkfifo(fifo)
    holder = os.open(fifo, os.O_RDWR | os.O_NONBLOCK)  # keeps open() from waiting for a writer
    loop = asyncio.new_event_loop()
    buffers = []
    try:
        async def start():
            f = await aio.open(fifo, "rb", buffering=0)
            buf = bytearray(64)
            buffers.append(buf)
            loop.create_task(f.readinto(buf))
            await asyncio.sleep(0.05)
            return engine_for().engine

        engine = loop.run_until_complete(start())
        assert engine.pending() == 1
    finally:
        loop.close()  # must cancel, drain and release the engine without hanging
        os.close(holder)
    assert engine_for.__module__  # the module is still usable
    buffers[0].extend(b"!")  # the buffer is no longer exported to an op: it can resize
    with pytest.raises(ValueError):
        engine.pending()


async def test_a_file_used_from_another_thread_raises_instead_of_crashing(tmp):
    p = tmp / "f"
    p.write_bytes(b"abc")
    f = await aio.open(p, "rb")
    errors = []

    def other_thread():
        try:
            f._stream.file.read(3, 0)
        except RuntimeError as e:
            errors.append(e)

    t = threading.Thread(target=other_thread)
    t.start()
    t.join()
    assert len(errors) == 1
    assert await f.read() == b"abc"
    await f.close()
