"""Finished bulk files kept for the next identical query while the store has not changed.

Rendering a million orders' JSONL costs about a minute of Python; serving it is a file
copy. A bulk query's output is a function of the query text, the API version, what the
token may see (scopes, protected data) and the store's records, and the store counts its
changes (``Store.version``, bumped by every control-API change before it happens). So a
finished grouped file is kept under (query, version, scopes, protected data, store
version): the same query again on an unchanged store gets the same bytes by hard link
(grouped) or by re-shuffling each cached slice with the new operation's seed (ungrouped,
exactly what rendering would have shuffled: the shuffle depends only on the line count).

Not kept, because their output also depends on the time: tokens without
``read_all_orders`` (the 60-day window moves) and stores whose search index still lags
behind a change (filters see old values until it catches up).
"""

from __future__ import annotations

import os
import random
import threading
import weakref
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from shopify_emulator.bulk_output import linked_copy

if TYPE_CHECKING:
    from shopify_emulator.bulk_output import BulkFile
    from shopify_emulator.views import RequestContext

# Switch for benchmarks: False renders every operation anew.
ENABLED = True

Key = tuple[Any, ...]


@dataclass(frozen=True)
class KeptOutput:
    """A grouped output file and its slices: (bytes, lines, root objects) each."""

    path: str
    slices: tuple[tuple[int, int, int], ...]


class OutputReuse:
    """The kept outputs of one shop, one per query shape (the latest store version)."""

    def __init__(self) -> None:
        """Start with nothing kept."""
        self._kept: dict[Key, tuple[int, KeptOutput]] = {}
        self._lock = threading.Lock()
        # A manager nobody closes (a test's) still deletes its files when it goes, or at exit.
        self._cleanup = weakref.finalize(self, _remove_kept, self._kept)

    @staticmethod
    def key(ctx: RequestContext, query: str, version: str) -> Key | None:
        """What the output depends on besides the store; None when it also depends on time."""
        if not ENABLED or "read_all_orders" not in ctx.scopes or not ctx.store.index_settled():
            return None
        return (query, version, tuple(sorted(ctx.scopes)), ctx.protected_denied)

    def find(self, key: Key | None, store_version: int) -> KeptOutput | None:
        """The kept output for ``key`` rendered at ``store_version``, if any."""
        if key is None:
            return None
        with self._lock:
            found = self._kept.get(key)
        return found[1] if found is not None and found[0] == store_version else None

    def keep(self, key: Key | None, store_version: int, output: BulkFile) -> None:
        """Keep a finished grouped output (a hard link, so deleting it keeps ours)."""
        if key is None or not output.path:
            return
        path = linked_copy(output.path, "shopify-emulator-kept-")
        kept = KeptOutput(path, tuple(output.slices))
        with self._lock:
            old = self._kept.get(key)
            self._kept[key] = (store_version, kept)
        if old is not None:
            _remove(old[1].path)

    def copy_into(
        self, kept: KeptOutput, output: BulkFile, *, grouped: bool, seed: int, step: int
    ) -> None:
        """Fill ``output`` with the kept bytes: the file itself when grouped, else each
        slice shuffled with the seed rendering gives it (``seed`` plus its first root's
        offset; slices are ``step`` roots apart)."""
        if grouped:
            output.adopt(kept.path, kept.slices)
            return
        with open(kept.path, "rb") as handle:
            for number, (size, _lines, roots) in enumerate(kept.slices):
                lines = handle.read(size).split(b"\n")[:-1]
                random.Random(seed + number * step).shuffle(lines)
                output.append_bytes(b"".join(line + b"\n" for line in lines), len(lines), roots)

    def close(self) -> None:
        """Delete every kept file."""
        with self._lock:
            _remove_kept(self._kept)


def _remove_kept(kept: dict[Key, tuple[int, KeptOutput]]) -> None:
    for _version, output in list(kept.values()):
        _remove(output.path)
    kept.clear()


def _remove(path: str) -> None:
    if os.path.exists(path):
        os.unlink(path)
