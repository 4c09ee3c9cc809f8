"""Runs under RINGFILE_BACKEND=io_uring or =threadpool (meson test runs both).
An io_uring run on a kernel that refuses io_uring skips everything, saying why."""
import os

import pytest

from ringfile import Engine

BACKEND = os.environ.get("RINGFILE_BACKEND", "auto")


def io_uring_refusal():
    """Why this machine or build can't run the io_uring engine, or None."""
    if BACKEND != "io_uring":
        return None
    try:
        Engine("io_uring").close()
    except OSError as e:
        return "io_uring unavailable here: %s" % e
    return None


def pytest_collection_modifyitems(config, items):
    reason = io_uring_refusal()
    if reason:
        skip = pytest.mark.skip(reason=reason)
        for item in items:
            item.add_marker(skip)


def pytest_sessionfinish(session, exitstatus):
    if io_uring_refusal():
        session.exitstatus = 77  # meson test reports SKIP, not a pass


@pytest.fixture
def tmp(tmp_path):
    return tmp_path
