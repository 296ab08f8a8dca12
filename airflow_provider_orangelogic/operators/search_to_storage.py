"""Land the result of an Orange Logic search in object storage as JSON Lines, thin over OrangeLogicHook.search."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any

from airflow_provider_orangelogic.compat import BaseOperator
from airflow_provider_orangelogic.operators.storage import (
    rendered_integer,
    storage_path,
    write_json_lines,
)

if TYPE_CHECKING:
    from airflow.sdk import Context, ObjectStoragePath

    from airflow_provider_orangelogic.api.windows import ModifiedWindow

# api/search.py's default, spelled out so that parsing a DAG using this operator does not import requests.
DEFAULT_FIELDS = ("SystemIdentifier", "Title", "MediaType")


class OrangeLogicSearchToStorageOperator(BaseOperator):
    """Write every asset matching an Orange Logic search to one JSON Lines object (one asset per line).

    The file is written under a temporary name next to the destination and renamed to it only once
    the search is complete, so a failed or killed run never leaves a half file under the final name
    (a killed run may leave the hidden ``.<name>.<random>.tmp`` behind). An existing file is replaced.

    :param path: The destination (templated): an ``ObjectStoragePath`` or its URL, e.g.
        ``file:///data/orangelogic/{{ ds }}.jsonl``, ``s3://bucket/assets/{{ ds }}.jsonl.gz`` (with the
        Amazon provider) or ``gs://...`` (with the Google provider).
    :param query: The Orange Logic search query (templated), e.g. ``MediaType:Image``.
    :param fields: The fields of each asset (templated).
    :param page_size: Assets per page, 1 to 1000 (templated).
    :param concurrency: Pages in flight at most, 1 to 10 (templated); 429/503 answers lower it.
    :param gzip: Compress with gzip; default: when the path ends in ``.gz``.
    :param orangelogic_conn_id: The Orange Logic connection (templated).
    :param storage_conn_id: The connection of the object store, when the path's URL names none
        (``s3://conn_id@bucket/key`` does).
    :param incremental: Land only the assets whose *date_field* lies in the run's data interval,
        ``[data_interval_start, data_interval_end)``: consecutive runs and backfills then see each change
        once, with no gap and no duplicate. The DAG needs a schedule with real intervals (on Airflow 3,
        ``CronDataIntervalTimetable`` or ``[scheduler] create_cron_data_intervals = True`` for cron).
    :param modified_since: With *modified_before*, an explicit window instead (templated; an aware
        datetime or an ISO 8601 string; UTC when it names no zone).
    :param modified_before: The window's end, excluded (templated).
    :param date_field: The date the window applies to (templated; default ``EditDate``).
    :param window_template: The query clause of the window, ``{field}>={start} AND {field}<{end}`` by default
        (the public reference does not give the range syntax: see ``api/windows.py``).

    Returns (XCom) ``{"path", "count", "pages", "bytes", "gzip", "window"}``; ``window`` is
    ``{"field", "start", "end"}`` (UTC) or None.
    """

    template_fields: Sequence[str] = (
        "path",
        "query",
        "fields",
        "page_size",
        "concurrency",
        "orangelogic_conn_id",
        "modified_since",
        "modified_before",
        "date_field",
    )
    ui_color = "#f7a35c"

    def __init__(
        self,
        *,
        path: str | ObjectStoragePath,
        query: str,
        fields: Sequence[str] = DEFAULT_FIELDS,
        page_size: int | str = 100,
        concurrency: int | str = 4,
        gzip: bool | None = None,
        orangelogic_conn_id: str = "orangelogic_default",
        storage_conn_id: str | None = None,
        incremental: bool = False,
        modified_since: datetime | str | None = None,
        modified_before: datetime | str | None = None,
        date_field: str = "EditDate",
        window_template: str = "{field}>={start} AND {field}<{end}",
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        if incremental and (modified_since or modified_before):
            raise ValueError("give either incremental=True (the data interval) or modified_since/modified_before")
        self.incremental = incremental
        self.modified_since = modified_since
        self.modified_before = modified_before
        self.date_field = date_field
        self.window_template = window_template
        self.path = path
        self.query = query
        self.fields = fields
        self.page_size = page_size
        self.concurrency = concurrency
        self.gzip = gzip
        self.orangelogic_conn_id = orangelogic_conn_id
        self.storage_conn_id = storage_conn_id

    def execute(self, context: Context) -> dict[str, Any]:
        from airflow_provider_orangelogic.hooks.orangelogic import OrangeLogicHook

        destination = storage_path(self.path, self.storage_conn_id)
        compress = destination.name.endswith(".gz") if self.gzip is None else bool(self.gzip)
        pages = 0

        def count_page(page: int, items: int) -> None:
            nonlocal pages
            pages = page

        window = self._window(context)
        assets = OrangeLogicHook(self.orangelogic_conn_id).search(
            self.query,
            fields=_field_list(self.fields),
            page_size=rendered_integer("page_size", self.page_size),
            concurrency=rendered_integer("concurrency", self.concurrency),
            on_page=count_page,
            modified=window,
        )
        if window:
            self.log.info("Assets with %s in [%s, %s) only.", window.date_field, window.start, window.end)
        count = write_json_lines(destination, assets, gzip=compress)
        size = destination.fs.size(destination.path)
        self.log.info("Wrote %d asset(s) from %d page(s) to %s (%d bytes).", count, pages, destination, size)
        return {
            "path": str(destination),
            "count": count,
            "pages": pages,
            "bytes": size,
            "gzip": compress,
            "window": window and {"field": window.date_field, "start": _iso(window.start), "end": _iso(window.end)},
        }

    def _window(self, context: Context) -> ModifiedWindow | None:
        from airflow_provider_orangelogic.api.windows import ModifiedWindow

        if self.incremental:
            start, end = context.get("data_interval_start"), context.get("data_interval_end")
            if start is None or end is None:
                raise ValueError(
                    "incremental=True needs a run with a data interval; this run has none (a manual run of an "
                    "unscheduled DAG): schedule the DAG, or give modified_since and modified_before"
                )
        elif self.modified_since or self.modified_before:
            if not (self.modified_since and self.modified_before):
                raise ValueError("give both modified_since and modified_before (the window's end is excluded)")
            start, end = (
                _moment("modified_since", self.modified_since),
                _moment("modified_before", self.modified_before),
            )
        else:
            return None
        return ModifiedWindow(start, end, date_field=str(self.date_field).strip(), template=self.window_template)


def _moment(name: str, value: Any) -> datetime:
    """A datetime from a datetime or an ISO 8601 string (UTC when it names no zone, as in Airflow)."""
    if isinstance(value, datetime):
        return value
    import pendulum

    try:
        parsed = pendulum.parse(str(value).strip(), exact=True)
    except ValueError:
        parsed = None
    if not isinstance(parsed, datetime):
        raise ValueError(f"{name} must be a date and time, e.g. 2026-12-01T00:00:00Z, not {value!r}")
    return parsed


def _iso(moment: datetime) -> str:
    from airflow_provider_orangelogic.api.windows import utc_timestamp

    return utc_timestamp(moment)


def _field_list(fields: Any) -> list[str]:
    if isinstance(fields, str):
        fields = fields.split(",")
    names = [str(name).strip() for name in fields if str(name).strip()]
    if not names:
        raise ValueError("fields must name at least one field, e.g. SystemIdentifier")
    return names
