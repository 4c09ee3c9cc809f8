"""ringfile: asynchronous file I/O on io_uring or a thread pool.

ringfile.aio is the asyncio API (a drop-in for aiofiles); ringfile.Engine is the
engine it runs on, one per event loop.
"""
from ._ringfile import Engine

__all__ = ["Engine"]
