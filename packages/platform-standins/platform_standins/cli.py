"""``python -m platform_standins moengage|ometria --port N``: serve a stand-in until killed."""

from __future__ import annotations

import argparse
import json
import signal
import threading
from pathlib import Path
from types import FrameType

from platform_standins.moengage import MoEngageStandin
from platform_standins.ometria import OmetriaStandin
from platform_standins.server import StandinServer


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m platform_standins", description="Local MoEngage / Ometria stand-ins."
    )
    parser.add_argument("platform", choices=["moengage", "ometria"])
    parser.add_argument("--port", type=int, default=0, help="port; 0 picks a free one")
    parser.add_argument("--host", default="127.0.0.1", help="interface to bind")
    parser.add_argument("--api-key", default=None, help="the key clients must send (random)")
    parser.add_argument("--workspace-id", default="STANDINWORKSPACE", help="MoEngage only")
    parser.add_argument(
        "--processing-delay", type=float, default=0.25, help="Ometria: seconds before validation"
    )
    parser.add_argument("--ready-file", type=Path, default=None, help="write the URLs as JSON")
    return parser


def build(args: argparse.Namespace) -> StandinServer:
    """The stand-in the arguments describe (not started)."""
    if args.platform == "moengage":
        return MoEngageStandin(
            workspace_id=args.workspace_id, api_key=args.api_key, host=args.host, port=args.port
        )
    return OmetriaStandin(
        api_key=args.api_key,
        host=args.host,
        port=args.port,
        processing_delay_seconds=args.processing_delay,
    )


def describe(server: StandinServer) -> dict[str, str]:
    """What a client needs to talk to ``server`` (a local stand-in's own test key)."""
    info = {"platform": server.platform, "base_url": server.base_url}
    if isinstance(server, MoEngageStandin):
        info |= {"workspace_id": server.workspace_id, "api_key": server.api_key}
        info["endpoint"] = server.transition_url
    elif isinstance(server, OmetriaStandin):
        info |= {"api_key": server.api_key, "endpoint": server.push_url}
    return info


def main(argv: list[str] | None = None) -> None:
    """Serve until SIGINT or SIGTERM."""
    args = _parser().parse_args(argv)
    server = build(args).start()
    info = describe(server)
    # The key is this local stand-in's own, generated for the session: printing it is
    # how a demo hands it to the pipeline.
    for name, value in info.items():
        print(f"{name}: {value}")
    print(f"control API: {server.base_url}/_standin/<method>")
    if args.ready_file is not None:
        # Write then rename, so a watcher never reads a half-written file.
        partial = args.ready_file.with_name(args.ready_file.name + ".partial")
        partial.write_text(json.dumps(info))
        partial.replace(args.ready_file)
    stop = threading.Event()

    def on_signal(_signum: int, _frame: FrameType | None) -> None:
        stop.set()

    signal.signal(signal.SIGINT, on_signal)
    signal.signal(signal.SIGTERM, on_signal)
    while not stop.wait(0.5):
        pass
    server.stop()
