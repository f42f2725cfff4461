"""Bulk JSONL written straight from the resolvers, one generated emitter per selection.

The general path (:mod:`fastexec` completing a dict tree, then :func:`bulk_output.flatten`
splitting it and ``json`` encoding each line) builds every value three times. Here the
query's plan compiles into functions that resolve a node's fields and write its JSONL
line as text at once; a nested connection's nodes become their own lines with
``__parentId`` right after their parent, exactly as ``flatten`` orders them. Money bags
come from a cache of immutable dicts (:func:`views.money_bag`), as do products and
variants, so the text of each is kept per dict and written once per distinct value
rather than once per field.

Only what the output of ``flatten`` is known for compiles: plain queries whose top-level
fields are all connections, nested connections selected as ``edges { node }`` or
``nodes``, and a node ``id`` that is a scalar. Anything else (or anything unusual at
run time: a resolver error, a null in a non-null field, a null connection) makes
:func:`emit_chunk` answer None, and the caller runs the general path for that chunk,
so the bytes stay those of the reference executor (``tests/test_bulk_emit.py``).
"""

from __future__ import annotations

import inspect
import json
import keyword
import random
import types
from collections.abc import Callable
from typing import Any

from graphql import (
    DocumentNode,
    FieldNode,
    GraphQLList,
    GraphQLNonNull,
    GraphQLObjectType,
    GraphQLOutputType,
    GraphQLSchema,
)
from graphql.pyutils import Undefined

from shopify_emulator import fastexec
from shopify_emulator.fastexec import UnsupportedError, _BailError

# Switch for benchmarks and equivalence tests: False always takes the general path (which
# ``fastexec.ENABLED = False`` also forces, so that switch still means "the reference").
ENABLED = True

# json.dumps(ensure_ascii=False) writes strings with exactly this function.
_ENC: Callable[[str], str] = json.encoder.encode_basestring  # type: ignore[attr-defined]
_DUMP = json.JSONEncoder(ensure_ascii=False, separators=(",", ":")).encode
# Types whose sources are immutable cached dicts: their text is kept per source object.
_MEMO_TYPES = frozenset({"MoneyBag", "Product", "ProductVariant"})

# Distinct shared sources whose text a memo keeps before emptying: as many as the money bag
# cache holds (``views.cached_money_bag``); a bag it has dropped comes back as a new object.
MEMO_LIMIT = 1 << 16
_MEMOS = "bulk_emit.memos"  # where an operation's memos live in its bulk_cache

Spec = tuple[Any, ...]
Emitter = Callable[[Any], str]


def _json(value: Any) -> str:
    """Any completed value as ``flatten``'s encoder writes it."""
    if value is None:
        return "null"
    if value.__class__ is str:
        return _ENC(value)
    if value.__class__ is int:
        return int.__repr__(value)
    return _DUMP(value)


class _SpecCompiler(fastexec._Compiler):
    """The plan's steps, with an emit spec instead of a completer per field."""

    def completer(self, type_: GraphQLOutputType, node: FieldNode) -> Any:
        if isinstance(type_, GraphQLNonNull):
            return ("nonnull", self.completer(type_.of_type, node))
        if isinstance(type_, GraphQLList):
            return ("list", self.completer(type_.of_type, node))
        if isinstance(type_, GraphQLObjectType) and node.selection_set is not None:
            return ("object", type_, self.fields(type_, node.selection_set))
        if node.selection_set is None:
            return ("leaf", fastexec._leaf(type_))  # type: ignore[arg-type]
        raise UnsupportedError(f"type {type_}")


def _unwrap(spec: Spec) -> tuple[bool, Spec]:
    if spec[0] == "nonnull":
        return True, spec[1]
    return False, spec


class _CodeGen:
    """Generates the emitters of one plan; compiled code is kept per selection shape."""

    def __init__(self, memos: dict[Any, dict[int, tuple[Any, str]]] | None = None) -> None:
        """``memos``: the texts of shared sources, kept across the chunks of one operation."""
        self.memos: dict[Any, dict[int, tuple[Any, str]]] = {} if memos is None else memos

    def value_code(self, i: int, spec: Spec, env: dict[str, Any], target: str) -> list[str]:
        """Statements turning the resolved ``v`` into JSON text in ``target``."""
        nonnull, inner = _unwrap(spec)
        exc = "    if isinstance(v, Exc): raise Bail('an exception as a value')"
        if inner[0] == "object":
            # Most objects are dicts (money bags, products), which are no exceptions.
            exc = (
                "    if v.__class__ is not dict and isinstance(v, Exc): raise Bail('an exception')"
            )
            env[f"O{i}"] = self.object_emitter(inner[1], inner[2])
            check = ["    if v is None or v is UNDEF: raise Bail('null object')"] if nonnull else []
            return [exc, *check, f"    {target} = O{i}(v)"]
        if inner[0] == "list":
            env[f"O{i}"] = self.item_emitter(spec)
            return [exc, f"    {target} = O{i}(v)"]
        leaf = inner[1]
        env[f"L{i}"] = leaf
        kind = getattr(leaf, "kind", None)
        t = fastexec.leaf_expression(i, leaf, env) or f"L{i}(v)"
        slow = [exc, f"    t = {t}"]
        if nonnull:
            slow.append("    if t is None: raise Bail('null in a non-null field')")
        if kind == "bool":
            flag = "('true' if t else 'false')"
            slow.append(f"    {target} = {flag} if t.__class__ is bool else J(t)")
            fast = [
                f"    if v is True: t, {target} = v, 'true'",
                f"    elif v is False: t, {target} = v, 'false'",
            ]
        else:
            slow.append(f"    {target} = ENC(t) if t.__class__ is str else J(t)")
            # Strings are most values; they serialize as themselves (String, ID, custom).
            str_kind = kind in ("str", "identity")
            fast = [f"    if v.__class__ is str: t, {target} = v, ENC(v)"] if str_kind else []
            if kind == "int":
                int_range = fastexec.INT_RANGE
                fast = [f"    if v.__class__ is int and {int_range}: t, {target} = v, INT(v)"]
            if kind == "enum":
                # Internal value -> (name, its JSON text): the lookup serialize does first.
                names = leaf.names  # type: ignore[attr-defined]
                env[f"EJ{i}"] = {value: (name, _ENC(name)) for value, name in names.items()}
                hit = f"EJ{i}.get(v) if v.__class__ is str else None"
                fast = [f"    hit = {hit}", f"    if hit is not None: t, {target} = hit"]
        if not fast:
            return slow
        return [*fast, "    else:", *("    " + line for line in slow)]

    def item_emitter(self, spec: Spec) -> Emitter:
        """An emitter for one value of ``spec`` (used for list items)."""
        nonnull, inner = _unwrap(spec)
        if inner[0] == "list":
            item = self.item_emitter(inner[1])

            def emit_list(value: Any) -> str:
                if value is None or value is Undefined:
                    if nonnull:
                        raise _BailError("null list")
                    return "null"
                if not isinstance(value, (list, tuple)):
                    raise _BailError("not a list")
                return "[" + ",".join([item(x) for x in value]) + "]"

            return emit_list
        env: dict[str, Any] = {}
        body = ["def emit(v):", *self.value_code(0, spec, env, "s"), "    return s"]
        return self.build(body, env)  # type: ignore[return-value]

    def object_emitter(self, type_: GraphQLObjectType, steps: list[Any]) -> Emitter:
        """JSON text of one object of ``type_`` (``null`` for a null source)."""
        env: dict[str, Any] = {}
        body = ["def emit(src):"]
        memo = type_.name in _MEMO_TYPES
        if memo:
            body += ["    hit = MEMO.get(id(src))", "    if hit is not None and hit[0] is src:"]
            body += ["        return hit[1]"]
        body += ["    if src is None or src is UNDEF:", "        return 'null'"]
        body += ["    d = isinstance(src, dict)"]
        parts = []
        for i, step in enumerate(steps):
            body += self.step_code(i, step, env)
            parts.append(f"{_ENC(step[0])}:{{p{i}}}")
        body.append("    s = f'{{" + ",".join(parts) + "}}'")
        if memo:
            # One memo per selection for the whole operation, shared by the fields that
            # select a type alike (ten money fields of an order); it holds the sources it
            # names, so an id is never reused while in it, and is emptied when it grows.
            key = (type_.name, "\n".join(body))
            env["MEMO"] = self.memos.setdefault(key, {})
            env["LIMIT"] = MEMO_LIMIT
            body += ["    if len(MEMO) >= LIMIT: MEMO.clear()", "    MEMO[id(src)] = (src, s)"]
        body.append("    return s")
        return self.build(body, env)  # type: ignore[return-value]

    def step_code(
        self, i: int, step: Any, env: dict[str, Any], cls: type | None = None, sample: Any = None
    ) -> list[str]:
        """Resolve step ``i`` into ``v`` (as the plan does), then write ``p{i}``; with
        ``cls``, for sources of exactly that class (``sample`` is one of them)."""
        spec = step[5]
        if step[3] is None:  # __typename
            env[f"K{i}"] = _ENC(spec(None))
            return [f"    p{i} = K{i}"]
        if cls is None:
            resolve = fastexec.resolve_code(i, step, env)
        else:
            resolve = _class_resolve_code(i, step, env, cls, sample)
        return resolve + self.value_code(i, spec, env, f"p{i}")

    def build(self, body: list[str], env: dict[str, Any]) -> Callable[..., Any]:
        env.update(UNDEF=Undefined, Bail=_BailError, Exc=Exception, J=_json, ENC=_ENC)
        env["INT"] = int.__repr__
        return fastexec.bind("\n".join(body), "emit", env)


def _specialisable(sample: Any) -> type | None:
    """The class to specialise a record emitter for (None: the generic one)."""
    cls = sample.__class__
    if cls is dict:
        return cls
    if isinstance(sample, dict) or not hasattr(sample, "__dict__"):
        return None  # a mapping subclass or a slotted object: read as the plan does
    return cls


def _class_resolve_code(
    i: int, step: Any, env: dict[str, Any], cls: type, sample: Any
) -> list[str]:
    """Code resolving step ``i`` on a source of exactly ``cls`` into ``v``, as the default
    resolver does (mapping key or attribute, called if callable) without asking what the
    source is. A source of that class lacking the attribute raises AttributeError, which
    hands the chunk to the general path."""
    _key, name, resolve, info, args, _spec = step
    if resolve is not None or not name.isidentifier() or keyword.iskeyword(name):
        return fastexec.resolve_code(i, step, env)
    env[f"I{i}"], env[f"A{i}"] = info, args
    extra = f", **A{i}" if args else ""
    call = f"    if callable(v): v = v(I{i}{extra})"
    if cls is dict:
        return [f"    v = src.get({name!r})", call]
    if name in vars(sample):
        return [f"    v = src.{name}", call]
    static = inspect.getattr_static(cls, name, None)
    if isinstance(static, types.FunctionType):
        return [f"    v = src.{name}(I{i}{extra})"]  # a method: what getattr gives is callable
    if static is None:
        return [f"    v = getattr(src, {name!r}, None)", call]
    return [f"    v = src.{name}", call]


def _resolve(step: Any, source: Any) -> Any:
    """One step's raw value, as the plan resolves it."""
    _key, name, resolve, info, args, _spec = step
    if resolve is not None:
        value = resolve(source, info, **args)
    else:
        value = source.get(name) if isinstance(source, dict) else getattr(source, name, None)
        if callable(value):
            value = value(info, **args)
    if isinstance(value, Exception) or value is None or value is Undefined:
        raise _BailError("a connection part is null or an error")
    return value


def _connection_path(spec: Spec) -> tuple[list[Any], Spec] | None:
    """For a connection selected as ``edges { node }`` or ``nodes``: (steps to the node
    list and node, the node's spec); None for an object ``flatten`` keeps inline."""
    if not isinstance(spec, tuple):  # __typename
        return None
    _nonnull, inner = _unwrap(spec)
    if inner[0] != "object":
        return None
    steps = inner[2]
    keys = [s[0] for s in steps]
    if "edges" not in keys and "nodes" not in keys:
        return None
    if len(steps) != 1 or steps[0][0] != steps[0][1]:
        raise UnsupportedError("a connection with more than edges { node } or nodes")
    _list_nonnull, items = _unwrap(steps[0][5])
    if items[0] != "list":
        raise UnsupportedError("edges or nodes that are not a list")
    if steps[0][0] == "nodes":
        return [steps[0]], items[1]
    _edge_nonnull, edge = _unwrap(items[1])
    if edge[0] != "object" or [(s[0], s[1]) for s in edge[2]] != [("node", "node")]:
        raise UnsupportedError("edges selecting more than node")
    return [steps[0], edge[2][0]], edge[2][0][5]


class _NodeEmitter:
    """The JSONL lines of one connection node and, after it, its nested connections'."""

    def __init__(self, gen: _CodeGen, spec: Spec) -> None:
        _nonnull, inner = _unwrap(spec)
        if inner[0] != "object":
            raise UnsupportedError("a connection of scalars")
        steps = inner[2]
        self.children: list[tuple[Any, list[Any], _NodeEmitter]] = []
        record = []
        for step in steps:
            path = _connection_path(step[5])
            if path is None:
                record.append(step)
            else:
                self.children.append((step, path[0], _NodeEmitter(gen, path[1])))
        ids = [s for s in record if s[0] == "id"]
        if ids and (not isinstance(ids[0][5], tuple) or _unwrap(ids[0][5])[1][0] != "leaf"):
            raise UnsupportedError("an id that is not a scalar")
        self.id_index = record.index(ids[0]) if ids else -1
        self.gen, self.steps = gen, record
        # Record emitters per source class: a connection's nodes are all one view class,
        # so each reads its fields the way that class holds them (no dispatch per field).
        self.records: dict[type, Callable[..., Any]] = {}

    def _record_emitter(self, sample: Any) -> Callable[..., Any]:
        cls = _specialisable(sample)
        env: dict[str, Any] = {"D": cls is dict}
        test = "    d = D" if cls is not None else "    d = isinstance(src, dict)"
        body = ["def emit(src, parent):", test, "    pid = None"]
        parts = []
        for i, step in enumerate(self.steps):
            body += self.gen.step_code(i, step, env, cls, sample)
            if i == self.id_index:
                body.append("    pid = t")
            parts.append(f"{_ENC(step[0])}:{{p{i}}}")
        body += ["    if parent is None:", "        return f'{{" + ",".join(parts) + "}}', pid"]
        parts.append('"__parentId":{J(parent)}')
        body.append("    return f'{{" + ",".join(parts) + "}}', pid")
        return self.gen.build(body, env)

    def emit(self, src: Any, parent: Any, out: list[str]) -> None:
        """Append the line of ``src`` and then its children's lines to ``out``."""
        if src is None or src is Undefined:
            raise _BailError("a null node")
        record = self.records.get(src.__class__)
        if record is None:
            record = self.records[src.__class__] = self._record_emitter(src)
        line, pid = record(src, parent)
        out.append(line)
        for conn_step, path, child in self.children:
            child.emit_all(path, _resolve(conn_step, src), pid, out)

    def emit_all(self, path: list[Any], connection: Any, parent: Any, out: list[str]) -> int:
        """The lines of every node of ``connection``; the number of nodes."""
        items = _resolve(path[0], connection)
        if not isinstance(items, (list, tuple)):
            raise _BailError("not a list")
        if len(path) == 2:
            node_step = path[1]
            for edge in items:
                self.emit(_resolve(node_step, edge), parent, out)
        else:
            for node in items:
                self.emit(node, parent, out)
        return len(items)


def emit_chunk(
    schema: GraphQLSchema, document: DocumentNode, context: Any, *, grouped: bool, seed: int
) -> tuple[list[str], int] | None:
    """What ``flatten(fastexec.execute(...).data)`` returns, written directly.

    Args:
        schema: The served schema.
        document: The parsed bulk query.
        context: The request context of this slice of the operation.
        grouped: Children follow their parent; False shuffles the lines, as ``flatten`` does.
        seed: The shuffle's seed.

    Returns:
        (lines, root objects), or None when the general path must answer this chunk.
    """
    if not (ENABLED and fastexec.ENABLED):
        return None
    try:
        cache = getattr(context, "bulk_cache", None)
        gen = _CodeGen(cache.setdefault(_MEMOS, {}) if cache is not None else None)
        roots = []
        for step in _plan(schema, document, context):
            path = _connection_path(step[5])
            if path is None:
                raise UnsupportedError("a top-level field that is not a connection")
            roots.append((step, path[0], _NodeEmitter(gen, path[1])))
        lines: list[str] = []
        count = 0
        for step, path, emitter in roots:
            count += emitter.emit_all(path, _resolve(step, None), None, lines)
    except Exception:  # noqa: BLE001 - anything unusual: the general path decides
        return None
    if not grouped:
        random.Random(seed).shuffle(lines)
    return lines, count


def _plan(schema: GraphQLSchema, document: DocumentNode, context: Any) -> list[Any]:
    return fastexec.compile_plan(schema, document, context, compiler=_SpecCompiler)
