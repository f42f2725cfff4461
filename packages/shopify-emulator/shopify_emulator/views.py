"""GraphQL object views over store records, resolved by graphql-core's default resolver.

Each attribute or method is named like the GraphQL field; methods take ``(info, **args)``.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from graphql import GraphQLError, GraphQLResolveInfo

from shopify_emulator.model import (
    SHOP_CURRENCY,
    Customer,
    Order,
    gid,
    iso,
    money,
)
from shopify_emulator.pagination import paginate

if TYPE_CHECKING:
    from shopify_emulator.store import Store

DAY = 86_400
ORDER_WINDOW_DAYS = 60


@dataclass
class RequestContext:
    """Who is asking and what they may see, for one GraphQL request."""

    store: Store
    scopes: frozenset[str]
    version: str
    app_key: str
    base_url: str
    protected_denied: bool = False
    plan: str = "standard"
    bulk: Any = None  # the BulkManager, set by the server
    webhooks: Any = None  # the WebhookDispatcher, set by the server
    unbounded: bool = False  # bulk execution: connections return everything
    bulk_slice: tuple[int, int] | None = None  # bulk: (offset, limit) of top-level nodes
    bulk_cache: dict[Any, list[int]] | None = None  # bulk: matching ids, computed once
    errors_seen: list[int] = field(default_factory=lambda: [0])

    def can_see_order(self, created_at: int) -> bool:
        """Orders older than 60 days need read_all_orders, as on Shopify."""
        if "read_all_orders" in self.scopes:
            return True
        return created_at >= self.store.now() - ORDER_WINDOW_DAYS * DAY

    def require(self, scope: str, field_name: str) -> None:
        """Raise Shopify's ACCESS_DENIED error unless the token holds ``scope``."""
        write = scope.replace("read_", "write_")
        if scope not in self.scopes and write not in self.scopes:
            raise GraphQLError(
                f"Access denied for {field_name} field. Required access: `{scope}` access scope.",
                extensions={
                    "code": "ACCESS_DENIED",
                    "documentation": "https://shopify.dev/api/usage/access-scopes",
                    "requiredAccess": f"`{scope}` access scope.",
                },
            )


def protected(info: GraphQLResolveInfo, field_name: str) -> None:
    """Deny a protected customer data field when the app is not approved for it."""
    ctx: RequestContext = info.context
    if ctx.protected_denied:
        raise GraphQLError(
            f"This app is not approved to use the {field_name} field. See "
            "https://shopify.dev/docs/apps/launch/protected-customer-data for more details.",
            extensions={"code": "ACCESS_DENIED"},
        )


def money_v2(cents: int, currency: str = SHOP_CURRENCY) -> dict[str, str]:
    """A MoneyV2 object."""
    return {"amount": money(cents), "currencyCode": currency}


def money_bag(cents: int, order: Order) -> dict[str, Any]:
    """A MoneyBag: shop money plus the order's presentment money.

    Bags are shared per (amount, currency) and must not be changed by callers: bulk output
    writes each distinct bag's text once (``bulk_emit``), and most amounts repeat.
    """
    return cached_money_bag(cents, order.rate, order.presentment_currency)


@functools.lru_cache(maxsize=1 << 16)
def cached_money_bag(cents: int, rate: int, currency: str) -> dict[str, Any]:
    """:func:`money_bag` for a rate and currency already read from the order (views keep
    them, as each order has up to a dozen bags)."""
    return {
        "shopMoney": money_v2(cents),
        "presentmentMoney": money_v2(cents * rate // 10000, currency),
    }


def connection(page_items: list[tuple[Any, str]], has_next: bool, has_prev: bool) -> dict[str, Any]:
    """A connection object from (view, cursor) pairs."""
    return {
        "edges": [{"cursor": c, "node": v} for v, c in page_items],
        "nodes": [v for v, _ in page_items],
        "pageInfo": {
            "hasNextPage": has_next,
            "hasPreviousPage": has_prev,
            "startCursor": page_items[0][1] if page_items else None,
            "endCursor": page_items[-1][1] if page_items else None,
        },
    }


def list_connection(views: list[Any], args: dict[str, Any], unbounded: bool) -> dict[str, Any]:
    """A connection over a small in-memory list (line items, metafields, refund lines)."""
    if unbounded:
        return connection([(v, "") for v in views], False, False)
    ids = list(range(len(views)))
    page = paginate(
        ids,
        lambda i: (i, i),
        first=args.get("first"),
        last=args.get("last"),
        after=args.get("after"),
        before=args.get("before"),
        reverse=bool(args.get("reverse")),
    )
    return connection([(views[i], c) for i, c in page.items], page.has_next, page.has_previous)


class CustomerView:
    """GraphQL ``Customer``."""

    __typename = "Customer"

    def __init__(self, customer: Customer, ctx: RequestContext) -> None:
        """Wrap a stored customer."""
        self.c = customer
        self.ctx = ctx
        self.id = gid("Customer", customer.id)
        self.legacyResourceId = str(customer.id)
        self.state = customer.state
        self.verifiedEmail = customer.verified_email
        self.taxExempt = customer.tax_exempt
        self.note = customer.note

    # Built when read: every order line of a bulk query makes a customer view, most for
    # ``customer { id }`` alone.
    @functools.cached_property
    def tags(self) -> list[str]:
        return list(self.c.tags)

    @functools.cached_property
    def createdAt(self) -> str | None:  # noqa: N802
        return iso(self.c.created_at)

    @functools.cached_property
    def updatedAt(self) -> str | None:  # noqa: N802
        return iso(self.c.updated_at)

    @functools.cached_property
    def displayName(self) -> str:  # noqa: N802
        return self.c.display_name

    def email(self, info: GraphQLResolveInfo) -> str | None:
        protected(info, "email")
        return self.c.email

    def phone(self, info: GraphQLResolveInfo) -> str | None:
        protected(info, "phone")
        return self.c.phone

    def firstName(self, info: GraphQLResolveInfo) -> str | None:  # noqa: N802
        protected(info, "firstName")
        return self.c.first_name

    def lastName(self, info: GraphQLResolveInfo) -> str | None:  # noqa: N802
        protected(info, "lastName")
        return self.c.last_name

    def defaultAddress(self, info: GraphQLResolveInfo) -> dict[str, Any] | None:  # noqa: N802
        protected(info, "defaultAddress")
        a = self.c.address
        if a is None:
            return None
        return {
            "id": gid("MailingAddress", self.c.id + 1),
            "address1": "1 Main Street",
            "city": a["city"],
            "province": a["province"],
            "provinceCode": a["province_code"],
            "country": a["country"],
            "countryCodeV2": a["country_code"],
            "zip": a["zip"],
        }

    def numberOfOrders(self, info: GraphQLResolveInfo) -> str:  # noqa: N802
        return str(self.ctx.store.customer_totals(self.c.id)[0])

    def amountSpent(self, info: GraphQLResolveInfo) -> dict[str, str]:  # noqa: N802
        return money_v2(self.ctx.store.customer_totals(self.c.id)[1])

    def emailMarketingConsent(self, info: GraphQLResolveInfo) -> dict[str, Any] | None:  # noqa: N802
        if self.c.email is None:
            return None
        return {
            "marketingState": self.c.email_state,
            "marketingOptInLevel": self.c.email_opt_in,
            "consentUpdatedAt": iso(self.c.email_consent_at),
        }

    def smsMarketingConsent(self, info: GraphQLResolveInfo) -> dict[str, Any] | None:  # noqa: N802
        if self.c.phone is None or self.c.sms_state is None:
            return None
        return {
            "marketingState": self.c.sms_state,
            "marketingOptInLevel": self.c.sms_opt_in,
            "consentUpdatedAt": iso(self.c.sms_consent_at),
            "consentCollectedFrom": self.c.sms_collected_from,
        }

    def defaultEmailAddress(self, info: GraphQLResolveInfo) -> dict[str, Any] | None:  # noqa: N802
        protected(info, "defaultEmailAddress")
        if self.c.email is None:
            return None
        return {
            "emailAddress": self.c.email,
            "marketingState": self.c.email_state,
            "marketingOptInLevel": self.c.email_opt_in,
            "marketingUpdatedAt": iso(self.c.email_consent_at),
        }

    def defaultPhoneNumber(self, info: GraphQLResolveInfo) -> dict[str, Any] | None:  # noqa: N802
        protected(info, "defaultPhoneNumber")
        if self.c.phone is None:
            return None
        return {
            "phoneNumber": self.c.phone,
            "marketingState": self.c.sms_state or "NOT_SUBSCRIBED",
            "marketingOptInLevel": self.c.sms_opt_in,
            "marketingUpdatedAt": iso(self.c.sms_consent_at),
            "marketingCollectedFrom": self.c.sms_collected_from,
        }

    def metafields(self, info: GraphQLResolveInfo, **args: Any) -> dict[str, Any]:
        items = [
            m
            for m in self.c.metafields
            if args.get("namespace") in (None, m.namespace)
            and (not args.get("keys") or f"{m.namespace}.{m.key}" in args["keys"])
        ]
        views = [
            {
                "id": gid("Metafield", m.id),
                "namespace": m.namespace,
                "key": m.key,
                "value": m.value,
                "type": m.type,
                "createdAt": iso(m.created_at),
                "updatedAt": iso(m.updated_at),
            }
            for m in items
        ]
        return list_connection(views, args, self.ctx.unbounded)

    def orders(self, info: GraphQLResolveInfo, **args: Any) -> dict[str, Any]:
        from shopify_emulator.listing import list_orders  # noqa: PLC0415 - mutual recursion

        self.ctx.require("read_orders", "orders")
        return list_orders(self.ctx, args, customer_id=self.c.id)


_CHILDREN: list[Any] = []


def _children() -> Any:
    # An import statement per call was 6% of a bulk run; the module is looked up once.
    if not _CHILDREN:
        from shopify_emulator import views_children  # noqa: PLC0415 - the children import us

        _CHILDREN.append(views_children)
    return _CHILDREN[0]


class OrderView:
    """GraphQL ``Order``."""

    def __init__(self, order: Order, ctx: RequestContext) -> None:
        """Wrap a stored or generated order."""
        o = order
        self.o = o
        self.ctx = ctx
        self.id = gid("Order", o.id)
        self.name = o.name
        self.legacyResourceId = str(o.id)
        self.createdAt = iso(o.created_at)
        same = o.processed_at == o.created_at  # as generated orders are
        self.processedAt = self.createdAt if same else iso(o.processed_at)
        self.updatedAt = iso(o.updated_at)
        self.cancelledAt = iso(o.cancelled_at)
        self.cancelReason = o.cancel_reason
        self.closedAt = iso(o.closed_at)
        self.closed = o.closed_at is not None
        self.confirmed = True
        self.test = o.test
        self.note = o.note
        self.currencyCode = SHOP_CURRENCY
        self.presentmentCurrencyCode = o.presentment_currency
        self.displayFinancialStatus = o.financial_status
        self.displayFulfillmentStatus = o.fulfillment_status
        self.sourceName = o.source_name
        self.tags = list(o.tags)
        # Totals are sums over the lines; each money field would otherwise redo them.
        self._subtotal = o.subtotal_cents
        self._total = self._subtotal + o.tax_cents + o.shipping_cents
        self._refunded = o.refunded_cents
        self._discounts = o.discounts_cents
        self._rate, self._currency = o.rate, o.presentment_currency  # for each money bag

    def customer(self, info: GraphQLResolveInfo) -> CustomerView | None:
        if self.o.customer_id is None:
            return None
        found = self.ctx.store.customers.get(self.o.customer_id)
        return CustomerView(found, self.ctx) if found else None

    def email(self, info: GraphQLResolveInfo) -> str | None:
        protected(info, "email")
        return self.o.email

    def phone(self, info: GraphQLResolveInfo) -> str | None:
        protected(info, "phone")
        return self.o.phone

    def totalPriceSet(self, info: GraphQLResolveInfo) -> dict[str, Any]:  # noqa: N802
        return cached_money_bag(self._total, self._rate, self._currency)

    def subtotalPriceSet(self, info: GraphQLResolveInfo) -> dict[str, Any]:  # noqa: N802
        return cached_money_bag(self._subtotal, self._rate, self._currency)

    def totalTaxSet(self, info: GraphQLResolveInfo) -> dict[str, Any]:  # noqa: N802
        return cached_money_bag(self.o.tax_cents, self._rate, self._currency)

    def totalDiscountsSet(self, info: GraphQLResolveInfo) -> dict[str, Any]:  # noqa: N802
        return cached_money_bag(self._discounts, self._rate, self._currency)

    def totalShippingPriceSet(self, info: GraphQLResolveInfo) -> dict[str, Any]:  # noqa: N802
        return cached_money_bag(self.o.shipping_cents, self._rate, self._currency)

    def totalRefundedSet(self, info: GraphQLResolveInfo) -> dict[str, Any]:  # noqa: N802
        return cached_money_bag(self._refunded, self._rate, self._currency)

    def currentTotalPriceSet(self, info: GraphQLResolveInfo) -> dict[str, Any]:  # noqa: N802
        return cached_money_bag(max(0, self._total - self._refunded), self._rate, self._currency)

    def currentSubtotalPriceSet(self, info: GraphQLResolveInfo) -> dict[str, Any]:  # noqa: N802
        return cached_money_bag(
            max(0, self._subtotal - self.o.refunded_subtotal_cents), self._rate, self._currency
        )

    def currentTotalTaxSet(self, info: GraphQLResolveInfo) -> dict[str, Any]:  # noqa: N802
        o = self.o
        kept = max(0, self._subtotal - o.refunded_subtotal_cents)
        return cached_money_bag(
            o.tax_cents * kept // self._subtotal if self._subtotal else 0,
            self._rate,
            self._currency,
        )

    def currentTotalDiscountsSet(self, info: GraphQLResolveInfo) -> dict[str, Any]:  # noqa: N802
        return cached_money_bag(self._discounts, self._rate, self._currency)

    def lineItems(self, info: GraphQLResolveInfo, **args: Any) -> dict[str, Any]:  # noqa: N802
        views = [_children().LineItemView(li, self.o) for li in self.o.line_items]
        return list_connection(views, args, self.ctx.unbounded)

    def refunds(self, info: GraphQLResolveInfo, first: int | None = None) -> list[Any]:
        refunds = self.o.refunds if first is None else self.o.refunds[:first]
        return [_children().RefundView(r, self.o, self.ctx) for r in refunds]

    def transactions(
        self, info: GraphQLResolveInfo, first: int | None = None, **_: Any
    ) -> list[Any]:
        txns = self.o.transactions + [t for r in self.o.refunds for t in r.transactions]
        txns = txns if first is None else txns[:first]
        return [_children().transaction_view(t, self.o) for t in txns]
