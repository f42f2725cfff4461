"""Reassembling a bulk operation's JSONL file: child lines join their parent by ``__parentId``.

Shopify flattens nested connections of a bulk query into separate lines; each child line
carries ``__parentId``. Grouped output (the only kind before API 2025-07, and the kind we ask
for after) puts a root's children right after it, so a root is complete as soon as the next
root line arrives: the file is processed line by line in constant memory per root.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from tap_shopify_history.shopify import fastjson
from tap_shopify_history.shopify.errors import BulkOperationError
from tap_shopify_history.shopify.ids import gid_type


@dataclass
class LineCounter:
    """How many lines (objects) the reassembly read: reconciled against objectCount."""

    lines: int = 0
    roots: int = 0


def find_in(obj: Any, gid: str) -> dict[str, Any] | None:
    # Children of inline lists (an order's refunds) name an object nested in the root.
    if isinstance(obj, dict):
        if obj.get("id") == gid:
            return obj
        values: Iterable[Any] = obj.values()
    elif isinstance(obj, list):
        values = obj
    else:
        return None
    for value in values:
        found = find_in(value, gid)
        if found is not None:
            return found
    return None


def reassemble(
    lines: Iterable[bytes | str],
    child_fields: Mapping[str, str],
    counter: LineCounter | None = None,
) -> Iterator[dict[str, Any]]:
    """Yield each root object with its children attached as lists.

    Args:
        lines: The JSONL lines of a bulk result.
        child_fields: Child gid type -> field of its parent that collects it, e.g.
            ``{"LineItem": "lineItems", "Metafield": "metafields"}``.
        counter: Filled with the number of lines and roots read.

    Yields:
        Root objects; a root's children are in ``root[child_fields[type]]`` (a list).

    Raises:
        BulkOperationError: On a child whose parent is not the current root (ungrouped
            output) or a line of an unknown child type.
    """
    counter = counter if counter is not None else LineCounter()
    root: dict[str, Any] | None = None
    index: dict[str, dict[str, Any]] = {}
    for raw in lines:
        try:
            obj = fastjson.loads(raw)
        except ValueError as error:
            msg = (
                f"bulk result line {counter.lines + 1} is not valid JSON (file cut short?): {error}"
            )
            raise BulkOperationError(msg) from None
        counter.lines += 1
        parent_id = obj.pop("__parentId", None)
        if parent_id is None:
            if root is not None:
                yield root
            root = obj
            counter.roots += 1
            index = {obj["id"]: obj} if "id" in obj else {}
            continue
        parent = index.get(parent_id) or (find_in(root, parent_id) if root else None)
        if parent is None:
            msg = (
                f"bulk result line {counter.lines}: parent {parent_id} is not the current "
                "root; the output is not grouped by parent"
            )
            raise BulkOperationError(msg)
        child_type = gid_type(obj["id"]) if "id" in obj else ""
        field = child_fields.get(child_type)
        if field is None:
            msg = f"bulk result line {counter.lines}: unexpected child type {child_type!r}"
            raise BulkOperationError(msg)
        parent.setdefault(field, []).append(obj)
        index[obj["id"]] = obj
    if root is not None:
        yield root
