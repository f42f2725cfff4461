"""A bulk result's roots held compactly: each root's lines as one bytes value, decoded when used.

A bulk window is held whole, to be sorted by ``updatedAt`` and completed, before anything is
emitted. Held as reassembled dicts, 25,000 orders take about 9 KB each and millions of
objects that every garbage collection walks: at that size the collector, not parsing, was
most of the tap's CPU (see the README's Performance section). Here the download reads only
what sorting, reconciling and grouping need from each line (its ``id``, ``updatedAt`` and
``__parentId``), and keeps a root's lines as one ``bytes`` (about 4 KB an order, and bytes
are invisible to the collector). A root becomes a dict, exactly the one
:func:`tap_shopify_history.shopify.jsonl.reassemble` yields, only when it is used: right
before its record is built, or before completion for the few roots that need one.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping
from operator import attrgetter
from typing import Any, NamedTuple

import msgspec

from tap_shopify_history.shopify.errors import BulkOperationError
from tap_shopify_history.shopify.ids import gid_type
from tap_shopify_history.shopify.jsonl import LineCounter, find_in

_decode = msgspec.json.Decoder().decode
GID_PREFIX = "gid://shopify/"


# An inline list completion may fill in, empty or absent: nothing to complete.
_NOTHING_RAW = (msgspec.Raw(b""), msgspec.Raw(b"[]"), msgspec.Raw(b"null"))


def _line_keys_type(completion_fields: tuple[str, ...]) -> type[msgspec.Struct]:
    # What the download reads of each line (msgspec still checks the whole line is JSON):
    # the keys, and the completion fields left undecoded (``Raw``).
    fields: list[tuple[str, Any, Any]] = [
        ("id", Any, None),
        ("updated_at", Any, None),
        ("parent_id", Any, None),
    ]
    rename = {"updated_at": "updatedAt", "parent_id": "__parentId"}
    for position, name in enumerate(completion_fields):
        fields.append((f"completion_{position}", msgspec.Raw, msgspec.Raw()))
        rename[f"completion_{position}"] = name
    return msgspec.defstruct("LineKeys", fields, rename=rename, gc=False)


class HeldRoot(NamedTuple):
    """One root: its sort key, its lines as a JSON array, whether it needs completion."""

    updated_at: str
    id: str
    lines: bytes
    completes: bool


class HeldRoots:
    """The roots of one bulk result in a compact form, sortable, decoded one at a time."""

    def __init__(
        self,
        child_fields: Mapping[str, str],
        typed: Callable[[bytes], Any | None] | None = None,
    ) -> None:
        """Start empty.

        Args:
            child_fields: Child gid type -> field of its parent that collects it.
            typed: Decodes a root that needs no completion into typed rows (orders:
                :func:`tap_shopify_history.shopify.bulk_orders.decode_order`), or None
                to have it decoded generically.
        """
        self._child_fields = child_fields
        self._typed = typed
        # `gid://shopify/LineItem/` -> `lineItems`: a child's field without parsing its gid.
        self._prefixes = [(f"{GID_PREFIX}{kind}/", field) for kind, field in child_fields.items()]
        self.roots: list[HeldRoot] = []
        # Roots decoded ahead of time (for completion), by position in ``roots``.
        self._decoded: dict[int, dict[str, Any]] = {}

    def __len__(self) -> int:
        """The number of roots."""
        return len(self.roots)

    def __iter__(self) -> Iterator[dict[str, Any]]:
        """Each root as a dict with its children attached, in the held order."""
        return self.nodes()

    def sort(self) -> None:
        """Order the roots by ``(updatedAt, id)``, the order records are emitted in."""
        self.roots.sort(key=lambda root: (root.updated_at, root.id))
        self._decoded.clear()

    @property
    def last_updated_at(self) -> str:
        """The ``updatedAt`` of the last root."""
        return self.roots[-1].updated_at

    def decode(self, root: HeldRoot) -> dict[str, Any]:
        """One root as a dict, its children attached as lists (as ``reassemble`` does).

        Args:
            root: A held root.

        Returns:
            The root object (typed rows where the result has a typed decoder).
        """
        if self._typed is not None and not root.completes:
            typed = self._typed(root.lines)
            if typed is not None:
                return typed  # type: ignore[no-any-return]
        return self.decode_generic(root)

    def decode_generic(self, root: HeldRoot) -> dict[str, Any]:
        """One root as a dict, its children attached as lists (as ``reassemble`` does).

        Args:
            root: A held root.

        Returns:
            The root object.
        """
        objects = _decode(root.lines)
        node: dict[str, Any] = objects[0]
        node.pop("__parentId", None)
        if len(objects) == 1:
            return node
        index = {node["id"]: node} if "id" in node else {}
        for child in objects[1:]:
            parent_id = child.pop("__parentId")
            parent = index.get(parent_id) or find_in(node, parent_id)
            assert parent is not None  # checked when the lines were read
            child_id = child["id"]
            parent.setdefault(self._field_of(child_id), []).append(child)
            index[child_id] = child
        return node

    def _field_of(self, child_id: str) -> str:
        for prefix, field in self._prefixes:
            if child_id.startswith(prefix):
                return field
        return self._child_fields[gid_type(child_id)]  # pragma: no cover - checked on read

    def for_completion(self) -> list[dict[str, Any]]:
        """Decode, and keep until emitted, the roots that need completion.

        Returns:
            Those roots, in the held order; completing them in place completes what
            :meth:`nodes` yields.
        """
        self._decoded = {
            position: self.decode_generic(root)
            for position, root in enumerate(self.roots)
            if root.completes
        }
        return list(self._decoded.values())

    def nodes(self, before: str | None = None) -> Iterator[dict[str, Any]]:
        """Yield each root as a dict, decoded only now (or completed earlier).

        Args:
            before: Only the roots whose ``updatedAt`` is before this.

        Yields:
            Root objects.
        """
        for position, root in enumerate(self.roots):
            if before is not None and not root.updated_at < before:
                continue
            decoded = self._decoded.pop(position, None)
            yield decoded if decoded is not None else self.decode(root)


def read_held(
    lines: Iterable[bytes | str],
    child_fields: Mapping[str, str],
    counter: LineCounter | None = None,
    completion_fields: tuple[str, ...] | None = (),
    typed: Callable[[bytes], Any | None] | None = None,
) -> HeldRoots:
    """Read a grouped bulk result into held roots, checking it as ``reassemble`` does.

    Args:
        lines: The JSONL lines of a bulk result.
        child_fields: Child gid type -> field of its parent that collects it, e.g.
            ``{"LineItem": "lineItems"}``.
        counter: Filled with the number of lines and roots read.
        completion_fields: Inline lists of a root that completion fills in (an order's
            ``refunds``): roots with a non-empty one are marked ``completes``; None marks
            every root.
        typed: A typed decoder of the roots that need no completion (see
            :class:`HeldRoots`).

    Returns:
        The roots in file order.

    Raises:
        BulkOperationError: On a line that is not JSON, a child whose parent is not the
            current root (ungrouped output) or a line of an unknown child type.
    """
    counter = counter if counter is not None else LineCounter()
    held = HeldRoots(child_fields, typed)
    fields = completion_fields or ()
    decode_keys: Callable[[bytes], Any] = msgspec.json.Decoder(_line_keys_type(fields)).decode
    # Each completion field's value, read as a C attribute getter (once per root).
    completions = [attrgetter(f"completion_{position}") for position in range(len(fields))]
    prefixes = tuple(prefix for prefix, _ in held._prefixes)
    every_root = completion_fields is None
    roots = held.roots
    # The hot loop keeps its counts and the current root in locals (this is once per line
    # of every bulk file); ``counter`` is brought up to date before anything can raise.
    lines_read = counter.lines
    roots_read = counter.roots
    group: list[bytes] = []
    keys: Any = None
    index: set[str] = set()

    def hold() -> None:
        # The current root (``keys``, ``group``), one tuple of the HeldRoot fields.
        roots.append(
            tuple.__new__(
                HeldRoot,
                (
                    str(keys.updated_at or ""),
                    str(keys.id or ""),
                    b"[" + group[0] + b"]" if len(group) == 1 else b"[" + b",".join(group) + b"]",
                    every_root
                    or any(completion(keys) not in _NOTHING_RAW for completion in completions),
                ),
            )
        )

    try:
        for line in lines:
            raw = line.encode() if isinstance(line, str) else line
            try:
                line_keys = decode_keys(raw)
            except (msgspec.DecodeError, msgspec.ValidationError) as error:
                msg = (
                    f"bulk result line {lines_read + 1} is not valid JSON (file cut short?): "
                    f"{error}"
                )
                raise BulkOperationError(msg) from None
            lines_read += 1
            parent_id = line_keys.parent_id
            if parent_id is None:
                if keys is not None:
                    hold()
                keys, group = line_keys, [raw]
                roots_read += 1
                root_id = line_keys.id
                index = {root_id} if isinstance(root_id, str) else set()
                continue
            if keys is None or (
                # A parent nested in an inline list of the root or of a child line.
                parent_id not in index
                and not any(find_in(_decode(held_line), parent_id) for held_line in group)
            ):
                msg = (
                    f"bulk result line {lines_read}: parent {parent_id} is not the current "
                    "root; the output is not grouped by parent"
                )
                raise BulkOperationError(msg)
            child_id = line_keys.id
            if not (isinstance(child_id, str) and child_id.startswith(prefixes)):
                child_type = gid_type(child_id) if isinstance(child_id, str) else ""
                if child_type not in child_fields:
                    msg = f"bulk result line {lines_read}: unexpected child type {child_type!r}"
                    raise BulkOperationError(msg)
            group.append(raw)
            index.add(child_id)
        if keys is not None:
            hold()
    finally:
        counter.lines = lines_read
        counter.roots = roots_read
    return held
