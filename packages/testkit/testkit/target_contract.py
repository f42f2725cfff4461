"""The contract every target of this suite passes, as a reusable pytest class.

A target for another platform subclasses :class:`TargetContract`, names its executable and
answers four questions about its own database; the tests here then check the guarantees
the suite promises: replaying input changes nothing, any split into runs gives the same
result, customers missing from the roster are deleted, unparseable records are
quarantined with a reason while the rest is applied, STATE is passed on only once the
records before it are committed, and one sync at a time runs per shop.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import sqlite3
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import IO, Any, ClassVar

import pytest

from testkit.databases import create_postgres_database, drop_postgres_database
from testkit.hostile_contract import HostileInputContract
from testkit.singer_messages import SingerStore, manifest_messages, to_lines


def _second_database(database_url: str, tmp_path: Path, request: pytest.FixtureRequest) -> str:
    """Another empty database on the same backend as ``database_url``."""
    if database_url.startswith("sqlite"):
        return f"sqlite:///{tmp_path / 'second.db'}"
    admin_url = str(request.getfixturevalue("postgres_admin_url"))
    name = create_postgres_database(admin_url)
    request.addfinalizer(lambda: drop_postgres_database(admin_url, name))
    return admin_url.rsplit("/", 1)[0] + f"/{name}"


def complete(messages: list[dict[str, Any]], store: SingerStore) -> list[dict[str, Any]]:
    """The messages followed by the ``sync_manifest`` a complete tap run ends with."""
    return messages + manifest_messages(messages, store.shop_domain, store.now)


class LiveTarget:
    """A target process whose input stays open: fed in parts, its states read as printed.

    ``observe`` is called the moment each state line is read (in the reading thread, before
    the next line), so what it sees is what the target had committed by then at the latest.
    """

    def __init__(
        self,
        executable: str,
        config: dict[str, Any],
        tmp_path: Path,
        name: str,
        observe: Callable[[], Any] = lambda: None,
    ) -> None:
        config_file = tmp_path / f"{executable}-{name}-config.json"
        config_file.write_text(json.dumps(config))
        self.stderr_file = tmp_path / f"{executable}-{name}-stderr.txt"
        self._stderr_sink: IO[bytes] = self.stderr_file.open("wb")
        self.process = subprocess.Popen(
            [str(Path(sys.executable).parent / executable), "--config", str(config_file)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=self._stderr_sink,
        )
        self.pid = self.process.pid
        #: ``(state, what observe() returned when it was read)``, in printed order.
        self.seen: list[tuple[Any, Any]] = []
        self._printed = threading.Condition()
        self._observe = observe
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.process.stdout is not None
        for raw in self.process.stdout:
            if raw.strip():
                state = json.loads(raw)
                observed = self._observe()
                with self._printed:
                    self.seen.append((state, observed))
                    self._printed.notify_all()

    @property
    def states(self) -> list[Any]:
        """The states printed so far."""
        with self._printed:
            return [state for state, _ in self.seen]

    def send(self, messages: list[dict[str, Any]]) -> None:
        """Write messages to the target's input, keeping it open."""
        assert self.process.stdin is not None
        self.process.stdin.write(to_lines(messages).encode())
        self.process.stdin.flush()

    def wait_for_states(self, count: int, timeout: float = 60) -> bool:
        """Whether ``count`` states were printed within ``timeout`` seconds."""
        deadline = time.monotonic() + timeout
        with self._printed:
            while len(self.seen) < count and self.process.poll() is None:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    break
                self._printed.wait(min(remaining, 0.5))
            return len(self.seen) >= count

    def finish(self, timeout: float = 120) -> int:
        """Close the input and wait for the exit; returns the exit code."""
        assert self.process.stdin is not None
        self.process.stdin.close()
        code = self.process.wait(timeout=timeout)
        self._reader.join(timeout=30)
        self._stderr_sink.close()
        return code

    def kill(self) -> None:
        """SIGKILL: the process gets no chance to commit, release or record anything."""
        if self.process.poll() is None:
            os.kill(self.pid, signal.SIGKILL)
        self.process.wait(timeout=30)
        self._stderr_sink.close()

    def stderr(self) -> str:
        """The stderr written so far (the tail, for assertion messages)."""
        self._stderr_sink.flush()
        return self.stderr_file.read_text(errors="replace")[-3000:]


def _up_to_first_state(messages: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The messages up to and including the first STATE."""
    end = next(i for i, m in enumerate(messages) if m["type"] == "STATE")
    return messages[: end + 1]


class _SqliteWriteLock:
    """Holds SQLite's write lock, so no other connection can commit until released."""

    def __init__(self, database_url: str) -> None:
        self.connection = sqlite3.connect(
            database_url.removeprefix("sqlite:///"), isolation_level=None
        )
        self.connection.execute("BEGIN IMMEDIATE")

    def release(self) -> None:
        self.connection.execute("ROLLBACK")
        self.connection.close()


class TargetContract(HostileInputContract):
    """Subclass as ``class TestMyTargetContract(TargetContract)`` and fill in the hooks.

    Hooks: ``config``, ``observable_state``, ``live_customer_ids``, ``quarantined``, and for
    the hostile-input part ``dead_letters``, ``quarantined_records`` and ``run_outcomes``
    (see :class:`testkit.hostile_contract.HostileInputContract`).
    """

    #: The target's console script, looked up beside the running Python.
    executable: ClassVar[str]

    #: The setting after which a silent lock holder on another host counts as gone.
    lock_lease_setting: ClassVar[str] = "lock_lease_seconds"

    def config(self, database_url: str) -> dict[str, Any]:
        """The target's config for a database (defaults suited to contract checks)."""
        raise NotImplementedError

    def observable_state(self, database_url: str, shop_domain: str) -> Any:
        """Everything a user of the destination sees for a shop, without run bookkeeping
        (run ids, wall-clock stamps), in a comparable form."""
        raise NotImplementedError

    def live_customer_ids(self, database_url: str, shop_domain: str) -> set[int]:
        """Ids of the shop's customers that are not deleted."""
        raise NotImplementedError

    def quarantined(self, database_url: str) -> list[tuple[str, str]]:
        """``(stream, reason)`` for each quarantined record."""
        raise NotImplementedError

    # -- running the target ------------------------------------------------------------

    def run_target(
        self,
        database_url: str,
        messages: list[dict[str, Any]],
        tmp_path: Path,
        overrides: dict[str, Any] | None = None,
    ) -> list[dict[str, Any]]:
        """Run the target's executable on the messages; returns the states it printed.

        A Singer target prints each state value (not a STATE message) once everything
        before it is safely stored. ``overrides`` are merged into the config.
        """
        lines = to_lines(messages).encode().splitlines()
        result = self.run_lines(database_url, lines, tmp_path, overrides, read_back=False)
        assert result.returncode == 0, result.stderr[-4000:]
        return result.states

    @staticmethod
    def sample_store() -> SingerStore:
        """Six customers, a guest and twelve orders, with a partial and a full refund."""
        store = SingerStore()
        for customer_id in range(1, 7):
            store.customer(customer_id)
        for order_id in range(1001, 1013):
            customer_id = None if order_id == 1012 else 1 + order_id % 6
            store.order(order_id, customer_id, total=f"{40 + order_id % 7 * 15}.50")
        store.refund(1003, 7001, "10.00")
        store.refund(1004, 7002, store.orders[1004]["total_price_set"]["shop_money"]["amount"])
        return store

    # -- the contract --------------------------------------------------------------------

    def test_replaying_the_same_input_changes_nothing(
        self, database_url: str, tmp_path: Path
    ) -> None:
        """Re-running a sync never duplicates an event, ledger entry or contact."""
        store = self.sample_store()
        messages = store.messages(roster_version=1)
        self.run_target(database_url, messages, tmp_path)
        first = self.observable_state(database_url, store.shop_domain)
        assert first, "the first run left nothing to observe"
        self.run_target(database_url, messages, tmp_path)
        assert self.observable_state(database_url, store.shop_domain) == first

    def test_any_split_into_runs_gives_the_same_result(
        self, database_url: str, tmp_path: Path, request: pytest.FixtureRequest
    ) -> None:
        """A sync killed and resumed (so split into several runs) ends where one run does."""
        store = self.sample_store()
        whole = complete(store.messages(roster_version=1), store)
        self.run_target(database_url, whole, tmp_path)
        expected = self.observable_state(database_url, store.shop_domain)

        other_url = _second_database(database_url, tmp_path, request)
        schemas = [m for m in whole if m["type"] == "SCHEMA" and m["stream"] != "customer_roster"]
        records = [
            m
            for m in whole
            if m["type"] == "RECORD" and m["stream"] not in {"customer_roster", "sync_manifest"}
        ]
        for start in range(0, len(records), 5):
            self.run_target(other_url, schemas + records[start : start + 5], tmp_path)
        roster = complete(store.messages(roster_version=1), store)
        self.run_target(other_url, roster, tmp_path)
        assert self.observable_state(other_url, store.shop_domain) == expected

    def test_a_customer_missing_from_the_roster_is_deleted(
        self, database_url: str, tmp_path: Path
    ) -> None:
        """Shopify offers no deletion feed: the roster is how deletions are seen."""
        store = self.sample_store()
        self.run_target(database_url, complete(store.messages(roster_version=1), store), tmp_path)
        assert self.live_customer_ids(database_url, store.shop_domain) == set(range(1, 7))
        remaining = [1, 2, 3, 4, 6]
        roster_only = [
            m
            for m in store.messages(roster_version=2, roster_ids=remaining)
            if m.get("stream") == "customer_roster" or m["type"] == "STATE"
        ]
        # Deletions wait for the manifest saying the roster is complete; 1 of 6 is more than
        # the default max_roster_deletion_share, so this run allows it.
        allow = {"max_roster_deletion_share": 0.5}
        self.run_target(database_url, complete(roster_only, store), tmp_path, allow)
        assert self.live_customer_ids(database_url, store.shop_domain) == set(remaining)

    def test_a_roster_deleting_more_than_the_allowed_share_applies_nothing(
        self, database_url: str, tmp_path: Path
    ) -> None:
        """A roster that would delete 1 of 6 accounts (16.7% > the default 5%) is refused."""
        store = self.sample_store()
        self.run_target(database_url, complete(store.messages(roster_version=1), store), tmp_path)
        roster_only = [
            m
            for m in store.messages(roster_version=2, roster_ids=[1, 2, 3, 4, 6])
            if m.get("stream") == "customer_roster" or m["type"] == "STATE"
        ]
        lines = to_lines(complete(roster_only, store)).encode().splitlines()
        result = self.run_lines(database_url, lines, tmp_path)
        assert result.returncode != 0, result.explain()
        assert "max_roster_deletion_share" in result.stderr, result.last_error()
        assert self.live_customer_ids(database_url, store.shop_domain) == set(range(1, 7))
        assert result.outcomes[-1:] == ["failed"], result.explain()

    def test_unparseable_records_are_quarantined_and_the_rest_applied(
        self, database_url: str, tmp_path: Path
    ) -> None:
        """Nothing is lost and nothing skipped silently: a bad record lands in quarantine."""
        store = self.sample_store()
        store.order(1013, 1, total="10.00")["total_price_set"]["shop_money"]["amount"] = "ten"
        self.run_target(database_url, store.messages(roster_version=1), tmp_path)
        reasons = self.quarantined(database_url)
        assert [stream for stream, _ in reasons] == ["orders"]
        assert "total_price_set" in reasons[0][1]
        assert self.live_customer_ids(database_url, store.shop_domain) == set(range(1, 7))

    def test_state_is_passed_on_after_the_records_before_it(
        self, database_url: str, tmp_path: Path
    ) -> None:
        """Meltano resumes from the STATE a target prints, so the last one must come out."""
        store = self.sample_store()
        printed = self.run_target(database_url, store.messages(roster_version=1), tmp_path)
        assert printed, "the target printed no state"
        assert printed[-1] == {"roster_version": 1}

    # -- one sync at a time per shop, STATE after commit ---------------------------------

    def _hold_the_shop(
        self, database_url: str, store: SingerStore, tmp_path: Path, name: str
    ) -> LiveTarget:
        """A running sync of the store's shop, its customers committed, its input open."""
        holder = LiveTarget(self.executable, self.config(database_url), tmp_path, name)
        holder.send(_up_to_first_state(store.messages()))
        if not holder.wait_for_states(1):
            holder.kill()
            pytest.fail(f"the holder printed no state: {holder.stderr()}")
        return holder

    @staticmethod
    def _newcomer(store: SingerStore) -> list[dict[str, Any]]:
        """One new customer of the same shop (id 99), as a run of its own."""
        other = SingerStore(shop_domain=store.shop_domain, now=store.now)
        other.customer(99)
        return _up_to_first_state(other.messages())

    def test_a_second_sync_of_the_shop_is_refused_naming_the_running_one(
        self, database_url: str, tmp_path: Path
    ) -> None:
        """While a sync of a shop runs, another is refused at once, says which sync holds
        the shop (pid and host) and changes nothing, even when the holder has been quiet
        for longer than the lease: on the same host a live pid keeps its lock."""
        store = self.sample_store()
        holder = self._hold_the_shop(database_url, store, tmp_path, "holder")
        try:
            lines = to_lines(self._newcomer(store)).encode().splitlines()
            for lease in (None, 0):
                overrides = None if lease is None else {self.lock_lease_setting: lease}
                second = self.run_lines(database_url, lines, tmp_path, overrides)
                why = f"lease {lease}: {second.explain()}"
                assert second.returncode != 0, why
                assert f"pid {holder.pid}" in second.stderr, why
                assert socket.gethostname() in second.stderr, why
                assert second.outcomes[-1:] == ["refused"], why
                assert 99 not in self.live_customer_ids(database_url, store.shop_domain), why
            # The holder was not disturbed: it still holds the shop and ends normally.
            assert holder.process.poll() is None, holder.stderr()
            holder.send([{"type": "STATE", "value": {"contract_lock": "released"}}])
            assert holder.finish() == 0, holder.stderr()
        finally:
            holder.kill()
        outcomes = self.run_outcomes(database_url)
        assert "abandoned" not in outcomes, outcomes
        assert outcomes.count("refused") == 2, outcomes
        assert holder.states[-1:] == [{"contract_lock": "released"}], holder.states

    def test_a_sync_killed_with_sigkill_does_not_block_the_next(
        self, database_url: str, tmp_path: Path
    ) -> None:
        """A holder killed with -9 releases nothing; the next sync takes the shop over at
        once (default lease) and records the dead one as abandoned."""
        store = self.sample_store()
        holder = self._hold_the_shop(database_url, store, tmp_path, "killed")
        holder.kill()
        lines = to_lines(self._newcomer(store)).encode().splitlines()
        after = self.run_lines(database_url, lines, tmp_path)
        assert after.returncode == 0, after.explain()
        assert 99 in self.live_customer_ids(database_url, store.shop_domain), after.explain()
        assert after.outcomes[:1] == ["abandoned"], after.explain()
        assert "running" not in after.outcomes, after.explain()

    def test_each_state_is_printed_only_once_its_records_are_committed(
        self, database_url: str, tmp_path: Path
    ) -> None:
        """Meltano stores each printed state at once, and a crash resumes from it: every
        STATE must come out while the input is still open (the target drains on STATE),
        only after the records before it are committed, and a repeated state only once.

        On SQLite the test holds the database's write lock while it sends each part, so a
        target that printed a state before its commit is caught in the act."""
        store = self.sample_store()
        url = database_url
        shop = store.shop_domain
        live = LiveTarget(
            self.executable,
            self.config(url),
            tmp_path,
            "states",
            observe=lambda: self.live_customer_ids(url, shop),
        )
        schema = store.messages()[0]
        customers = [m for m in store.messages() if m["type"] == "RECORD"][:6]
        try:
            for part in range(1, 4):
                messages = customers[2 * part - 2 : 2 * part]
                # A fractional number too: taps keep measured costs and rates in their state.
                value = {"contract_position": part, "pages_per_second": part / 4}
                messages.append({"type": "STATE", "value": value})
                blocked = part > 1 and url.startswith("sqlite")
                lock = _SqliteWriteLock(url) if blocked else None
                live.send(([schema] if part == 1 else []) + messages)
                if lock is not None:
                    time.sleep(1)  # the target has read the part and waits for the lock
                    printed = live.states
                    lock.release()
                    assert len(printed) == part - 1, f"printed {printed} before committing"
                assert live.wait_for_states(part), (
                    f"state {part} not printed while the input stays open: {live.stderr()}"
                )
                state, committed = live.seen[part - 1]
                assert state == {"contract_position": part, "pages_per_second": part / 4}
                expected = {r["record"]["id"] for r in customers[: 2 * part]}
                assert committed == expected, f"{state} printed with customers {committed}"
            live.send(
                [{"type": "STATE", "value": {"contract_position": 3, "pages_per_second": 0.75}}]
            )
            assert live.finish() == 0, live.stderr()
        finally:
            live.kill()
        assert live.states == [
            {"contract_position": n, "pages_per_second": n / 4} for n in (1, 2, 3)
        ]
