"""A pytest plugin, as redun's: the `scheduler` fixture, an in-memory Scheduler per test.

Registered through the `pytest11` entry point, so a project that installs redun_fast has it;
a test module's own `scheduler` fixture takes precedence.
"""
import pytest

from redun_fast.scheduler import Scheduler


@pytest.fixture
def scheduler():
    """An in-memory Scheduler, closed after the test."""
    with Scheduler() as scheduler:
        yield scheduler
