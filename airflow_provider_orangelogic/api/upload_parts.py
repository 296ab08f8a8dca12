"""The pieces an upload is made of: where a file comes from, its chunks, multipart bodies, checkpoints.

Kept apart from the upload protocol (``api/uploads.py``) so that each can be read and tested alone.
Standard library only.
"""

from __future__ import annotations

import json
import threading
import uuid
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import IO, Any, Protocol

# The Multi-Part Upload API's chunk boundary: a chunk starts on a multiple of it and, except the last,
# ends one byte before the next multiple.
CHUNK_ALIGNMENT = 131072
_READ_BLOCK = 256 * 1024


@dataclass(frozen=True)
class UploadSource:
    """One file to upload.

    :param name: The file name Orange Logic records, with its extension (``FileName``).
    :param size: Its size in bytes.
    :param open: Opens a new binary reader on it (called once per attempt, and once per chunk reader thread).
    :param key: What identifies this file across runs, for resuming (e.g. its URL, size and modification time):
        a file that changed gets a new key, so a checkpoint is never applied to other bytes.
    :param location: What logs and results call it (its URL).
    """

    name: str
    size: int
    open: Callable[[], IO[bytes]]
    key: str
    location: str = ""


def chunk_ranges(size: int, chunk_size: int) -> list[tuple[int, int]]:
    """``(start, end)`` of each chunk, ``end`` inclusive, as the chunk upload call takes them."""
    if isinstance(chunk_size, bool) or not isinstance(chunk_size, int) or chunk_size < CHUNK_ALIGNMENT:
        raise ValueError(f"chunk_size must be a positive multiple of {CHUNK_ALIGNMENT} bytes, not {chunk_size!r}")
    if chunk_size % CHUNK_ALIGNMENT:
        lower = chunk_size // CHUNK_ALIGNMENT * CHUNK_ALIGNMENT
        raise ValueError(
            f"chunk_size must be a multiple of {CHUNK_ALIGNMENT} bytes (Orange Logic's chunk boundary), not "
            f"{chunk_size}: use {lower or CHUNK_ALIGNMENT} or {lower + CHUNK_ALIGNMENT}"
        )
    if size < 1:
        raise ValueError("a multi-part upload needs a file of at least one byte")
    return [(start, min(start + chunk_size, size) - 1) for start in range(0, size, chunk_size)]


class MultipartBody:
    """A ``multipart/form-data`` body with form fields and one file part, read block by block.

    The file part is either ``content`` (a chunk already in memory, not copied) or ``size`` bytes read
    from ``open_file()`` as the body is sent, so that a large file never sits in memory. ``requests``
    sends a readable object with a length as a stream with a Content-Length. One body serves one
    attempt: make a new one per attempt (``send_with_retries(body_factory=...)``). Not an ``io`` class
    on purpose: ``requests`` would ask it for ``tell()`` and, refused, send it chunked.
    """

    def __init__(
        self,
        fields: Mapping[str, str],
        file_field: str,
        file_name: str,
        *,
        content: bytes | None = None,
        open_file: Callable[[], IO[bytes]] | None = None,
        size: int = 0,
        boundary: str | None = None,
    ) -> None:
        if (content is None) == (open_file is None):
            raise ValueError("give either content or open_file")
        boundary = boundary or new_boundary()
        self.content_type = content_type(boundary)
        head = "".join(
            f'--{boundary}\r\nContent-Disposition: form-data; name="{_quoted(name)}"\r\n\r\n{value}\r\n'
            for name, value in fields.items()
        )
        head += (
            f'--{boundary}\r\nContent-Disposition: form-data; name="{_quoted(file_field)}"; '
            f'filename="{_quoted(file_name)}"\r\nContent-Type: application/octet-stream\r\n\r\n'
        )
        self._head = memoryview(head.encode("utf-8"))
        self._tail = memoryview(f"\r\n--{boundary}--\r\n".encode())
        self._content = memoryview(content) if content is not None else None
        self._open_file = open_file
        self._file_size = len(content) if content is not None else size
        self._reader: IO[bytes] | None = None
        self._position = 0
        self._length = len(self._head) + self._file_size + len(self._tail)

    def __len__(self) -> int:
        return self._length

    def readable(self) -> bool:
        return True

    def read(self, size: int | None = -1) -> bytes:
        wanted = self._length - self._position if size is None or size < 0 else size
        parts: list[bytes] = []
        while wanted > 0 and self._position < self._length:
            block = self._next_block(wanted)
            if not block:
                raise OSError(f"the file ended {self._length - self._position - len(self._tail)} byte(s) early")
            parts.append(block)
            wanted -= len(block)
            self._position += len(block)
        return b"".join(parts)

    def _next_block(self, wanted: int) -> bytes:
        head, file_end = len(self._head), len(self._head) + self._file_size
        if self._position < head:
            return bytes(self._head[self._position : self._position + wanted])
        if self._position < file_end:
            offset = self._position - head
            if self._content is not None:
                return bytes(self._content[offset : offset + min(wanted, _READ_BLOCK)])
            if self._reader is None:
                assert self._open_file is not None
                self._reader = self._open_file()
            block = self._reader.read(min(wanted, _READ_BLOCK, file_end - self._position))
            if self._position + len(block) >= file_end:
                self._close_reader()
            return block
        offset = self._position - file_end
        return bytes(self._tail[offset : offset + wanted])

    def __iter__(self) -> Iterator[bytes]:
        while block := self.read(_READ_BLOCK):
            yield block

    def close(self) -> None:
        self._close_reader()

    def _close_reader(self) -> None:
        if self._reader is not None:
            self._reader.close()
            self._reader = None


def new_boundary() -> str:
    return uuid.uuid4().hex


def content_type(boundary: str) -> str:
    return f"multipart/form-data; boundary={boundary}"


def _quoted(text: str) -> str:
    return text.replace("\\", "\\\\").replace('"', '\\"').replace("\r", " ").replace("\n", " ")


class CheckpointStore(Protocol):
    """Where a multi-part upload records its progress, so that a later run resumes it (the extension point).

    Values are JSON-serializable dicts; keys are short strings made from the source's ``key``.
    The operator's default keeps them in Airflow Variables (``hooks/upload_checkpoints.py``).
    """

    def load(self, key: str) -> dict[str, Any] | None: ...

    def save(self, key: str, state: dict[str, Any]) -> None: ...

    def delete(self, key: str) -> None: ...


class MemoryCheckpoints:
    """Checkpoints in a dict: for tests, and for a process that resumes its own uploads."""

    def __init__(self) -> None:
        self.states: dict[str, str] = {}
        self.saves = 0

    def load(self, key: str) -> dict[str, Any] | None:
        text = self.states.get(key)
        return json.loads(text) if text else None

    def save(self, key: str, state: dict[str, Any]) -> None:
        self.states[key] = json.dumps(state)
        self.saves += 1

    def delete(self, key: str) -> None:
        self.states.pop(key, None)


@dataclass
class CheckpointWriter:
    """Saves a multi-part upload's progress in the background, the newest state each time.

    Chunk workers call :meth:`mark` and go on at once; one thread saves whatever is newest whenever
    something changed, so a slow store (an Airflow Variable over the Task SDK) never holds the
    uploads back, and a run killed at any moment loses at most the chunks finished while the last
    save was in progress. A store that fails is reported once and the upload goes on: it can only
    cost a resume, never the upload.
    """

    store: CheckpointStore
    key: str
    state: dict[str, Any]
    on_error: Callable[[BaseException], None] = lambda err: None
    _changed: threading.Condition = field(default_factory=threading.Condition)
    _dirty: bool = False
    _closed: bool = False
    _failed: bool = False
    _thread: threading.Thread | None = None

    def start(self) -> CheckpointWriter:
        self.store.save(self.key, self._snapshot())  # the transaction and item before any chunk: a resume needs them
        self._thread = threading.Thread(target=self._run, name="orangelogic-upload-checkpoint", daemon=True)
        self._thread.start()
        return self

    def mark(self, index: int) -> None:
        with self._changed:
            self.state["done"].append(index)
            self._dirty = True
            self._changed.notify()

    def close(self) -> None:
        """Save what is left and stop."""
        with self._changed:
            self._closed = True
            self._changed.notify()
        if self._thread is not None:
            self._thread.join()

    def _snapshot(self) -> dict[str, Any]:
        return {**self.state, "done": sorted(self.state["done"])}

    def _run(self) -> None:
        while True:
            with self._changed:
                while not self._dirty and not self._closed:
                    self._changed.wait()
                if not self._dirty:
                    return
                snapshot, self._dirty = self._snapshot(), False
            try:
                self.store.save(self.key, snapshot)
            except Exception as err:  # any store failure: reported once, the upload goes on
                if not self._failed:
                    self._failed = True
                    self.on_error(err)
