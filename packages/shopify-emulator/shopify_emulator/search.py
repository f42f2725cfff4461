"""Shopify's search syntax for the ``query:`` argument, compiled to a predicate.

Supported: ``field:value``, comparators ``:>``, ``:>=``, ``:<``, ``:<=``, implicit AND,
``AND``, ``OR``, ``NOT`` and ``-term``, parentheses, quoted values and free text. Dates
may be days (``2024-01-01``: the whole day) or instants (``'2024-01-01T10:00:00Z'``).

Two Shopify behaviours a sync trips over are reproduced on purpose:
- An unquoted timestamp loses everything from its first colon (``updated_at:>2024-01-01T10:00:00Z``
  filters on the day ``2024-01-01``): quote date-times.
- ``>`` on dates behaves like ``>=`` (observed on Shopify), so the boundary record comes
  back again; a sync dedupes on (id, updatedAt).
Unknown fields match nothing-in-particular: the term is ignored, as Shopify ignores it.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

Predicate = Callable[[Any], bool]
FieldGetter = Callable[[Any], Any]

_TOKEN = re.compile(
    r"""\s*(?:(?P<lp>\()|(?P<rp>\))|(?P<term>-?(?:[A-Za-z_.]+:(?:[<>]=?)?)?(?:'[^']*'|"[^"]*"|[^\s()]+)))"""
)
_DAY = 86_400


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
    gt_inclusive: bool = True,
) -> Predicate | None:
    """Compile a search string into a predicate over search facts; None means "all".

    Args:
        query: The ``query:`` argument.
        fields: Searchable fields of the resource.
        text: Getter of the free-text haystack for terms without a field.
        gt_inclusive: Make ``>`` on dates behave like ``>=`` (Shopify's observed quirk).

    Returns:
        A predicate, or None when the query is empty.
    """
    if query is None or not query.strip():
        return None
    tokens = _tokenize(query)
    parser = _Parser(tokens, fields, text, gt_inclusive)
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
        gt_inclusive: bool,
    ) -> None:
        self.tokens = tokens
        self.pos = 0
        self.fields = fields
        self.text = text
        self.gt_inclusive = gt_inclusive

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
        return _compare(field, op, value, self.gt_inclusive)

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


def parse_time(value: str) -> tuple[int, int]:
    """A search date as the half-open second range it covers (a day or one instant)."""
    value = value.strip()
    if re.fullmatch(r"\d{4}-\d{2}-\d{2}", value):
        start = int(datetime.fromisoformat(value).replace(tzinfo=UTC).timestamp())
        return start, start + _DAY
    if re.fullmatch(r"\d{4}-\d{2}-\d{2}T\d{2}", value):  # what is left of an unquoted time
        return parse_time(value[:10])
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError as error:
        raise SearchSyntaxError(f"invalid date {value!r}") from error
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    start = int(parsed.timestamp())
    return start, start + 1


def _compare(field: SearchField, op: str, value: str, gt_inclusive: bool) -> Predicate:  # noqa: PLR0911 - one return per field kind
    get = field.getter
    if field.kind == "date":
        lo, hi = parse_time(value)
        return _date_predicate(get, op, lo, hi, gt_inclusive)
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


def _date_predicate(get: FieldGetter, op: str, lo: int, hi: int, gt_inclusive: bool) -> Predicate:
    if op == ">":
        bound = lo if gt_inclusive else hi
        return lambda r: get(r) >= bound
    if op == ">=":
        return lambda r: get(r) >= lo
    if op == "<":
        return lambda r: get(r) < lo
    if op == "<=":
        return lambda r: get(r) < hi
    return lambda r: lo <= get(r) < hi


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
    """Cheap lower/upper bounds a top-level AND query puts on one date field (for indexes)."""
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
            lo, hi = parse_time(value)
        except SearchSyntaxError:
            return None, None
        if op.startswith(">"):
            lower = lo if lower is None else max(lower, lo)
        else:
            upper = hi if upper is None else min(upper, hi)
    return lower, upper
