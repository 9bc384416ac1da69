"""An on-disk response cache (sqlite) keyed on the whole request and where it goes.

The key covers the endpoint (a base URL, a model file's digest), the model,
every message and every sampling parameter (TextGrad's ignored
temperature), hashed with sha256 so it is stable across processes. Only
requests and responses are stored, never credentials. A cache file that
sqlite cannot read (truncated, overwritten) is moved aside with a warning
naming it, and a fresh cache takes its place: losing cached answers costs
calls, never a run.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import os
import sqlite3
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

from ..calls import call_role
from ..events import emit
from ..paths import cache_dir
from . import defaults
from .base import Completion, Engine, EngineLayer, Messages

log = logging.getLogger(__name__)

T = TypeVar("T")

_SIDECARS = ("-wal", "-shm", "-journal")


def request_key(model: str, messages: Messages, params: dict[str, Any], endpoint: str = "") -> str:
    payload = json.dumps(
        {"endpoint": endpoint, "model": model, "messages": messages, "params": params},
        sort_keys=True, default=repr,
    )
    return hashlib.sha256(payload.encode("utf-8")).hexdigest()


def is_corrupt(exc: sqlite3.DatabaseError) -> bool:
    """True for a file sqlite cannot read as a database; False for a busy or locked one."""
    name = getattr(exc, "sqlite_errorname", "") or ""
    if name:
        return name.startswith(("SQLITE_CORRUPT", "SQLITE_NOTADB"))
    return not isinstance(exc, sqlite3.OperationalError)


class CachedEngine(EngineLayer):
    def __init__(self, inner: Engine, path: str | os.PathLike | None = None) -> None:
        super().__init__(inner)
        self.path = Path(path) if path is not None else cache_dir("llm-cache.sqlite")
        self._db: sqlite3.Connection | None = None
        self._lock = threading.Lock()

    def _connect(self) -> sqlite3.Connection:
        if self._db is None:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            db = sqlite3.connect(self.path, check_same_thread=False, timeout=defaults.CACHE_LOCK_TIMEOUT_S)
            try:
                db.execute("PRAGMA journal_mode=WAL")
                db.execute("PRAGMA synchronous=NORMAL")  # WAL stays consistent; commits skip fsync
                db.execute(
                    "CREATE TABLE IF NOT EXISTS responses (key TEXT PRIMARY KEY, model TEXT, "
                    "text TEXT, prompt_tokens INTEGER, completion_tokens INTEGER, finish_reason TEXT)"
                )
            except BaseException:
                db.close()
                raise
            self._db = db
        return self._db

    def _set_aside(self, exc: sqlite3.DatabaseError) -> None:
        """Move the unreadable file (and sqlite's sidecar files) out of the way for a fresh one."""
        if self._db is not None:
            self._db.close()
            self._db = None
        aside = self.path.with_name(f"{self.path.name}.corrupt-{time.strftime('%Y%m%d-%H%M%S')}-{os.getpid()}")
        for suffix in ("", *_SIDECARS):
            with contextlib.suppress(FileNotFoundError):  # never written, or another process moved it
                os.replace(f"{self.path}{suffix}", f"{aside}{suffix}")
        log.warning("response cache %s is unreadable (%s): moved it to %s and started a fresh cache",
                    self.path, exc, aside)

    def _with_db(self, work: Callable[[sqlite3.Connection], T]) -> T:
        with self._lock:
            try:
                return work(self._connect())
            except sqlite3.DatabaseError as exc:
                if not is_corrupt(exc):
                    raise
                self._set_aside(exc)
                return work(self._connect())

    def _key(self, messages: Messages, params: dict[str, Any]) -> str:
        default_params = getattr(self.inner, "default_params", None) or {}
        return request_key(self.model, messages, {**default_params, **params}, self.endpoint)

    def _lookup(self, key: str, messages: Messages, params: dict[str, Any]) -> Completion | None:
        row = self._with_db(lambda db: db.execute(
            "SELECT model, text, prompt_tokens, completion_tokens, finish_reason FROM responses WHERE key = ?",
            (key,),
        ).fetchone())
        if row is None:
            return None
        self.usage.record_cache_hit()
        completion = Completion(row[1], row[2], row[3], row[0], cached=True, finish_reason=row[4])
        emit("llm_call", role=call_role.get(), model=row[0], messages=messages, params=params,
             response=row[1], prompt_tokens=0, cached_prompt_tokens=0, completion_tokens=0,
             latency_s=0.0, cost_usd=0.0, cached=True)
        return completion

    def _store(self, key: str, completion: Completion) -> None:
        if completion.finish_reason == "length" or not completion.text:
            return  # a cut or empty answer should be asked again, not replayed

        def insert(db: sqlite3.Connection) -> None:
            db.execute(
                "INSERT OR REPLACE INTO responses VALUES (?, ?, ?, ?, ?, ?)",
                (key, completion.model, completion.text, completion.prompt_tokens,
                 completion.completion_tokens, completion.finish_reason),
            )
            db.commit()

        self._with_db(insert)

    def complete(self, messages: Messages, **params: Any) -> Completion:
        key = self._key(messages, params)
        hit = self._lookup(key, messages, params)
        if hit is not None:
            return hit
        completion = self.inner.complete(messages, **params)
        self._store(key, completion)
        return completion

    async def acomplete(self, messages: Messages, **params: Any) -> Completion:
        # Lookups and stores take well under a millisecond: done inline, they cost
        # less than a hop through asyncio's small default thread pool.
        key = self._key(messages, params)
        hit = self._lookup(key, messages, params)
        if hit is not None:
            return hit
        completion = await self.inner.acomplete(messages, **params)
        self._store(key, completion)
        return completion

    def close(self) -> None:
        with self._lock:
            if self._db is not None:
                self._db.close()
                self._db = None
