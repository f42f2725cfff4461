"""Strict reading of a Singer record's fields, with one rejection that names stream, key and field.

singer-sdk's per-record JSON Schema validation is off in the targets (it costs most of their
CPU), so a target's parser is the validation: every field its rules read goes through a
``FieldReader``, which returns the checked value or raises ``RecordRejected``. The reasons are
the record contract's bounds (``target_runtime.edge``), worded once for every target, so a
merchant reads the same reason whichever target quarantined the record.

A target subclasses the reader for its own key (how a record is named in messages and the
quarantine), its own text bounds, and the rejection type its sinks catch.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from typing import Any, ClassVar, TypeVar

from singer_sdk.exceptions import InvalidRecord

from target_runtime.edge import (
    DEFAULT_TEXT_LIMIT,
    MAX_COUNT,
    MAX_ID,
    MONEY_LIMIT,
    MONEY_PLACES,
    PLAIN_AMOUNT_PATTERN,
    TAG_LIMIT,
    TEXT_LIMITS,
    printable_key,
    text_problem,
)

__all__ = ["FieldReader", "RecordRejected", "is_plain_amount", "record_key"]

T = TypeVar("T")
_ZERO = Decimal(0)
_PLAIN_AMOUNT = re.compile(PLAIN_AMOUNT_PATTERN).match
#: Longest text taken as a money amount before parsing it.
_AMOUNT_CHARS = 64


class RecordRejected(InvalidRecord, ValueError):  # noqa: N818 - the issue's and SDK's naming
    """One record cannot be read: skippable, the target quarantines it and the run goes on.

    An ``InvalidRecord`` (a ``SkippableSyncError``) for singer-sdk and for callers that sort
    errors by what to do about them; a ``ValueError`` for code that catches a bad value.
    """

    #: How the message reads; a target may word it its own way (its reports quote it).
    message_format: ClassVar[str] = "{stream} record {key}: field '{field}': {reason}"

    def __init__(
        self,
        stream: str,
        key: str,
        field: str,
        reason: str,
        record: Mapping[str, Any] | None = None,
    ) -> None:
        """Name the record and the field at fault.

        Args:
            stream: The Singer stream.
            key: The record's name within its stream (for instance ``shop/id``).
            field: The offending field (a dotted path).
            reason: What is wrong with it.
            record: The record, when the caller has it.
        """
        message = self.message_format.format(stream=stream, key=key, field=field, reason=reason)
        super().__init__(message, dict(record or {}))
        # The SDK prefixes its own label; the message alone is what reports and logs quote.
        self.args = (message,)
        self.stream, self.key, self.field, self.reason = stream, key, field, reason


def is_plain_amount(value: Any) -> bool:
    """Whether a value is an amount as Shopify writes it (``PLAIN_AMOUNT_PATTERN``).

    Such an amount passes every money check, so a fast path needs no other.
    """
    return type(value) is str and _PLAIN_AMOUNT(value) is not None


def record_key(record: Mapping[str, Any]) -> str:
    """The ``shop_domain/id`` key of a raw record, with ``?`` for a missing part.

    Args:
        record: The raw record.

    Returns:
        The printable key.
    """
    shop, rid = record.get("shop_domain"), record.get("id")
    shop_part = shop if isinstance(shop, str) else "?"
    return printable_key(f"{shop_part}/{rid if rid is not None else '?'}")


def _bound_text(limit: int) -> str:
    """``2**31-1`` for a limit one below a power of two, else the number."""
    power = (limit + 1).bit_length() - 1
    return f"2**{power}-1" if 2**power == limit + 1 else f"{limit:,}"


class FieldReader:
    """Reads the fields of one record; every failure names the stream, the key and the field.

    Each accessor reads ``field`` from the record, or from ``source`` (a nested object) when
    given; the ``check_*`` forms check a value the caller already holds. ``optional`` says
    whether null (or absent) is a value; else it is rejected.
    """

    #: The rejection this reader raises (a target's subclass of ``RecordRejected``).
    rejection: ClassVar[type[RecordRejected]] = RecordRejected
    #: Text bounds by field name (the last segment of a dotted path); the rest
    #: ``DEFAULT_TEXT_LIMIT``. A target adds its columns' bounds; it never loosens these.
    text_limits: ClassVar[Mapping[str, int]] = TEXT_LIMITS

    def __init__(self, stream: str, record: Mapping[str, Any], key: str | None = None) -> None:
        """Read one record.

        Args:
            stream: The Singer stream.
            record: The raw record.
            key: How the record is named; by default ``key_of(record)``.
        """
        self.stream = stream
        self.record = record
        self.key = self.key_of(record) if key is None else key

    @classmethod
    def key_of(cls, record: Mapping[str, Any]) -> str:
        """How a record is named in rejections (default ``shop_domain/id``).

        Args:
            record: The raw record.

        Returns:
            The key.
        """
        return record_key(record)

    def fail(self, field: str, reason: str) -> RecordRejected:
        """The rejection of this record for ``field`` (for the caller to raise).

        Args:
            field: The field at fault.
            reason: What is wrong with it.

        Returns:
            The rejection.
        """
        return self.rejection(self.stream, self.key, field, reason, self.record)

    def value(self, field: str, source: Mapping[str, Any] | None = None) -> Any:
        """The raw value of ``field`` in the record (or in ``source``)."""
        return (self.record if source is None else source).get(field)

    def within(self, prefix: str, read: Callable[[], T]) -> T:
        """Run ``read`` on a nested object; a failure names the field with its path.

        Args:
            prefix: The nested object's path (``line_items``).
            read: Reads fields of the nested object, naming them relative to it.

        Returns:
            What ``read`` returns.
        """
        try:
            return read()
        except RecordRejected as error:
            if error.field.startswith(prefix):
                raise
            raise self.fail(f"{prefix}.{error.field}", error.reason) from None

    def shop(self) -> str:
        """The record's ``shop_domain``: present, non-empty, storable text."""
        value = self.record.get("shop_domain")
        if not isinstance(value, str) or not value:
            raise self.fail("shop_domain", "missing or empty shop_domain")
        if problem := text_problem(value, self.text_limit("shop_domain")):
            raise self.fail("shop_domain", problem)
        return value

    def _int(self, field: str, value: Any) -> int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise self.fail(field, f"expected an integer, got {type(value).__name__}")
        return value

    def check_id(self, field: str, value: Any, *, optional: bool = False) -> int | None:
        """An id: an integer from 1 to 2**63-1 (fits BIGINT)."""
        if value is None and optional:
            return None
        if not 1 <= self._int(field, value) <= MAX_ID:
            raise self.fail(field, f"{value} is not an id between 1 and 2**63-1")
        return int(value)

    def integer(
        self, field: str, source: Mapping[str, Any] | None = None, *, optional: bool = False
    ) -> int | None:
        """The id in ``field`` (an integer from 1 to 2**63-1)."""
        return self.check_id(field, self.value(field, source), optional=optional)

    def check_count(
        self, field: str, value: Any, *, optional: bool = False, limit: int = MAX_COUNT
    ) -> int | None:
        """A count or quantity: an integer from 0 to ``limit`` (2**31-1 fits INTEGER)."""
        if value is None and optional:
            return None
        if not 0 <= self._int(field, value) <= limit:
            raise self.fail(field, f"{value} is not a count between 0 and {_bound_text(limit)}")
        return int(value)

    def count(
        self,
        field: str,
        source: Mapping[str, Any] | None = None,
        *,
        optional: bool = False,
        limit: int = MAX_COUNT,
    ) -> int | None:
        """The count in ``field`` (an integer from 0 to ``limit``)."""
        return self.check_count(field, self.value(field, source), optional=optional, limit=limit)

    def text_limit(self, field: str) -> int:
        """The longest text ``field`` may hold, by the last segment of its path."""
        return self.text_limits.get(field.rsplit(".", 1)[-1], DEFAULT_TEXT_LIMIT)

    def check_text(self, field: str, value: Any, *, optional: bool = True) -> str | None:
        """Storable text: a string, no NUL, within the field's bound."""
        if value is None and optional:
            return None
        if not isinstance(value, str):
            raise self.fail(field, f"expected a string, got {type(value).__name__}")
        if problem := text_problem(value, self.text_limit(field)):
            raise self.fail(field, problem)
        return value

    def text(
        self, field: str, source: Mapping[str, Any] | None = None, *, optional: bool = True
    ) -> str | None:
        """The text in ``field`` (null allowed unless ``optional`` is False)."""
        return self.check_text(field, self.value(field, source), optional=optional)

    def check_moment(self, field: str, value: Any, *, optional: bool = False) -> datetime | None:
        """An ISO 8601 date-time with a zone (or a parsed aware datetime), as UTC."""
        if value is None:
            if optional:
                return None
            raise self.fail(field, "missing date-time")
        if isinstance(value, datetime):  # already parsed when the SDK's validation is on
            moment = value
        elif isinstance(value, str):
            try:
                moment = datetime.fromisoformat(value)
            except ValueError:
                raise self.fail(field, f"not an ISO 8601 date-time: {value!r:.60}") from None
        else:
            raise self.fail(field, f"expected a date-time string, got {type(value).__name__}")
        if moment.tzinfo is None:
            raise self.fail(field, f"date-time without a time zone: {value!s:.60}")
        return moment.astimezone(UTC)

    def moment(
        self, field: str, source: Mapping[str, Any] | None = None, *, optional: bool = False
    ) -> datetime | None:
        """The date-time in ``field``, as UTC."""
        return self.check_moment(field, self.value(field, source), optional=optional)

    def amount(self, field: str, value: Any) -> Decimal:
        """A money amount: a decimal string (a JSON number loses cents), storable in NUMERIC(19,4).

        At most four decimals as written, below 10**15 in absolute value, never negative
        (the contract's totals and prices are not).
        """
        if is_plain_amount(value):  # the common case: every check below holds by its shape
            return Decimal(value)
        if not isinstance(value, str):
            number = isinstance(value, int | float | Decimal) and not isinstance(value, bool)
            got = "a JSON number" if number else type(value).__name__
            raise self.fail(field, f"money must be a decimal string, got {got}")
        if len(value) > _AMOUNT_CHARS:
            raise self.fail(field, f"{len(value):,} characters is not a money amount")
        try:
            amount = Decimal(value)
        except InvalidOperation:
            raise self.fail(field, f"not a decimal amount: {value!r:.40}") from None
        if not amount.is_finite():
            raise self.fail(field, f"not a finite amount: {value!r:.40}")
        if abs(amount) >= MONEY_LIMIT:
            raise self.fail(field, f"{amount} exceeds the largest amount stored (10**15)")
        exponent = amount.as_tuple().exponent
        if isinstance(exponent, int) and -exponent > MONEY_PLACES:
            raise self.fail(field, f"{amount} has more than {MONEY_PLACES} decimals")
        if amount < 0:
            raise self.fail(field, f"{amount} is negative; totals and prices are not")
        return amount

    def money(
        self, bag: Any, field: str, *, currency: str | None = None, null_is_zero: bool = False
    ) -> Decimal:
        """The shop-currency amount of a MoneyBag.

        Args:
            bag: The MoneyBag (``{"shop_money": {"amount", "currency_code"}, ...}``).
            field: Its field name, for rejections.
            currency: When given, the shop currency the amount must be in.
            null_is_zero: Whether a null bag reads as zero (else it is rejected).

        Returns:
            The amount.
        """
        if bag is None and null_is_zero:
            return _ZERO
        try:
            shop_money = bag["shop_money"]
            amount = shop_money["amount"]
            code = shop_money.get("currency_code") if currency is not None else None
        except (KeyError, TypeError, AttributeError):
            raise self.fail(field, "expected a MoneyBag with shop_money.amount") from None
        if currency is not None and code != currency:
            raise self.fail(field, f"shop money in {code!r:.20}, expected shop currency {currency}")
        return self.amount(f"{field}.shop_money.amount", amount)

    def tags(self, field: str = "tags") -> tuple[str, ...]:
        """A list of storable tags (null reads as none); a bad tag is named by its index."""
        value = self.record.get(field) or []
        if not isinstance(value, list) or not all(isinstance(tag, str) for tag in value):
            raise self.fail(field, "expected a list of strings")
        for index, tag in enumerate(value):
            if problem := text_problem(tag, TAG_LIMIT):
                raise self.fail(f"{field}[{index}]", problem)
        return tuple(value)

    def obj(self, field: str, source: Mapping[str, Any] | None = None) -> Mapping[str, Any] | None:
        """The object in ``field``, or None."""
        raw = self.value(field, source)
        if raw is None or isinstance(raw, Mapping):
            return raw
        raise self.fail(field, f"expected an object, got {type(raw).__name__}")

    def list_(self, field: str, source: Mapping[str, Any] | None = None) -> list[Any]:
        """The array in ``field`` (null reads as empty)."""
        raw = self.value(field, source)
        if raw is None:
            return []
        if not isinstance(raw, list):
            raise self.fail(field, f"expected an array, got {type(raw).__name__}")
        return raw
