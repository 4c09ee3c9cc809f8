"""Runs under RINGFILE_BACKEND=io_uring or =threadpool (meson test runs both).
An io_uring run on a kernel that refuses io_uring skips everything, saying why."""
import os

import pytest

from ringfile import Engine

BACKEND = os.environ.get("RINGFILE_BACKEND", "auto")


def pytest_collection_modifyitems(config, items):
    if BACKEND != "io_uring":
        return
    try:
        Engine("io_uring").close()
    except OSError as e:
        skip = pytest.mark.skip(reason="io_uring unavailable here: %s" % e)
        for item in items:
            item.add_marker(skip)


@pytest.fixture
def tmp(tmp_path):
    return tmp_path
