"""The hostile-input and STATE part of the target contract (mixed into ``TargetContract``).

Every case of :mod:`testkit.hostile_inputs` is a test of its own. To stay fast, the cases of
one group share one target run (each case on its own line, good records around it); when
that shared run is not clean (non-zero exit, good records missing, more or fewer rows set
aside than cases) each case is re-run alone, so a failure names the case that causes it.
"""

from __future__ import annotations

import json
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

import pytest

from testkit.databases import create_postgres_database, drop_postgres_database
from testkit.hostile_inputs import (
    GARBAGE_STATES,
    HOSTILE_CASES,
    HostileCase,
    good_input,
    hostile_input,
)
from testkit.singer_messages import SingerStore, manifest_messages, to_lines


def fresh_database(
    database_url: str, tmp_path: Path, request: pytest.FixtureRequest, name: str
) -> str:
    """Another empty database on the same backend as ``database_url``."""
    if database_url.startswith("sqlite"):
        return f"sqlite:///{tmp_path / f'{name}.db'}"
    admin_url = str(request.getfixturevalue("postgres_admin_url"))
    created = create_postgres_database(admin_url)
    request.addfinalizer(lambda: drop_postgres_database(admin_url, created))
    return admin_url.rsplit("/", 1)[0] + f"/{created}"


def _names(record_key: str, key: int | None) -> bool:
    """Whether a quarantine row's key names the record with this id."""
    return record_key == str(key) or record_key.endswith((f"/{key}", f":{key}", f" {key}"))


@dataclass
class RunResult:
    """What one target run left behind, read back right after it."""

    returncode: int
    stderr: str
    states: list[Any]
    observable: Any = None
    dead_letters: list[tuple[int, str]] = field(default_factory=list)
    quarantined: list[tuple[str, str, str, str]] = field(default_factory=list)
    outcomes: list[str] = field(default_factory=list)
    line_numbers: dict[str, int] = field(default_factory=dict)
    hook_errors: list[str] = field(default_factory=list)

    def explain(self) -> str:
        """A short account for assertion messages."""
        return (
            f"exit {self.returncode}; outcomes {self.outcomes}; dead letters "
            f"{self.dead_letters[:5]}; quarantined {[q[:3] for q in self.quarantined[:5]]}; "
            f"hook errors {self.hook_errors}; last error: {self.last_error()}"
        )

    def last_error(self) -> str:
        """The last line of stderr that names an error (the exception of a traceback)."""
        lines = [line.strip() for line in self.stderr.splitlines() if line.strip()]
        errors = [line for line in lines if "Error" in line or "Exception" in line]
        return (errors or lines or [""])[-1][:600]


class HostileInputContract:
    """Bad lines, bad records and stale versions among good records; STATE hygiene."""

    _hostile_runs: ClassVar[dict[tuple[str, ...], RunResult]] = {}

    # -- hooks (implemented by TargetContract subclasses) ------------------------------

    executable: ClassVar[str]

    def config(self, database_url: str) -> dict[str, Any]:
        raise NotImplementedError

    def observable_state(self, database_url: str, shop_domain: str) -> Any:
        raise NotImplementedError

    def live_customer_ids(self, database_url: str, shop_domain: str) -> set[int]:
        raise NotImplementedError

    def dead_letters(self, database_url: str) -> list[tuple[int, str]]:
        """``(line_number, reason)`` of each dead-lettered input line, in any order."""
        raise NotImplementedError

    def quarantined_records(self, database_url: str) -> list[tuple[str, str, str, str]]:
        """``(stream, record_key, field, reason)`` for each quarantined record.

        ``record_key`` is the target's key of the record as a string: the record's id, or
        ending in ``/<id>`` (``"1001"``, ``"shop.myshopify.com/1001"``).
        """
        raise NotImplementedError

    def run_outcomes(self, database_url: str) -> list[str]:
        """Each target run's outcome (``succeeded``, ``unreconciled``, ``incomplete``,
        ``failed``, ``refused``), oldest first."""
        raise NotImplementedError

    # -- running -----------------------------------------------------------------------

    def run_lines(
        self,
        database_url: str,
        lines: list[bytes],
        tmp_path: Path,
        overrides: dict[str, Any] | None = None,
        *,
        read_back: bool = True,
    ) -> RunResult:
        """Run the target on raw input lines and read back what it left, whatever the exit.

        Args:
            database_url: The target's database.
            lines: Input lines, without their newlines.
            tmp_path: Where the config file goes.
            overrides: Settings merged into ``config(database_url)``.
            read_back: Read the hooks (observable state, dead letters, ...) after the run.

        Returns:
            The exit code, stderr, printed states and, with ``read_back``, what the hooks saw.
        """
        config_file = tmp_path / f"{self.executable}-config.json"
        config_file.write_text(json.dumps({**self.config(database_url), **(overrides or {})}))
        binary = Path(sys.executable).parent / self.executable
        done = subprocess.run(
            [str(binary), "--config", str(config_file)],
            input=b"".join(line + b"\n" for line in lines),
            capture_output=True,
            timeout=300,
            check=False,
        )
        stdout = done.stdout.decode(errors="replace")
        result = RunResult(
            returncode=done.returncode,
            stderr=done.stderr.decode(errors="replace"),
            states=[json.loads(line) for line in stdout.splitlines() if line.strip()],
        )
        if not read_back:
            return result
        readers = {
            "observable": lambda: self.observable_state(database_url, SingerStore().shop_domain),
            "dead_letters": lambda: sorted(self.dead_letters(database_url)),
            "quarantined": lambda: sorted(self.quarantined_records(database_url)),
            "outcomes": lambda: list(self.run_outcomes(database_url)),
        }
        for name, read in readers.items():
            try:
                setattr(result, name, read())
            except Exception as exc:  # noqa: BLE001 - reported in the assertion message
                result.hook_errors.append(f"{name}: {type(exc).__name__}: {exc}"[:400])
        return result

    def _cached(
        self, key: tuple[str, ...], make: Any, database_url: str, tmp_path: Path, request: Any
    ) -> RunResult:
        full_key = (type(self).__name__, database_url.split(":", maxsplit=1)[0], *key)
        if full_key not in self._hostile_runs:
            url = fresh_database(database_url, tmp_path, request, "-".join(key))
            self._hostile_runs[full_key] = make(url)
        return self._hostile_runs[full_key]

    def _baseline(self, database_url: str, tmp_path: Path, request: Any) -> RunResult:
        lines = good_input(self._store())
        return self._cached(
            ("baseline",),
            lambda url: self.run_lines(url, lines, tmp_path),
            database_url,
            tmp_path,
            request,
        )

    def _store(self) -> SingerStore:
        return self.sample_store()  # type: ignore[attr-defined,no-any-return]

    def _run_cases(self, url: str, cases: list[HostileCase], tmp_path: Path) -> RunResult:
        made = hostile_input(self._store(), cases)
        result = self.run_lines(url, made.lines, tmp_path)
        result.line_numbers = made.line_numbers
        return result

    @staticmethod
    def _clean(result: RunResult, baseline: RunResult, cases: list[HostileCase]) -> bool:
        kinds = [case.kind for case in cases]
        return (
            result.returncode == 0
            and not result.hook_errors
            and result.observable == baseline.observable
            and result.states == baseline.states
            and result.outcomes[-1:] == baseline.outcomes[-1:]
            and len(result.dead_letters) == kinds.count("dead_letter")
            and len(result.quarantined) == kinds.count("quarantine")
        )

    # -- the contract --------------------------------------------------------------------

    def test_a_complete_good_sync_succeeds(
        self, database_url: str, tmp_path: Path, request: pytest.FixtureRequest
    ) -> None:
        """The baseline every hostile case is compared with: exit 0, ``succeeded``."""
        baseline = self._baseline(database_url, tmp_path, request)
        assert baseline.returncode == 0, baseline.explain()
        assert baseline.hook_errors == [], baseline.explain()
        assert baseline.observable, "the good sync left nothing to observe"
        assert (baseline.dead_letters, baseline.quarantined) == ([], []), baseline.explain()
        assert baseline.outcomes == ["succeeded"], baseline.explain()

    @pytest.mark.parametrize("case", HOSTILE_CASES, ids=[case.id for case in HOSTILE_CASES])
    def test_hostile_input_is_set_aside_and_the_good_records_around_it_written(
        self,
        case: HostileCase,
        database_url: str,
        tmp_path: Path,
        request: pytest.FixtureRequest,
    ) -> None:
        """A bad line is dead-lettered, a bad record quarantined, a stale version ignored;
        every good record around it is written and the run ends as a good one does."""
        baseline = self._baseline(database_url, tmp_path, request)
        group = [c for c in HOSTILE_CASES if c.group == case.group]
        result = self._cached(
            ("group", case.group),
            lambda url: self._run_cases(url, group, tmp_path),
            database_url,
            tmp_path,
            request,
        )
        # A missing hook table fails every case the same way: no point re-running alone.
        if not result.hook_errors and not self._clean(result, baseline, group):
            alone = fresh_database(database_url, tmp_path, request, f"alone-{case.id}")
            result = self._run_cases(alone, [case], tmp_path)
        self._assert_case(case, result, baseline)

    @staticmethod
    def _assert_case(case: HostileCase, result: RunResult, baseline: RunResult) -> None:
        why = result.explain()
        line = result.line_numbers[case.id]
        assert result.returncode == 0, why
        assert result.hook_errors == [], why
        letters = [reason for number, reason in result.dead_letters if number == line]
        if case.kind == "dead_letter":
            assert len(letters) == 1, f"line {line} not dead-lettered once; {why}"
            assert case.reason.lower() in letters[0].lower(), why
        else:
            assert letters == [], f"line {line} was dead-lettered; {why}"
        if case.kind == "quarantine":
            mine = [q for q in result.quarantined if q[0] == case.stream and _names(q[1], case.key)]
            assert len(mine) == 1, f"{case.stream} {case.key} not quarantined once; {why}"
            _, _, field_name, reason = mine[0]
            assert case.field in field_name, f"field {field_name!r}: {reason}"
            assert reason, why
        if case.kind == "stale":
            assert (result.dead_letters, result.quarantined) == ([], []), why
        assert result.observable == baseline.observable, f"good records differ; {why}"
        assert result.states == baseline.states, why
        assert result.outcomes[-1:] == baseline.outcomes[-1:], why

    def test_garbage_state_is_never_passed_on(
        self, database_url: str, tmp_path: Path, request: pytest.FixtureRequest
    ) -> None:
        """Meltano stores what a target prints: a STATE it cannot parse must not come out,
        even when it is the last message of the input."""
        lines = good_input(self._store())
        garbage = [json.dumps({"type": "STATE", "value": v}).encode() for v in GARBAGE_STATES]
        result = self.run_lines(
            fresh_database(database_url, tmp_path, request, "garbage-state"),
            lines + garbage,
            tmp_path,
        )
        assert result.returncode == 0, result.explain()
        assert [v for v in GARBAGE_STATES if v in result.states] == [], result.states
        assert result.states[-1:] == [{"roster_version": 1}], result.states
        numbers = sorted(number for number, _ in result.dead_letters)
        assert numbers == list(range(len(lines) + 1, len(lines) + 1 + len(garbage)))

    def test_state_comes_out_only_after_the_records_before_it_are_committed(
        self, database_url: str, tmp_path: Path, request: pytest.FixtureRequest
    ) -> None:
        """While the target still reads, any STATE it prints must already be covered by
        committed records: checked at the moment the state appears, with input held open."""
        store = self._store()
        url = fresh_database(database_url, tmp_path, request, "state-order")
        lines = good_input(store)
        first_state = next(i for i, line in enumerate(lines) if b'"STATE"' in line)
        seen = self._states_while_reading(url, lines, first_state + 1, tmp_path)
        for state, live in seen:
            if state == json.loads(lines[first_state])["value"]:
                assert live == set(store.customers), f"{state} printed before customers {live}"

    def _states_while_reading(
        self, url: str, lines: list[bytes], hold_after: int, tmp_path: Path
    ) -> list[tuple[Any, set[int]]]:
        """Feed ``lines[:hold_after]``, hold input open ~3 s, then the rest; for each state
        printed, the live customers at the moment it was read."""
        config_file = tmp_path / f"{self.executable}-state-config.json"
        config_file.write_text(json.dumps(self.config(url)))
        binary = Path(sys.executable).parent / self.executable
        stderr_file = tmp_path / f"{self.executable}-state-stderr.txt"
        seen: list[tuple[Any, set[int]]] = []
        shop = SingerStore().shop_domain
        with stderr_file.open("wb") as stderr_sink:
            process = subprocess.Popen(
                [str(binary), "--config", str(config_file)],
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=stderr_sink,
            )
            assert process.stdin is not None
            assert process.stdout is not None
            output = process.stdout

            def watch() -> None:
                for raw in output:
                    if raw.strip():
                        seen.append((json.loads(raw), self.live_customer_ids(url, shop)))

            watcher = threading.Thread(target=watch, daemon=True)
            watcher.start()
            process.stdin.write(b"".join(line + b"\n" for line in lines[:hold_after]))
            process.stdin.flush()
            time.sleep(3)  # room for a target that drains and prints state as it goes
            process.stdin.write(b"".join(line + b"\n" for line in lines[hold_after:]))
            process.stdin.close()
            returncode = process.wait(timeout=300)
        stderr = RunResult(returncode, stderr_file.read_text(errors="replace"), [])
        assert returncode == 0, stderr.explain()
        watcher.join(timeout=30)
        return seen

    def test_an_older_roster_version_changes_nothing(
        self, database_url: str, tmp_path: Path, request: pytest.FixtureRequest
    ) -> None:
        """Newer wins for rosters: version 1 arriving after version 2 deletes no one."""
        store = self._store()
        url = fresh_database(database_url, tmp_path, request, "roster-versions")

        def roster(version: int, ids: list[int]) -> list[bytes]:
            messages = [
                m
                for m in store.messages(roster_version=version, roster_ids=ids)
                if m.get("stream") == "customer_roster" or m["type"] == "STATE"
            ]
            messages += manifest_messages(messages, store.shop_domain, store.now)
            return to_lines(messages).encode().splitlines()

        # Allow any deletion share, so only the version rule can keep the accounts.
        allow = {"max_roster_deletion_share": 1}
        assert self.run_lines(url, good_input(store), tmp_path).returncode == 0
        newer = self.run_lines(url, roster(2, sorted(store.customers)), tmp_path, allow)
        assert newer.returncode == 0, newer.explain()
        stale = self.run_lines(url, roster(1, [1, 2, 3]), tmp_path, allow)
        assert stale.returncode == 0, stale.explain()
        assert self.live_customer_ids(url, store.shop_domain) == set(store.customers)
