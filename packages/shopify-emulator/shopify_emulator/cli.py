"""``shopify-emulator``: serve a generated store until killed."""

from __future__ import annotations

import json
import os
import signal
import threading
import time
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from types import FrameType

import click

from shopify_emulator.cost import PLANS
from shopify_emulator.emulator import EmulatorServer
from shopify_emulator.faults import parse_fault_specs
from shopify_emulator.generator import generate_store
from shopify_emulator.schema import SUPPORTED_VERSIONS
from shopify_emulator.webhooks import WebhookSettings, check_callback_url


@click.group()
@click.version_option(package_name="shopify-emulator")
def main() -> None:
    """A local Shopify GraphQL Admin API for tests, benchmarks and demos."""


@main.command()
@click.option("--port", type=int, default=0, show_default=True, help="Port; 0 picks a free one.")
@click.option("--host", default="127.0.0.1", show_default=True, help="Interface to bind.")
@click.option("--seed", type=int, default=7, show_default=True, help="Store generator seed.")
@click.option("--customers", type=int, default=100, show_default=True, help="Customers.")
@click.option("--orders", type=int, default=500, show_default=True, help="Orders.")
@click.option(
    "--plan",
    type=click.Choice(sorted(PLANS)),
    default="standard",
    show_default=True,
    help="Rate-limit plan: bucket 2000/4000/20000, restore 100/200/1000 per second.",
)
@click.option(
    "--api-versions",
    default=",".join(SUPPORTED_VERSIONS),
    show_default=True,
    help="Comma-separated versions served; others fall forward to the oldest.",
)
@click.option(
    "--index-lag-seconds",
    type=float,
    default=0.0,
    show_default=True,
    help="Delay before changes are visible to query: filters.",
)
@click.option(
    "--bulk-seconds",
    type=float,
    default=2.0,
    show_default=True,
    help="How long a bulk operation runs.",
)
@click.option(
    "--fault",
    "faults",
    multiple=True,
    help="Repeatable: throttle=0.2, 5xx=0.1, drop=0.05, slow=0.1, slow_seconds=2, "
    "throttle_next=3, bulk=timeout|failed|expired|truncated|access_denied.",
)
@click.option("--shop-domain", default="demo-store.myshopify.com", show_default=True)
@click.option(
    "--store-time",
    type=click.DateTime(formats=["%Y-%m-%dT%H:%M:%SZ", "%Y-%m-%d"]),
    default=None,
    help="The store's clock at start (UTC, e.g. 2026-11-01). With the same seed, every "
    "start serves the very same store, so a second sync finds nothing new. "
    "Default: the current time.",
)
@click.option(
    "--ready-file",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help='Write {"base_url", "token", "shop_domain"} as JSON here once listening.',
)
@click.option(
    "--webhook-time-scale",
    type=click.FloatRange(min=0, min_open=True),
    default=1.0,
    show_default=True,
    help="Multiplies the webhook retry delays (1/3600 turns 4 hours into 4 seconds). The "
    "deliveries are signed with SHOPIFY_EMULATOR_WEBHOOK_SECRET (environment only).",
)
@click.option(
    "--webhook-timeout-seconds",
    type=click.FloatRange(min=0, min_open=True),
    default=5.0,
    show_default=True,
    help="A webhook delivery not answered within this is a failure.",
)
@click.option(
    "--compliance-url",
    default=None,
    help="Where the compliance topics (customers/redact...) are sent.",
)
def serve(  # noqa: PLR0917 - one parameter per command-line option
    port: int,
    host: str,
    seed: int,
    customers: int,
    orders: int,
    plan: str,
    api_versions: str,
    index_lag_seconds: float,
    bulk_seconds: float,
    faults: tuple[str, ...],
    shop_domain: str,
    store_time: datetime | None,
    ready_file: Path | None,
    webhook_time_scale: float,
    webhook_timeout_seconds: float,
    compliance_url: str | None,
) -> None:
    """Generate a store and serve it until killed (prints the URL and a token)."""
    try:
        fault_settings = parse_fault_specs(faults)
    except ValueError as error:
        raise click.BadParameter(str(error), param_hint="--fault") from error
    if compliance_url is not None and check_callback_url(compliance_url):
        raise click.BadParameter("must be an http or https URL", param_hint="--compliance-url")
    versions = tuple(v.strip() for v in api_versions.split(",") if v.strip())
    webhooks = WebhookSettings(
        timeout_seconds=webhook_timeout_seconds,
        time_scale=webhook_time_scale,
        compliance_url=compliance_url,
    )
    secret = os.environ.get("SHOPIFY_EMULATOR_WEBHOOK_SECRET")
    if secret:
        webhooks = replace(webhooks, client_secret=secret)
    started = time.perf_counter()
    now = None if store_time is None else store_time.replace(tzinfo=UTC)
    store = generate_store(seed, customers, orders, now=now, shop_domain=shop_domain)
    server = EmulatorServer(
        store,
        plan=plan,
        index_lag_seconds=index_lag_seconds,
        bulk_seconds=bulk_seconds,
        api_versions=versions,
        faults=fault_settings,
        port=port,
        host=host,
        webhooks=webhooks,
    ).start()
    info = {"base_url": server.base_url, "token": server.token, "shop_domain": server.shop_domain}
    click.echo(
        f"Generated {customers} customers, {orders} orders in {time.perf_counter() - started:.1f}s"
    )
    click.echo(f"Shopify emulator listening on {server.base_url}")
    click.echo(f"GraphQL endpoint: {server.graphql_url(versions[0])}")
    # This is a local test store: printing its token is the point (a real tap never logs it).
    click.echo(f"Access token: {server.token}")
    click.echo(f"Shop domain: {server.shop_domain}")
    if ready_file is not None:
        ready_file.write_text(json.dumps(info))
    _wait_for_signal()
    server.stop()


def _wait_for_signal() -> None:
    stop = threading.Event()

    def handler(_signum: int, _frame: FrameType | None) -> None:
        stop.set()

    signal.signal(signal.SIGTERM, handler)
    signal.signal(signal.SIGINT, handler)
    stop.wait()


if __name__ == "__main__":
    main()
