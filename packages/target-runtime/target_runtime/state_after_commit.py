"""STATE after commit: a mixin for singer-sdk targets that print each state as soon as it is safe.

Meltano stores every state a target prints, at once, and a crash resumes from the last one.
singer-sdk prints the latest state only on a full drain (a batch filling up, every five
minutes, the end of input), so on its own a target may hold a bookmark for minutes, and
print the same state again on every drain.

``StateAfterCommit`` (listed before singer-sdk's ``Target`` in the bases):

- on a STATE that differs from the last one printed, drains every sink: what came before the
  STATE is committed, then the state is printed; a STATE equal to the last one printed
  commits nothing early (there is nothing new to say);
- prints a state only when it differs from the last one printed, so a drain with nothing
  new (a roster activation, the end of input) repeats nothing;
- prints the numbers of a state as JSON numbers: the resilient reader gives a number with a
  fraction or exponent as ``Decimal``, which singer-sdk's ``json.dumps`` cannot write; it is
  written as the float ``json.loads`` would have read (as singer-sdk's own reader does);
- on SIGTERM/SIGINT lets singer-sdk drain (commit, print the state) and then calls
  :meth:`run_stopped`, where the target records how its run ended, even if the drain failed.
"""

from __future__ import annotations

import copy
from decimal import Decimal
from types import FrameType
from typing import Any

from target_runtime.sdk_seam import SeamTargetMixin


class StateAfterCommit(SeamTargetMixin):
    """Mixin for a ``singer_sdk.Target``: drain on STATE, print each state once."""

    #: The last state printed (None until one is).
    emitted_state: dict[str, Any] | None = None

    # The SDK's STATE and signal handlers are private; `SeamTargetMixin` forwards them to
    # the public-named steps overridden here (checked against singer-sdk 0.54).

    def process_state_message(self, message_dict: dict[str, Any]) -> None:
        """Keep the STATE; drain every sink when it differs from the last one printed."""
        super().process_state_message(message_dict)
        latest = self.latest_state
        if latest and latest != self.emitted_state:
            self.drain_all()  # type: ignore[attr-defined]

    def write_state_message(self, state: dict[str, Any]) -> None:
        """Print the state unless it is the last one printed, its numbers as JSON numbers."""
        if state == self.emitted_state:
            return
        self.emitted_state = copy.deepcopy(state)
        super().write_state_message(_json_numbers(state))

    def handle_termination(self, signum: int, frame: FrameType | None) -> None:
        """Let singer-sdk drain on the signal, then record how the run ended (even if not)."""
        try:
            super().handle_termination(signum, frame)
        finally:
            self.run_stopped(signum)

    def run_stopped(self, signum: int) -> None:
        """A signal stopped the run after its batches were drained: record how it ended."""


def _json_numbers(value: Any) -> Any:
    """The state with every ``Decimal`` as a float, so ``json.dumps`` can write it."""
    if isinstance(value, Decimal):
        return float(value)
    if isinstance(value, dict):
        return {key: _json_numbers(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_json_numbers(item) for item in value]
    return value
