"""The isolation levels the sandbox tests run at: each one this machine lacks is skipped, not failed."""

import functools

import pytest

from tg_code import Sandbox
from tg_code.isolation import LEVELS


@functools.cache
def _level_works(level: str) -> bool:
    try:
        Sandbox(isolation=level, prestart=0).resolved()
    except Exception:  # noqa: BLE001 - any failure to probe means the level is missing here
        return False
    return True


@pytest.fixture(scope="module", params=LEVELS)
def level(request):
    if not _level_works(request.param):
        pytest.skip(f"{request.param} does not work on this machine")
    return request.param
