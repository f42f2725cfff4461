"""Root query resolvers: customer and order connections, counts, lookups, shop, products."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from graphql import GraphQLError

from shopify_emulator.catalog import PRODUCT_BASE, PRODUCT_TITLES, PRODUCT_VENDORS
from shopify_emulator.model import gid, iso, parse_gid
from shopify_emulator.pagination import paginate
from shopify_emulator.search import SearchField, SearchSyntaxError, compile_query, time_bounds
from shopify_emulator.store import CustomerFacts, OrderFacts, Store, customer_facts
from shopify_emulator.timefilter import hidden_micros
from shopify_emulator.views import CustomerView, OrderView, RequestContext, connection

COUNT_LIMIT = 10_000
_ORDER_SORT = {
    "UPDATED_AT": "updated_at",
    "CREATED_AT": "created_at",
    "PROCESSED_AT": "processed_at",
}
_CUSTOMER_SORT = {"UPDATED_AT": "updated_at", "CREATED_AT": "created_at", "NAME": "name"}


def _order_status(f: OrderFacts) -> set[str]:
    statuses = set()
    if f.cancelled:
        statuses.add("cancelled")
    if f.closed:
        statuses.add("closed")
    else:
        statuses.add("not_closed")
        if not f.cancelled:
            statuses.add("open")
    return statuses


def order_search_fields(store: Store) -> dict[str, SearchField]:
    """Search fields of orders; the heavy ones expand the order."""

    def heavy(get: Callable[[Any], Any]) -> Callable[[OrderFacts], Any]:
        def read(f: OrderFacts) -> Any:
            order = store.order(f.id)
            return get(order) if order is not None else None

        return read

    return {
        "created_at": SearchField(lambda f: hidden_micros(f.id, f.created_at), "date"),
        "updated_at": SearchField(lambda f: hidden_micros(f.id, f.updated_at), "date"),
        "processed_at": SearchField(lambda f: hidden_micros(f.id, f.processed_at), "date"),
        "id": SearchField(lambda f: f.id, "int"),
        "customer_id": SearchField(lambda f: f.customer_id, "int"),
        "test": SearchField(lambda f: f.test, "bool"),
        "status": SearchField(_order_status, "status"),
        "financial_status": SearchField(heavy(lambda o: o.financial_status.lower()), "text"),
        "email": SearchField(heavy(lambda o: o.email), "text"),
        "tag": SearchField(heavy(lambda o: o.tags), "tag"),
        "name": SearchField(heavy(lambda o: o.name), "text"),
    }


CUSTOMER_FIELDS: dict[str, SearchField] = {
    "created_at": SearchField(lambda f: hidden_micros(f.id, f.created_at), "date"),
    "updated_at": SearchField(lambda f: hidden_micros(f.id, f.updated_at), "date"),
    "id": SearchField(lambda f: f.id, "int"),
    "email": SearchField(lambda f: f.email, "text"),
    "phone": SearchField(lambda f: f.phone, "text"),
    "state": SearchField(lambda f: f.state.lower(), "text"),
    "tag": SearchField(lambda f: f.tags, "tag"),
}


def _compile(query: str | None, fields: dict[str, SearchField], text: Any, version: str) -> Any:
    try:
        return compile_query(query, fields, text, version=version)
    except SearchSyntaxError:
        return lambda _f: False  # Shopify answers an unparsable search with no results


def list_orders(
    ctx: RequestContext, args: dict[str, Any], customer_id: int | None = None
) -> dict[str, Any]:
    """The ``orders`` connection (top level, or under one customer)."""
    store = ctx.store
    sort_key = args.get("sortKey") or ("ID" if customer_id is not None else "PROCESSED_AT")
    attr = _ORDER_SORT.get(sort_key)
    query = args.get("query")

    def key(oid: int) -> tuple[Any, int]:
        if attr is None:
            return (oid, oid)
        return (store.order_sort_value(oid, attr), oid)

    with store.lock:
        if customer_id is None:
            ids = store.sorted_ids("Order", sort_key, key)
        else:
            ids = sorted(store.orders_of_customer(customer_id), key=key)
        predicate = _compile(query, order_search_fields(store), _order_text(store), ctx.version)

        def match(oid: int) -> bool:
            facts = store.order_facts(oid)
            if facts is None or not ctx.can_see_order(facts.created_at):
                return False
            if customer_id is not None and facts.customer_id != customer_id:
                return False
            if predicate is None:
                return True
            seen = store.indexed("Order", oid, facts)
            return seen is not None and bool(predicate(seen))

        clip = time_bounds(query, attr) if attr else (None, None)
        top = None if customer_id is not None else ("orders", query, sort_key)
        views = _page(ids, key, args, match, None if clip == (None, None) else clip, ctx, top)
        return connection(
            [(OrderView(store.order(i), ctx), c) for i, c in views[0]],  # type: ignore[arg-type]
            views[1],
            views[2],
        )


def _order_text(store: Store) -> Callable[[OrderFacts], str]:
    def text(f: OrderFacts) -> str:
        order = store.order(f.id)
        return f"{order.name} {order.email or ''}" if order else ""

    return text


def _page(  # noqa: PLR0917 - internal helper
    ids: list[int],
    key: Callable[[int], tuple[Any, int]],
    args: dict[str, Any],
    match: Callable[[int], bool],
    clip: tuple[Any, Any] | None,
    ctx: RequestContext,
    top: tuple[Any, ...] | None,
) -> tuple[list[tuple[int, str]], bool, bool]:
    if ctx.unbounded:
        return _bulk_page(ids, args, match, ctx, top), False, False
    page = paginate(
        ids,
        key,
        first=args.get("first"),
        last=args.get("last"),
        after=args.get("after"),
        before=args.get("before"),
        reverse=bool(args.get("reverse")),
        match=match,
        clip=clip,
    )
    return page.items, page.has_next, page.has_previous


def _bulk_page(
    ids: list[int],
    args: dict[str, Any],
    match: Callable[[int], bool],
    ctx: RequestContext,
    top: tuple[Any, ...] | None,
) -> list[tuple[int, str]]:
    """All matches (bulk); top-level connections are read one slice at a time so a
    million-order bulk query never holds the whole result in memory."""
    cache = ctx.bulk_cache if ctx.bulk_cache is not None and top is not None else None
    selected = cache.get(top) if cache is not None else None
    if selected is None:
        selected = [i for i in ids if match(i)]
        if args.get("reverse"):
            selected.reverse()
        if cache is not None:
            cache[top] = selected
    if top is not None and ctx.bulk_slice is not None:
        offset, limit = ctx.bulk_slice
        selected = selected[offset : offset + limit]
    return [(i, "") for i in selected]


def list_customers(ctx: RequestContext, args: dict[str, Any]) -> dict[str, Any]:
    """The ``customers`` connection."""
    ctx.require("read_customers", "customers")
    store = ctx.store
    sort_key = args.get("sortKey") or "ID"
    attr = _CUSTOMER_SORT.get(sort_key)
    query = args.get("query")

    def key(cid: int) -> tuple[Any, int]:
        if attr is None:
            return (cid, cid)
        c = store.customers.get(cid)
        if c is None:
            return (0, cid)
        return (c.display_name if attr == "name" else getattr(c, attr), cid)

    with store.lock:
        ids = store.sorted_ids("Customer", sort_key, key)
        predicate = _compile(
            query, CUSTOMER_FIELDS, lambda f: f"{f.name} {f.email or ''}", ctx.version
        )

        def match(cid: int) -> bool:
            c = store.customers.get(cid)
            if c is None:
                return False
            if predicate is None:
                return True
            seen = store.indexed("Customer", cid, customer_facts(c))
            return seen is not None and bool(predicate(seen))

        clip = time_bounds(query, attr) if attr in ("updated_at", "created_at") else (None, None)
        items, nxt, prev = _page(
            ids, key, args, match, None if clip == (None, None) else clip, ctx, ("customers", query)
        )
        return connection([(CustomerView(store.customers[i], ctx), c) for i, c in items], nxt, prev)


def count_customers(ctx: RequestContext, query: str | None) -> dict[str, Any]:
    """``customersCount``."""
    ctx.require("read_customers", "customersCount")
    predicate = _compile(query, CUSTOMER_FIELDS, lambda f: f"{f.name} {f.email or ''}", ctx.version)
    store = ctx.store
    with store.lock:
        count = 0
        for c in store.customers.values():
            facts: CustomerFacts | None = customer_facts(c)
            if predicate is not None:
                facts = store.indexed("Customer", c.id, facts)  # type: ignore[assignment]
            if facts is not None and (predicate is None or predicate(facts)):
                count += 1
    return _count(count, COUNT_LIMIT)


def count_orders(ctx: RequestContext, query: str | None, limit: int | None) -> dict[str, Any]:
    """``ordersCount`` (capped at 10,000 unless a limit is given, as on Shopify)."""
    ctx.require("read_orders", "ordersCount")
    store = ctx.store
    predicate = _compile(query, order_search_fields(store), _order_text(store), ctx.version)
    with store.lock:
        count = 0
        for oid in store.order_ids():
            facts = store.order_facts(oid)
            if facts is None or not ctx.can_see_order(facts.created_at):
                continue
            seen = store.indexed("Order", oid, facts) if predicate is not None else facts
            if seen is not None and (predicate is None or predicate(seen)):
                count += 1
    return _count(count, limit if limit is not None else COUNT_LIMIT)


def _count(count: int, limit: int) -> dict[str, Any]:
    if count > limit:
        return {"count": limit, "precision": "AT_LEAST"}
    return {"count": count, "precision": "EXACT"}


def product_dict(product_id: int) -> dict[str, Any]:
    """GraphQL ``Product`` for a catalog product."""
    title = PRODUCT_TITLES.get(product_id, "Unknown product")
    return {
        "__typename": "Product",
        "id": gid("Product", product_id),
        "legacyResourceId": str(product_id),
        "title": title,
        "handle": title.lower().replace(" ", "-"),
        "vendor": PRODUCT_VENDORS.get(product_id, "Demo Store"),
        "productType": "",
        "status": "ACTIVE",
        "tags": [],
        "createdAt": iso(1_600_000_000 + product_id - PRODUCT_BASE),
        "updatedAt": iso(1_600_000_000 + product_id - PRODUCT_BASE),
    }


def list_products(ctx: RequestContext, args: dict[str, Any]) -> dict[str, Any]:
    """The ``products`` connection (sorted by id; the catalog never changes)."""
    ctx.require("read_products", "products")
    ids = sorted(PRODUCT_TITLES)
    items, nxt, prev = _page(ids, lambda i: (i, i), args, lambda _i: True, None, ctx, ("products",))
    return connection([(product_dict(i), c) for i, c in items], nxt, prev)


def find_node(ctx: RequestContext, node_id: str) -> Any:
    """``node(id:)``, ``customer(id:)``, ``order(id:)``: visible immediately (no index lag)."""
    parsed = parse_gid(node_id)
    if parsed is None:
        raise GraphQLError(
            f"Invalid global id '{node_id}'", extensions={"code": "argumentLiteralsIncompatible"}
        )
    kind, number = parsed
    store = ctx.store
    with store.lock:
        if kind == "Customer":
            ctx.require("read_customers", "customer")
            c = store.customers.get(number)
            return CustomerView(c, ctx) if c else None
        if kind == "Order":
            ctx.require("read_orders", "order")
            o = store.order(number)
            return OrderView(o, ctx) if o and ctx.can_see_order(o.created_at) else None
        if kind == "Product":
            return product_dict(number) if number in PRODUCT_TITLES else None
        if kind == "BulkOperation" and ctx.bulk is not None:
            return ctx.bulk.view(ctx, number)
    return None
