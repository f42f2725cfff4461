"""Bulk output: flattening results into JSONL lines and the file behind the URL.

Results are written chunk by chunk to a temporary file, so a bulk query over a million
orders never holds its whole output in memory.
"""

from __future__ import annotations

import json
import os
import random
import shutil
import tempfile
from dataclasses import dataclass, field
from typing import Any


def _is_connection(value: Any) -> bool:
    return isinstance(value, dict) and (
        isinstance(value.get("edges"), list) or isinstance(value.get("nodes"), list)
    )


def _nodes(conn: dict[str, Any]) -> list[dict[str, Any]]:
    if isinstance(conn.get("edges"), list):
        return [e["node"] for e in conn["edges"] if isinstance(e, dict) and e.get("node")]
    return [n for n in conn.get("nodes") or [] if n]


# One encoder for every line: json.dumps with options builds a new encoder per call.
_encode = json.JSONEncoder(ensure_ascii=False, separators=(",", ":")).encode


def _split(obj: dict[str, Any], parent: str | None, out: list[str]) -> None:
    """Append the line for ``obj``, then its children's lines (grouped order), to ``out``."""
    # Cheap class test first: most values are strings, numbers or None.
    nested = [k for k, v in obj.items() if v.__class__ is dict and _is_connection(v)]
    # ``obj`` is this run's own result, so it becomes the record itself when it has no
    # connections (no copy); ``__parentId`` lands where a copy would have put it.
    record = {k: v for k, v in obj.items() if k not in nested} if nested else obj
    if parent is not None:
        record["__parentId"] = parent
    out.append(_encode(record))
    for key in nested:
        for child in _nodes(obj[key]):
            _split(child, obj.get("id"), out)


def flatten(data: dict[str, Any], *, grouped: bool, seed: int) -> tuple[list[str], int]:
    """JSONL lines of (a chunk of) a bulk result and the number of root objects.

    Ungrouped output is shuffled on purpose: children may come before their parent.
    """
    lines: list[str] = []
    roots = 0
    for value in data.values():
        if not _is_connection(value):
            continue
        for node in _nodes(value):
            roots += 1
            _split(node, None, lines)
    if not grouped:
        random.Random(seed).shuffle(lines)
    return lines, roots


@dataclass
class BulkFile:
    """The JSONL file of one operation."""

    path: str = ""
    line_count: int = 0
    root_count: int = 0
    size: int = 0
    # (bytes, lines, root objects) of each chunk, so a kept file can be re-cut (bulk_reuse).
    slices: list[tuple[int, int, int]] = field(default_factory=list)
    _handle: Any = field(default=None, repr=False)

    def append(self, lines: list[str], roots: int) -> None:
        """Add a chunk of lines."""
        self.append_bytes("".join(line + "\n" for line in lines).encode(), len(lines), roots)

    def append_bytes(self, data: bytes, line_count: int, roots: int) -> None:
        """Add a chunk already encoded: ``line_count`` lines, each ending in a newline."""
        if self._handle is None:
            fd, self.path = tempfile.mkstemp(prefix="shopify-emulator-bulk-", suffix=".jsonl")
            self._handle = os.fdopen(fd, "wb")
        self._handle.write(data)
        self.line_count += line_count
        self.root_count += roots
        self.size += len(data)
        self.slices.append((len(data), line_count, roots))

    def adopt(self, path: str, slices: tuple[tuple[int, int, int], ...]) -> None:
        """Become a finished file with the same bytes as ``path`` (a hard link to it)."""
        self.path = linked_copy(path, "shopify-emulator-bulk-")
        self.slices = list(slices)
        self.size = sum(size for size, _, _ in slices)
        self.line_count = sum(lines for _, lines, _ in slices)
        self.root_count = sum(roots for _, _, roots in slices)

    def finish(self) -> None:
        """Close the file for writing."""
        if self._handle is not None:
            self._handle.close()
            self._handle = None

    def read(self, limit: int | None = None) -> bytes:
        """The first ``limit`` bytes (all by default)."""
        if not self.path:
            return b""
        with open(self.path, "rb") as handle:
            return handle.read() if limit is None else handle.read(limit)

    def first_lines(self, count: int) -> bytes:
        """The first ``count`` whole lines (partial data of a failed operation)."""
        if not self.path:
            return b""
        out: list[bytes] = []
        with open(self.path, "rb") as handle:
            for _, line in zip(range(count), handle, strict=False):
                out.append(line)
        return b"".join(out)

    def delete(self) -> None:
        """Remove the file."""
        self.finish()
        if self.path and os.path.exists(self.path):
            os.unlink(self.path)


def linked_copy(path: str, prefix: str) -> str:
    """A new temporary name for the bytes of ``path``: a hard link (no copy) where the
    file system allows it, else a copy."""
    fd, new = tempfile.mkstemp(prefix=prefix, suffix=".jsonl")
    os.close(fd)
    try:
        os.unlink(new)
        os.link(path, new)
    except OSError:
        shutil.copyfile(path, new)
    return new
