"""Writing field values onto assets through Orange Logic's DataTable API v2.2, row by row.

One row is one asset: a lookup (``RecordID``, or ``CoreField.Identifier`` (alias ``SystemIdentifier``),
``CoreField.OriginalFileName``, ``CoreField.OtherNum``) and the fields to write, each with its operator:
``:=`` sets (the default), ``+=`` adds existing values to a list (Orange Logic refuses an unknown tag),
``++=`` adds and creates new values, and removal (``-=`` by default: the reference does not spell it, so it
is ``remove_operator``). Lists (tags: ``CoreField.Keywords``) are sent pipe-separated. Two row shapes, mixable:

- nested: ``{"RecordID": "12", "fields": {"CoreField.Title": "x",
  "CoreField.Keywords": {"op": "++=", "value": ["a", "b"]}}}`` (a list of such ``{"op", "value"}`` applies
  several operators to one field, e.g. remove one tag and add another);
- flat (CSV, JSON Lines from a warehouse): ``{"RecordID": "12", "CoreField.Title": "x",
  "CoreField.Keywords++=": "a|b"}``: every column but the lookup is a field, its name optionally ending in
  its operator.

Each row is one call, ``Documents.{type}.{subtype}:{action}`` with the lookup and one parameter per write,
the operator glued to the field name as the reference writes it (``CoreField.Title:=x``). The call goes as
POST form data by default: a GET URL is limited to 260 characters (a 403 may mean "too long"), and field
values then stay out of URLs and access logs; ``method="auto"`` sends a GET when the whole URL fits (and
resends a 403 GET once as a POST), ``method="get"`` always GETs.

Orange Logic ignores writes to read-only fields without a word and may answer 200 to a call that did
nothing ("a 200 is not always a success"). So: a row writing a field of ``read_only_fields`` (or outside
``known_fields``, when given) fails before anything is sent, naming the row and the field; every answer's
``APIResponse.Code`` is checked (and ``Errors`` entries naming a field); ``verify=True`` reads each asset
back after writing it and fails the row naming any field whose value did not land.

Rows run ``concurrency`` at a time at most (1 to 10), paced by :class:`~.pacing.RateController` exactly as
a concurrent search is (429/503 answers lower the pace, quiet calls raise it; the retries stay in the one
retry loop, which reports to it through ``on_retry``). A failed row never stops the others unless
``fail_fast``; each row gets a :class:`RowResult`. ``dry_run`` returns the calls without sending them.
Standard library and ``requests`` only, like the rest of ``api/``.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterable, Iterator, Mapping
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode

import requests

from airflow_provider_orangelogic.api.metadata_rows import (
    ADD as ADD,
)
from airflow_provider_orangelogic.api.metadata_rows import (
    ADD_AND_CREATE as ADD_AND_CREATE,
)
from airflow_provider_orangelogic.api.metadata_rows import (
    DEFAULT_READ_ONLY_FIELDS as DEFAULT_READ_ONLY_FIELDS,
)
from airflow_provider_orangelogic.api.metadata_rows import (
    DEFAULT_REMOVE_OPERATOR as DEFAULT_REMOVE_OPERATOR,
)
from airflow_provider_orangelogic.api.metadata_rows import (
    LOOKUP_FIELDS as LOOKUP_FIELDS,
)
from airflow_provider_orangelogic.api.metadata_rows import (
    SET as SET,
)
from airflow_provider_orangelogic.api.metadata_rows import (
    FieldWrite as FieldWrite,
)
from airflow_provider_orangelogic.api.metadata_rows import (
    MetadataRow as MetadataRow,
)
from airflow_provider_orangelogic.api.metadata_rows import (
    RowError as RowError,
)
from airflow_provider_orangelogic.api.metadata_rows import (
    is_blank,
    operators_for,
)
from airflow_provider_orangelogic.api.metadata_rows import (
    parse_row as parse_row,
)
from airflow_provider_orangelogic.api.metadata_rows import (
    rows_from_csv as rows_from_csv,
)
from airflow_provider_orangelogic.api.metadata_rows import (
    rows_from_json_lines as rows_from_json_lines,
)
from airflow_provider_orangelogic.api.pacing import Cancelled, PacedCalls
from airflow_provider_orangelogic.core import endpoints
from airflow_provider_orangelogic.core.errors import OrangeLogicAPIError

DATATABLE_ENDPOINT = endpoints.DATATABLE
ACTIONS = ("Update", "CreateOrUpdate")
METHODS = ("post", "get", "auto")
MAX_CONCURRENCY = 10  # the hook's session pools 10 connections per host
MAX_GET_URL = 260  # characters, the whole URL
# When the caller gives no base_url, "auto" counts this many characters for the scheme and host.
HOST_ALLOWANCE = 64
DEFAULT_SUCCESS_CODES = ("Success", "OK", "0", "200")
# Rows logged as done at most every this many (failures are always logged).
PROGRESS_EVERY = 1000

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Call:
    """One DataTable request: what is sent (never a token; the session adds the Authorization header)."""

    method: str
    path: str
    params: tuple[tuple[str, str], ...]

    def as_dict(self) -> dict[str, Any]:
        return {"method": self.method, "path": self.path, "params": [list(pair) for pair in self.params]}

    def describe(self, width: int = 60) -> str:
        """``POST /API/... RecordID=12 CoreField.Title:=x``: values clipped to ``width`` characters."""
        shown = " ".join(f"{name}={_clip(value, width)}" for name, value in self.params)
        return f"{self.method} {self.path} {shown}"


@dataclass
class RowResult:
    row: int
    key: str | None
    status: str  # "ok", "failed" or "skipped"
    fields: list[str] = field(default_factory=list)  # field names written (or, in a dry run, that would be)
    error: str | None = None
    field: str | None = None  # the field to blame, when one is
    status_code: int | None = None
    call: Call | None = None  # dry run: the call that would be made

    def as_dict(self) -> dict[str, Any]:
        data: dict[str, Any] = {
            "row": self.row,
            "key": self.key,
            "status": self.status,
            "fields": self.fields,
            "error": self.error,
            "field": self.field,
        }
        if self.status_code is not None:
            data["status_code"] = self.status_code
        if self.call is not None:
            data["call"] = self.call.as_dict()
        return data


@dataclass
class MetadataStats:
    requests: int = 0  # DataTable calls sent (each counted once, however often retried), read-backs included
    throttled: int = 0  # 429/503 answers that were retried
    peak_in_flight: int = 0
    final_concurrency: int = 1


@dataclass
class MetadataResult:
    rows: list[RowResult]
    dry_run: bool
    action: str
    document_type: str
    stats: MetadataStats

    def count(self, status: str) -> int:
        return sum(1 for row in self.rows if row.status == status)

    @property
    def failed(self) -> list[RowResult]:
        return [row for row in self.rows if row.status == "failed"]

    def summary(self, max_failures: int = 100) -> dict[str, Any]:
        """Counts and the first ``max_failures`` failed rows (row, key, field, error): for XCom, no secrets."""
        failed = self.failed
        return {
            "total": len(self.rows),
            "ok": self.count("ok"),
            "failed": len(failed),
            "skipped": self.count("skipped"),
            "dry_run": self.dry_run,
            "action": self.action,
            "document_type": self.document_type,
            "requests": self.stats.requests,
            "throttled": self.stats.throttled,
            "failures": [
                {"row": r.row, "key": r.key, "field": r.field, "error": r.error} for r in failed[:max_failures]
            ],
            "failures_not_listed": max(0, len(failed) - max_failures),
        }


# ---- calls ----


def datatable_path(document_type: str, subtype: str, action: str, endpoint: str = DATATABLE_ENDPOINT) -> str:
    target = f"Documents.{document_type}.{subtype}" if subtype else f"Documents.{document_type}"
    return f"{endpoint.rstrip('/')}/{target}:{action}"


def plan_call(row: MetadataRow, path: str, *, method: str, max_url_length: int, base_url: str | None) -> Call:
    """The request for ``row``: POST form data, or (``get``, or ``auto`` when the URL fits) a GET."""
    params = ((row.lookup_field, row.lookup_value), *((w.parameter, w.value) for w in row.writes), ("format", "json"))
    if method == "auto":
        length = (len(base_url.rstrip("/")) if base_url is not None else HOST_ALLOWANCE) + len(path)
        length += 1 + len(urlencode(params))
        method = "get" if length <= max_url_length else "post"
    return Call(method.upper(), path, params)


def _clip(value: str, width: int) -> str:
    return value if len(value) <= width else value[: width - 3] + "..."


# ---- the run ----


# Raised for a row not yet sent, or waiting to retry, once the run is stopping (fail_fast): it is not resent.
_Cancelled = Cancelled


def update_metadata(
    request: Callable[..., requests.Response],
    rows: Iterable[Mapping[str, Any]],
    *,
    document_type: str = "All",
    subtype: str = "Default",
    action: str = "Update",
    method: str = "post",
    concurrency: int = 1,
    dry_run: bool = False,
    fail_fast: bool = False,
    verify: bool = False,
    remove_operator: str = DEFAULT_REMOVE_OPERATOR,
    read_only_fields: Iterable[str] = DEFAULT_READ_ONLY_FIELDS,
    known_fields: Iterable[str] | None = None,
    skip_blank: bool = True,
    success_codes: Iterable[str] = DEFAULT_SUCCESS_CODES,
    max_url_length: int = MAX_GET_URL,
    base_url: str | None = None,
    endpoint: str = DATATABLE_ENDPOINT,
    on_row: Callable[[RowResult], None] | None = None,
) -> MetadataResult:
    """Write each row's fields onto its asset; one :class:`RowResult` per row, in row order.

    :param request: ``OrangeLogicHook.request`` (or anything with its signature: method, path, ``params=`` /
        ``data=``, and ``on_retry=`` when ``concurrency`` > 1); safe to call from several threads.
    :param rows: Mappings in either row shape (see the module's docstring), e.g. parsed JSON Lines or CSV.
    :param document_type: ``All`` (any media type, looked up by the key: needs the security function that
        bypasses permissions), or ``Image``, ``Video``, ``Audio``, ``Multimedia``, ...
    :param subtype: ``Default`` or a custom subtype's API name (empty: ``Documents.{type}:{action}``).
    :param action: ``Update`` (the asset must exist) or ``CreateOrUpdate``.
    :param method: ``post`` (form data, the default), ``get``, or ``auto`` (GET while the URL fits in
        ``max_url_length`` counted with ``base_url``; a 403 GET is resent once as a POST).
    :param concurrency: Rows in flight at most, 1 to 10; 429/503 answers lower the pace.
    :param dry_run: Send nothing; each row's result carries the call that would be made (status ``skipped``).
    :param fail_fast: Stop sending at the first failed row (rows in flight finish; the rest are ``skipped``).
    :param verify: Read each asset back after writing it, failing the row naming a field that did not land.
    :param remove_operator: The removal operator's spelling (the reference does not give it).
    :param read_only_fields: Fields refused before sending (the server would ignore them silently).
    :param known_fields: When given, the only fields a row may write; any other fails its row unsent.
    :param skip_blank: Leave a field alone when its value is blank (an empty CSV cell); an explicit
        ``{"op": ":=", "value": ""}`` still clears it.
    :param success_codes: ``APIResponse.Code`` values that mean success (a missing Code counts as success).
    :param on_row: Called with each row's result as it is known (from the calling thread).
    """
    options = _checked(document_type, subtype, action, method, concurrency, max_url_length)
    operators_for(remove_operator)  # a bad spelling fails the call, not every row
    read_only = tuple(read_only_fields)
    known = None if known_fields is None else tuple(known_fields)
    successes = {str(code).casefold() for code in success_codes}
    path = datatable_path(document_type, subtype, action, endpoint)
    read_path = datatable_path(document_type, subtype, "Read", endpoint)
    stats = MetadataStats()
    if isinstance(rows, (str, bytes, Mapping)):
        raise ValueError("rows must be a list (or iterable) of rows, each a mapping of columns; not one string/row")

    def parsed(number: int, raw: Any) -> MetadataRow | RowResult:
        try:
            row = parse_row(
                number, raw, remove_operator=remove_operator, read_only_fields=read_only, known_fields=known,
                skip_blank=skip_blank,
            )  # fmt: skip
        except RowError as err:
            return RowResult(number, _key_of(raw), "failed", error=str(err), field=err.field)
        if not row.writes:
            return RowResult(number, row.key, "skipped", error="nothing to write (every field blank or absent)")
        return row

    def plan(row: MetadataRow) -> Call:
        return plan_call(row, path, method=options["method"], max_url_length=max_url_length, base_url=base_url)

    runner = _Runner(request, stats, concurrency, successes, read_path, verify, options["method"])
    results: list[RowResult] = []
    done = 0

    def report(result: RowResult) -> None:
        nonlocal done
        results.append(result)
        done += 1
        if result.status == "failed":
            log.warning("Row %d (%s) failed: %s", result.row, result.key or "no key", result.error)
        elif done % PROGRESS_EVERY == 0:
            log.info("%d row(s) done.", done)
        if on_row is not None:
            on_row(result)

    numbered = enumerate(rows, start=1)
    if dry_run:
        for number, raw in numbered:
            item = parsed(number, raw)
            if isinstance(item, MetadataRow):
                call = plan(item)
                log.info("Dry run, row %d (%s): would send %s", number, item.key, call.describe())
                item = RowResult(number, item.key, "skipped", [w.field for w in item.writes], call=call)
            report(item)
    else:
        runner.run(numbered, parsed, plan, report, fail_fast)
    results.sort(key=lambda r: r.row)
    outcome = MetadataResult(results, dry_run, action, document_type, stats)
    log.info(
        "DataTable %s on Documents.%s%s: %d row(s), %d ok, %d failed, %d skipped; %d call(s), %d throttled answer(s).",
        action,
        document_type,
        " (dry run: nothing sent)" if dry_run else "",
        len(results),
        outcome.count("ok"),
        len(outcome.failed),
        outcome.count("skipped"),
        stats.requests,
        stats.throttled,
    )
    return outcome


def _checked(
    document_type: str, subtype: str, action: str, method: str, concurrency: int, max_url_length: int
) -> dict[str, Any]:
    for name, value in (("document_type", document_type), ("subtype", subtype)):
        if not isinstance(value, str) or any(c in value for c in ".:/?&= ") or (name == "document_type" and not value):
            raise ValueError(f"{name} must be a name such as 'All', 'Image' or 'Default', not {value!r}")
    if action not in ACTIONS:
        raise ValueError(f"action must be one of {', '.join(ACTIONS)}, not {action!r}")
    method = str(method).lower()
    if method not in METHODS:
        raise ValueError(f"method must be one of {', '.join(METHODS)}, not {method!r}")
    if isinstance(concurrency, bool) or not isinstance(concurrency, int) or not 1 <= concurrency <= MAX_CONCURRENCY:
        raise ValueError(f"concurrency must be an integer between 1 and {MAX_CONCURRENCY}, not {concurrency!r}")
    if isinstance(max_url_length, bool) or not isinstance(max_url_length, int) or max_url_length < 1:
        raise ValueError(f"max_url_length must be a positive integer, not {max_url_length!r}")
    return {"method": method}


def _key_of(raw: Any) -> str | None:
    if not isinstance(raw, Mapping):
        return None
    for name, value in raw.items():
        if str(name).strip().casefold() in LOOKUP_FIELDS and not is_blank(value):
            return f"{LOOKUP_FIELDS[str(name).strip().casefold()]}={value}"
    return None


class _Runner:
    """Sends the rows, ``concurrency`` at most at once, paced by a RateController as search pages are."""

    def __init__(
        self,
        request: Callable[..., requests.Response],
        stats: MetadataStats,
        concurrency: int,
        successes: set[str],
        read_path: str,
        verify: bool,
        method: str,
    ) -> None:
        self.request = request
        self.stats = stats
        self.concurrency = concurrency
        self.successes = successes
        self.read_path = read_path
        self.verify = verify
        self.method = method
        self.pace = PacedCalls(concurrency)
        self.stop = self.pace.stop
        self.lock = threading.Lock()

    # -- one call, as a search page is sent --

    def send(self, call: Call) -> requests.Response:
        """``call`` through the retry loop; a 429/503 lowers the pace. Raises OrangeLogicAPIError or _Cancelled."""
        payload = {"data": list(call.params)} if call.method == "POST" else {"params": list(call.params)}
        return self.pace.send(lambda on_retry: self.request(call.method, call.path, on_retry=on_retry, **payload))

    def row(self, row: MetadataRow, call: Call) -> RowResult:
        """Send one row (and read it back with ``verify``): its result; errors no row can fix propagate."""
        names = list(dict.fromkeys(w.field for w in row.writes))
        try:
            answer = self._answered(row, call)
            if answer is None and call.method == "GET" and self.method == "auto":
                log.info("Row %d: a 403 to a GET may mean the URL is too long; resending it as a POST.", row.number)
                answer = self._answered(row, Call("POST", call.path, call.params))
            if answer is None:
                raise RowError(_forbidden(row, call), row=row.number, status_code=403)
            self._check(row, answer)
            if self.verify:
                self._verify(row)
        except RowError as err:
            return RowResult(row.number, row.key, "failed", names, str(err), err.field, err.status_code)
        except _Cancelled:
            return RowResult(row.number, row.key, "skipped", names, "not sent: the run stopped (fail_fast)")
        return RowResult(row.number, row.key, "ok", names)

    def _answered(self, row: MetadataRow, call: Call) -> dict[str, Any] | None:
        """The answer's ``APIResponse`` (None for a 403); RowError for any other failed call."""
        try:
            response = self.send(call)
        except OrangeLogicAPIError as err:
            status = err.status_code
            if status == 401:
                raise  # the token is refused: every row would fail the same way
            if status == 403:
                return None
            raise RowError(_http_failure(row, status, str(err)), row=row.number, status_code=status) from None
        if response.status_code == 401:
            raise OrangeLogicAPIError(
                f"{call.method} {call.path} answered HTTP 401: the access token was refused; no further row is sent.",
                status_code=401,
            )
        if response.status_code == 403:
            return None
        if not response.ok:
            raise RowError(
                _http_failure(row, response.status_code, _body_text(response)),
                row=row.number,
                status_code=response.status_code,
            )
        try:
            payload = response.json()
        except ValueError:
            payload = None
        answer = payload.get("APIResponse") if isinstance(payload, dict) else None
        if not isinstance(answer, dict):
            raise RowError(
                f"Row {row.number} ({row.key}): the DataTable answered HTTP {response.status_code} without the "
                f"expected JSON {{'APIResponse': ...}} ({response.headers.get('Content-Type', 'no content type')}); "
                "the write may not have happened.",
                row=row.number,
                status_code=response.status_code,
            )
        return answer

    def _check(self, row: MetadataRow, answer: Mapping[str, Any]) -> None:
        """A 200 is not always a success: the Code, and any error naming one of the row's fields."""
        code = answer.get("Code")
        message = " ".join(str(answer.get("Message") or "").split())
        errors = answer.get("Errors") if isinstance(answer.get("Errors"), list) else []
        written = {w.field.casefold(): w.field for w in row.writes}
        blamed = [
            str(e.get("Field"))
            for e in errors
            if isinstance(e, Mapping) and str(e.get("Field", "")).casefold() in written
        ]
        failed = code is not None and str(code).casefold() not in self.successes
        if not failed and not blamed:
            return
        if not blamed:  # a message that names a field of the row blames it
            blamed = [name for key, name in written.items() if key in message.casefold()]
        detail = "; ".join(
            " ".join(str(e.get("Message") or "").split()) for e in errors if isinstance(e, Mapping) and e.get("Message")
        )
        field_name = written.get(blamed[0].casefold(), blamed[0]) if blamed else None
        on = f" field {field_name}:" if field_name else ""
        raise RowError(
            f"Row {row.number} ({row.key}):{on} the DataTable answered Code {code!r}: "
            f"{detail or message or 'no message'}",
            row=row.number,
            field=field_name,
        )

    def _verify(self, row: MetadataRow) -> None:
        call = Call("GET", self.read_path, ((row.lookup_field, row.lookup_value), ("format", "json")))
        answer = self._answered(row, call)
        if answer is None:
            raise RowError(f"Row {row.number} ({row.key}): reading it back was refused (403).", row=row.number)
        self._check(row, answer)
        items = answer.get("Items")
        item = items[0] if isinstance(items, list) and items and isinstance(items[0], Mapping) else None
        if item is None:
            raise RowError(f"Row {row.number} ({row.key}): the read-back returned no item.", row=row.number)
        values = {str(name).casefold(): value for name, value in item.items()}
        for write in row.writes:
            problem = _not_landed(write, values)
            if problem:
                raise RowError(
                    f"Row {row.number} ({row.key}): field {write.field} {problem} (a read-only or unknown field "
                    "is ignored by Orange Logic without an error).",
                    row=row.number,
                    field=write.field,
                )

    # -- the rows --

    def run(
        self,
        numbered: Iterator[tuple[int, Any]],
        parsed: Callable[[int, Any], MetadataRow | RowResult],
        plan: Callable[[MetadataRow], Call],
        report: Callable[[RowResult], None],
        fail_fast: bool,
    ) -> None:
        stopped_by: list[int] = []

        def note(result: RowResult) -> None:
            if result.status == "failed" and fail_fast and not stopped_by:
                stopped_by.append(result.row)
                self.stop.set()
                log.warning("fail_fast: row %d failed; no further row is sent.", result.row)
            report(result)

        def skipped(number: int, raw: Any) -> RowResult:
            return RowResult(number, _key_of(raw), "skipped", error=f"not sent: fail_fast stopped the run at row "
                             f"{stopped_by[0]}")  # fmt: skip

        if self.concurrency == 1:
            for number, raw in numbered:
                if self.stop.is_set():
                    report(skipped(number, raw))
                    continue
                item = parsed(number, raw)
                note(item if isinstance(item, RowResult) else self.row(item, plan(item)))
            return
        executor = ThreadPoolExecutor(max_workers=self.concurrency, thread_name_prefix="orangelogic-metadata")
        pending: set[Future[RowResult]] = set()
        finished = False

        def collect(block: bool) -> None:
            nonlocal pending
            if not pending:
                return
            done, pending = wait(pending, timeout=None if block else 0, return_when=FIRST_COMPLETED)
            for future in done:
                note(future.result())  # an error no row can fix propagates from here

        try:
            for number, raw in numbered:
                collect(block=False)
                if self.stop.is_set():
                    report(skipped(number, raw))
                    continue
                item = parsed(number, raw)
                if isinstance(item, RowResult):
                    note(item)
                    continue
                call = plan(item)
                while len(pending) >= max(1, self.pace.window):
                    collect(block=True)
                pending.add(executor.submit(self.row, item, call))
            while pending:
                collect(block=True)
            finished = True
        finally:
            self.stats.final_concurrency = self.pace.window
            self.stats.requests += self.pace.requests
            self.stats.throttled = self.pace.throttled
            self.stats.peak_in_flight = self.pace.peak_in_flight
            if not finished:
                self.stop.set()
            executor.shutdown(wait=finished, cancel_futures=True)


def _not_landed(write: FieldWrite, values: Mapping[str, Any]) -> str | None:
    """Why the read-back value of a field does not show ``write`` (None when it does)."""
    if write.field.casefold() not in values:
        return "is not in the asset read back"
    current = values[write.field.casefold()]
    have = [v.casefold() for v in _split_values(current)]
    given = [v.casefold() for v in _split_values(write.value)]
    if write.operator == SET:
        same = have == given or (len(given) > 1 and sorted(have) == sorted(given))
        return None if same else f"reads {_clip(str(current), 80)!r} after := {_clip(write.value, 80)!r}"
    if write.operator in (ADD, ADD_AND_CREATE):
        missing = [v for v in given if v not in have]
        return f"lacks {', '.join(missing)} after {write.operator}" if missing else None
    kept = [v for v in given if v in have]
    return f"still holds {', '.join(kept)} after {write.operator}" if kept else None


def _split_values(value: Any) -> list[str]:
    if isinstance(value, list):
        return [str(v).strip() for v in value]
    text = "" if value is None else str(value)
    return [part.strip() for part in text.split("|")] if "|" in text else [text.strip()]


def _forbidden(row: MetadataRow, call: Call) -> str:
    if call.method == "GET":
        return (
            f"Row {row.number} ({row.key}): HTTP 403 to a GET. Orange Logic answers 403 to a URL longer than 260 "
            "characters (and to an http/https mismatch): use method='post' (the default) or 'auto'."
        )
    return (
        f"Row {row.number} ({row.key}): HTTP 403 (forbidden). The API user needs edit permission on the asset; "
        "Documents.All also needs the security function that bypasses permissions (or give document_type, e.g. "
        "Image). Check too that the connection's host uses https if the instance does."
    )


def _http_failure(row: MetadataRow, status: int | None, detail: str) -> str:
    if status == 404:
        return f"Row {row.number}: no asset matches {row.key} (HTTP 404); check the key and the document type."
    if status == 400:
        return f"Row {row.number} ({row.key}): the DataTable refused the call (HTTP 400): {_clip(detail, 300)}"
    return f"Row {row.number} ({row.key}): the DataTable call failed: {_clip(detail, 300)}"


def _body_text(response: requests.Response) -> str:
    try:
        answer = response.json().get("APIResponse", {})
        message = answer.get("Message") if isinstance(answer, dict) else None
    except (ValueError, AttributeError):
        message = None
    text = message or " ".join(response.text.split())
    return f"HTTP {response.status_code}: {_clip(str(text), 200) or '(empty body)'}"
