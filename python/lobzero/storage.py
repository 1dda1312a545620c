"""Files that matter (checkpoints, agents, reports) written atomically to a path or an fsspec URL.

A local path is written to ``NAME.tmp`` and renamed over ``NAME`` (``os.replace``, after an
fsync): a reader, or a run resumed after a crash, sees the old file or the new one, never half
of one. An object store has no rename of its own (``mv`` is a copy then a delete), but an object
appears whole or not at all: the bytes go to a temporary key, then are moved under the final
one. A folder (a run, an agent, a report) is published file by file and then its
``MANIFEST.json`` (each file's size and SHA-256), written last: a reader trusts the folder as of
its manifest, so an instance that dies half-way through an upload leaves the last complete
checkpoint readable (:func:`read_manifest`).

A URL is anything with a protocol other than ``file`` (``s3://bucket/run`` with ``s3fs``
installed, ``gs://``, ``memory://`` for tests); everything else is a local path, unchanged.
Training and comparing on a URL run in a local staging folder that is published at each
checkpoint (:class:`RunFolder`).
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import tempfile
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO, Any

from lobzero.exceptions import ConfigError, DataIOError

MANIFEST = "MANIFEST.json"
_MANIFEST_VERSION = 1


def is_url(target: str | Path) -> bool:
    """Whether ``target`` names an fsspec URL (a protocol other than ``file://``)."""
    text = str(target)
    return "://" in text and not text.startswith("file://")


def join(base: str | Path, *names: str) -> str:
    """``base/name/...`` for a path or a URL (a URL keeps its ``//``)."""
    if is_url(base):
        return "/".join([str(base).rstrip("/"), *names])
    return str(Path(base).joinpath(*names))


def _filesystem(url: str) -> tuple[Any, str]:
    try:
        import fsspec
    except ImportError as e:  # pragma: no cover - fsspec is a dependency
        raise ConfigError(f"{url}: writing to a URL needs fsspec ({e})") from e
    try:
        fs, path = fsspec.core.url_to_fs(url)
    except (ImportError, ValueError) as e:
        raise ConfigError(
            f"{url}: no filesystem for this URL ({e}); s3:// needs s3fs, gs:// gcsfs"
        ) from e
    return fs, path


def write_bytes(target: str | Path, data: bytes) -> str:
    """Writes ``data`` to ``target`` (path or URL) atomically; returns the target."""
    if not is_url(target):
        path = Path(target)
        tmp = path.with_name(path.name + ".tmp")
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            with open(tmp, "wb") as fh:
                fh.write(data)
                fh.flush()
                os.fsync(fh.fileno())
            os.replace(tmp, path)
        except OSError as e:
            raise DataIOError(f"{path}: cannot write ({e})") from e
        return str(path)
    fs, key = _filesystem(str(target))
    tmp_key = f"{key}.tmp-{uuid.uuid4().hex}"
    try:
        parent = key.rsplit("/", 1)[0]
        if parent:
            fs.makedirs(parent, exist_ok=True)
        fs.pipe_file(tmp_key, data)
        fs.mv(tmp_key, key)
    except OSError as e:
        raise DataIOError(f"{target}: cannot write ({e})") from e
    return str(target)


def write_text(target: str | Path, text: str) -> str:
    """:func:`write_bytes` of ``text`` in UTF-8."""
    return write_bytes(target, text.encode())


@contextmanager
def atomic_writer(target: str | Path) -> Iterator[IO[bytes]]:
    """A binary file to write into (``torch.save``, ``savefig``); its bytes reach ``target``
    (path or URL) atomically when the block ends, and nothing does when it raises."""
    if not is_url(target):
        path = Path(target)
        tmp = path.with_name(path.name + ".tmp")
        path.parent.mkdir(parents=True, exist_ok=True)
        with open(tmp, "wb") as fh:
            yield fh
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
        return
    import io

    buffer = io.BytesIO()
    yield buffer
    write_bytes(target, buffer.getvalue())


def read_bytes(target: str | Path) -> bytes:
    """The bytes of ``target`` (path or URL); :class:`DataIOError` when it is missing."""
    try:
        if not is_url(target):
            return Path(target).read_bytes()
        fs, path = _filesystem(str(target))
        return bytes(fs.cat_file(path))
    except FileNotFoundError as e:
        raise DataIOError(f"{target}: no such file") from e


def exists(target: str | Path) -> bool:
    """Whether ``target`` (path or URL) exists."""
    if not is_url(target):
        return Path(target).exists()
    fs, path = _filesystem(str(target))
    return bool(fs.exists(path))


def publish(folder: str | Path, target: str | Path, state: dict[str, Any] | None = None) -> str:
    """Copies the files under the local ``folder`` to ``target`` (path or URL), each atomically,
    then writes ``target/MANIFEST.json`` last: each file's size and SHA-256, and ``state``
    (e.g. the env steps of the checkpoint). Temporary files (``*.tmp``) stay behind."""
    root = Path(folder)
    files: dict[str, dict[str, Any]] = {}
    for path in sorted(p for p in root.rglob("*") if p.is_file()):
        name = path.relative_to(root).as_posix()
        if name == MANIFEST or name.endswith(".tmp"):
            continue
        data = path.read_bytes()
        write_bytes(join(target, *name.split("/")), data)
        files[name] = {"bytes": len(data), "sha256": hashlib.sha256(data).hexdigest()}
    manifest = {"version": _MANIFEST_VERSION, "files": files, "state": state or {}}
    return write_text(join(target, MANIFEST), json.dumps(manifest, indent=1))


def read_manifest(target: str | Path) -> dict[str, Any]:
    """The manifest :func:`publish` wrote last in ``target``, with every file it lists checked
    (:class:`DataIOError` naming a missing or changed file)."""
    manifest = json.loads(read_bytes(join(target, MANIFEST)))
    for name, entry in manifest["files"].items():
        data = read_bytes(join(target, *name.split("/")))
        if hashlib.sha256(data).hexdigest() != entry["sha256"]:
            raise DataIOError(f"{join(target, name)}: does not match {MANIFEST}")
    return manifest


def fetch(target: str | Path, folder: str | Path) -> dict[str, Any]:
    """Copies the files of ``target``'s manifest into the local ``folder``; returns the manifest."""
    manifest = read_manifest(target)
    for name in manifest["files"]:
        local = Path(folder, *name.split("/"))
        local.parent.mkdir(parents=True, exist_ok=True)
        local.write_bytes(read_bytes(join(target, *name.split("/"))))
    return manifest


class RunFolder:
    """Where a run writes: ``target`` itself when it is a local path, else a local staging
    folder that :meth:`publish` copies to the URL (at each checkpoint; manifest last).
    :meth:`restore` fills the staging folder from the URL's last manifest (resume)."""

    def __init__(self, target: str | Path) -> None:
        self.target = str(target)
        self.remote = is_url(target)
        self.local = Path(tempfile.mkdtemp(prefix="lobzero-run-")) if self.remote else Path(target)

    def restore(self) -> bool:
        """Copies what was published to the local folder; False when nothing was."""
        if not self.remote or not exists(join(self.target, MANIFEST)):
            return False
        fetch(self.target, self.local)
        return True

    def publish(self, state: dict[str, Any] | None = None) -> None:
        """Publishes the local folder to the URL (nothing to do for a local path)."""
        if self.remote:
            publish(self.local, self.target, state)

    def close(self) -> None:
        """Removes the staging folder (a local target is left alone)."""
        if self.remote:
            shutil.rmtree(self.local, ignore_errors=True)
