"""The contract every target of this suite passes, as a reusable pytest class.

A target for another platform subclasses :class:`TargetContract`, names its executable and
answers four questions about its own database; the tests here then check the guarantees
the suite promises: replaying input changes nothing, any split into runs gives the same
result, customers missing from the roster are deleted, unparseable records are
quarantined with a reason while the rest is applied, and STATE is passed on.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, ClassVar

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


class TargetContract(HostileInputContract):
    """Subclass as ``class TestMyTargetContract(TargetContract)`` and fill in the hooks.

    Hooks: ``config``, ``observable_state``, ``live_customer_ids``, ``quarantined``, and for
    the hostile-input part ``dead_letters``, ``quarantined_records`` and ``run_outcomes``
    (see :class:`testkit.hostile_contract.HostileInputContract`).
    """

    #: The target's console script, looked up beside the running Python.
    executable: ClassVar[str]

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
