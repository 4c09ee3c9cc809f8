"""Building blocks for file objects that run a synchronous file's methods on the
loop's executor (the standard streams, wrap(), spooled temporary files)."""
import asyncio
import functools

from ..base import AsyncBase


def _installer(make):
    """A class decorator factory: decorator(*names) sets each name to make(name)."""

    def decorator(*attrs):
        def cls_builder(cls):
            for attr_name in attrs:
                setattr(cls, attr_name, make(attr_name))
            return cls

        return cls_builder

    return decorator


def _make_delegate_method(attr_name):
    async def method(self, *args, **kwargs):
        call = functools.partial(getattr(self._file, attr_name), *args, **kwargs)
        return await self._loop.run_in_executor(self._executor, call)

    method.__name__ = attr_name
    return method


def _make_proxy_method(attr_name):
    def method(self, *args, **kwargs):
        return getattr(self._file, attr_name)(*args, **kwargs)

    method.__name__ = attr_name
    return method


def _make_proxy_property(attr_name):
    return property(lambda self: getattr(self._file, attr_name))


def _make_cond_delegate_method(attr_name):
    """For spooled temporary files: the executor only once the data is in a real file."""

    threaded = _make_delegate_method(attr_name)

    async def method(self, *args, **kwargs):
        if self._file._rolled:
            return await threaded(self, *args, **kwargs)
        return getattr(self._file, attr_name)(*args, **kwargs)

    method.__name__ = attr_name
    return method


delegate_to_executor = _installer(_make_delegate_method)
proxy_method_directly = _installer(_make_proxy_method)
proxy_property_directly = _installer(_make_proxy_property)
cond_delegate_to_executor = _installer(_make_cond_delegate_method)


def delegating(delegated, direct, properties):
    """One decorator for a delegating class: methods on the executor, methods and
    properties straight from the synchronous file."""

    def cls_builder(cls):
        return delegate_to_executor(*delegated)(proxy_method_directly(*direct)(proxy_property_directly(*properties)(cls)))

    return cls_builder


class ThreadedBase(AsyncBase):
    """A synchronous file object whose blocking methods run on the executor."""

    def __init__(self, file, loop=None, executor=None):
        self._file = file
        self._ref_loop = loop
        self._executor = executor

    @property
    def _loop(self):
        return self._ref_loop or asyncio.get_running_loop()

    def __repr__(self):
        return super().__repr__() + " wrapping " + repr(self._file)


class IndirectBase(ThreadedBase):
    """Like ThreadedBase, for a file looked up at each use (sys.stdout may be replaced)."""

    def __init__(self, name, loop, executor, indirect):
        self._indirect = indirect
        self._name = name
        super().__init__(None, loop, executor)

    @property
    def _file(self):
        return self._indirect()

    @_file.setter
    def _file(self, value):
        pass
