"""Reading nodes: cursor pages sized to the cost budget, and bulk windows reconciled.

No singer-sdk here: the streams decide what to do with the nodes and with state.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from tap_shopify_history.shopify.bulk import BulkOperation, BulkRunner
from tap_shopify_history.shopify.client import GraphQLClient
from tap_shopify_history.shopify.errors import (
    BulkOperationError,
    BulkOperationExpiredError,
    QueryCostExceededError,
    ShopifyRetriableError,
)
from tap_shopify_history.shopify.held import HeldRoots, read_held
from tap_shopify_history.shopify.jsonl import LineCounter
from tap_shopify_history.shopify.queries import ORDER_LINE_ITEMS_PAGE

LOGGER = logging.getLogger("tap_shopify_history.shopify.extract")
TIME_FORMAT = "%Y-%m-%dT%H:%M:%SZ"
EXPIRED_RESUBMITS = 2


def parse_time(value: str) -> datetime:
    """Parse an ISO 8601 UTC time.

    Args:
        value: ``YYYY-MM-DDTHH:MM:SSZ`` (or with an offset).

    Returns:
        An aware datetime.
    """
    parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def format_time(value: datetime) -> str:
    """Format an aware datetime as ``YYYY-MM-DDTHH:MM:SSZ``.

    Args:
        value: The time.

    Returns:
        The formatted time.
    """
    return value.astimezone(UTC).strftime(TIME_FORMAT)


@dataclass(frozen=True)
class Window:
    """A half-open ``updated_at`` window ``[start, end)``; None means unbounded."""

    start: str | None
    end: str | None

    def __str__(self) -> str:
        """For people: ``updated_at from 2026-01-01T00:00:00Z until 2026-02-01T00:00:00Z``."""
        start = f"from {self.start}" if self.start else "from the beginning"
        end = f"until {self.end}" if self.end else "until now"
        return f"updated_at {start} {end}"

    def search(self, extra: tuple[str, ...] = ()) -> str | None:
        """The Shopify search filter of this window.

        Args:
            extra: More filter terms (``test:false``).

        Returns:
            The filter, or None when there is nothing to filter.
        """
        terms = list(extra)
        if self.start:
            terms.append(f"updated_at:>='{self.start}'")
        if self.end:
            terms.append(f"updated_at:<'{self.end}'")
        return " AND ".join(terms) or None

    def split(self) -> tuple[Window, Window] | None:
        """Halve the window (None when it is one second or unbounded).

        Returns:
            Two windows or None.
        """
        if not self.start or not self.end:
            return None
        start, end = parse_time(self.start), parse_time(self.end)
        half = (end - start) / 2
        if half < timedelta(seconds=1):
            return None
        middle = format_time(start + timedelta(seconds=int(half.total_seconds())))
        return Window(self.start, middle), Window(middle, self.end)


def plan_windows(
    window: Window, count: Callable[[Window], int], max_records: int, depth: int = 0
) -> list[Window]:
    """Split a bounded window until each part holds at most ``max_records`` (data-sized).

    Args:
        window: The bounded window to cover.
        count: Counts the records of a window (one cheap count query).
        max_records: Records one bulk job should hold at most.
        depth: Recursion depth (bounded).

    Returns:
        Consecutive windows covering ``window``; empty windows are dropped.
    """
    total = count(window)
    if total == 0:
        return []
    halves = window.split() if total > max_records and depth < 24 else None
    if halves is None:
        return [window]
    return [part for half in halves for part in plan_windows(half, count, max_records, depth + 1)]


def count_window(
    client: GraphQLClient, document: str, field_name: str, search: str | None
) -> tuple[int, bool]:
    """One count query (``customersCount`` / ``ordersCount``).

    Args:
        client: The store's client.
        document: The count query, with ``$query``.
        field_name: ``customersCount`` or ``ordersCount``.
        search: The search filter, or None for everything.

    Returns:
        The count and whether it is exact (Shopify caps counts, 10,000 by default, and then
        says ``AT_LEAST``).
    """
    data = client.execute(document, {"query": search}, estimated_cost=2)
    counted = data.get(field_name) or {}
    return int(counted.get("count") or 0), counted.get("precision") != "AT_LEAST"


def count_exactly(
    count: Callable[[Window], tuple[int, bool]],
    window: Window,
    oldest: Callable[[], str],
    depth: int = 0,
) -> int:
    """Count a window exactly: a capped (``AT_LEAST``) count is split in halves and summed.

    Args:
        count: One count query of a window: (count, exact).
        window: The window; its start may be open (then ``oldest()`` bounds it).
        oldest: The oldest ``updated_at`` of the entity (one query, only when needed).
        depth: Recursion depth (bounded).

    Returns:
        The exact number of records.

    Raises:
        BulkOperationError: When one second holds more records than Shopify counts.
    """
    total, exact = count(window)
    if exact:
        return total
    halves = Window(window.start or oldest(), window.end).split() if window.end else None
    if halves is None or depth >= 40:
        msg = f"Shopify counts at least {total} records in {window} and it cannot be split"
        raise BulkOperationError(msg)
    return sum(count_exactly(count, half, oldest, depth + 1) for half in halves)


@dataclass
class PageSizer:
    """Learns a page's cost per node from ``requestedQueryCost`` and sizes the next page."""

    cost_per_node: float
    fixed_cost: float = 2.0
    history: list[int] = field(default_factory=list)
    # What the pages really cost (``actualQueryCost``) and how many nodes they held.
    actual_points: float = 0.0
    actual_nodes: int = 0

    def learn(self, first: int, extensions: Mapping[str, Any], nodes: int = 0) -> None:
        """Update the per-node cost from a response.

        Args:
            first: The page size that was asked for.
            extensions: The response's ``extensions``.
            nodes: Nodes the page held.
        """
        cost = extensions.get("cost") or {}
        requested = cost.get("requestedQueryCost")
        if requested and first:
            self.cost_per_node = max(1.0, (float(requested) - self.fixed_cost) / first)
        actual = cost.get("actualQueryCost")
        if actual is not None and nodes:
            self.actual_points += float(actual)
            self.actual_nodes += nodes

    @property
    def actual_per_node(self) -> float | None:
        """Measured actual points per node, None before any page."""
        return self.actual_points / self.actual_nodes if self.actual_nodes else None


def iter_pages(
    client: GraphQLClient,
    document: str,
    connection: str,
    search: str | None,
    sizer: PageSizer,
    *,
    extra_variables: Mapping[str, Any] | None = None,
    max_page: int | None = None,
) -> Iterator[list[dict[str, Any]]]:
    """Yield each page's nodes, each page sized to what the bucket can pay.

    Args:
        client: The store's client.
        document: A query with ``$first``, ``$after`` and optionally ``$query``.
        connection: The root field holding the connection (``customers``).
        search: The search filter, or None.
        sizer: Page sizing state (learns the cost per node).
        extra_variables: More variables.
        max_page: Fewest nodes a page needs (a connection test reads one record).

    Yields:
        Lists of nodes.
    """
    after: str | None = None
    while True:
        first = client.limiter.page_size(sizer.cost_per_node, sizer.fixed_cost)
        if max_page is not None:
            first = max(1, min(first, max_page))
        variables: dict[str, Any] = {"first": first, "after": after, **(extra_variables or {})}
        if search is not None:
            variables["query"] = search
        estimate = sizer.fixed_cost + first * sizer.cost_per_node
        try:
            data = client.execute(document, variables, estimated_cost=estimate)
        except QueryCostExceededError as error:
            # Our estimate was low: learn the real cost per node and ask for a smaller page.
            if not error.cost or first == 1:
                raise
            sizer.cost_per_node = max(sizer.cost_per_node * 2, float(error.cost) / first)
            continue
        page = data[connection]
        sizer.learn(first, data.get("__extensions") or {}, len(page["nodes"]))
        yield list(page["nodes"])
        info = page["pageInfo"]
        if not info["hasNextPage"]:
            return
        after = info["endCursor"]


def complete_line_items(client: GraphQLClient, order: dict[str, Any]) -> None:
    """Fetch the rest of an order's line items when its first page was not all of them.

    Args:
        client: The store's client.
        order: A paginated ``Order`` node (``lineItems`` as ``{pageInfo, nodes}``).
    """
    connection = order.get("lineItems")
    if not isinstance(connection, dict) or not connection["pageInfo"]["hasNextPage"]:
        return
    items = list(connection["nodes"])
    after = connection["pageInfo"]["endCursor"]
    while after:
        data = client.execute(
            ORDER_LINE_ITEMS_PAGE, {"id": order["id"], "after": after}, estimated_cost=260
        )
        page = data["node"]["lineItems"]
        items.extend(page["nodes"])
        after = page["pageInfo"]["endCursor"] if page["pageInfo"]["hasNextPage"] else None
    order["lineItems"] = items


def _download(
    client: GraphQLClient,
    url: str | None,
    child_fields: Mapping[str, str],
    completion_fields: tuple[str, ...] | None,
    typed: Callable[[bytes], Any | None] | None,
) -> tuple[LineCounter, HeldRoots]:
    # A broken download restarts the file from the top with a fresh reassembly, so no
    # line is counted or attached twice.
    for attempt in range(client.max_retries + 1):
        counter = LineCounter()
        if url is None:
            return counter, HeldRoots(child_fields, typed)
        try:
            lines = client.stream_lines(url)
            return counter, read_held(lines, child_fields, counter, completion_fields, typed)
        except ShopifyRetriableError as error:
            if attempt == client.max_retries:
                raise
            LOGGER.warning("Retrying the bulk result download: %s", error)
            client.sleep(client.retry_delay(attempt))
    raise AssertionError  # pragma: no cover - the loop returns or raises


@dataclass(frozen=True)
class BulkWindowResult:
    """The roots of one finished bulk job (held compactly; iterating decodes each)."""

    operation: BulkOperation
    roots: HeldRoots
    partial: bool


def run_bulk_window(
    runner: BulkRunner,
    client: GraphQLClient,
    query: str,
    child_fields: Mapping[str, str],
    *,
    resume_id: str | None,
    on_submit: Callable[[str], None],
    on_poll: Callable[[BulkOperation], None] | None = None,
    deadline: float | None = None,
    resubmits: int = EXPIRED_RESUBMITS,
    completion_fields: tuple[str, ...] | None = (),
    typed: Callable[[bytes], Any | None] | None = None,
) -> BulkWindowResult:
    """Run (or resume) one bulk job and read its result, reconciled against objectCount.

    Args:
        runner: The bulk runner.
        client: The store's client (downloads the file).
        query: The bulk query.
        child_fields: Child gid type -> parent field, for reassembly.
        resume_id: An operation id from state to resume instead of submitting.
        on_submit: Called with a newly submitted operation's id (to checkpoint it).
        on_poll: Called on every poll.
        deadline: ``runner.clock()`` value by which the job must have finished.
        resubmits: How many times an expired job is submitted again here.
        completion_fields: Inline lists of a root that completion fills in (see
            :func:`tap_shopify_history.shopify.held.read_held`).
        typed: A typed decoder of the roots that need no completion.

    Returns:
        The roots and whether they are partial.

    Raises:
        BulkOperationError: When the rows parsed differ from objectCount.
    """
    operation_id = resume_id
    for attempt in range(resubmits + 1):
        if operation_id is None:
            operation_id = runner.submit(query)
            on_submit(operation_id)
        try:
            result = runner.wait(operation_id, on_poll=on_poll, deadline=deadline)
            counter, roots = _download(client, result.url, child_fields, completion_fields, typed)
            break
        except BulkOperationExpiredError as error:
            # A job from state that is gone, expired, canceled, or whose URL expired:
            # nothing of this window was emitted past the bookmark, so re-running is safe.
            if attempt == resubmits:
                raise BulkOperationError(str(error)) from error
            LOGGER.warning("%s; submitting the query again", error)
            operation_id = None
    else:  # pragma: no cover - the loop breaks or raises
        raise AssertionError
    expected = result.operation.object_count
    if not result.partial and counter.lines != expected:
        msg = (
            f"bulk operation {operation_id}: parsed {counter.lines} rows but Shopify reported "
            f"objectCount {expected}; refusing to advance state"
        )
        raise BulkOperationError(msg)
    return BulkWindowResult(operation=result.operation, roots=roots, partial=result.partial)
