"""Rules of the shipped project that need no Meltano run: schedules, private files.

Two `meltano run` of one project started in the same minute both fail on Meltano's shared
catalog file, so the shipped schedules must never fire together; and Meltano's per-run config
files hold secrets, so every script and documented command runs under ``umask 077``.
"""

from __future__ import annotations

import calendar
import datetime as dt
import itertools
import re
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
NICKNAMES = {
    "@yearly": "0 0 1 1 *",
    "@annually": "0 0 1 1 *",
    "@monthly": "0 0 1 * *",
    "@weekly": "0 0 * * 0",
    "@daily": "0 0 * * *",
    "@midnight": "0 0 * * *",
    "@hourly": "0 * * * *",
}
# (low, high) of each cron field: minute, hour, day of month, month, day of week (0 = Sunday).
BOUNDS = ((0, 59), (0, 23), (1, 31), (1, 12), (0, 7))
# Two years, one of them a leap year, hold every combination of weekday and date that matters.
DAYS = [dt.date(2028, 1, 1) + dt.timedelta(days=n) for n in range(731)]


def _field(text: str, low: int, high: int) -> set[int]:
    """The values one cron field matches (`*`, `n`, `a-b`, `*/s`, `a-b/s`, lists)."""
    values: set[int] = set()
    for part in text.split(","):
        spread, _, step = part.partition("/")
        if spread == "*":
            start, stop = low, high
        elif "-" in spread:
            start, stop = (int(x) for x in spread.split("-"))
        else:
            start = stop = int(spread)
            if step:
                stop = high
        values.update(range(start, stop + 1, int(step or 1)))
    return values


def cron_firings(interval: str) -> tuple[set[int], set[int], set[dt.date]]:
    """Minutes, hours and dates (over two years) a cron interval fires on.

    A cron expression fires on every combination of them, so two schedules fire in the same
    minute exactly when all three sets intersect.
    """
    fields = NICKNAMES.get(interval, interval).split()
    assert len(fields) == 5, f"not a five-field cron expression: {interval!r}"
    minute, hour, dom, month, dow = (
        _field(text, *bounds) for text, bounds in zip(fields, BOUNDS, strict=True)
    )
    weekdays = {d % 7 for d in dow}

    def fires_on(day: dt.date) -> bool:
        by_dom, by_dow = day.day in dom, (day.isoweekday() % 7) in weekdays
        # Cron: when both day fields are restricted, either one matching is enough.
        if fields[2] != "*" and fields[4] != "*":
            return day.month in month and (by_dom or by_dow)
        return day.month in month and by_dom and by_dow

    return minute, hour, {day for day in DAYS if fires_on(day)}


@pytest.mark.parametrize(
    ("first", "second", "collide"),
    [
        ("@hourly", "@hourly", True),
        ("@hourly", "@daily", True),
        ("5 * * * *", "35 * * * *", False),
        ("5 * * * *", "50 3 * * *", False),
        ("*/15 * * * *", "45 3 * * *", True),
        ("0 0 1 * *", "0 0 * * 1", True),
        ("0 0 29 2 *", "0 0 * 3 *", False),
    ],
    ids=[
        "both-hourly",
        "hourly-and-daily-at-midnight",
        "staggered-hourly",
        "hourly-and-daily-apart",
        "quarter-hours-meet-daily",
        "first-of-month-is-sometimes-monday",
        "leap-day-never-in-march",
    ],
)
def test_cron_collision_check(first: str, second: str, collide: bool) -> None:
    a, b = cron_firings(first), cron_firings(second)
    assert all(x & y for x, y in zip(a, b, strict=True)) is collide


def test_no_two_shipped_schedules_fire_in_the_same_minute() -> None:
    project = yaml.safe_load((ROOT / "meltano.yml").read_text())
    schedules = {s["name"]: cron_firings(s["interval"]) for s in project["schedules"]}
    assert len(schedules) >= 3
    together = [
        (a, b)
        for (a, fa), (b, fb) in itertools.combinations(schedules.items(), 2)
        if all(x & y for x, y in zip(fa, fb, strict=True))
    ]
    assert together == [], f"schedules that can start in the same minute: {together}"
    assert calendar.isleap(2028)


@pytest.mark.parametrize("script", ["demo.sh", "test.sh"], ids=["demo", "test"])
def test_scripts_that_run_meltano_keep_its_files_private(script: str) -> None:
    lines = (ROOT / "scripts" / script).read_text().splitlines()
    commands = [line.strip() for line in lines if line.strip() and not line.startswith("#")]
    umask = commands.index("umask 077")
    assert umask < next(i for i, c in enumerate(commands) if c.startswith(("exec", ".venv")))


def test_readme_commands_that_run_meltano_set_a_private_umask() -> None:
    readme = (ROOT / "README.md").read_text()
    # A block marked `text` shows output (the benchmark's table), not commands to type.
    blocks = [
        body
        for language, body in re.findall(r"```([a-z]*)\n(.*?)```", readme, flags=re.DOTALL)
        if language != "text"
    ]
    running = [b for b in blocks if re.search(r"^(?!\s*#)\s*meltano .*\brun\b", b, re.M)]
    assert running, "the README documents no `meltano run`"
    for block in running:
        first = next(line for line in block.splitlines() if line.strip())
        assert first.strip().startswith("umask 077"), f"no `umask 077` before:\n{block}"
