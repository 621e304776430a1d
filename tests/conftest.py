import logging

import pytest


@pytest.fixture(autouse=True, scope="module")
def restore_logger_level():
    """Tests (like the walkthrough) set the `redun_fast` logger's level; undo it per module."""
    logger = logging.getLogger("redun_fast")
    level = logger.level
    yield
    logger.setLevel(level)
