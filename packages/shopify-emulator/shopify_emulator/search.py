"""Shopify's search syntax for the ``query:`` argument, compiled to a predicate.

Supported: ``field:value``, comparators ``:>``, ``:>=``, ``:<``, ``:<=``, implicit AND,
``AND``, ``OR``, ``NOT`` and ``-term``, parentheses, quoted values and free text. Dates
may be days (``2024-01-01``: the whole day) or instants (``'2024-01-01T10:00:00Z'``).

Shopify behaviours a sync trips over are reproduced on purpose:
- An unquoted timestamp loses everything from its first colon (``updated_at:>2024-01-01T10:00:00Z``
  filters on the day ``2024-01-01``): quote date-times.
- ``>`` on a time without fractional seconds still returns records from later in that
  same second before 2026-10, and excludes the whole second from 2026-10 (timefilter.py).
Unknown fields are ignored, as Shopify ignores them. Date getters return microseconds.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from shopify_emulator.timefilter import TimeSyntaxError, parse_time, second_bounds, time_predicate

Predicate = Callable[[Any], bool]
FieldGetter = Callable[[Any], Any]

_TOKEN = re.compile(
    r"""\s*(?:(?P<lp>\()|(?P<rp>\))|(?P<term>-?(?:[A-Za-z_.]+:(?:[<>]=?)?)?(?:'[^']*'|"[^"]*"|[^\s()]+)))"""
)


@dataclass(frozen=True, slots=True)
class SearchField:
    """How one search field reads a record: kind is date, int, bool, text, tag or status."""

    getter: FieldGetter
    kind: str


class SearchSyntaxError(ValueError):
    """The query string could not be parsed (Shopify then matches nothing)."""


def compile_query(
    query: str | None,
    fields: dict[str, SearchField],
    text: FieldGetter | None = None,
    *,
    version: str = "2025-01",
) -> Predicate | None:
    """Compile a search string into a predicate over search facts; None means "all".

    Args:
        query: The ``query:`` argument.
        fields: Searchable fields of the resource.
        text: Getter of the free-text haystack for terms without a field.
        version: The API version (``>`` on times changed in 2026-10).

    Returns:
        A predicate, or None when the query is empty.
    """
    if query is None or not query.strip():
        return None
    tokens = _tokenize(query)
    parser = _Parser(tokens, fields, text, version)
    predicate = parser.parse_or()
    if parser.pos != len(tokens):
        raise SearchSyntaxError(f"unexpected token {tokens[parser.pos]!r}")
    return predicate


def _tokenize(query: str) -> list[str]:
    tokens: list[str] = []
    pos = 0
    while pos < len(query):
        match = _TOKEN.match(query, pos)
        if match is None or match.end() == pos:
            if query[pos:].strip() == "":
                break
            raise SearchSyntaxError(f"cannot parse {query[pos:]!r}")
        tokens.append(match.group("lp") or match.group("rp") or match.group("term"))
        pos = match.end()
    return tokens


class _Parser:
    def __init__(
        self,
        tokens: list[str],
        fields: dict[str, SearchField],
        text: FieldGetter | None,
        version: str,
    ) -> None:
        self.tokens = tokens
        self.pos = 0
        self.fields = fields
        self.text = text
        self.version = version

    def peek(self) -> str | None:
        return self.tokens[self.pos] if self.pos < len(self.tokens) else None

    def parse_or(self) -> Predicate:
        parts = [self.parse_and()]
        while self.peek() == "OR":
            self.pos += 1
            parts.append(self.parse_and())
        return parts[0] if len(parts) == 1 else (lambda r: any(p(r) for p in parts))

    def parse_and(self) -> Predicate:
        parts = [self.parse_unary()]
        while self.peek() not in (None, "OR", ")"):
            if self.peek() == "AND":
                self.pos += 1
            parts.append(self.parse_unary())
        return parts[0] if len(parts) == 1 else (lambda r: all(p(r) for p in parts))

    def parse_unary(self) -> Predicate:
        word = self.peek()
        if word is None:
            raise SearchSyntaxError("unexpected end of query")
        self.pos += 1
        if word == "NOT":
            inner = self.parse_unary()
            return lambda r: not inner(r)
        if word == "(":
            inner = self.parse_or()
            if self.peek() != ")":
                raise SearchSyntaxError("missing )")
            self.pos += 1
            return inner
        if word.startswith("-") and len(word) > 1:
            inner = self.term(word[1:])
            return lambda r: not inner(r)
        return self.term(word)

    def term(self, token: str) -> Predicate:
        name, sep, rest = token.partition(":")
        if not sep or not re.fullmatch(r"[A-Za-z_.]+", name):
            return self.free_text(_unquote(token)[0])
        op = next((o for o in (">=", "<=", ">", "<") if rest.startswith(o)), "=")
        raw = rest[len(op) :] if op != "=" else rest
        value, quoted = _unquote(raw)
        if not quoted and ":" in value:
            value = value.split(":", 1)[0]  # Shopify splits unquoted values at a colon
        field = self.fields.get(name.lower())
        if field is None:
            return lambda _r: True
        return _compare(field, op, value, self.version)

    def free_text(self, word: str) -> Predicate:
        if self.text is None:
            return lambda _r: True
        needle = word.lower()
        getter = self.text
        return lambda r: needle in (getter(r) or "").lower()


def _unquote(raw: str) -> tuple[str, bool]:
    if len(raw) >= 2 and raw[0] == raw[-1] and raw[0] in "'\"":
        return raw[1:-1], True
    return raw, False


def _compare(field: SearchField, op: str, value: str, version: str) -> Predicate:  # noqa: PLR0911 - one return per field kind
    get = field.getter
    if field.kind == "date":
        try:
            parsed = parse_time(value)
        except TimeSyntaxError as error:
            raise SearchSyntaxError(str(error)) from error
        return time_predicate(get, op, parsed, version)
    if field.kind == "int":
        try:
            number = int(value.rsplit("/", 1)[-1])
        except ValueError:
            return lambda _r: False
        return _ordered(get, op, number)
    if field.kind == "bool":
        wanted = value.lower() == "true"
        return lambda r: bool(get(r)) == wanted
    if field.kind == "tag":
        tag = value.lower()
        return lambda r: tag in (t.lower() for t in get(r))
    if field.kind == "status":
        status = value.lower()
        return lambda r: status == "any" or status in get(r)
    text = value.lower()
    return lambda r: (get(r) or "").lower() == text


def _ordered(get: FieldGetter, op: str, number: int) -> Predicate:
    ops: dict[str, Predicate] = {
        ">": lambda r: get(r) is not None and get(r) > number,
        ">=": lambda r: get(r) is not None and get(r) >= number,
        "<": lambda r: get(r) is not None and get(r) < number,
        "<=": lambda r: get(r) is not None and get(r) <= number,
        "=": lambda r: get(r) == number,
    }
    return ops[op]


def time_bounds(query: str | None, field_name: str) -> tuple[int | None, int | None]:
    """Whole-second bounds a top-level AND query puts on one date field (to skip scans)."""
    if not query or " OR " in query or "(" in query or "NOT" in query:
        return None, None
    lower: int | None = None
    upper: int | None = None
    for token in _tokenize(query):
        name, _, rest = token.partition(":")
        if name.lower() != field_name or not rest.startswith((">", "<")):
            continue
        op = rest[:2] if rest[1:2] == "=" else rest[:1]
        value, quoted = _unquote(rest[len(op) :])
        if not quoted and ":" in value:
            value = value.split(":", 1)[0]
        try:
            low, high = second_bounds(op, parse_time(value))
        except TimeSyntaxError:
            return None, None
        if low is not None:
            lower = low if lower is None else max(lower, low)
        if high is not None:
            upper = high if upper is None else min(upper, high)
    return lower, upper
