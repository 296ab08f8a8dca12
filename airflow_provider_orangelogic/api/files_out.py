"""Files out of Orange Logic: presigned links in batch, each file streamed to a destination, a manifest.

:func:`export_files` takes assets (record IDs, unique identifiers, or Search items), asks the presigned-links
endpoint for their links in batches (one URL per format, an ``error`` per item), and downloads every link
with up to ``concurrency`` files in flight. The pace follows :class:`RateController` (``api/pacing.py``): a
429/503 from the links endpoint or from storage lowers it, as in a concurrent search.

Downloads go through a session of their own, never the API's: a presigned URL is its own credential, so the
bearer token must not travel with it (cloud storage refuses a request with two, and the token must never
leave the Orange Logic host). TLS verification stays on. A 403 or 404 answer means the link expired or the
format is still being generated ("try again shortly"): the link is asked for again, after a backoff, up to
``link_attempts`` times. Each file is streamed in blocks into a temporary object that becomes the file only
once complete (the destination's job), its checksum computed on the way: memory stays flat whatever the size.

One asset's failure is recorded in its manifest row and the others go on (unless ``fail_fast``). The
manifest (JSON Lines, one row per asset and format) is written at the end, atomically too. Presigned URLs
are secrets of a sort: they never appear in a log, an error, the manifest or the summary (host and path only).
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import json
import logging
import mimetypes
import os
import threading
import uuid
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import asdict, dataclass, field
from datetime import timedelta
from pathlib import Path, PurePosixPath
from typing import IO, Any, Protocol
from urllib.parse import unquote, urlsplit

import requests
from requests.adapters import HTTPAdapter

from airflow_provider_orangelogic.api.answers import field as answer_field
from airflow_provider_orangelogic.api.pacing import Cancelled, PacedCalls
from airflow_provider_orangelogic.api.search import MAX_CONCURRENCY, SEARCH_ENDPOINT, iter_search
from airflow_provider_orangelogic.api.session import USER_AGENT
from airflow_provider_orangelogic.core import endpoints
from airflow_provider_orangelogic.core.errors import OrangeLogicAPIError, OrangeLogicError
from airflow_provider_orangelogic.core.retry import RetryEvent, RetryPolicy, call_with_retries, is_transient

log = logging.getLogger(__name__)

DEFAULT_FORMATS = ("TRX",)
DEFAULT_NAME_TEMPLATE = "{identifier}_{format}{ext}"
DEFAULT_VALIDITY = timedelta(minutes=10)  # the reference's default
DEFAULT_BATCH_SIZE = 100
DEFAULT_LINK_ATTEMPTS = 6
BLOCK_SIZE = 1 << 20
LOOKUP_FIELDS = ("SystemIdentifier", "RecordID", "Title", "MediaType")
NAME_FIELDS = ("identifier", "record_id", "format", "ext", "title")
# A link answered with one of these is asked for again: expired (403) or not generated yet (404).
RENEW_STATUS = frozenset({403, 404, 410})


class FilesOutError(OrangeLogicError):
    """An export stopped (``fail_fast``), or its arguments are wrong; the message names the asset."""


@dataclass(frozen=True)
class LinkEndpoint:
    """How the presigned-links batch call is spelled: every part of it is *uncertain* (secondary client code).

    The defaults send ``POST <path>`` with a JSON body ``{"RecordIDs": [...], "Formats": [...],
    "ValidityDuration": "0d0h10m", "GenerateIfNeeded": true}``; ``encoding="form"`` sends the same names as
    form fields (lists as JSON text). The answer is read leniently (see :func:`parse_links`).
    """

    path: str = endpoints.PRESIGNED_LINKS
    method: str = "POST"
    encoding: str = "json"
    record_ids: str = "RecordIDs"
    formats: str = "Formats"
    validity: str = "ValidityDuration"
    generate: str = "GenerateIfNeeded"


class Destination(Protocol):
    """Where files land. ``open(name)`` yields a binary file that becomes ``name`` only when the block exits
    without an exception (written under a temporary name, then moved); on an exception nothing is left."""

    def open(self, name: str) -> contextlib.AbstractContextManager[IO[bytes]]: ...

    def location(self, name: str) -> str: ...


class LocalDirectory:
    """A :class:`Destination` on the local disk (what api/ users and tests use; Airflow's is ObjectStoragePath)."""

    def __init__(self, directory: str | os.PathLike[str]) -> None:
        self.directory = Path(directory)

    def location(self, name: str) -> str:
        return str(self.directory / name)

    @contextlib.contextmanager
    def open(self, name: str) -> Iterator[IO[bytes]]:
        final = self.directory / name
        final.parent.mkdir(parents=True, exist_ok=True)
        temporary = final.parent / f".{final.name}.{uuid.uuid4().hex[:12]}.tmp"
        try:
            with temporary.open("wb") as out:
                yield out
                out.flush()
                os.fsync(out.fileno())
            os.replace(temporary, final)
        finally:
            with contextlib.suppress(FileNotFoundError):
                temporary.unlink()


@dataclass
class Asset:
    record_id: str | None
    identifier: str | None = None
    title: str | None = None


@dataclass
class FileResult:
    """One manifest row: an asset in one format."""

    record_id: str | None
    identifier: str | None
    format: str
    path: str | None = None
    bytes: int = 0
    checksum: str | None = None
    status: str = "failed"
    error: str | None = None
    attempts: int = 0

    def row(self, algorithm: str) -> dict[str, Any]:
        row = asdict(self)
        row[algorithm] = row.pop("checksum")
        return row


@dataclass
class ExportSummary:
    """What an export did (the operator's XCom): counts, bytes, the manifest; never a URL."""

    files: int = 0
    failed: int = 0
    bytes: int = 0
    assets: int = 0
    manifest: str | None = None
    links_requested: int = 0
    links_renewed: int = 0
    throttled: int = 0
    peak_in_flight: int = 0
    failures: list[dict[str, Any]] = field(default_factory=list)  # the first MAX_LISTED_FAILURES

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


MAX_LISTED_FAILURES = 20


def format_validity(validity: float | timedelta | str) -> str:
    """``ValidityDuration`` as the reference writes it, ``1d2h3m`` (whole minutes, at least one)."""
    if isinstance(validity, str):
        return validity.strip()
    seconds = validity.total_seconds() if isinstance(validity, timedelta) else float(validity)
    if not seconds > 0:
        raise ValueError(f"validity must be positive, not {validity!r}")
    minutes = max(1, round(seconds / 60))
    return f"{minutes // 1440}d{minutes % 1440 // 60}h{minutes % 60}m"


def safe_url(url: str) -> str:
    """A URL without its query (the signature) or user info: what logs and errors may show."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    port = f":{parts.port}" if parts.port else ""
    return f"{parts.scheme}://{host}{port}{parts.path}"


def new_download_session(*, pool_size: int = MAX_CONCURRENCY, verify: bool | str = True) -> requests.Session:
    """A plain session for presigned URLs: no bearer auth, no netrc credentials, TLS verified."""
    session = requests.Session()
    session.auth = _strip_authorization  # set, so that requests never adds ~/.netrc credentials either
    session.verify = verify
    session.headers["User-Agent"] = USER_AGENT
    adapter = HTTPAdapter(pool_connections=pool_size, pool_maxsize=pool_size)
    session.mount("https://", adapter)
    session.mount("http://", adapter)
    return session


def _strip_authorization(request: requests.PreparedRequest) -> requests.PreparedRequest:
    request.headers.pop("Authorization", None)
    return request


def parse_links(payload: Any) -> dict[str, dict[str, tuple[str | None, str | None]]]:
    """``{record_id: {format: (url, error)}}`` from a presigned-links answer, read leniently.

    Items are found under ``items``/``Items``/``links``/``APIResponse.Items`` or as the answer itself (a list);
    an item has ``recordID`` (any case), an item ``error``, and ``links``: a list of ``{format, url, error}``
    or a mapping of format to a URL or to ``{url, error}``. An item error applies to each of its formats.
    """
    items = answer_field(payload, "items", "links", "results") if isinstance(payload, dict) else payload
    if items is None and isinstance(payload, dict):
        items = answer_field(answer_field(payload, "apiresponse") or {}, "items")
    if not isinstance(items, list):
        raise ValueError("the answer holds no list of items")
    result: dict[str, dict[str, tuple[str | None, str | None]]] = {}
    for item in items:
        if not isinstance(item, dict):
            continue
        record_id = answer_field(item, "recordid", "recordids", "id")
        if record_id is None:
            continue
        links = answer_field(item, "links", "urls", "formats") or []
        item_error = answer_field(item, "error", "errormessage")
        formats: dict[str, tuple[str | None, str | None]] = {}
        entries = links.items() if isinstance(links, dict) else ((None, entry) for entry in links)
        for name, entry in entries:
            if isinstance(entry, str):
                formats[str(name).upper()] = (entry, None)
            elif isinstance(entry, dict):
                fmt = name or answer_field(entry, "format", "formatcode")
                if fmt:
                    url = answer_field(entry, "url", "link", "presignedurl", "presignedlink")
                    formats[str(fmt).upper()] = (url or None, answer_field(entry, "error", "errormessage") or None)
        result[str(record_id)] = {**formats, "": (None, str(item_error))} if item_error else formats
    return result


def check_name_template(template: str) -> None:
    try:
        template.format(**dict.fromkeys(NAME_FIELDS, "x"))
    except (KeyError, IndexError, ValueError) as err:
        raise ValueError(
            f"file_name {template!r} is not a valid template: use the fields {', '.join(NAME_FIELDS)}, "
            "e.g. {identifier}_{format}{ext}"
        ) from err


def _name(template: str, asset: Asset, fmt: str, ext: str) -> str:
    def clean(value: str | None) -> str:
        return "".join("_" if c in "/\\:\0" else c for c in str(value or "")).strip() or "_"

    values = {
        "identifier": clean(asset.identifier or asset.record_id),
        "record_id": clean(asset.record_id),
        "format": clean(fmt),
        "ext": clean(ext) if ext else "",
        "title": clean(asset.title),
    }
    name = template.format(**values)
    parts = [part for part in PurePosixPath(name).parts if part not in ("", ".", "/")]
    if not parts or ".." in parts:
        raise ValueError(f"file_name renders to {name!r}, which is not a relative path")
    return "/".join(parts)


def _extension(url: str, content_type: str | None) -> str:
    suffix = PurePosixPath(unquote(urlsplit(url).path)).suffix
    if suffix and len(suffix) <= 8:
        return suffix
    guessed = mimetypes.guess_extension((content_type or "").split(";")[0].strip()) if content_type else None
    return guessed if guessed and guessed != ".bin" else ""


def export_files(
    request: Callable[..., requests.Response],
    targets: Iterable[str | int | Mapping[str, Any]],
    *,
    destination: Destination,
    formats: Sequence[str] = DEFAULT_FORMATS,
    file_name: str = DEFAULT_NAME_TEMPLATE,
    concurrency: int = 4,
    validity: float | timedelta | str = DEFAULT_VALIDITY,
    generate_if_needed: bool = True,
    batch_size: int = DEFAULT_BATCH_SIZE,
    link_attempts: int = DEFAULT_LINK_ATTEMPTS,
    checksum: str = "sha256",
    manifest: str | None = "manifest.jsonl",
    manifest_destination: Destination | None = None,
    fail_fast: bool = False,
    links: LinkEndpoint | None = None,
    search_endpoint: str = SEARCH_ENDPOINT,
    retry: RetryPolicy | None = None,
    timeout: float = 30.0,
    verify: bool | str = True,
    download_session: requests.Session | None = None,
    on_file: Callable[[FileResult], None] | None = None,
) -> ExportSummary:
    """Export every target's files in ``formats`` to ``destination``; returns an :class:`ExportSummary`.

    :param request: The API call (``OrangeLogicHook.request`` or ``send_with_retries`` bound to a session);
        called from worker threads with an ``on_retry`` keyword, as a concurrent search does.
    :param targets: Record IDs (digits), unique identifiers (``SystemIdentifier``: looked up through Search,
        which also gives the record ID), or Search items carrying ``RecordID`` (and ``SystemIdentifier``).
        Read lazily, batch by batch, so a large search is never held; a record ID seen twice is exported once.
    :param formats: Format codes, e.g. ``TRX`` (original), ``TR1`` (medium), ``TR4``, ``TR7``.
    :param file_name: The name of each file in the destination (``/`` makes folders): fields ``identifier``,
        ``record_id``, ``format``, ``ext`` (from the link's path, else its Content-Type) and ``title``.
    :param concurrency: Files in flight at most, 1 to 10; 429/503 answers lower it.
    :param validity: How long each link is valid (seconds, a timedelta, or ``1d2h3m``); default 10 minutes.
    :param link_attempts: Downloads of one file, a new link before each retry (403: expired; 404: a format
        still being generated). Transport errors and 429/5xx are retried inside each attempt by ``retry``.
    :param checksum: ``sha256`` or ``md5``, computed while streaming; the manifest column is named after it.
    :param manifest: The manifest's name in ``manifest_destination`` (default: ``destination``); None: none.
    :param fail_fast: Stop at the first failed file (after writing the manifest), raising :class:`FilesOutError`.
    :param links: How the links call is spelled (:class:`LinkEndpoint`; the reference is uncertain).
    :param timeout: Seconds to connect and between reads of a download (no whole-body deadline: files are large).
    """
    if isinstance(concurrency, bool) or not isinstance(concurrency, int) or not 1 <= concurrency <= MAX_CONCURRENCY:
        raise ValueError(f"concurrency must be an integer between 1 and {MAX_CONCURRENCY}, not {concurrency!r}.")
    if not isinstance(batch_size, int) or not 1 <= batch_size <= 1000:
        raise ValueError(f"batch_size must be an integer between 1 and 1000, not {batch_size!r}.")
    if not isinstance(link_attempts, int) or link_attempts < 1:
        raise ValueError(f"link_attempts must be a positive integer, not {link_attempts!r}.")
    if checksum not in ("sha256", "md5"):
        raise ValueError(f"checksum must be 'sha256' or 'md5', not {checksum!r}.")
    codes = [str(code).strip().upper() for code in formats if str(code).strip()]
    if not codes:
        raise ValueError("formats must name at least one format code, e.g. TRX")
    check_name_template(file_name)
    run = _Export(
        request=request,
        destination=destination,
        formats=list(dict.fromkeys(codes)),
        file_name=file_name,
        concurrency=concurrency,
        validity=format_validity(validity),
        generate=generate_if_needed,
        batch_size=batch_size,
        link_attempts=link_attempts,
        checksum=checksum,
        links=links or LinkEndpoint(),
        search_endpoint=search_endpoint,
        retry=retry or RetryPolicy(),
        timeout=timeout,
        session=download_session or new_download_session(verify=verify),
        fail_fast=fail_fast,
        on_file=on_file,
    )
    try:
        results = run.execute(targets)
    finally:
        if download_session is None:
            run.session.close()
    summary = run.summary
    if manifest:
        target = manifest_destination or destination
        with target.open(manifest) as out:
            for result in results:
                out.write(json.dumps(result.row(checksum), ensure_ascii=False).encode("utf-8") + b"\n")
        summary.manifest = target.location(manifest)
    log.info(
        "Exported %d file(s), %d byte(s), of %d asset(s); %d failed; %d link(s) renewed; manifest: %s.",
        summary.files,
        summary.bytes,
        summary.assets,
        summary.failed,
        summary.links_renewed,
        summary.manifest,
    )
    if run.stopped is not None:
        raise FilesOutError(f"The export stopped at the first failure (fail_fast): {run.stopped}")
    return summary


# Raised for a request not yet sent, or waiting to retry, once the export stopped (fail_fast or an error).
_Cancelled = Cancelled


class _Export:
    """One export's state: the pace controller, the names taken, the counts."""

    def __init__(self, **settings: Any) -> None:
        self.__dict__.update(settings)
        self.pace = PacedCalls(self.concurrency)
        self.stop = self.pace.stop
        self.lock = threading.Lock()
        self.summary = ExportSummary()
        self.names: dict[str, tuple[str | None, str]] = {}  # file name -> the (record ID, format) it belongs to
        self.stopped: str | None = None

    # -- pacing: every request (links, lookups, downloads) reports throttling to one controller --

    def paced(self, call: Callable[[Callable[[RetryEvent], None]], Any]) -> Any:
        try:
            return self.pace.send(call)
        finally:
            self.summary.throttled = self.pace.throttled
            self.summary.peak_in_flight = self.pace.peak_in_flight

    # -- targets and links --

    def assets(self, targets: Iterable[str | int | Mapping[str, Any]]) -> Iterator[Asset | FileResult]:
        seen: set[str] = set()
        for target in targets:
            asset = self.resolve(target)
            if isinstance(asset, Asset):
                if asset.record_id in seen:
                    continue
                seen.add(str(asset.record_id))
            yield asset

    def resolve(self, target: str | int | Mapping[str, Any]) -> Asset | FileResult:
        if isinstance(target, Mapping):
            record_id = answer_field(dict(target), "recordid")
            identifier = answer_field(dict(target), "systemidentifier", "identifier")
            title = answer_field(dict(target), "title")
            if record_id not in (None, ""):
                return Asset(str(record_id), identifier and str(identifier), title and str(title))
            if not identifier:
                return FileResult(
                    None, None, ",".join(self.formats), error="the item has no RecordID or SystemIdentifier"
                )
            target = str(identifier)
        text = str(target).strip()
        field_name = "RecordID" if text.isdigit() else "SystemIdentifier"
        value = f'"{text}"' if any(c.isspace() for c in text) else text
        try:
            items = list(
                iter_search(
                    self.request, f"{field_name}:{value}", fields=LOOKUP_FIELDS, page_size=1, max_pages=1,
                    endpoint=self.search_endpoint,
                )
            )  # fmt: skip
        except OrangeLogicAPIError as err:
            return FileResult(None, text, ",".join(self.formats), error=f"looking {text!r} up failed: {err}")
        if not items or not items[0].get("RecordID"):
            return FileResult(
                text if text.isdigit() else None,
                None if text.isdigit() else text,
                ",".join(self.formats),
                error=f"no asset with {field_name} {text!r} (or the search returned no RecordID)",
            )
        item = items[0]
        return Asset(str(item["RecordID"]), item.get("SystemIdentifier"), item.get("Title"))

    def fetch_links(self, record_ids: Sequence[str], formats: Sequence[str]) -> dict[str, dict[str, Any]]:
        """Links for ``record_ids`` in ``formats``; raises OrangeLogicAPIError naming the batch."""
        spec = self.links
        values = {spec.record_ids: list(record_ids), spec.formats: list(formats), spec.validity: self.validity,
                  spec.generate: self.generate}  # fmt: skip
        if spec.encoding == "form":
            body = {"data": {k: json.dumps(v) if isinstance(v, (list, bool)) else v for k, v in values.items()}}
        elif spec.method.upper() == "GET":
            body = {"params": {k: ",".join(v) if isinstance(v, list) else v for k, v in values.items()}}
        else:
            body = {"json": values}
        which = f"record ID(s) {', '.join(record_ids[:3])}{', ...' if len(record_ids) > 3 else ''}"
        with self.lock:
            self.summary.links_requested += len(record_ids) * len(formats)
        try:
            response = self.paced(lambda on_retry: self.request(spec.method, spec.path, on_retry=on_retry, **body))
        except OrangeLogicAPIError as err:
            raise OrangeLogicAPIError(
                f"The presigned links of {which} failed: {err}", status_code=err.status_code
            ) from None
        if not response.ok:
            raise OrangeLogicAPIError(
                f"The presigned links of {which} failed: {spec.path} answered HTTP {response.status_code}.",
                status_code=response.status_code,
            )
        try:
            return parse_links(response.json())
        except ValueError as err:
            raise OrangeLogicAPIError(
                f"The presigned links of {which}: the answer of {spec.path} is not the expected JSON ({err}); "
                "check LinkEndpoint against your instance.",
                status_code=response.status_code,
            ) from None

    # -- the run --

    def execute(self, targets: Iterable[str | int | Mapping[str, Any]]) -> list[FileResult]:
        results: list[FileResult] = []
        pending: set[Future[FileResult]] = set()
        executor = ThreadPoolExecutor(max_workers=self.concurrency, thread_name_prefix="orangelogic-files")
        finished = False

        def collect(done: Iterable[Future[FileResult]]) -> None:
            for future in done:
                pending.discard(future)
                self.record(results, future.result())

        try:
            batches = _batches(self.assets(targets), self.batch_size)
            for batch in batches:
                assets = [a for a in batch if isinstance(a, Asset)]
                for failed in (a for a in batch if isinstance(a, FileResult)):
                    self.record(results, failed)
                if self.stopped or not assets:
                    continue
                self.summary.assets += len(assets)
                try:
                    links = self.fetch_links([str(a.record_id) for a in assets], self.formats)
                except OrangeLogicAPIError as err:
                    for asset in assets:
                        for fmt in self.formats:
                            self.record(results, FileResult(asset.record_id, asset.identifier, fmt, error=str(err)))
                    continue
                for asset in assets:
                    for fmt in self.formats:
                        while len(pending) >= max(1, self.pace.window) and not self.stopped:
                            collect(wait(pending, return_when=FIRST_COMPLETED).done)
                        if self.stopped:
                            break
                        url, error = _link_for(links, str(asset.record_id), fmt)
                        if url is None:
                            self.record(results, FileResult(asset.record_id, asset.identifier, fmt, error=error))
                            continue
                        pending.add(executor.submit(self.download, asset, fmt, url))
                if self.stopped:
                    break
            while pending:
                collect(wait(pending, return_when=FIRST_COMPLETED).done)
            finished = True
        finally:
            if not finished:
                self.stop.set()
            executor.shutdown(wait=finished, cancel_futures=True)
        return results

    def record(self, results: list[FileResult], result: FileResult) -> None:
        results.append(result)
        if result.status == "ok":
            self.summary.files += 1
            self.summary.bytes += result.bytes
        else:
            self.summary.failed += 1
            if len(self.summary.failures) < MAX_LISTED_FAILURES:
                self.summary.failures.append(
                    {"record_id": result.record_id, "identifier": result.identifier, "format": result.format,
                     "error": result.error}
                )  # fmt: skip
            log.warning("%s %s failed: %s", result.identifier or result.record_id, result.format, result.error)
            if self.fail_fast and self.stopped is None:
                self.stopped = f"{result.identifier or result.record_id} {result.format}: {result.error}"
                self.stop.set()
        if self.on_file is not None:
            self.on_file(result)

    def download(self, asset: Asset, fmt: str, url: str) -> FileResult:
        result = FileResult(asset.record_id, asset.identifier, fmt)
        try:
            self._download(asset, fmt, url, result)
        except _Cancelled:
            result.error = "cancelled: the export stopped"
        except Exception as err:  # one file's trouble never stops the others
            result.error = f"{type(err).__name__}: {err}"
        return result

    def _download(self, asset: Asset, fmt: str, url: str, result: FileResult) -> None:
        label = f"{asset.identifier or asset.record_id} {fmt}"
        while True:
            result.attempts += 1
            where = safe_url(url)
            try:
                response = self.paced(functools.partial(self._get, url, where))
            except requests.exceptions.RequestException as err:
                response, problem = None, f"GET {where} failed: {type(err).__name__}"
            else:
                problem = None
            if response is not None and response.status_code == 200:
                try:
                    self._store(asset, fmt, url, response, result)
                    return
                except (requests.exceptions.RequestException, _ShortBody) as err:
                    problem = f"GET {where}: the body broke off ({type(err).__name__})"
                finally:
                    response.close()
            elif response is not None:
                status = response.status_code
                response.close()
                if status not in RENEW_STATUS:
                    raise OrangeLogicAPIError(f"GET {where} answered HTTP {status}.", status_code=status)
                reason = "expired or refused" if status == 403 else "not found (perhaps still being generated)"
                problem = f"the link answered HTTP {status}: {reason}"
            if result.attempts >= self.link_attempts:
                raise OrangeLogicAPIError(f"{problem}; gave up after {result.attempts} attempt(s).")
            delay = self.retry.delay(result.attempts)
            log.info("%s: %s; asking for a new link in %.1f s.", label, problem, delay)
            if self.stop.wait(delay):
                raise _Cancelled
            with self.lock:
                self.summary.links_renewed += 1
            fresh, error = _link_for(self.fetch_links([str(asset.record_id)], [fmt]), str(asset.record_id), fmt)
            if fresh is None:
                raise OrangeLogicAPIError(f"a new link was refused: {error}")
            url = fresh

    def _get(self, url: str, where: str, on_retry: Callable[[RetryEvent], None]) -> requests.Response:
        return call_with_retries(
            lambda: self.session.get(url, stream=True, timeout=self.timeout, allow_redirects=True),
            policy=self.retry,
            what=f"GET {where}",
            resend_after=is_transient,
            on_retry=on_retry,
        )

    def _store(self, asset: Asset, fmt: str, url: str, response: requests.Response, result: FileResult) -> None:
        name = _name(self.file_name, asset, fmt, _extension(url, response.headers.get("Content-Type")))
        with self.lock:
            owner = self.names.setdefault(name, (asset.record_id, fmt))
        if owner != (asset.record_id, fmt):
            raise ValueError(f"file_name gives {name!r} to two files: put {{identifier}} and {{format}} in it")
        expected = response.headers.get("Content-Length")
        digest = hashlib.new(self.checksum)
        size = 0
        with self.destination.open(name) as out:
            for block in response.iter_content(BLOCK_SIZE):
                if self.stop.is_set():
                    raise _Cancelled
                digest.update(block)
                out.write(block)
                size += len(block)
            if expected is not None and expected.isdigit() and int(expected) != size:
                raise _ShortBody(f"{size} of {expected} bytes")
        result.path = self.destination.location(name)
        result.bytes = size
        result.checksum = digest.hexdigest()
        result.status, result.error = "ok", None


class _ShortBody(Exception):
    pass


def _link_for(links: Mapping[str, Mapping[str, Any]], record_id: str, fmt: str) -> tuple[str | None, str | None]:
    formats = links.get(record_id)
    if formats is None:
        return None, "the presigned-links answer has no item for this record ID"
    url, error = formats.get(fmt, (None, None))
    if url:
        return url, None
    item_error = formats.get("", (None, None))[1]
    return None, error or item_error or f"the presigned-links answer has no {fmt} link for this asset"


def _batches(items: Iterable[Any], size: int) -> Iterator[list[Any]]:
    batch: list[Any] = []
    for item in items:
        batch.append(item)
        if len(batch) >= size:
            yield batch
            batch = []
    if batch:
        yield batch
