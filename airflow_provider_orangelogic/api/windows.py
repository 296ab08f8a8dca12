"""Modified-since windows for Search: the query clause that lands only what changed in a period.

A window is half-open, ``[start, end)``: consecutive windows (Airflow's data intervals) share their
boundary, and an asset edited exactly on it belongs to the later one only, so scheduled runs and
backfills together see every change once, with no gap and no duplicate.

The public reference gives the date fields (``EditDate``, ``CreateDate``, ``MediaDate``) but not the
range syntax of a query (``../shared/ORANGELOGIC_API.md``, "Search for incremental work"), so the
clause is a template: ``{field}``, ``{start}`` and ``{end}`` (UTC, ``YYYY-MM-DDTHH:MM:SSZ``).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timezone

DEFAULT_DATE_FIELD = "EditDate"
DEFAULT_WINDOW_TEMPLATE = "{field}>={start} AND {field}<{end}"
TIMESTAMP_FORMAT = "%Y-%m-%dT%H:%M:%SZ"


def utc_timestamp(moment: datetime) -> str:
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise ValueError(
            f"{moment.isoformat()} has no time zone: give an aware datetime (e.g. pendulum.datetime(..., tz='UTC'))"
        )
    return moment.astimezone(timezone.utc).strftime(TIMESTAMP_FORMAT)


@dataclass(frozen=True)
class ModifiedWindow:
    """Assets whose ``date_field`` lies in ``[start, end)``."""

    start: datetime
    end: datetime
    date_field: str = DEFAULT_DATE_FIELD
    template: str = DEFAULT_WINDOW_TEMPLATE

    def __post_init__(self) -> None:
        start, end = utc_timestamp(self.start), utc_timestamp(self.end)
        if self.end <= self.start:
            raise ValueError(
                f"the modified window is empty: it ends ({end}) at or before it starts ({start}). On Airflow 3 a "
                "cron schedule gives runs a single point unless the DAG uses CronDataIntervalTimetable (or "
                "[scheduler] create_cron_data_intervals = True): use one, or give modified_since/modified_before."
            )
        if not self.date_field.isidentifier():
            raise ValueError(f"date_field must be a field name such as EditDate, not {self.date_field!r}")
        for name in ("{field}", "{start}", "{end}"):
            if name not in self.template:
                raise ValueError(f"window_template {self.template!r} lacks {name}; e.g. {DEFAULT_WINDOW_TEMPLATE!r}")

    def clause(self) -> str:
        return self.template.format(field=self.date_field, start=utc_timestamp(self.start), end=utc_timestamp(self.end))

    def query(self, query: str) -> str:
        """``query`` narrowed to the window (the window alone for ``*`` or an empty query)."""
        base = query.strip()
        return self.clause() if base in ("", "*") else f"({base}) AND {self.clause()}"
