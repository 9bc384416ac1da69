"""The response cache: keyed on the endpoint too, and a corrupt file never stops a run.

Corruption is real: sqlite files written by the cache, then cut short or
overwritten on disk.
"""

from __future__ import annotations

import logging
import os
import sqlite3

import pytest

from tg_core.engines import CachedEngine, FunctionEngine
from tg_core.engines.cache import is_corrupt

ASK = [{"role": "user", "content": "q39"}]


def _filled(path, answers: int = 40) -> None:
    """A real cache file with enough answers to span many sqlite pages."""
    engine = CachedEngine(FunctionEngine(lambda messages, **params: "answer " * 200), path)
    for i in range(answers):
        engine.generate([{"role": "user", "content": f"q{i}"}])
    engine.close()


def _fresh_engine(path, calls):
    def reply(messages, **params):
        calls.append(messages)
        return "fresh answer"

    return CachedEngine(FunctionEngine(reply), path)


def _aside(path):
    return sorted(p for p in path.parent.iterdir() if p.name.startswith(path.name + ".corrupt-"))


@pytest.mark.parametrize("damage", ["truncated", "random-bytes"])
def test_corrupt_cache_file_is_named_set_aside_and_replaced(tmp_path, caplog, damage):
    path = tmp_path / "llm-cache.sqlite"
    _filled(path)
    original = path.read_bytes()
    if damage == "truncated":
        path.write_bytes(original[: len(original) // 2])
    else:
        path.write_bytes(os.urandom(len(original)))
    damaged = path.read_bytes()
    calls = []
    engine = _fresh_engine(path, calls)
    with caplog.at_level(logging.WARNING, logger="tg_core.engines.cache"):
        assert engine.generate(ASK) == "fresh answer"
    [aside] = _aside(path)
    assert aside.read_bytes() == damaged  # kept for inspection, not deleted
    [record] = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert str(path) in record.getMessage() and str(aside) in record.getMessage()
    assert engine.generate(ASK) == "fresh answer"
    assert len(calls) == 1 and engine.usage.cache_hits == 1  # the fresh cache works
    engine.close()
    assert _fresh_engine(path, calls).generate(ASK) == "fresh answer" and len(calls) == 1


def test_file_that_is_not_a_database_at_all_is_set_aside(tmp_path, caplog):
    path = tmp_path / "cache.sqlite"
    path.write_text("this is a text file someone saved over the cache\n")
    calls = []
    with caplog.at_level(logging.WARNING, logger="tg_core.engines.cache"):
        assert _fresh_engine(path, calls).generate(ASK) == "fresh answer"
    assert "file is not a database" in caplog.text and str(path) in caplog.text
    assert len(_aside(path)) == 1


def test_a_busy_database_is_not_mistaken_for_a_corrupt_one(tmp_path):
    path = tmp_path / "cache.sqlite"
    _filled(path, answers=1)
    holder = sqlite3.connect(path)
    holder.execute("BEGIN EXCLUSIVE")
    waiter = sqlite3.connect(path, timeout=0)
    try:
        with pytest.raises(sqlite3.OperationalError) as info:
            waiter.execute("DELETE FROM responses")  # a writer waits for the holder (WAL lets readers in)
        assert not is_corrupt(info.value)
    finally:
        holder.rollback()
        holder.close()
        waiter.close()
    text = tmp_path / "notes.txt"
    text.write_bytes(b"x" * 200)
    not_a_db = sqlite3.connect(text)
    with pytest.raises(sqlite3.DatabaseError) as info:
        not_a_db.execute("SELECT * FROM sqlite_master").fetchall()
    not_a_db.close()
    assert is_corrupt(info.value)


def test_two_functions_behind_one_model_name_do_not_share_answers(tmp_path):
    path = tmp_path / "cache.sqlite"

    def polite(messages, **params):
        return "hello"

    def rude(messages, **params):
        return "go away"

    assert CachedEngine(FunctionEngine(polite, model="same"), path).generate(ASK) == "hello"
    assert CachedEngine(FunctionEngine(rude, model="same"), path).generate(ASK) == "go away"
    again = CachedEngine(FunctionEngine(polite, model="same"), path)
    assert again.generate(ASK) == "hello" and again.usage.cache_hits == 1
