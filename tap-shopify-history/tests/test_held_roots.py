"""Held bulk roots decode to exactly what ``reassemble`` yields, and are checked the same way."""

from __future__ import annotations

import pytest
from tap_shopify_history.shopify.bulk_orders import decode_order
from tap_shopify_history.shopify.errors import BulkOperationError
from tap_shopify_history.shopify.held import read_held
from tap_shopify_history.shopify.jsonl import LineCounter, reassemble
from tap_shopify_history.shopify.records import order_record

CHILDREN = {"LineItem": "lineItems", "RefundLineItem": "refundLineItems"}
LINES = [
    b'{"id":"gid://shopify/Order/2","updatedAt":"2024-01-01T00:00:05Z","refunds":[]}',
    b'{"id":"gid://shopify/LineItem/21","quantity":1,"__parentId":"gid://shopify/Order/2"}',
    b'{"id":"gid://shopify/Order/1","updatedAt":"2024-01-01T00:00:05Z",'
    b'"refunds":[{"id":"gid://shopify/Refund/9","note":"x"}]}',
    b'{"id":"gid://shopify/LineItem/11","__parentId":"gid://shopify/Order/1"}',
    b'{"id":"gid://shopify/LineItem/12","__parentId":"gid://shopify/Order/1"}',
    # A child of an object nested in the root (a refund of the order's inline list).
    b'{"id":"gid://shopify/RefundLineItem/5","__parentId":"gid://shopify/Refund/9"}',
    b'{"id":"gid://shopify/Order/3","updatedAt":"2024-01-01T00:00:01Z","note":"\xc3\xa9"}',
]


def test_held_roots_decode_as_reassemble_does() -> None:
    counter, expected_counter = LineCounter(), LineCounter()
    held = read_held(LINES, CHILDREN, counter, completion_fields=("refunds",))
    expected = list(reassemble(LINES, CHILDREN, expected_counter))
    assert list(held) == expected
    assert (counter.lines, counter.roots) == (expected_counter.lines, expected_counter.roots)
    # Only the order with a non-empty refunds list needs completion.
    assert [root.completes for root in held.roots] == [False, True, False]


def test_sorted_roots_and_completed_nodes_are_emitted_once_each() -> None:
    held = read_held(LINES, CHILDREN, completion_fields=("refunds",))
    held.sort()
    assert [root.id.rsplit("/", 1)[-1] for root in held.roots] == ["3", "1", "2"]
    (to_complete,) = held.for_completion()
    to_complete["refunds"][0]["completed"] = True  # completion works in place
    nodes = list(held.nodes())
    assert [node["id"] for node in nodes] == [r.id for r in held.roots]
    assert nodes[1]["refunds"][0]["completed"] is True
    assert held.last_updated_at == "2024-01-01T00:00:05Z"
    assert [n["id"] for n in held.nodes(before="2024-01-01T00:00:05Z")] == ["gid://shopify/Order/3"]


def test_every_root_completes_when_no_fields_are_named() -> None:
    held = read_held(LINES, CHILDREN, completion_fields=None)
    assert all(root.completes for root in held.roots)
    assert len(held.for_completion()) == 3


@pytest.mark.parametrize(
    ("lines", "match"),
    [
        (
            [
                b'{"id":"gid://shopify/Order/1"}',
                b'{"id":"gid://shopify/Order/2"}',
                b'{"id":"gid://shopify/LineItem/11","__parentId":"gid://shopify/Order/1"}',
            ],
            "not grouped",
        ),
        ([b'{"id":"gid://shopify/Order/1"}', b'{"id":"gid://sho'], "line 2 is not valid JSON"),
        (
            [
                b'{"id":"gid://shopify/Order/1"}',
                b'{"id":"gid://shopify/Fulfillment/3","__parentId":"gid://shopify/Order/1"}',
            ],
            "unexpected child type 'Fulfillment'",
        ),
    ],
)
def test_held_roots_reject_what_reassemble_rejects(lines: list[bytes], match: str) -> None:
    with pytest.raises(BulkOperationError, match=match):
        list(reassemble(lines, CHILDREN))
    with pytest.raises(BulkOperationError, match=match):
        read_held(lines, CHILDREN)


ORDER_LINES = [
    b'{"id":"gid://shopify/Order/7","name":"#7","updatedAt":"2024-01-01T00:00:05Z",'
    b'"createdAt":"2024-01-01T01:00:00+01:00","test":null,"customer":null,"tags":["a"],'
    b'"totalPriceSet":{"shopMoney":{"amount":"1.50","currencyCode":"USD"},'
    b'"presentmentMoney":null},"subtotalPriceSet":null,"refunds":[]}',
    b'{"id":"gid://shopify/LineItem/71","quantity":2,"product":{"id":"gid://shopify/Product/3"},'
    b'"variant":null,"originalTotalSet":{"shopMoney":{"amount":"3.00","currencyCode":"USD"}},'
    b'"__parentId":"gid://shopify/Order/7"}',
    b'{"id":"gid://shopify/Order/8","updatedAt":"2024-01-01T00:00:06Z",'
    b'"customer":{"id":"gid://shopify/Customer/5"},"test":true}',
    # Unexpected for the typed rows (a number where a MoneyBag goes): read generically.
    b'{"id":"gid://shopify/Order/9","updatedAt":"2024-01-01T00:00:07Z","totalTaxSet":3}',
]


def test_typed_order_rows_build_the_records_dicts_build() -> None:
    typed = read_held(ORDER_LINES, {"LineItem": "lineItems"}, typed=decode_order)
    generic = read_held(ORDER_LINES, {"LineItem": "lineItems"})
    typed_nodes = list(typed)
    assert [type(node).__name__ for node in typed_nodes] == ["OrderRow", "OrderRow", "dict"]
    assert typed_nodes[0].get("refunds") == []
    assert typed_nodes[1].get("refunds") is None
    generic_nodes = list(generic)
    assert typed_nodes[2] == generic_nodes[2]
    for typed_node, node in zip(typed_nodes[:2], generic_nodes[:2], strict=True):
        assert order_record(typed_node, "shop") == order_record(node, "shop")
    with pytest.raises(ValueError, match="not a Shopify gid"):
        order_record(decode_order(b'[{"id":"x","updatedAt":"2024-01-01T00:00:00Z"}]'), "shop")


def test_the_counter_holds_the_lines_read_before_a_bad_line() -> None:
    # read_held counts in locals: the counter must still say how far it got when it raises.
    counter = LineCounter()
    bad = [*LINES[:4], b'{"id":"gid://sho']
    with pytest.raises(BulkOperationError, match="line 5 is not valid JSON"):
        read_held(bad, CHILDREN, counter, completion_fields=("refunds",))
    assert (counter.lines, counter.roots) == (4, 2)


def test_refunds_mark_only_the_roots_that_need_completion() -> None:
    lines = [
        b'{"id":"gid://shopify/Order/1","updatedAt":"2024-01-01T00:00:01Z","refunds":[]}',
        b'{"id":"gid://shopify/Order/2","updatedAt":"2024-01-01T00:00:01Z","refunds":null}',
        b'{"id":"gid://shopify/Order/3","updatedAt":"2024-01-01T00:00:01Z"}',
        b'{"id":"gid://shopify/Order/4","updatedAt":"2024-01-01T00:00:01Z",'
        b'"refunds":[{"id":"gid://shopify/Refund/9"}]}',
    ]
    held = read_held(lines, CHILDREN, completion_fields=("refunds",))
    assert [root.completes for root in held.roots] == [False, False, False, True]
