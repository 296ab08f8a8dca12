"""Assets beyond the generated catalogue: files uploaded to the stand-in, and metadata written to any asset.

The catalogue (``catalogue.py``) computes assets 1 to ``catalogue_size`` from their number; this book adds
what requests changed: uploaded assets (numbers from ``FIRST_UPLOADED``, their originals on disk) and field
values written through the DataTable API, kept per record ID over the generated ones. Not thread-safe: the
service holds its lock around every call.
"""

from __future__ import annotations

import hashlib
import shutil
import tempfile
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from airflow_provider_orangelogic.testing.stand_in.catalogue import asset

# Uploaded assets are numbered from here, far above any catalogue_size a test uses.
FIRST_UPLOADED = 90_000_001
_EXTENSION_MEDIA_TYPES = {
    ".jpg": "Image", ".jpeg": "Image", ".png": "Image", ".tif": "Image", ".tiff": "Image", ".gif": "Image",
    ".mp4": "Video", ".mov": "Video", ".mxf": "Video", ".mp3": "Audio", ".wav": "Audio",
}  # fmt: skip


@dataclass
class StoredFile:
    """One version of an uploaded asset's original file; its MD5 is computed when first asked for."""

    path: Path
    size: int
    known_md5: str | None = None

    @property
    def md5(self) -> str:
        """Hex MD5 of the file (a multi-part upload's chunks come in any order: it is read back once, if needed)."""
        if self.known_md5 is None:
            self.known_md5 = md5_of(self.path)
        return self.known_md5

    def chunks(self, block: int = 1 << 20) -> Iterator[bytes]:
        with self.path.open("rb") as source:
            while data := source.read(block):
                yield data


@dataclass
class UploadedAsset:
    number: int
    folder_record_id: str
    file_name: str
    created_at: datetime
    versions: list[StoredFile] = field(default_factory=list)

    @property
    def record_id(self) -> str:
        return str(self.number)

    @property
    def identifier(self) -> str:
        return f"OL{self.number:07d}"

    @property
    def version(self) -> int:
        """0 for the first upload, as the reference's ``assetVersion`` counts."""
        return len(self.versions) - 1


def _stamp(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def md5_of(path: Path) -> str:
    digest = hashlib.md5(usedforsecurity=False)
    with path.open("rb") as source:
        while data := source.read(1 << 20):
            digest.update(data)
    return digest.hexdigest()


class AssetBook:
    def __init__(self, directory: str = "") -> None:
        self._given_directory = Path(directory) if directory else None
        self._temporary: Path | None = None
        self._next_number = FIRST_UPLOADED
        self.uploaded: dict[str, UploadedAsset] = {}  # record ID -> asset
        self.written: dict[str, dict[str, Any]] = {}  # record ID -> field values written through the DataTable

    # ---- where files live ----

    @property
    def directory(self) -> Path:
        if self._given_directory is not None:
            self._given_directory.mkdir(parents=True, exist_ok=True)
            return self._given_directory
        if self._temporary is None:
            self._temporary = Path(tempfile.mkdtemp(prefix="orangelogic-standin-uploads-"))
        return self._temporary

    def scratch_file(self, name: str) -> Path:
        """A new empty file in the book's directory (a multi-part upload assembles its chunks there)."""
        path = self.directory / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.touch()
        return path

    def close(self) -> None:
        """Remove the temporary directory, if the book made one."""
        if self._temporary is not None:
            shutil.rmtree(self._temporary, ignore_errors=True)
            self._temporary = None

    # ---- uploads ----

    def reserve_number(self) -> int:
        """The number of an asset still being uploaded (a multi-part registration names it before the bytes come)."""
        number = self._next_number
        self._next_number += 1
        return number

    def add_asset(
        self, folder_record_id: str, file_name: str, content: Path, md5: str | None = None, number: int | None = None
    ) -> UploadedAsset:
        """A new asset whose original is ``content`` (moved into the book), numbered ``number`` if reserved."""
        number = number if number is not None else self.reserve_number()
        uploaded = UploadedAsset(number, folder_record_id, file_name, datetime.now(timezone.utc))
        self.uploaded[uploaded.record_id] = uploaded
        self.add_version(uploaded.record_id, content, md5)
        return uploaded

    def add_version(self, record_id: str, content: Path, md5: str | None = None) -> int:
        """A new version of an uploaded asset; returns its version number."""
        uploaded = self.uploaded[record_id]
        target = self.directory / f"{uploaded.identifier}.v{len(uploaded.versions)}"
        shutil.move(str(content), target)
        uploaded.versions.append(StoredFile(target, target.stat().st_size, md5))
        return uploaded.version

    def duplicate_of(self, mode: str, folder_record_id: str, file_name: str, md5: str) -> UploadedAsset | None:
        """The asset an upload duplicates under duplicate detection ``mode`` ("off", "filename", "checksum")."""
        for uploaded in self.uploaded.values():
            if mode == "filename" and (uploaded.folder_record_id, uploaded.file_name) == (folder_record_id, file_name):
                return uploaded
            if mode == "checksum" and any(version.md5 == md5 for version in uploaded.versions):
                return uploaded
        return None

    # ---- finding and describing assets ----

    def exists(self, record_id: str, catalogue_size: int) -> bool:
        return record_id in self.uploaded or (record_id.isdigit() and 1 <= int(record_id) <= catalogue_size)

    def record_id_of(self, identifier: str, catalogue_size: int) -> str | None:
        """The record ID of the asset with this unique identifier (``SystemIdentifier``), if any."""
        digits = identifier[2:] if identifier.startswith("OL") else ""
        if not digits.isdigit():
            return None
        record_id = str(int(digits))
        return record_id if self.exists(record_id, catalogue_size) and f"OL{int(digits):07d}" == identifier else None

    def fields(self, record_id: str) -> dict[str, Any]:
        """The asset's Search fields, with the values written through the DataTable over them."""
        uploaded = self.uploaded.get(record_id)
        if uploaded is None:
            base = asset(int(record_id))
        else:
            stamp = _stamp(uploaded.created_at)
            base = {
                "SystemIdentifier": uploaded.identifier,
                "RecordID": uploaded.record_id,
                "Title": Path(uploaded.file_name).stem,
                "MediaType": _EXTENSION_MEDIA_TYPES.get(Path(uploaded.file_name).suffix.lower(), "Document"),
                "CreateDate": stamp,
                "EditDate": stamp,
                "FileSize": uploaded.versions[-1].size,
                "OriginalFileName": uploaded.file_name,
            }
        return {**base, **self.written.get(record_id, {})}

    def write(self, record_id: str, values: Mapping[str, Any]) -> None:
        self.written.setdefault(record_id, {}).update(values)
