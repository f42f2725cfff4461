"""The base classes of the streams: store session, entity hooks, emission.

Each run reads ``updated_at >= bookmark - lookback`` (windows of bulk jobs, or cursor pages),
emits records sorted by ``updated_at`` and drops only versions already emitted at the edge.
The bookmark, the edge set and the running bulk jobs live in the stream's state.
"""

from __future__ import annotations

from collections.abc import Generator, Iterable, Iterator
from typing import Any, ClassVar

import singer_sdk.singerlib as singer
from singer_sdk import SchemaDirectory, StreamSchema
from singer_sdk.helpers.conform import TypeConformanceLevel
from singer_sdk.helpers.types import Context
from singer_sdk.mapper import SameRecordTransform, StreamMap

from tap_shopify_history import schemas
from tap_shopify_history.exceptions import ShopifySyncError
from tap_shopify_history.flattening import make_flattening_agree
from tap_shopify_history.manifest import PartTally
from tap_shopify_history.progress import Progress
from tap_shopify_history.recent import RecentEmissions
from tap_shopify_history.record_lines import RecordLineWriter
from tap_shopify_history.sdk_seam import SeamStream, conform_record_data_types, utc_now
from tap_shopify_history.selection import OUTSIDE_WINDOW, SelectionRules, window_exclusion
from tap_shopify_history.session import ShopifySession
from tap_shopify_history.shopify.errors import ShopifyError
from tap_shopify_history.shopify.extract import Window, count_window

# Records of one bulk window are held in memory to be sorted and completed.
DEFAULT_WINDOW = 25_000


class ShopifyStream(SeamStream):
    """Common wiring: the store session, fast emission, Shopify errors made fatal."""

    primary_keys: ClassVar[list[str]] = ["shop_domain", "id"]
    # Each stream's JSON Schema file, `schemas/<stream name>.json` (the record contract).
    schema = StreamSchema(SchemaDirectory(schemas))
    # Records are built to match the schema exactly (tested), so the SDK's recursive
    # conformance pass is pure overhead on the hot path.
    TYPE_CONFORMANCE_LEVEL = TypeConformanceLevel.NONE

    _maps_agree = False

    @property
    def stream_maps(self) -> list[StreamMap]:
        """The SDK's stream maps, each made to flatten in agreement with its schema.

        Returns:
            The maps (the first is the stream's own).
        """
        maps = super().stream_maps
        if not self._maps_agree:
            for stream_map in maps:
                make_flattening_agree(stream_map)
            self._maps_agree = True
        return maps

    @property
    def session(self) -> ShopifySession:
        """The store session shared by all streams of the tap."""
        return self.tap.session  # type: ignore[attr-defined,no-any-return]

    _all_selected: bool | None = None
    # The manifest part the records now being emitted belong to.
    _tally: PartTally | None = None
    # With the webhook queue: ids the queue announced this run; records emitted while
    # re-fetching them (they leave the bookmark alone).
    _announced: frozenset[int] | None = None
    _hinting = False

    # Where records reach stdout as built (see `write_record_message`): the writer and the
    # stream's name in RECORD messages; None until decided, False for the SDK's path.
    _records_as_built: tuple[RecordLineWriter, str] | bool | None = None

    def write_record_message(self, record: dict[str, Any]) -> None:
        """Write the record's RECORD line as built when nothing would change it.

        Any selection, stream map, flattening, conformance level or writer hook takes the
        SDK's path unchanged.

        Args:
            record: The record, after `post_process`.
        """
        direct = self._records_as_built
        if direct is None:
            direct = self._records_as_built = self._direct_record_writer()
        if not direct:
            super().write_record_message(record)
            return
        writer, stream = direct  # type: ignore[misc]
        writer.write_record(stream, record, self.stream_version, utc_now())
        self._count_emitted(record)
        self.state_manager.is_flushed = False

    def _direct_record_writer(self) -> tuple[RecordLineWriter, str] | bool:
        writer = self.tap.message_writer
        maps = self.stream_maps
        if (
            isinstance(writer, RecordLineWriter)
            and writer.writes_records_directly
            and self.TYPE_CONFORMANCE_LEVEL == TypeConformanceLevel.NONE
            and all(self.mask.values())
            and len(maps) == 1
            and type(maps[0]) is SameRecordTransform
            and not maps[0].flattening_enabled
        ):
            return writer, maps[0].stream_alias
        return False

    def _count_emitted(self, record: dict[str, Any]) -> None:
        if self._tally is not None:
            self._tally.emitted += 1
            if self._tally.unannounced is not None and record["id"] not in (self._announced or ()):
                self._tally.unannounced += 1

    def generate_record_messages(
        self, record: dict[str, Any]
    ) -> Generator[singer.RecordMessage, None, None]:
        """The record's RECORD messages; a record that yields any counts as emitted.

        Args:
            record: The record.

        Yields:
            One message per stream map that keeps the record.
        """
        emitted = False
        for message in self._record_messages(record):
            emitted = True
            yield message
        if emitted:
            self._count_emitted(record)

    def _record_messages(self, record: dict[str, Any]) -> Iterator[singer.RecordMessage]:
        # The SDK walks every record, copying each nested dict, to drop deselected
        # properties. When the catalog deselects nothing that walk never changes a record,
        # so it is skipped; any deselection takes the SDK's own path unchanged.
        if self._all_selected is None:
            self._all_selected = all(self.mask.values())
        if not self._all_selected:
            yield from super().generate_record_messages(record)
            return
        record = conform_record_data_types(
            stream_name=self.name,
            record=record,
            schema=self.effective_schema,
            level=self.TYPE_CONFORMANCE_LEVEL,
            logger=self.logger,
        )
        for stream_map in self.stream_maps:
            mapped = stream_map.transform(record)
            if mapped is not None:
                yield singer.RecordMessage(
                    stream=stream_map.stream_alias,
                    record=mapped,
                    version=self.stream_version,
                    time_extracted=utc_now(),
                )

    def generate_child_contexts(
        self, record: dict[str, Any], context: Context | None
    ) -> Iterable[Context | None]:
        """No context when the stream has no child streams (none of this tap's has).

        singer-sdk otherwise hands each record on as a child context and copies it for
        children that do not exist.

        Args:
            record: The record.
            context: Stream partition.

        Yields:
            Child contexts.
        """
        if not self.child_streams:
            return
        yield from super().generate_child_contexts(record, context)

    @property
    def sample_limit(self) -> int | None:
        """Records a connection test (``--test``) or dry run asks for; None in a real sync.

        singer-sdk caps each stream at this many records and stops it there, so such a run
        reads one small page instead of counting windows and waiting for bulk jobs.
        """
        return self.ABORT_AT_RECORD_COUNT

    def get_records(self, context: Context | None) -> Iterable[dict[str, Any]]:
        """Yield records, turning protocol errors into one fatal error.

        Args:
            context: Stream partition (unused).

        Yields:
            Records.
        """
        try:
            yield from self.read(context)
        except ShopifyError as error:
            msg = f"{self.name}: {error}"
            raise ShopifySyncError(msg) from error

    def read(self, context: Context | None) -> Iterator[dict[str, Any]]:
        """Yield the stream's records.

        Args:
            context: Stream partition.
        """
        raise NotImplementedError


class EntityStream(ShopifyStream):
    """A Shopify entity read by ``updatedAt``: the hooks each entity stream fills in."""

    replication_key = "updated_at"
    is_sorted = True
    entity: ClassVar[str]
    count_document: ClassVar[str]
    count_field: ClassVar[str]
    child_fields: ClassVar[dict[str, str]] = {}
    node_cost_estimate: ClassVar[float] = 10.0
    # Actual points a record costs in pages, for ``auto`` before any page was measured.
    points_per_record_estimate: ClassVar[float] = 10.0

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        """Set up the per-run bookkeeping."""
        super().__init__(*args, **kwargs)
        self._recent = RecentEmissions(None, 0)
        self._progress: Progress | None = None
        # Ids already accounted for in a paginated walk (a walk can return one twice).
        self._seen: set[int] | None = None
        self._outside_window = 0

    # Entity hooks ------------------------------------------------------------------
    def search_terms(self) -> tuple[str, ...]:
        """Extra search terms shared by the count and the read."""
        return ()

    def selection_rules(self) -> SelectionRules:
        """What this stream emits of what it reads (orders: test orders, the range)."""
        return SelectionRules(include_test_orders=True)

    def page_document(self) -> str:
        """The paginated query document."""
        raise NotImplementedError

    def bulk_query(self, search: str | None) -> str:
        """The bulk query for one window.

        Args:
            search: The window's search filter.
        """
        raise NotImplementedError

    def to_record(self, node: dict[str, Any]) -> dict[str, Any]:
        """Map one node to a record.

        Args:
            node: The GraphQL node.
        """
        raise NotImplementedError

    def complete_nodes(self, nodes: list[dict[str, Any]], *, bulk: bool) -> None:
        """Fetch what a page or bulk result left out (in place).

        Args:
            nodes: The nodes.
            bulk: Whether they come from a bulk result.
        """

    def _config_int(self, key: str, default: int) -> int:
        value = self.config.get(key)
        return default if value is None else int(value)

    def _count(self, window: Window) -> int:
        count, exact = count_window(
            self.session.client,
            self.count_document,
            self.count_field,
            window.search(self.search_terms()),
        )
        if not exact:
            # Shopify caps counts (10,000 by default): "at least" means "maybe far more",
            # so report it as more than any window may hold and let the planner split.
            return max(count, self._config_int("bulk_window_max_records", DEFAULT_WINDOW) + 1)
        return count

    def _emit(
        self, nodes: Iterable[dict[str, Any]], window: Window, skip_before: str | None = None
    ) -> Iterator[dict[str, Any]]:
        rules = self.selection_rules()
        # Shopify's search may match more than asked (customers' `updated_at` can match a
        # whole day); what lies before the window was covered by earlier runs.
        lower = max(filter(None, (window.start, skip_before)), default=None)
        for node in nodes:
            record = self.to_record(node)
            if self._seen is not None:
                if record["id"] in self._seen:
                    continue
                self._seen.add(record["id"])
            if self._progress is not None:
                self._progress.tick()
            updated_at = record["updated_at"]
            reason = rules.exclusion(record) or window_exclusion(
                updated_at,
                lower=lower,
                upper=window.end,
                emitted_before=self._recent.already_emitted(record["id"], updated_at),
            )
            if reason == OUTSIDE_WINDOW:
                self._outside_window += 1
                self.logger.warning(
                    "%s %s: updated_at %s is outside the window %s Shopify was asked for; "
                    "not emitted (a later run reads it)",
                    self.name,
                    record["id"],
                    updated_at,
                    window,
                )
            elif reason is not None:
                if self._tally is not None:
                    self._tally.exclude(reason)
            else:
                yield record
