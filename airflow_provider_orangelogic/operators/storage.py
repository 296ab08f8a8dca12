"""Object storage for the operators: a URL read as an ``ObjectStoragePath``, atomic writes, JSON Lines."""

from __future__ import annotations

import contextlib
import gzip as gzip_module
import json
import os
import uuid
from collections.abc import Iterable, Iterator
from contextlib import nullcontext
from typing import IO, TYPE_CHECKING, Any

if TYPE_CHECKING:
    from airflow.sdk import ObjectStoragePath

LOCAL_PROTOCOLS = frozenset({"", "file", "local"})
# Lines are written in batches of about this many bytes: one write per batch, not per asset.
WRITE_BATCH_BYTES = 1 << 20


def storage_path(path: Any, conn_id: str | None) -> ObjectStoragePath:
    from airflow.sdk import ObjectStoragePath

    if isinstance(path, ObjectStoragePath):
        return path
    if not isinstance(path, str) or not path.strip():
        raise ValueError(f"path must be an ObjectStoragePath or a URL such as file:///data/assets.jsonl, not {path!r}")
    text = path.strip()
    if "://" not in text:
        raise ValueError(f"path {text!r} has no scheme: write file://{text} for a local file, or s3://, gs://, ...")
    return ObjectStoragePath(text, conn_id=conn_id) if conn_id else ObjectStoragePath(text)


@contextlib.contextmanager
def atomic_write(destination: ObjectStoragePath) -> Iterator[IO[bytes]]:
    """A binary file that becomes ``destination`` only once written whole.

    Written to a hidden temporary object beside the destination, then moved onto it (a rename on a local disk,
    synced first; a server-side copy, which appears whole, on object stores). On any failure the temporary
    object is removed and the destination is left as it was.
    """
    fs = destination.fs
    temporary = (destination.parent / f".{destination.name}.{uuid.uuid4().hex[:12]}.tmp").path
    local = destination.protocol in LOCAL_PROTOCOLS
    if local:
        fs.makedirs(destination.parent.path, exist_ok=True)
    try:
        with fs.open(temporary, "wb") as out:
            yield out
            if local:  # on disk before the rename makes it visible
                out.flush()
                os.fsync(out.fileno())
        fs.mv(temporary, destination.path)
    except BaseException:
        with contextlib.suppress(Exception):
            if fs.exists(temporary):
                fs.rm(temporary)
        raise


def write_json_lines(destination: ObjectStoragePath, records: Iterable[Any], *, gzip: bool = False) -> int:
    """Write ``records`` to ``destination``, one JSON object per line, atomically (``atomic_write``); returns how
    many. A failure raised while iterating ``records`` leaves the destination as it was, too.
    """
    count = 0
    with atomic_write(destination) as raw:
        # No name or time in the gzip header: the same assets give the same bytes.
        sink = gzip_module.GzipFile(filename="", mode="wb", fileobj=raw, mtime=0) if gzip else nullcontext(raw)
        with sink as out:
            batch: list[bytes] = []
            size = 0
            for record in records:
                line = json.dumps(record, ensure_ascii=False, separators=(",", ":")).encode("utf-8") + b"\n"
                batch.append(line)
                size += len(line)
                count += 1
                if size >= WRITE_BATCH_BYTES:
                    out.write(b"".join(batch))
                    batch, size = [], 0
            if batch:
                out.write(b"".join(batch))
    return count


def rendered_integer(name: str, value: Any) -> int:
    """An int from an int or from the string a template renders it to ("100")."""
    if isinstance(value, bool):
        raise ValueError(f"{name} must be an integer, got {value!r}")
    if isinstance(value, int):
        return value
    try:
        return int(str(value).strip())
    except ValueError:
        raise ValueError(f"{name} must be an integer, got {value!r}") from None
