"""Run folders: an event log, per-step checkpoints, a summary and a report.

A run survives ``kill -9``: each event is appended and flushed as one line,
and each checkpoint is written to a temporary file and renamed into place, so
resuming continues after the last completed step and loses at most the step
in flight.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import logging
import os
import re
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .engines.providers import KEY_VARIABLES
from .events import events_to

if TYPE_CHECKING:
    from .engines.base import Engine

log = logging.getLogger(__name__)

_SECRET_ENV = ("OPENAI_API_KEY", "TG_API_KEY", "TG_SERVE_API_KEY", *KEY_VARIABLES)
_CHECKPOINT = re.compile(r"step-(\d+)\.json$")


def _secrets() -> list[str]:
    return [v for k in _SECRET_ENV if (v := os.environ.get(k)) and len(v) >= 8]


def redact(text: str, secrets: list[str]) -> str:
    for secret in secrets:
        text = text.replace(secret, "***")
    return text


def write_json_atomic(path: Path, data: Any) -> None:
    tmp = path.with_suffix(path.suffix + ".tmp")
    with open(tmp, "w", encoding="utf-8") as f:
        json.dump(data, f, indent=2, default=str)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)


def read_events(folder: Path, kind: str | None = None) -> list[dict[str, Any]]:
    """The records of a run folder's events.jsonl (of ``kind`` only, if given), without opening the run."""
    path = Path(folder) / "events.jsonl"
    if not path.exists():
        return []
    records = []
    for line in path.read_text(encoding="utf-8").splitlines():
        try:
            record = json.loads(line)
        except json.JSONDecodeError:  # the line being written when the process died
            continue
        if kind is None or record.get("kind") == kind:
            records.append(record)
    return records


class Run:
    """One optimization run on disk. Use ``Run.create`` or ``Run.resume``."""

    def __init__(self, path: Path, config: dict[str, Any], engine: Engine | None = None) -> None:
        self.path = Path(path)
        self.config = config
        self.engine = engine
        self.show_progress = False
        self._lock = threading.Lock()
        self._secrets: list[str] = []
        self._events = None
        self._calls_bar = None
        self._skipped: dict[Path, str] = {}

    @classmethod
    def create(
        cls, root: str | os.PathLike = "runs", task: str = "run", config: dict[str, Any] | None = None,
        engine: Engine | None = None, path: str | os.PathLike | None = None,
    ) -> Run:
        if path is None:
            stamp = dt.datetime.now().strftime("%Y%m%d-%H%M%S-%f")
            path = Path(root) / f"{task}-{stamp}"
        path = Path(path)
        if (path / "config.json").exists():
            raise FileExistsError(f"run folder {path} already holds a run; use --resume {path} to continue it")
        (path / "checkpoints").mkdir(parents=True, exist_ok=True)
        config = {"task": task, "created": dt.datetime.now().isoformat(timespec="seconds"), **(config or {})}
        run = cls(path, config, engine)
        write_json_atomic(path / "config.json", run._clean(config))
        return run

    @classmethod
    def resume(cls, path: str | os.PathLike, engine: Engine | None = None) -> Run:
        path = Path(path)
        config_file = path / "config.json"
        if not config_file.is_file():
            raise FileNotFoundError(f"--resume {path}: not a run folder (no config.json inside)")
        try:
            config = json.loads(config_file.read_text(encoding="utf-8"))
        except (json.JSONDecodeError, UnicodeDecodeError) as exc:
            raise ValueError(f"--resume {path}: {config_file} is not valid JSON ({exc}); the run cannot be "
                             "resumed from it") from None
        if not isinstance(config, dict):
            raise ValueError(f"--resume {path}: {config_file} holds {type(config).__name__}, not a JSON object")
        return cls(path, config, engine)

    def prior_usage(self) -> dict[str, float]:
        """What the LLM calls already logged in this run cost, so usage and budgets add up across resumes."""
        totals = {"calls": 0, "prompt_tokens": 0, "completion_tokens": 0, "cost_usd": 0.0}
        for record in self.events("llm_call"):
            if record.get("cached"):  # answered from the response cache: no call was made
                continue
            totals["calls"] += 1
            for key in ("prompt_tokens", "completion_tokens", "cost_usd"):
                totals[key] += record.get(key) or 0
        return totals

    # -------------------------------------------------------------- events

    def __enter__(self) -> Run:
        self._secrets = _secrets()
        dropped = self._repair_events()
        self._events = open(self.path / "events.jsonl", "a", encoding="utf-8")  # noqa: SIM115
        self._stack = contextlib.ExitStack()
        self._stack.enter_context(events_to(self.log))
        self._calls_bar = None
        if self.show_progress:
            from tqdm import tqdm

            self._calls_bar = self._stack.enter_context(tqdm(desc="LLM calls", unit="call", position=1, leave=False))
        self.log("run_open", config=self.config, completed_steps=self.completed_steps)
        for path, why in self._skipped.items():  # found before the log was open
            self.log("checkpoint_skipped", path=str(path), reason=why)
        if dropped:
            self.log("events_repaired", dropped_bytes=dropped,
                     note="a partial last line (a process killed while writing) was removed")
        return self

    def _repair_events(self) -> int:
        """Cut a partial last line left by ``kill -9``, so the next event starts on its own line."""
        path = self.path / "events.jsonl"
        if not path.exists():
            return 0
        with open(path, "rb+") as f:
            data = f.read()
            if not data or data.endswith(b"\n"):
                return 0
            keep = data.rfind(b"\n") + 1
            f.truncate(keep)
        log.warning("%s: removed a partial last line (%d bytes)", path, len(data) - keep)
        return len(data) - keep

    def __exit__(self, *exc: Any) -> None:
        self.log("run_close", error=repr(exc[1]) if exc[1] else None)
        self._stack.close()
        self._events.close()
        self._events = None

    def _clean(self, data: Any) -> Any:
        return json.loads(redact(json.dumps(data, default=str), self._secrets or _secrets()))

    def log(self, kind: str, fields: dict[str, Any] | None = None, **more: Any) -> None:
        """Append one event; ``fields`` is a dict (as event sinks send) or keywords."""
        if self._events is None:
            raise RuntimeError("Run.log: open the run first (with run: ...)")
        record = {"time": dt.datetime.now().isoformat(timespec="milliseconds"), "kind": kind, **(fields or {}), **more}
        line = redact(json.dumps(record, default=str), self._secrets)
        with self._lock:
            self._events.write(line + "\n")
            self._events.flush()
            if kind == "llm_call" and self._calls_bar is not None:
                self._calls_bar.update(1)

    def events(self, kind: str | None = None) -> list[dict[str, Any]]:
        return read_events(self.path, kind)

    # -------------------------------------------------------------- checkpoints

    def _checkpoints(self) -> list[tuple[int, Path]]:
        found = []
        for p in (self.path / "checkpoints").glob("step-*.json"):
            m = _CHECKPOINT.search(p.name)
            if m:
                found.append((int(m.group(1)), p))
        return sorted(found)

    @property
    def completed_steps(self) -> int:
        latest = self._latest_valid()
        return latest[0] if latest else 0

    def _latest_valid(self) -> tuple[int, dict[str, Any]] | None:
        """The newest checkpoint that reads as a checkpoint; corrupt newer ones are skipped and named."""
        for step, path in reversed(self._checkpoints()):
            try:
                data = json.loads(path.read_text(encoding="utf-8"))
            except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
                self._skip(path, str(exc))
                continue
            if not isinstance(data, dict) or not isinstance(data.get("variables"), dict):
                self._skip(path, "it is not a checkpoint (no 'variables')")
                continue
            return step, data
        return None

    def _skip(self, path: Path, why: str) -> None:
        if path in self._skipped:
            return
        self._skipped[path] = why
        log.warning("checkpoint %s skipped: %s; resuming from the one before", path, why)
        if self._events is not None:
            self.log("checkpoint_skipped", path=str(path), reason=why)

    def checkpoint(self, step: int, variables: dict[str, str], state: dict[str, Any] | None = None) -> Path:
        """Record step ``step`` as complete: trainable values plus any task state."""
        data = {"step": step, "variables": variables, "state": state or {}}
        target = self.path / "checkpoints" / f"step-{step:04d}.json"
        write_json_atomic(target, self._clean(data))
        if self._events is not None:
            self.log("step", step=step, variables=variables, state=state or {})
        return target

    def latest_checkpoint(self) -> dict[str, Any] | None:
        latest = self._latest_valid()
        return latest[1] if latest else None

    restore = latest_checkpoint

    def steps(self, total: int, description: str = "steps") -> Iterator[int]:
        """Step numbers still to do (1-based), with a progress bar when the CLI asks for one."""
        start = self.completed_steps + 1
        if not self.show_progress:
            yield from range(start, total + 1)
            return
        from tqdm import tqdm

        with tqdm(total=total, initial=start - 1, desc=description, unit="step") as bar:
            for step in range(start, total + 1):
                yield step
                bar.update(1)

    # -------------------------------------------------------------- outputs

    def finish_interrupted(self, why: str) -> None:
        """A summary and a report that say where the run stopped and how to continue."""
        step = self.completed_steps
        hint = f"tg run --resume {self.path}"
        self.finish({"interrupted": why, "resume_with": hint},
                    f"# Run interrupted\n\n{why} after step {step}. Every completed step is saved; "
                    f"continue with:\n\n```\n{hint}\n```\n")

    def finish(self, summary: dict[str, Any], report_markdown: str) -> None:
        """Write ``summary.json`` (with usage) and ``report.md``."""
        full = dict(summary)
        if self.engine is not None:
            full.setdefault("engine", self.engine.model)
            full["usage"] = self.engine.usage.as_dict()
        full["completed_steps"] = self.completed_steps
        write_json_atomic(self.path / "summary.json", self._clean(full))
        (self.path / "report.md").write_text(redact(report_markdown, self._secrets or _secrets()), encoding="utf-8")
