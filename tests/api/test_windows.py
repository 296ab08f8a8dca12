"""The modified-since window's query clause (api/windows.py), alone."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pendulum
import pytest

from airflow_provider_orangelogic.api.windows import ModifiedWindow

START = datetime(2026, 12, 1, tzinfo=timezone.utc)
END = START + timedelta(days=1)


def test_the_clause_is_half_open_in_utc_and_narrows_the_query():
    window = ModifiedWindow(START, END)
    assert window.clause() == "EditDate>=2026-12-01T00:00:00Z AND EditDate<2026-12-02T00:00:00Z"
    assert window.query("*") == window.clause() == window.query("  ")
    assert window.query("MediaType:Image") == f"(MediaType:Image) AND {window.clause()}"


def test_other_time_zones_are_sent_in_utc_and_the_field_and_syntax_are_configurable():
    paris = pendulum.datetime(2026, 12, 1, 1, tz="Europe/Paris")
    window = ModifiedWindow(paris, paris.add(hours=1), date_field="CreateDate", template="{field}:[{start} TO {end}}}")
    assert window.clause() == "CreateDate:[2026-12-01T00:00:00Z TO 2026-12-01T01:00:00Z}"


@pytest.mark.parametrize(
    ("start", "end", "options", "message"),
    [
        (START, START, {}, "the modified window is empty"),
        (END, START, {}, "CronDataIntervalTimetable"),
        (START.replace(tzinfo=None), END, {}, "has no time zone"),
        (START, END, {"date_field": "Edit Date; drop"}, "date_field must be a field name"),
        (START, END, {"template": "{field}>={start}"}, "lacks {end}"),
    ],
)
def test_a_window_that_cannot_be_right_says_what_to_do(start, end, options, message):
    with pytest.raises(ValueError, match=message.replace("{", r"\{").replace("}", r"\}")):
        ModifiedWindow(start, end, **options)
