"""``shopify-webhooks``: serve the receiver, create privacy requests, show the queue."""

from __future__ import annotations

import json
import logging
import os
import signal
from pathlib import Path

import click

from shopify_webhooks.domain.ids import parse_id
from shopify_webhooks.domain.privacy import PrivacyKind, PrivacyRequest
from shopify_webhooks.exceptions import WebhooksError
from shopify_webhooks.local_requests import store_local_request
from shopify_webhooks.queue import WebhookQueue
from shopify_webhooks.server import WebhookServer
from shopify_webhooks.settings import (
    DATABASE_URL_ENV,
    DEFAULT_ANSWER_BUDGET_SECONDS,
    database_url_from,
    settings_from_environment,
)
from shopify_webhooks.status import status_rows, status_table

_database_option = click.option(
    "--database-url",
    default=None,
    help=f"Queue database (SQLAlchemy URL). Default: ${DATABASE_URL_ENV}, else "
    "sqlite:///output/shopify-webhooks.db.",
)
_KINDS = {
    "redact": PrivacyKind.REDACT,
    "data-request": PrivacyKind.DATA_REQUEST,
    "shop-redact": PrivacyKind.SHOP_REDACT,
}


@click.group()
@click.version_option(package_name="shopify-webhooks")
def main() -> None:
    """Receive Shopify webhooks into a durable queue for the tap and the targets."""


@main.command()
@click.option("--host", default="127.0.0.1", show_default=True, help="Interface to bind.")
@click.option("--port", type=int, default=8090, show_default=True, help="Port; 0 picks one.")
@_database_option
@click.option(
    "--answer-budget-seconds",
    type=float,
    default=DEFAULT_ANSWER_BUDGET_SECONDS,
    show_default=True,
    help="Answer 503 (Shopify retries) when the write has not committed by then.",
)
@click.option(
    "--access-log/--no-access-log",
    default=True,
    show_default=True,
    help="Log one line per request (method, path, status; never headers or bodies).",
)
@click.option(
    "--ready-file",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help='Write {"base_url", "webhook_url"} as JSON here once listening.',
)
def serve(  # noqa: PLR0917 - one parameter per command-line option
    host: str,
    port: int,
    database_url: str | None,
    answer_budget_seconds: float,
    access_log: bool,
    ready_file: Path | None,
) -> None:
    """Serve POST /webhooks until SIGTERM or SIGINT.

    The app's client secret is read from SHOPIFY_WEBHOOKS_CLIENT_SECRET (and, while
    rotating, SHOPIFY_WEBHOOKS_PREVIOUS_CLIENT_SECRET), never from the command line.
    """
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
    try:
        settings = settings_from_environment(
            database_url=database_url, answer_budget_seconds=answer_budget_seconds
        )
        server = WebhookServer(settings, host=host, port=port, access_log=access_log)
    except WebhooksError as error:
        raise click.ClickException(str(error)) from error

    def listening() -> None:
        click.echo(f"Shopify webhook receiver listening on {server.webhook_url}", err=True)
        if ready_file is not None:
            info = {"base_url": server.base_url, "webhook_url": server.webhook_url}
            ready_file.write_text(json.dumps(info))

    # uvicorn stops on SIGTERM/SIGINT, then raises the signal again for the previous
    # handler; a no-op one lets the command end with status 0 after a clean drain.
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_: None)
    server.serve_forever(listening)


def _order_ids(_ctx: click.Context, _param: click.Parameter, value: str | None) -> tuple[int, ...]:
    if not value:
        return ()
    ids = [parse_id(part.strip()) for part in value.split(",") if part.strip()]
    if any(order_id is None for order_id in ids):
        raise click.BadParameter("comma-separated positive order ids, e.g. 1001,1002")
    return tuple(order_id for order_id in ids if order_id is not None)


@main.command("privacy-request")
@click.argument("kind", type=click.Choice(sorted(_KINDS)))
@click.option("--shop", required=True, help="The shop's myshopify domain.")
@click.option("--shop-id", type=click.IntRange(min=1), default=None, help="Shopify's shop id.")
@click.option("--customer-id", type=click.IntRange(min=1), default=None)
@click.option("--email", default=None, help="The customer's email.")
@click.option("--phone", default=None, help="The customer's phone.")
@click.option(
    "--orders",
    callback=_order_ids,
    default=None,
    help="Comma-separated order ids (to redact, or requested).",
)
@click.option("--data-request-id", type=click.IntRange(min=1), default=None)
@_database_option
def privacy_request(  # noqa: PLR0917 - one parameter per command-line option
    kind: str,
    shop: str,
    shop_id: int | None,
    customer_id: int | None,
    email: str | None,
    phone: str | None,
    orders: tuple[int, ...],
    data_request_id: int | None,
    database_url: str | None,
) -> None:
    """Queue a privacy request for a store whose app gets no compliance webhooks.

    KIND is redact (customers/redact), data-request (customers/data_request) or
    shop-redact (shop/redact). Prints the queue position.
    """
    request = PrivacyRequest(
        kind=_KINDS[kind],
        shop_domain=shop.strip().lower(),
        shop_id=shop_id,
        customer_id=customer_id,
        email=email or None,
        phone=phone or None,
        orders=orders,
        data_request_id=data_request_id,
    )
    if request.problems():  # before opening (and so creating) a database
        raise click.ClickException("; ".join(request.problems()))
    try:
        queue = WebhookQueue(database_url_from(os.environ, database_url))
        try:
            outcome = store_local_request(queue, request)
        finally:
            queue.dispose()
    except WebhooksError as error:
        raise click.ClickException(str(error)) from error
    click.echo(
        f"queued {request.kind.value} for {request.shop_domain} at position {outcome.position}"
    )


@main.command()
@_database_option
@click.option("--json", "as_json", is_flag=True, help="Print the counts as JSON.")
def status(database_url: str | None, as_json: bool) -> None:
    """Counts by topic and state: received, duplicate, ignored (and created locally)."""
    try:
        queue = WebhookQueue(database_url_from(os.environ, database_url), create=False)
    except WebhooksError as error:
        raise click.ClickException(str(error)) from error
    try:
        rows = status_rows(queue.counts())
    finally:
        queue.dispose()
    click.echo(json.dumps(rows, indent=2) if as_json else status_table(rows))


if __name__ == "__main__":
    main()
