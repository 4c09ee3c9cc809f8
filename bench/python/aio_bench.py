#!/usr/bin/python3
"""ringfile.aio against aiofiles and plain blocking calls, same files, same process.

Each case is split into rounds run round-robin across the three, so machine noise
hits them alike; the table gives each one's median over the rounds and the ratio
ringfile.aio / aiofiles. Compare ratios within one run, not numbers across runs.

    PYTHONPATH=build/python /usr/bin/python3 bench/python/aio_bench.py
"""
import argparse
import asyncio
import gc
import itertools
import os
import random
import selectors
import shutil
import statistics
import sys
import tempfile
import time

import aiofiles
import aiofiles.os

import ringfile.aio

KIB = 1024
MIB = 1024 * KIB


def make_file(path, size):
    with open(path, "wb") as f:
        chunk = os.urandom(MIB)
        for _ in range(size // MIB):
            f.write(chunk)
        f.flush()
        os.fsync(f.fileno())


def warm(path):
    with open(path, "rb") as f:
        while f.read(MIB):
            pass


def drop_cache(paths):
    for p in paths:
        fd = os.open(p, os.O_RDONLY)
        try:
            os.fsync(fd)
            os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
        finally:
            os.close(fd)


class Timed:
    """Counts ops for `seconds`, calling `step` (which does `per_step` ops) meanwhile."""

    def __init__(self, seconds):
        self.seconds = seconds

    async def run_async(self, step, per_step):
        ops = 0
        start = time.perf_counter()
        deadline = start + self.seconds
        while True:
            await step()
            ops += per_step
            now = time.perf_counter()
            if now >= deadline:
                return ops / (now - start)

    def run_sync(self, step, per_step):
        ops = 0
        start = time.perf_counter()
        deadline = start + self.seconds
        while True:
            step()
            ops += per_step
            now = time.perf_counter()
            if now >= deadline:
                return ops / (now - start)


# ---------------------------------------------------------------- cases
async def case_randread(env, qd):
    """4 KiB seek+read at random offsets of a page-cached file: one handle awaited
    in turn (QD1), or qd handles, each read by its own task, under one gather."""
    size = env.big_size
    per_task = 16
    offsets = [random.randrange(0, size // 4096) * 4096 for _ in range(1 << 16)]
    timed = Timed(env.seconds)

    def sync_runner():
        f = open(env.big, "rb")
        it = itertools.cycle(offsets)

        def step():
            for _ in range(qd * per_task):
                f.seek(next(it))
                f.read(4096)

        return step, f.close

    def async_runner(lib):
        handles = []
        it = itertools.cycle(offsets)

        async def setup():
            for _ in range(qd):
                handles.append(await lib.open(env.big, "rb"))

        async def task(f):
            for _ in range(per_task):
                await f.seek(next(it))
                await f.read(4096)

        async def step():
            if qd == 1:
                await task(handles[0])
            else:
                await asyncio.gather(*(task(f) for f in handles))

        async def teardown():
            for f in handles:
                await f.close()

        return setup, step, teardown

    return await run_interleaved(env, timed, sync_runner, async_runner, qd * per_task)


async def case_seqread(env):
    """The whole page-cached file in 64 KiB chunks; ops are MiB/s."""
    timed = Timed(env.seconds)
    chunks_per_mib = MIB // (64 * KIB)

    def sync_runner():
        f = open(env.big, "rb")

        def step():
            f.seek(0)
            for _ in range(16 * chunks_per_mib):  # 16 MiB a step
                if not f.read(64 * KIB):
                    f.seek(0)

        return step, f.close

    def async_runner(lib):
        state = {}

        async def setup():
            state["f"] = await lib.open(env.big, "rb")

        async def step():
            f = state["f"]
            for _ in range(16 * chunks_per_mib):
                if not await f.read(64 * KIB):
                    await f.seek(0)

        async def teardown():
            await state["f"].close()

        return setup, step, teardown

    return await run_interleaved(env, timed, sync_runner, async_runner, 16)


async def case_small_files(env):
    """Open, read whole and close small files, round-robin over 10k of them."""
    timed = Timed(env.seconds)
    batch = 16

    def sync_runner():
        it = itertools.cycle(env.small)

        def step():
            for _ in range(batch):
                with open(next(it), "rb") as f:
                    f.read()

        return step, None

    def async_runner(lib):
        it = itertools.cycle(env.small)

        async def step():
            for _ in range(batch):
                async with lib.open(next(it), "rb") as f:
                    await f.read()

        return None, step, None

    return await run_interleaved(env, timed, sync_runner, async_runner, batch)


async def case_durable_appends(env):
    """256-byte appends, each flushed and fsynced before the next."""
    timed = Timed(env.seconds)
    record = b"r" * 255 + b"\n"
    loop = asyncio.get_running_loop()

    def sync_runner():
        f = open(env.log, "ab")

        def step():
            f.write(record)
            f.flush()
            os.fsync(f.fileno())

        return step, f.close

    def async_runner(lib):
        state = {}

        async def setup():
            state["f"] = await lib.open(env.log, "ab")

        async def step():
            f = state["f"]
            await f.write(record)
            await f.flush()
            if lib is ringfile.aio:
                await f.fsync()
            else:  # aiofiles has no fsync: the usual executor call
                await loop.run_in_executor(None, os.fsync, f.fileno())

        async def teardown():
            await state["f"].close()

        return setup, step, teardown

    return await run_interleaved(env, timed, sync_runner, async_runner, 1)


async def run_interleaved(env, timed, sync_runner, async_runner, per_step):
    results = {"blocking": [], "aiofiles": [], "ringfile.aio": []}
    for _ in range(env.rounds):
        step, close = sync_runner()
        results["blocking"].append(timed.run_sync(step, per_step))
        if close:
            close()
        for name, lib in (("aiofiles", aiofiles), ("ringfile.aio", ringfile.aio)):
            setup, step, teardown = async_runner(lib)
            if setup:
                await setup()
            results[name].append(await timed.run_async(step, per_step))
            if teardown:
                await teardown()
    return {k: statistics.median(v) for k, v in results.items()}


class TurnSelector(selectors.EpollSelector):
    """The loop's selector, timing each turn (a stretch outside epoll_wait) and the
    run-queue wait inside it (/proc/thread-self/schedstat: runnable, no CPU), so a
    turn's own work, the loop's share of lateness, is its length less that wait."""

    def __init__(self):
        super().__init__()
        self.measuring = False
        self.turns, self.wakeups = [], []
        self._start = None
        try:
            self._schedstat = os.open("/proc/thread-self/schedstat", os.O_RDONLY | os.O_CLOEXEC)
        except OSError:
            self._schedstat = None

    def run_queue_ns(self):
        if self._schedstat is None:
            return 0
        return int(os.pread(self._schedstat, 96, 0).split()[1])

    def begin(self):
        """Measures from now: the turn in progress counts from here."""
        self.turns, self.wakeups, self.measuring = [], [], True
        self._start = (time.monotonic(), self.run_queue_ns())

    def select(self, timeout=None):
        if not self.measuring:
            return super().select(timeout)
        start, waited = self._start
        before = self.run_queue_ns()
        self.turns.append((time.monotonic() - start, (before - waited) / 1e9))
        events = super().select(timeout)
        self._start = (time.monotonic(), self.run_queue_ns())
        self.wakeups.append((self._start[1] - before) / 1e9)  # woken, then waiting for a CPU
        return events


class LoopPriority:
    """--rt: the loop's thread runs SCHED_FIFO for the stall case, so other processes
    on a shared machine don't show up as lateness; what the loop blocks on still does."""

    def __init__(self, wanted):
        self.raised = False
        if wanted:
            try:
                os.sched_setscheduler(0, os.SCHED_FIFO, os.sched_param(10))
                self.raised = True
            except OSError as e:
                print("--rt: SCHED_FIFO refused (%s); running at normal priority" % e)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        if self.raised:
            os.sched_setscheduler(0, os.SCHED_OTHER, os.sched_param(0))


async def case_stall(env):
    """Lateness of a 1 ms call_later ticker while cold files are read whole (64 KiB
    reads), the page cache dropped before each pass. The idle row is the ticker
    alone: what the machine itself (other load, epoll's millisecond timeouts) adds."""
    loop = asyncio.get_running_loop()
    selector = loop._selector
    lateness = {}

    async def measure(name, reader):
        drop_cache(env.cold)
        gc.collect()  # a collection would land on whichever reader runs next
        lateness_s = []
        stop = False

        def tick(expected):
            now = loop.time()
            lateness_s.append(now - expected)
            if not stop:
                loop.call_later(0.001, tick, now + 0.001)

        loop.call_later(0.001, tick, loop.time() + 0.001)
        await asyncio.sleep(0.005)
        selector.begin()
        start = time.perf_counter()
        for path in env.cold:
            await reader(path)
        elapsed = time.perf_counter() - start
        await asyncio.sleep(0.003)
        selector.measuring = False
        stop = True
        await asyncio.sleep(0.002)
        lateness.setdefault(name, []).append(
            (lateness_s, (selector.turns, selector.wakeups), len(env.cold) * env.cold_size / MIB / elapsed))

    async def blocking(path):
        with open(path, "rb") as f:
            while f.read(64 * KIB):
                pass

    def library_reader(lib):
        async def read(path):
            async with lib.open(path, "rb") as f:
                while await f.read(64 * KIB):
                    pass

        return read

    async def idle(path):
        await asyncio.sleep(0.02)  # no reads: the machine's own lateness, for scale

    with LoopPriority(env.realtime):
        for _ in range(env.rounds):
            await measure("idle (no reads)", idle)
            await measure("blocking", blocking)
            await measure("aiofiles", library_reader(aiofiles))
            await measure("ringfile.aio", library_reader(ringfile.aio))

    def summary(runs):
        samples = sorted(x * 1000 for late, _, _ in runs for x in late)
        turns = [t for _, (ts, _), _ in runs for t in ts]
        wakeups = [w for _, (_, ws), _ in runs for w in ws]
        held = max((max(0.0, length - waited) * 1000 for length, waited in turns), default=0.0)
        run_queue = max([waited * 1000 for _, waited in turns] + [w * 1000 for w in wakeups] + [0.0])
        return samples[-1], samples[int(len(samples) * 0.99)], run_queue, held, statistics.median(r for _, _, r in runs)

    return {k: summary(v) for k, v in lateness.items()}


# ---------------------------------------------------------------- main
class Env:
    pass


async def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--dir", default=None, help="where the test files go (default: a new directory in /var/tmp)")
    parser.add_argument("--seconds", type=float, default=0.4, help="length of one round of one case")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--big-mib", type=int, default=256)
    parser.add_argument("--small-files", type=int, default=10000)
    parser.add_argument("--cold-files", type=int, default=16)
    parser.add_argument("--cold-mib", type=int, default=4)
    parser.add_argument("--rt", action="store_true",
                        help="stall case: run the loop's thread SCHED_FIFO, as ringfile-bench --stall --rt does")
    args = parser.parse_args()

    env = Env()
    env.seconds, env.rounds, env.realtime = args.seconds, args.rounds, args.rt
    top = tempfile.mkdtemp(prefix="aio_bench.", dir=args.dir or "/var/tmp")
    try:
        env.big = os.path.join(top, "big")
        env.big_size = args.big_mib * MIB
        make_file(env.big, env.big_size)
        warm(env.big)
        env.small = []
        os.mkdir(os.path.join(top, "small"))
        payload = os.urandom(2048)
        for i in range(args.small_files):
            p = os.path.join(top, "small", "f%05d" % i)
            with open(p, "wb") as f:
                f.write(payload)
            env.small.append(p)
        env.log = os.path.join(top, "log")
        env.cold_size = args.cold_mib * MIB
        env.cold = []
        for i in range(args.cold_files):
            p = os.path.join(top, "cold%02d" % i)
            make_file(p, env.cold_size)
            env.cold.append(p)

        engine = ringfile.aio.engine_for().engine
        print("ringfile engine: %s" % engine.describe())
        print("python %s, aiofiles %s, %d rounds of %.1f s per case, interleaved\n" % (
            sys.version.split()[0], getattr(aiofiles, "__version__", "(apt)"), env.rounds, env.seconds))
        rows = []
        targets = []

        def row(name, unit, r, target=None):
            ratio = r["ringfile.aio"] / r["aiofiles"]
            rows.append("| %s | %s | %.0f | %.0f | %.0f | %.1fx | %s |" % (
                name, unit, r["blocking"], r["aiofiles"], r["ringfile.aio"], ratio,
                "" if target is None else ">= %gx: %s" % (target, "met" if ratio >= target else "NOT met")))
            if target is not None:
                targets.append(ratio >= target)

        row("4 KiB random read, cached, QD1", "reads/s", await case_randread(env, 1), 20)
        row("4 KiB random read, cached, QD32 (gather)", "reads/s", await case_randread(env, 32), 5)
        row("sequential read, 64 KiB chunks", "MiB/s", await case_seqread(env))
        row("small files (2 KiB) read whole", "files/s", await case_small_files(env), 5)
        row("durable 256 B appends (write+flush+fsync)", "appends/s", await case_durable_appends(env))
        stall = await case_stall(env)

        print("| case | unit | blocking | aiofiles | ringfile.aio | ringfile.aio / aiofiles | target |")
        print("|---|---|---|---|---|---|---|")
        for line in rows:
            print(line)
        met = stall["ringfile.aio"][0] < 2.0
        targets.append(met)
        print("\nLoop stall while %d cold %d MiB files are read (64 KiB reads, page cache dropped first):\n" % (
            args.cold_files, args.cold_mib))
        print("| reader | max lateness of a 1 ms ticker | p99 lateness | max run-queue wait "
              "| longest turn of the loop's own work | MiB/s read |")
        print("|---|---|---|---|---|---|")
        for name in ("idle (no reads)", "blocking", "aiofiles", "ringfile.aio"):
            worst, p99, run_queue, held, rate = stall[name]
            note = " (target < 2 ms: %s)" % ("met" if met else "NOT met") if name == "ringfile.aio" else ""
            print("| %s | %.2f ms%s | %.2f ms | %.2f ms | %.2f ms | %s |" % (
                name, worst, note, p99, run_queue, held, "-" if name.startswith("idle") else "%.0f" % rate))
        print("\nRun-queue wait: the loop's thread runnable but without a CPU, woken from epoll_wait or in a turn\n"
              "(/proc/thread-self/schedstat): other load on the machine, which no library controls. A turn is a\n"
              "stretch of the loop outside epoll_wait; its own work is its length less its run-queue wait.%s" % (
                  " Loop thread SCHED_FIFO (--rt)." if env.realtime else ""))
        print("\nall targets met" if all(targets) else "\nsome targets NOT met")
        return 0
    finally:
        shutil.rmtree(top, ignore_errors=True)


if __name__ == "__main__":
    with asyncio.Runner(loop_factory=lambda: asyncio.SelectorEventLoop(TurnSelector())) as runner:
        runner.run(main())
