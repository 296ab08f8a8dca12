"""The stand-in's twin of the DataTable API v2.2 (metadata read and write on assets).

``GET`` or ``POST /API/DataTable/V2.2/Documents.{type}.{subtype}:{action}`` with the asset's lookup
(``RecordID=12``, ``CoreField.Identifier=OL0000012``, ``CoreField.OriginalFileName=...``,
``CoreField.OtherNum=...``) and one parameter per write, the operator glued to the field name as the
reference shows it: ``CoreField.Title:=x`` (the query parser reads the name ``CoreField.Title:``),
``CoreField.Keywords+=a|b``, ``++=``, and removal (``-=`` unless ``StandInConfig.datatable_remove_operator``
says otherwise). Strict where the reference is:

- a GET whose URL (as a client form-encodes it, host included) is longer than 260 characters: 403;
- POST takes form data (``application/x-www-form-urlencoded``) besides the URL's query; a parameter in a
  header overrides the same one in the URL;
- ``Documents.All`` looks the asset up by one of the four lookup fields and acts only on exactly one match
  (none: 404; several: 400); a concrete type (``Image``, ``Video``, ``Audio``, ``Multimedia``) only finds
  assets of that media type (the catalogue's ``Document`` is ``Multimedia``); subtype ``Default`` only;
- ``CoreField.Keywords`` is a list written pipe-separated; ``+=`` refuses a tag that does not exist yet,
  ``++=`` creates it (as ``:=`` does: an assumption), removal drops the values given;
- read-only fields (``StandInConfig.read_only_fields``) are silently not updated, as in Orange Logic.

Assumed beyond the reference (it does not show the answers): every answer is JSON
``{"APIResponse": {"Code": ..., "Message": ..., "Items": [...], "Errors": [...]}}``. A field the instance
does not know (not in :data:`KNOWN_FIELDS` or the read-only list), a tag ``+=`` cannot add, or an operator
a field does not take makes the whole call write nothing and answer **200** with a ``Code`` other than
``Success`` and an ``Errors`` entry naming the field: "a 200 is not always a success". Read answers one
item with every field under its DataTable name, lists pipe-joined. Actions ``Create`` and ``Delete``
answer 501 (not served here).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qsl, urlencode

from airflow_provider_orangelogic.core import endpoints
from airflow_provider_orangelogic.testing.stand_in.faults import Fault
from airflow_provider_orangelogic.testing.stand_in.messages import Request, Response, json_response, media_type

if TYPE_CHECKING:
    from airflow_provider_orangelogic.testing.stand_in.service import StandInService

PREFIX = endpoints.DATATABLE
MAX_GET_URL = 260
COUNTERS: tuple[str, ...] = (
    "datatable_reads",  # Read answers with an item
    "datatable_updates",  # Update / CreateOrUpdate calls that wrote (Code Success)
    "datatable_creates",  # assets created by CreateOrUpdate
    "datatable_fields_written",  # field values applied
    "datatable_read_only_ignored",  # writes to read-only fields silently dropped
    "datatable_rejected",  # 200 answers with a Code other than Success (unknown field, tag, operator)
    "datatable_not_found",  # 404: no asset matched
    "datatable_url_too_long",  # 403: a GET URL over 260 characters
    "datatable_get",
    "datatable_post",
)
# Path prefix -> the largest request body accepted there (others: service.MAX_BODY_BYTES).
BODY_LIMITS: dict[str, int] = {}

ACTIONS = ("Read", "Update", "CreateOrUpdate")
UNSERVED_ACTIONS = ("Create", "Delete")
# Document types of the reference; "All" looks across types. The catalogue's media types map onto them.
TYPES = ("All", "Audio", "Folder", "Image", "Multimedia", "Video", "Virtual-folder")
TYPE_OF_MEDIA = {"Image": "Image", "Video": "Video", "Audio": "Audio", "Document": "Multimedia"}
LOOKUP_FIELDS = ("RecordID", "CoreField.Identifier", "CoreField.OriginalFileName", "CoreField.OtherNum")
# The fields this stand-in's instance defines (any namespace may be custom: Product.* are this one's).
KNOWN_FIELDS = (
    "RecordID",
    "CoreField.Identifier",
    "CoreField.Title",
    "CoreField.CaptionShort",
    "CoreField.CaptionLong",
    "CoreField.Copyright",
    "CoreField.Credit",
    "CoreField.DocDate",
    "CoreField.Keywords",
    "CoreField.OtherNum",
    "CoreField.OriginalFileName",
    "CoreField.MediaType",
    "CoreField.CreateDate",
    "CoreField.EditDate",
    "CoreField.FileSize",
    "Product.SKU",
    "Product.Colour",
)
LIST_FIELDS = ("CoreField.Keywords",)
INITIAL_TAGS = ("Archive", "Campaign", "Lifestyle", "Product", "Studio")
SUCCESS = "Success"


@dataclass
class DataTableState:
    """The instance's tag vocabulary (``++=`` grows it), case-insensitive."""

    tags: dict[str, str] = field(default_factory=lambda: {tag.casefold(): tag for tag in INITIAL_TAGS})


class _Refused(Exception):
    def __init__(self, response: Response) -> None:
        self.response = response


@dataclass(frozen=True)
class _Write:
    field: str  # canonical DataTable name
    operator: str  # ":=", "+=", "++=", "remove"
    value: str


def routes(service: StandInService) -> dict[str, dict[str, Any]]:
    handler = service.guarded("datatable", lambda request, fault: _handle(service, request, fault))
    return {PREFIX + "*": {"GET": handler, "POST": handler}}


# ---- names ----

_CANONICAL = {name.casefold(): name for name in KNOWN_FIELDS}


def canonical(name: str) -> str:
    """A field's DataTable name as this instance spells it (parameters are case-insensitive)."""
    return _CANONICAL.get(name.casefold(), name)


def stored_name(name: str) -> str:
    """Where a DataTable field lives in the asset book: Search's names (``Title``, ``SystemIdentifier``)."""
    if name == "CoreField.Identifier":
        return "SystemIdentifier"
    return name.removeprefix("CoreField.")


def datatable_name(stored: str) -> str:
    if stored == "SystemIdentifier":
        return "CoreField.Identifier"
    return stored if "." in stored or stored == "RecordID" else f"CoreField.{stored}"


def _aliases(name: str) -> set[str]:
    """The spellings of a field a read-only list may use (``CreateDate`` or ``CoreField.CreateDate``)."""
    names = {name, stored_name(name), datatable_name(stored_name(name))}
    return {n.casefold() for n in names}


# ---- the request ----


def _handle(service: StandInService, request: Request, fault: Fault) -> Response:
    tally: dict[str, int] = {f"datatable_{request.method.lower()}": 1}
    try:
        response = _answer(service, request, tally)
    except _Refused as refused:
        response = refused.response
    if response.status == 404:
        tally["datatable_not_found"] = 1
    elif response.status == 403:
        tally["datatable_url_too_long"] = 1
    for name, amount in tally.items():  # after the lock is released: count() takes it
        service.count(name, amount)
    return fault.after(response)


def _error(status: int, code: str, message: str, **extra: Any) -> _Refused:
    return _Refused(json_response(status, {"APIResponse": {"Code": code, "Message": message, **extra}}))


def _parse_path(path: str) -> tuple[str, str, str]:
    """``(type, subtype, action)`` of ``Documents.{type}.{subtype}:{action}`` (``Documents.All:{action}`` too)."""
    rest = path[len(PREFIX) :]
    target, _, action = rest.partition(":")
    parts = target.split(".")
    if not action or parts[0].casefold() != "documents" or len(parts) not in (2, 3):
        raise _error(400, "InvalidRequest", f"expected Documents.{{type}}.{{subtype}}:{{action}}, not {rest!r}")
    doc_type = next((t for t in TYPES if t.casefold() == parts[1].casefold()), None)
    if doc_type is None:
        raise _error(400, "InvalidRequest", f"unknown document type {parts[1]!r}; types: {', '.join(TYPES)}")
    subtype = parts[2] if len(parts) == 3 else ""
    if subtype.casefold() not in ("default", "") or (not subtype and doc_type != "All"):
        raise _error(404, "NotFound", f"no subtype {subtype!r} of Documents.{doc_type} on this instance")
    for known in (*ACTIONS, *UNSERVED_ACTIONS):
        if known.casefold() == action.casefold():
            if known in UNSERVED_ACTIONS:
                raise _error(501, "NotImplemented", f"the stand-in does not serve {known}")
            return doc_type, subtype, known
    raise _error(400, "InvalidRequest", f"unknown action {action!r}; actions: {', '.join(ACTIONS)}")


def _parameters(request: Request) -> list[tuple[str, str]]:
    """The request's parameters in order: the URL's, then (POST) the form's; a header overrides a URL one."""
    url = [(name, value) for name, values in request.query.items() for value in values]
    if request.method == "GET":
        length = len(request.base_url + request.path) + (1 + len(urlencode(url)) if url else 0)
        if length > MAX_GET_URL:
            raise _error(403, "Forbidden", f"the URL is {length} characters, more than {MAX_GET_URL}: use POST")
        return url
    body: list[tuple[str, str]] = []
    if request.body:
        kind = media_type(request.headers.get("Content-Type"))
        if kind != "application/x-www-form-urlencoded":
            raise _error(415, "InvalidRequest", f"POST takes form data (application/x-www-form-urlencoded), not {kind}")
        try:
            body = parse_qsl(request.body.decode("utf-8"), keep_blank_values=True, strict_parsing=True)
        except (UnicodeDecodeError, ValueError):
            raise _error(400, "InvalidRequest", "the form body is not valid form data") from None
    headed = []
    for name, value in url:
        header = request.headers.get(name) if all(c.isalnum() or c in "._-" for c in name) else None
        headed.append((name, header if header is not None else value))
    return headed + body


def _split(service: StandInService, params: Sequence[tuple[str, str]]) -> tuple[dict[str, str], list[_Write]]:
    """The lookup criteria and the writes of a call."""
    with service.lock:
        remove = service.current_config.datatable_remove_operator
    removal = remove.removesuffix("=")
    if not removal or remove == removal or removal in (":", "+", "++"):
        raise _error(500, "ServerError", f"stand-in misconfigured: datatable_remove_operator {remove!r}")
    suffixes = sorted({":": ":=", "++": "++=", "+": "+=", removal: "remove"}.items(), key=lambda s: -len(s[0]))
    lookups: dict[str, str] = {}
    writes: list[_Write] = []
    for name, value in params:
        if name.casefold() == "format":
            if value.casefold() != "json":
                raise _error(400, "InvalidRequest", f"format {value!r}: the stand-in answers json only")
            continue
        for suffix, operator in suffixes:
            if name.endswith(suffix) and len(name) > len(suffix):
                writes.append(_Write(canonical(name[: -len(suffix)]), operator, value))
                break
        else:
            lookup = next((f for f in LOOKUP_FIELDS if f.casefold() == name.casefold()), None)
            if lookup is None:
                raise _error(
                    400,
                    "InvalidRequest",
                    f"{name!r} is neither a lookup field ({', '.join(LOOKUP_FIELDS)}) nor a write "
                    f"(a field name followed by :=, +=, ++= or {remove})",
                )
            lookups[lookup] = value
    return lookups, writes


def _matches(service: StandInService, lookups: Mapping[str, str]) -> list[str]:
    """Record IDs of the assets every lookup criterion matches (hold the lock)."""
    config = service.current_config
    book = service.assets
    found: set[str] | None = None
    for name, value in lookups.items():
        if name == "RecordID":
            ids = {value} if book.exists(value, config.catalogue_size) else set()
        elif name == "CoreField.Identifier":
            record_id = book.record_id_of(value, config.catalogue_size)
            ids = {record_id} if record_id else set()
        else:
            stored = stored_name(name)
            candidates = set(book.uploaded) | set(book.written)
            ids = {rid for rid in candidates if str(book.fields(rid).get(stored, "")) == value and value}
        found = ids if found is None else found & ids
    return sorted(found or (), key=lambda rid: int(rid) if rid.isdigit() else 0)


def _answer(service: StandInService, request: Request, tally: dict[str, int]) -> Response:
    doc_type, _subtype, action = _parse_path(request.path)
    lookups, writes = _split(service, _parameters(request))
    if not lookups:
        raise _error(400, "InvalidRequest", f"no lookup field: give one of {', '.join(LOOKUP_FIELDS)}")
    if action == "Read" and writes:
        raise _error(400, "InvalidRequest", "Read takes lookup fields only, no writes")
    with service.lock:
        matches = _matches(service, lookups)
        if doc_type != "All":
            matches = [rid for rid in matches if _type_of(service, rid) == doc_type]
        if len(matches) > 1:
            raise _error(400, "AmbiguousLookup", f"{len(matches)} assets match; the DataTable acts on exactly one")
        if not matches:
            if action != "CreateOrUpdate" or doc_type == "All":
                raise _NotFound(lookups, doc_type)
            record_id = _create(service, lookups, tally)
        else:
            record_id = matches[0]
        if action == "Read":
            item = {datatable_name(name): _rendered(value) for name, value in service.assets.fields(record_id).items()}
            tally["datatable_reads"] = 1
            return json_response(200, {"APIResponse": {"Code": SUCCESS, "Items": [item]}})
        return _update(service, record_id, writes, tally, created=not matches)


class _NotFound(_Refused):
    def __init__(self, lookups: Mapping[str, str], doc_type: str) -> None:
        criteria = " and ".join(f"{name}={value}" for name, value in lookups.items())
        body = {"APIResponse": {"Code": "NotFound", "Message": f"no Documents.{doc_type} asset with {criteria}"}}
        super().__init__(json_response(404, body))


def _type_of(service: StandInService, record_id: str) -> str:
    return TYPE_OF_MEDIA.get(str(service.assets.fields(record_id).get("MediaType")), "Multimedia")


def _create(service: StandInService, lookups: Mapping[str, str], tally: dict[str, int]) -> str:
    """A new asset (no file) for CreateOrUpdate, carrying its lookup values (hold the lock)."""
    name = lookups.get("CoreField.OriginalFileName") or "untitled"
    asset = service.assets.add_asset("", name, service.assets.scratch_file(f"created-{len(service.assets.uploaded)}"))
    if "CoreField.OtherNum" in lookups:
        service.assets.write(asset.record_id, {"OtherNum": lookups["CoreField.OtherNum"]})
    tally["datatable_creates"] = 1
    return asset.record_id


def _rendered(value: Any) -> Any:
    return "|".join(str(v) for v in value) if isinstance(value, list) else value


def _update(
    service: StandInService, record_id: str, writes: Sequence[_Write], tally: dict[str, int], *, created: bool
) -> Response:
    """Apply ``writes`` to one asset, all or nothing (hold the lock)."""
    config = service.current_config
    counters = tally
    for name in ("datatable_rejected", "datatable_read_only_ignored", "datatable_updates", "datatable_fields_written"):
        counters.setdefault(name, 0)
    state: DataTableState = service.family_state("datatable", DataTableState)
    read_only = {name.casefold() for name in config.read_only_fields}
    known = {name.casefold() for name in KNOWN_FIELDS} | read_only
    errors: list[dict[str, str]] = []
    for write in writes:
        if not (_aliases(write.field) & known):
            errors.append({"Field": write.field, "Message": f"unknown field {write.field}"})
        elif write.operator != ":=" and write.field not in LIST_FIELDS:
            errors.append({"Field": write.field, "Message": f"{write.field} is not a list: only := applies"})
        elif write.operator == "+=":
            missing = [tag for tag in _values(write.value) if tag.casefold() not in state.tags]
            if missing:
                errors.append({"Field": write.field, "Message": f"unknown tag(s) {', '.join(missing)}: use ++="})
    if errors:
        counters["datatable_rejected"] += 1
        code = "InvalidField" if any(e["Message"].startswith("unknown field") for e in errors) else "InvalidValue"
        message = "; ".join(e["Message"] for e in errors) + ": nothing was updated."
        return json_response(200, {"APIResponse": {"Code": code, "Message": message, "Errors": errors}})
    current = service.assets.fields(record_id)
    values: dict[str, Any] = {}
    written: list[str] = []
    for write in writes:
        if _aliases(write.field) & read_only:
            counters["datatable_read_only_ignored"] += 1  # silently, as Orange Logic does
            continue
        stored = stored_name(write.field)
        if write.field in LIST_FIELDS:
            before = values.get(stored, current.get(stored) or [])
            before = _values(before) if isinstance(before, str) else list(before)
            given = _values(write.value)
            if write.operator in (":=", "++="):
                for tag in given:
                    state.tags.setdefault(tag.casefold(), tag)
            given = [state.tags.get(tag.casefold(), tag) for tag in given]
            if write.operator == ":=":
                after = given
            elif write.operator == "remove":
                drop = {tag.casefold() for tag in given}
                after = [tag for tag in before if tag.casefold() not in drop]
            else:
                after = before + [tag for tag in given if tag.casefold() not in {t.casefold() for t in before}]
            values[stored] = after
        else:
            values[stored] = write.value
        written.append(write.field)
    service.assets.write(record_id, values)
    counters["datatable_updates"] += 1
    counters["datatable_fields_written"] += len(written)
    identifier = service.assets.fields(record_id).get("SystemIdentifier")
    item = {"RecordID": record_id, "CoreField.Identifier": identifier, "Created": created}
    return json_response(200, {"APIResponse": {"Code": SUCCESS, "Items": [item]}})


def _values(text: str) -> list[str]:
    return [part.strip() for part in text.split("|") if part.strip()]
