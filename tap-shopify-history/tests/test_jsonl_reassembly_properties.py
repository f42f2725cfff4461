"""Hypothesis properties of bulk JSONL reassembly by ``__parentId`` (shopify/jsonl.py and
shopify/held.py): any file whose children arrive after their parent rebuilds exactly the
generated trees, however the download is cut into chunks; a child before its parent is
refused."""

from __future__ import annotations

import itertools
import json
from collections.abc import Iterator
from typing import Any
from unittest import mock

import pytest
import requests
from hypothesis import given, settings
from hypothesis import strategies as st
from tap_shopify_history.shopify.client import GraphQLClient
from tap_shopify_history.shopify.errors import BulkOperationError
from tap_shopify_history.shopify.held import read_held
from tap_shopify_history.shopify.jsonl import LineCounter, reassemble

CHILD_FIELDS = {
    "LineItem": "lineItems",
    "RefundLineItem": "refundLineItems",
    "Metafield": "metafields",
}
PROPERTY = settings(max_examples=60, deadline=None)


def gid(kind: str, number: int) -> str:
    return f"gid://shopify/{kind}/{number}"


@st.composite
def bulk_files(draw: st.DrawFn) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """(the file's objects in file order, as Shopify writes them; the trees they encode).

    Each order may hold an inline ``refunds`` list (whose refunds get RefundLineItem child
    lines), LineItem child lines, and Metafield lines whose parent is a LineItem line. The
    children of a root come after it in any order that keeps every child after its parent.
    """
    numbers = iter(range(1, 10_000))
    objects: list[dict[str, Any]] = []
    trees: list[dict[str, Any]] = []
    for _ in range(draw(st.integers(0, 5))):
        root_id = gid("Order", next(numbers))
        updated = f"2024-01-01T00:00:0{draw(st.integers(0, 3))}Z"
        refund_ids = [gid("Refund", next(numbers)) for _ in range(draw(st.integers(0, 2)))]
        note = draw(st.text(st.characters(exclude_categories=["Cs"]), max_size=8))
        root: dict[str, Any] = {"id": root_id, "updatedAt": updated, "note": note}
        if draw(st.booleans()) or refund_ids:
            root["refunds"] = [{"id": refund_id, "note": None} for refund_id in refund_ids]
        # (parent id, child object) pairs still to be written.
        pending = [
            (root_id, {"id": gid("LineItem", next(numbers)), "quantity": q})
            for q in draw(st.lists(st.integers(1, 3), max_size=3))
        ]
        pending += [
            (refund_id, {"id": gid("RefundLineItem", next(numbers))})
            for refund_id in refund_ids
            for _ in range(draw(st.integers(0, 2)))
        ]
        tree = json.loads(json.dumps(root))
        nodes = {root_id: tree, **{r["id"]: r for r in tree.get("refunds", [])}}
        objects.append(root)
        written = {root_id, *refund_ids}
        while pending:
            ready = [i for i, (parent, _) in enumerate(pending) if parent in written]
            parent_id, child = pending.pop(draw(st.sampled_from(ready)))
            objects.append({**child, "__parentId": parent_id})
            written.add(child["id"])
            copy = dict(child)
            field = CHILD_FIELDS[child["id"].split("/")[3]]
            nodes[parent_id].setdefault(field, []).append(copy)
            nodes[child["id"]] = copy
            if "/LineItem/" in child["id"] and draw(st.booleans()):
                pending.append((child["id"], {"id": gid("Metafield", next(numbers))}))
        trees.append(tree)
    return objects, trees


def lines_of(objects: list[dict[str, Any]]) -> list[bytes]:
    return [json.dumps(obj, ensure_ascii=False).encode() for obj in objects]


@PROPERTY
@given(bulk_files())
def test_reassembly_rebuilds_every_tree_and_counts_every_line(file):
    objects, trees = file
    counter = LineCounter()
    assert list(reassemble(lines_of(objects), CHILD_FIELDS, counter)) == trees
    assert (counter.lines, counter.roots) == (len(objects), len(trees))


@PROPERTY
@given(bulk_files())
def test_held_roots_decode_and_sort_to_the_same_trees(file):
    objects, trees = file
    counter = LineCounter()
    held = read_held(lines_of(objects), CHILD_FIELDS, counter, completion_fields=("refunds",))
    assert list(held) == trees
    assert (counter.lines, counter.roots) == (len(objects), len(trees))
    # Only a root with a non-empty inline refunds list is decoded ahead for completion.
    assert [root.completes for root in held.roots] == [bool(t.get("refunds")) for t in trees]
    held.sort()
    completed = held.for_completion()
    assert completed == [t for t in sorted(trees, key=by_time_and_id) if t.get("refunds")]
    assert list(held.nodes()) == sorted(trees, key=by_time_and_id)


def by_time_and_id(tree: dict[str, Any]) -> tuple[str, str]:
    return tree["updatedAt"], tree["id"]


class ChunkedBody:
    """A response body that ``read`` returns in the given chunks, whatever size is asked."""

    def __init__(self, chunks: list[bytes]) -> None:
        self._chunks = iter(chunks)

    def read(self, _size: int = -1, **_: Any) -> bytes:
        return next(self._chunks, b"")


def split_at(data: bytes, cuts: list[int]) -> list[bytes]:
    points = sorted({0, len(data), *(c % (len(data) + 1) for c in cuts)})
    return [data[a:b] for a, b in itertools.pairwise(points)]


def download(chunks: list[bytes]) -> Iterator[bytes]:
    response = requests.Response()
    response.status_code = 200
    response.raw = ChunkedBody(chunks)
    client = GraphQLClient("http://shop.invalid/graphql.json", "token")
    with mock.patch.object(requests, "get", return_value=response):
        yield from client.stream_lines("http://files.invalid/result.jsonl")


@PROPERTY
@given(
    bulk_files(),
    st.lists(st.integers(0, 50_000), max_size=30),
    st.sampled_from([b"\n", b"\r\n"]),
    st.booleans(),
)
def test_any_split_of_the_download_into_chunks_gives_the_same_records(
    file, cuts, newline, trailing
):
    objects, trees = file
    data = newline.join(lines_of(objects)) + (newline if trailing and objects else b"")
    lines = list(download(split_at(data, cuts)))
    assert lines == lines_of(objects)
    assert list(read_held(lines, CHILD_FIELDS)) == trees


@PROPERTY
@given(bulk_files().filter(lambda f: any("__parentId" in o for o in f[0])), st.data())
def test_a_child_before_its_parent_is_refused(file, data):
    objects, _ = file
    children = [i for i, o in enumerate(objects) if "__parentId" in o]
    moved = data.draw(st.sampled_from(children))
    parent_id = objects[moved]["__parentId"]
    # Its parent's line, or for a refund's child the line of the root holding the refund.
    holder = next(
        i
        for i, o in enumerate(objects)
        if o.get("id") == parent_id or any(r["id"] == parent_id for r in o.get("refunds", []))
    )
    reordered = [*objects[:holder], objects[moved], *objects[holder:moved], *objects[moved + 1 :]]
    with pytest.raises(BulkOperationError, match="not the current root"):
        list(reassemble(lines_of(reordered), CHILD_FIELDS))
    with pytest.raises(BulkOperationError, match="not the current root"):
        read_held(lines_of(reordered), CHILD_FIELDS)
