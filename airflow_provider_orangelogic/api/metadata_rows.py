"""Metadata rows: what a row to write onto an asset may look like, read from dicts, JSON Lines or CSV.

``parse_row`` turns one row (nested or flat, see ``api/metadata.py``) into a :class:`MetadataRow`: its
lookup and its checked :class:`FieldWrite` s, or a :class:`RowError` naming the row and the field. The
DataTable calls and the run are in ``api/metadata.py``. Standard library only.
"""

from __future__ import annotations

import csv
import json
import re
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

SET, ADD, ADD_AND_CREATE = ":=", "+=", "++="
DEFAULT_REMOVE_OPERATOR = "-="  # uncertain in the reference: remove_operator
# Lookup fields of the DataTable (Documents.All acts on exactly one match), by their lower-case spellings.
LOOKUP_FIELDS = {
    "recordid": "RecordID",
    "corefield.identifier": "CoreField.Identifier",
    "systemidentifier": "CoreField.Identifier",  # Search's name for the unique identifier
    "corefield.originalfilename": "CoreField.OriginalFileName",
    "corefield.othernum": "CoreField.OtherNum",
}
# Fields Orange Logic does not let the DataTable change (it ignores such writes silently): refused up front.
DEFAULT_READ_ONLY_FIELDS = (
    "RecordID",
    "SystemIdentifier",
    "CoreField.Identifier",
    "CoreField.OriginalFileName",
    "CreateDate",
    "EditDate",
    "CoreField.CreateDate",
    "CoreField.EditDate",
    "CoreField.FileSize",
)
FIELDS_COLUMN = "fields"
_FIELD_NAME = re.compile(r"[A-Za-z][\w-]*\.[A-Za-z0-9_][\w.-]*")


class RowError(ValueError):
    """A row that cannot be sent, or whose answer says it failed: names the row and, when one is to blame, the field."""

    def __init__(self, message: str, *, row: int, field: str | None = None, status_code: int | None = None) -> None:
        super().__init__(message)
        self.row = row
        self.field = field
        self.status_code = status_code


@dataclass(frozen=True)
class FieldWrite:
    field: str
    operator: str  # ":=", "+=", "++=" or the removal operator
    value: str  # lists already pipe-joined

    @property
    def parameter(self) -> str:
        """The parameter name: the field with its operator, less the ``=`` the encoding adds."""
        return self.field + self.operator[:-1]


@dataclass(frozen=True)
class MetadataRow:
    number: int  # 1-based, in the order the rows came
    lookup_field: str
    lookup_value: str
    writes: tuple[FieldWrite, ...]

    @property
    def key(self) -> str:
        return f"{self.lookup_field}={self.lookup_value}"


# ---- rows ----


def parse_row(
    number: int,
    raw: Any,
    *,
    remove_operator: str = DEFAULT_REMOVE_OPERATOR,
    read_only_fields: Iterable[str] = DEFAULT_READ_ONLY_FIELDS,
    known_fields: Iterable[str] | None = None,
    skip_blank: bool = True,
) -> MetadataRow:
    """One row checked and made into its writes; :class:`RowError` names the row and the field at fault."""
    if isinstance(raw, _Unparsable):
        raise RowError(f"Row {number}: {raw}; nothing was sent for it.", row=number)
    if not isinstance(raw, Mapping):
        raise RowError(f"Row {number} is not an object of columns (got {type(raw).__name__}).", row=number)
    lookups = [(name, value) for name, value in raw.items() if str(name).strip().casefold() in LOOKUP_FIELDS]
    given = [(name, value) for name, value in lookups if not is_blank(value)]
    if len(given) != 1:
        names = ", ".join(sorted({v for v in LOOKUP_FIELDS.values()}))
        which = "no" if not given else f"{len(given)} ({', '.join(str(n) for n, _ in given)})"
        raise RowError(
            f"Row {number} has {which} asset key: give exactly one of {names} (SystemIdentifier means "
            "CoreField.Identifier).",
            row=number,
        )
    lookup_name, lookup_value = given[0]
    lookup_field = LOOKUP_FIELDS[str(lookup_name).strip().casefold()]
    if isinstance(lookup_value, (Mapping, list, tuple, bool)):
        raise RowError(f"Row {number}: the key {lookup_field} must be a single value.", row=number, field=lookup_field)
    lookup_text = str(lookup_value).strip()
    operators = operators_for(remove_operator)
    read_only = {name.casefold() for name in read_only_fields}
    known = None if known_fields is None else {name.casefold() for name in known_fields}
    writes: list[FieldWrite] = []
    lookup_names = {name for name, _ in lookups}
    for column, value in raw.items():
        if column in lookup_names:
            continue
        if column == FIELDS_COLUMN:
            if not isinstance(value, Mapping):
                raise RowError(f"Row {number}: 'fields' must be an object of field -> value.", row=number)
            for name, spec in value.items():
                writes.extend(_nested_writes(number, str(name).strip(), spec, operators, skip_blank))
            continue
        name, operator = _split_operator(str(column).strip(), operators)
        write = _write(number, name, operator, value, skip_blank)
        if write is not None:
            writes.append(write)
    seen: set[str] = set()
    for write in writes:
        if write.field.casefold() in read_only or write.field.casefold() in LOOKUP_FIELDS:
            raise RowError(
                f"Row {number}: field {write.field} is read-only (Orange Logic would ignore the write "
                "silently); nothing was sent for this row. Remove the column, or drop the field from "
                "read_only_fields if your instance lets it be written.",
                row=number,
                field=write.field,
            )
        if not _FIELD_NAME.fullmatch(write.field):
            raise RowError(
                f"Row {number}: {write.field!r} is not a DataTable field name (Namespace.FieldName, e.g. "
                "CoreField.Title).",
                row=number,
                field=write.field,
            )
        if known is not None and write.field.casefold() not in known:
            raise RowError(
                f"Row {number}: unknown field {write.field} (not in known_fields); nothing was sent for this row.",
                row=number,
                field=write.field,
            )
        if write.parameter in seen:
            raise RowError(
                f"Row {number}: field {write.field} is given twice with {write.operator}.",
                row=number,
                field=write.field,
            )
        seen.add(write.parameter)
    return MetadataRow(number, lookup_field, lookup_text, tuple(writes))


def is_blank(value: Any) -> bool:
    return value is None or (isinstance(value, str) and not value.strip())


def operators_for(remove_operator: str) -> tuple[str, ...]:
    """The operators, longest first (``++=`` before ``+=``), so that a column name's suffix is read right."""
    if (
        not isinstance(remove_operator, str)
        or not remove_operator.endswith("=")
        or len(remove_operator) < 2
        or remove_operator in (SET, ADD, ADD_AND_CREATE)
        or any(c.isalnum() or c.isspace() for c in remove_operator)
    ):
        raise ValueError(f"remove_operator must be an operator such as '-=', not {remove_operator!r}")
    return tuple(sorted({SET, ADD, ADD_AND_CREATE, remove_operator}, key=len, reverse=True))


def _split_operator(column: str, operators: Sequence[str]) -> tuple[str, str]:
    for operator in operators:
        if column.endswith(operator) and len(column) > len(operator):
            return column[: -len(operator)].strip(), operator
    return column, SET


def _nested_writes(number: int, name: str, spec: Any, operators: Sequence[str], skip_blank: bool) -> list[FieldWrite]:
    specs = spec if isinstance(spec, list) and spec and all(isinstance(s, Mapping) for s in spec) else [spec]
    writes = []
    for one in specs:
        if isinstance(one, Mapping):
            unknown = set(one) - {"op", "operator", "value"}
            operator = one.get("op", one.get("operator", SET))
            if unknown or "value" not in one:
                raise RowError(
                    f"Row {number}: field {name} must be a value or {{'op': ..., 'value': ...}}"
                    + (f" (unexpected {', '.join(sorted(map(str, unknown)))})" if unknown else " (no 'value')"),
                    row=number,
                    field=name,
                )
            if operator not in operators:
                raise RowError(
                    f"Row {number}: field {name} has operator {operator!r}; use one of {', '.join(operators)}.",
                    row=number,
                    field=name,
                )
            write = _write(number, name, operator, one["value"], skip_blank=False)  # explicit: sent even if blank
        else:
            write = _write(number, name, SET, one, skip_blank)
        if write is not None:
            writes.append(write)
    return writes


def _write(number: int, name: str, operator: str, value: Any, skip_blank: bool) -> FieldWrite | None:
    if value is None or (skip_blank and isinstance(value, str) and not value.strip()):
        return None
    return FieldWrite(name, operator, _text(number, name, value))


def _text(number: int, name: str, value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (str, int, float)):
        return str(value)
    if isinstance(value, (list, tuple)):
        items = [_text(number, name, item) for item in value if item is not None]
        bad = next((item for item in items if "|" in item), None)
        if bad is not None:
            raise RowError(
                f"Row {number}: field {name} lists the value {bad!r}, which contains '|', the list separator.",
                row=number,
                field=name,
            )
        return "|".join(items)
    raise RowError(
        f"Row {number}: field {name} has a {type(value).__name__} value; give text, a number or a list.",
        row=number,
        field=name,
    )


def rows_from_json_lines(lines: Iterable[str | bytes]) -> Iterator[Any]:
    """Rows from JSON Lines (blank lines skipped, so row N is the Nth non-blank line); a line that is not
    JSON becomes a row that fails, named, while the others still run."""
    for number, line in enumerate(lines, start=1):
        text = line.decode("utf-8") if isinstance(line, bytes) else line
        if not text.strip():
            continue
        try:
            yield json.loads(text)
        except json.JSONDecodeError as err:
            yield _Unparsable(f"line {number} is not JSON ({err.msg} at column {err.colno})")


def rows_from_csv(lines: Iterable[str], *, delimiter: str = ",") -> Iterator[dict[str, str]]:
    """Rows from CSV text with a header line (row N is the Nth record after the header); flat columns,
    each name optionally ending in its operator (``CoreField.Keywords++=``), lists pipe-separated."""
    reader = csv.DictReader(lines, delimiter=delimiter)
    if not reader.fieldnames:
        return
    duplicates = sorted({name for name in reader.fieldnames if reader.fieldnames.count(name) > 1})
    if duplicates:
        raise ValueError(f"the CSV header names {', '.join(duplicates)} more than once")
    for record in reader:
        extra = record.pop(None, None)  # type: ignore[call-overload]
        if extra:
            yield _Unparsable(f"line {reader.line_num} has more cells than the header has columns")
            continue
        yield {name: value for name, value in record.items() if value is not None}


class _Unparsable(str):
    """A line that could not be read as a row: passed on as one, so that it fails (named) and the others run."""
