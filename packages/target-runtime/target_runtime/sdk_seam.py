"""The one place target_runtime touches private singer-sdk members (issue 16).

singer-sdk may rename or drop any ``_``-member in a minor release; that is why the targets
pin ``singer-sdk<0.55``. Every such use of the runtime's target mixins lives here, each with
what it does and why no public hook serves, so an upgrade means reading one module. Each
private override forwards to a public-named method that the mixins override, whose default
is the SDK's own step. ``tests/workspace/test_sdk_seams.py`` fails when another module of
the package overrides or calls a private singer-sdk member.
"""

from __future__ import annotations

from types import FrameType
from typing import Any


class SeamTargetMixin:
    """A ``singer_sdk.Target``'s private STATE and signal members, under public names.

    A mixin, not a ``Target`` subclass: it is listed before the target's SDK base, so each
    ``super()`` below reaches the SDK's (or a test double's) step.
    """

    @property
    def latest_state(self) -> dict[str, Any] | None:
        """The newest STATE value received (`Target._latest_state`).

        The SDK keeps it to print on its next full drain; a target that prints state
        after its own commits needs it, and singer-sdk exposes no public name (`state` is
        a property that raises NotImplementedError on a target).
        """
        return self._latest_state  # type: ignore[attr-defined,no-any-return]

    def _process_state_message(self, message_dict: dict[str, Any]) -> None:
        # `Target._process_state_message`: the STATE handler. singer-sdk offers no public
        # hook for "a STATE arrived", and the state is what decides an early drain.
        self.process_state_message(message_dict)

    def process_state_message(self, message_dict: dict[str, Any]) -> None:
        """The SDK's STATE handling: keep the value as the latest state.

        Args:
            message_dict: The STATE message.
        """
        super()._process_state_message(message_dict)  # type: ignore[misc]

    def _write_state_message(self, state: dict[str, Any]) -> None:
        # `Target._write_state_message`: prints a state to stdout. Every drain of the SDK
        # calls it; no public hook sees (or can skip) a state being printed.
        self.write_state_message(state)

    def write_state_message(self, state: dict[str, Any]) -> None:
        """The SDK's step: print the state as one JSON line on stdout.

        Args:
            state: The state to print.
        """
        super()._write_state_message(state)  # type: ignore[misc]

    def _handle_termination(self, signum: int, frame: FrameType | None) -> None:
        # `Target._handle_termination`: the SIGTERM/SIGINT handler, which drains every
        # sink (commit, print the state) and exits. No public hook runs on a signal, and
        # the target must record how its run ended.
        self.handle_termination(signum, frame)

    def handle_termination(self, signum: int, frame: FrameType | None) -> None:
        """The SDK's signal handler: drain every sink, then exit.

        Args:
            signum: The signal number.
            frame: The interrupted frame.
        """
        super()._handle_termination(signum, frame)  # type: ignore[misc]


class SeamReaderMixin:
    """A singer-sdk message reader's private loop state, under a public name.

    Listed before the SDK reader base of a reader that replaces ``process_lines``.
    """

    def set_current_message(self, raw: bytes) -> None:
        """Record the line whose handler is about to run (`GenericSingerReader._current_message`).

        The SDK's own reader loop sets it before each handler call, so a reader that
        replaces the loop keeps that contract for any SDK code reading the current line;
        singer-sdk has no public setter.

        Args:
            raw: The line being handled.
        """
        self._current_message = raw
