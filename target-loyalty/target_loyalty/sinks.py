"""Sinks: thin wiring from Singer batches to the books.

Each sink parses its batch with the strict parser (quarantining what fails), groups it
by shop, and hands it to :class:`~target_loyalty.books.Books`, one transaction per shop
and batch.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, ClassVar

from target_loyalty.exceptions import RecordError
from target_loyalty.records import (
    parse_customer,
    parse_manifest,
    parse_order,
    parse_privacy_request,
    parse_roster,
)
from target_loyalty.sdk_seam import SeamSink
from target_loyalty.typed_records import ParsedRecord

if TYPE_CHECKING:
    from target_loyalty.target import TargetLoyalty

UNKNOWN_SHOP = "(unknown shop)"


def _shop_of(record: Mapping[str, Any]) -> str:
    shop = record.get("shop_domain")
    return shop if isinstance(shop, str) and shop else UNKNOWN_SHOP


class LoyaltySink(SeamSink):
    """Common plumbing: our own parsing instead of per-record JSON Schema validation."""

    MAX_SIZE_DEFAULT = 20000
    parse: ClassVar[Any] = None

    def __init__(self, target: TargetLoyalty, *args: Any, **kwargs: Any) -> None:
        """Keep the target: it owns the books, the run and the clock."""
        super().__init__(target, *args, **kwargs)
        self.loyalty = target

    @property
    def validate_schema(self) -> bool:
        """JSON Schema validation is opt-in (``validate_records``): the parser is strict."""
        return bool(self.config.get("validate_records", False))

    # A record missing its key must be quarantined, not crash the run: the parser checks
    # keys and names the field. (Without validation the SDK's timestamp parsing is
    # skipped too, see SeamSink: the parser reads ISO strings, and this is the hot path.)
    sdk_checks_key_properties = False

    def process_record(self, record: dict[str, Any], context: dict[str, Any]) -> None:
        """Parse the record as it arrives; the first record of a shop takes its lock at once.

        Only the parsed record is kept until the batch commits (the raw one only when it is
        quarantined), so a batch holds small frozen objects instead of decoded JSON.
        """
        try:
            shop, item = type(self).parse(record)
        except RecordError as error:
            self.logger.warning("Quarantined: %s", error)
            shop = _shop_of(record)
            self.loyalty.ensure_shop(shop)
            context.setdefault("rejects", defaultdict(list))[shop].append((error, record))
            return
        self.take_parsed(ParsedRecord(shop, item), context)

    def take_parsed(self, parsed: ParsedRecord, context: dict[str, Any]) -> None:
        """Keep a parsed record for the batch; the first record of a shop takes its lock."""
        self.loyalty.ensure_shop(parsed.shop)
        context.setdefault("parsed", defaultdict(list))[parsed.shop].append(parsed.item)

    def process_batch(self, context: dict[str, Any]) -> None:
        """Apply each shop's part of the batch; then enforce the rejected-records threshold."""
        parsed: dict[str, list[Any]] = context.get("parsed", {})
        rejects: dict[str, list[tuple[RecordError, dict[str, Any]]]] = context.get("rejects", {})
        now = self.loyalty.wall_clock()
        for shop in sorted(set(parsed) | set(rejects)):
            self.loyalty.ensure_shop(shop)
            tally = self.apply(shop, parsed.get(shop, []), rejects.get(shop, []), now)
            self.loyalty.batch_log.committed(
                stream=self.stream_name,
                records=tally["received"],
                applied=tally["applied"],
                rejected=tally["quarantined"],
            )
        self.loyalty.count_rejects(sum(len(r) for r in rejects.values()))

    def apply(self, shop: str, items: list[Any], rejects: list[Any], now: Any) -> Counter[str]:
        """Hand one shop's part of the batch to the books."""
        raise NotImplementedError


class CustomersSink(LoyaltySink):
    """``customers``: accounts and signup bonuses."""

    parse = staticmethod(parse_customer)

    def apply(self, shop: str, items: list[Any], rejects: list[Any], now: Any) -> Counter[str]:
        """Upsert accounts."""
        return self.loyalty.books.apply_customers(shop, items, rejects, now)


class OrdersSink(LoyaltySink):
    """``orders``: earning, reversals, reconciliation, ownership moves."""

    parse = staticmethod(parse_order)

    def apply(self, shop: str, items: list[Any], rejects: list[Any], now: Any) -> Counter[str]:
        """Book the orders."""
        return self.loyalty.books.apply_orders(shop, items, rejects, now)


class CustomerRosterSink(LoyaltySink):
    """``customer_roster``: the live customer ids of one FULL_TABLE version."""

    parse = staticmethod(parse_roster)

    def start_batch(self, context: dict[str, Any]) -> None:
        """Remember which version the records of this batch belong to."""
        context["version"] = self.loyalty.roster_version

    def apply(self, shop: str, items: list[Any], rejects: list[Any], now: Any) -> Counter[str]:
        """Store the roster rows under the current version."""
        version = self.loyalty.roster_version or 0  # no version: never activated
        tally = self.loyalty.books.apply_roster(shop, items, version, rejects, now)
        self.loyalty.roster_received[shop, version] += len(items)
        return tally

    def activate_version(self, new_version: int) -> None:
        """Customers absent from this version were deleted or merged away."""
        self.loyalty.activate_roster(new_version)


class SyncManifestSink(LoyaltySink):
    """``sync_manifest``: the tap's account of the run, checked at close."""

    parse = staticmethod(parse_manifest)

    def apply(self, shop: str, items: list[Any], rejects: list[Any], now: Any) -> Counter[str]:
        """Store the manifest rows."""
        return self.loyalty.books.apply_manifest(shop, items, rejects, now)


class PrivacyRequestsSink(LoyaltySink):
    """``privacy_requests``: redactions, deletions and data requests, audited."""

    parse = staticmethod(parse_privacy_request)

    def apply(self, shop: str, items: list[Any], rejects: list[Any], now: Any) -> Counter[str]:
        """Apply the requests."""
        return self.loyalty.books.apply_privacy(
            shop, items, rejects, now, self.loyalty.privacy_export_dir
        )


class IgnoredStreamSink(LoyaltySink):
    """Any other stream: nothing to book, but every record is counted with the reason."""

    # Not our contract: keep singer-sdk's own key-property check.
    sdk_checks_key_properties = True

    def process_record(self, record: dict[str, Any], context: dict[str, Any]) -> None:
        """Keep the record to count it: there is nothing to parse."""
        self.loyalty.ensure_shop(_shop_of(record))
        context.setdefault("records", []).append(record)

    def process_batch(self, context: dict[str, Any]) -> None:
        """Record one discrepancy per record."""
        records = context.get("records", [])
        by_shop: dict[str, list[dict[str, Any]]] = defaultdict(list)
        for raw in records:
            by_shop[_shop_of(raw)].append(raw)
        now = self.loyalty.wall_clock()
        for shop, group in by_shop.items():
            self.loyalty.ensure_shop(shop)
            self.loyalty.books.note_ignored(shop, self.stream_name, group, now)
            self.loyalty.batch_log.committed(
                stream=self.stream_name, records=len(group), applied=0, rejected=0
            )
