"""A compiled executor for plain query documents, with graphql-core's executor as reference.

graphql-core resolves every field of every object through a generic path (field lookup,
argument coercion, resolve info, type dispatch), which made bulk output and big pages cost
tens of microseconds per field. Here a query's selections are compiled once against the
schema into a small plan of (response key, resolver, arguments, completer) steps and then
applied to each object.

The plan reproduces the executor exactly for what it supports (object, list, non-null,
scalar and enum types; field arguments, aliases and ``__typename``) and gives up on the
rest: fragments, directives, abstract types, duplicate response keys, introspection and
mutations make :func:`compile_plan` refuse. Any error while running (a resolver raising,
such as an ACCESS_DENIED scope or protected data, or a null in a non-null field) also
makes :func:`execute` answer with graphql-core's own result, so errors, paths and partial
data stay exactly what the reference executor returns. Resolvers are read-only, so running
them twice is harmless.
"""

from __future__ import annotations

import textwrap
from collections.abc import Callable
from typing import Any

from graphql import (
    DocumentNode,
    ExecutionResult,
    FieldNode,
    GraphQLEnumType,
    GraphQLList,
    GraphQLNonNull,
    GraphQLObjectType,
    GraphQLOutputType,
    GraphQLResolveInfo,
    GraphQLScalarType,
    GraphQLSchema,
    OperationDefinitionNode,
    SelectionSetNode,
    execute_sync,
)
from graphql.execution.values import get_argument_values, get_variable_values
from graphql.pyutils import Undefined

# Switch for benchmarks and equivalence tests: False always runs the reference executor.
ENABLED = True

Completer = Callable[[Any], Any]
# (response key, field name, resolver or None for the default one, info, args, completer)
Step = tuple[str, str, Any, GraphQLResolveInfo | None, dict[str, Any], Completer]


class UnsupportedError(Exception):
    """The document uses something the plan does not reproduce; use the reference."""


class _BailError(Exception):
    """A value the reference executor would turn into an error; use the reference."""


def _is_awaitable(_value: Any) -> bool:
    return False


class _Compiler:
    """Builds the plan of one operation for one request context."""

    def __init__(
        self,
        schema: GraphQLSchema,
        operation: OperationDefinitionNode,
        variables: dict[str, Any],
        context: Any,
    ) -> None:
        self.schema = schema
        self.operation = operation
        self.variables = variables
        self.context = context

    def fields(self, parent: GraphQLObjectType, selection_set: SelectionSetNode) -> list[Step]:
        if parent.is_type_of is not None:
            raise UnsupportedError(f"{parent.name} has is_type_of")
        steps: list[Step] = []
        seen: set[str] = set()
        for node in selection_set.selections:
            if not isinstance(node, FieldNode) or node.directives:
                raise UnsupportedError("fragments and directives")
            name = node.name.value
            key = node.alias.value if node.alias else name
            if key in seen:
                raise UnsupportedError(f"response key {key} selected twice (merging)")
            seen.add(key)
            if name == "__typename":
                steps.append((key, name, None, None, {}, _constant(parent.name)))
                continue
            field_def = parent.fields.get(name)
            if field_def is None:
                raise UnsupportedError(f"unknown field {name}")
            args = get_argument_values(field_def, node, self.variables)
            info = GraphQLResolveInfo(
                name,
                [node],
                field_def.type,
                parent,
                None,  # type: ignore[arg-type] - no resolver of the emulator reads the path
                self.schema,
                {},
                None,
                self.operation,
                self.variables,
                self.context,
                _is_awaitable,
            )
            complete = self.completer(field_def.type, node)
            steps.append((key, name, field_def.resolve, info, args, complete))
        return steps

    def completer(self, type_: GraphQLOutputType, node: FieldNode) -> Completer:
        if isinstance(type_, GraphQLNonNull):
            return _non_null(self.completer(type_.of_type, node))
        if isinstance(type_, GraphQLList):
            return _list(self.completer(type_.of_type, node))
        if isinstance(type_, GraphQLScalarType | GraphQLEnumType):
            return _leaf(type_)
        if isinstance(type_, GraphQLObjectType) and node.selection_set is not None:
            return _object(self.fields(type_, node.selection_set))
        raise UnsupportedError(f"type {type_}")


def _constant(value: Any) -> Completer:
    return lambda _v: value


def _non_null(inner: Completer) -> Completer:
    def complete(value: Any) -> Any:
        out = inner(value)
        if out is None:
            raise _BailError("null in a non-null field")
        return out

    complete.inner = inner  # type: ignore[attr-defined]
    return complete


def _list(inner: Completer) -> Completer:
    def complete(value: Any) -> Any:
        if value is None or value is Undefined:
            return None
        if not isinstance(value, (list, tuple)):  # a tuple is faster than a union
            raise _BailError("not a list")
        return [inner(item) for item in value]

    return complete


def _leaf(type_: GraphQLScalarType | GraphQLEnumType) -> Completer:
    serialize = type_.serialize
    if serialize is GraphQLScalarType.serialize:
        # Custom scalars built from SDL serialize as themselves.
        def identity(value: Any) -> Any:
            return None if value is Undefined else value

        identity.kind = "identity"  # type: ignore[attr-defined]
        return identity

    def complete(value: Any) -> Any:
        if value is None or value is Undefined:
            return None
        out = serialize(value)
        if out is None or out is Undefined:
            raise _BailError("serialize returned null")
        return out

    # String and ID serialize a str, Boolean a bool, Int a 32-bit int, as themselves:
    # generated code skips the call for those and calls ``complete`` for anything else.
    complete.kind = _SAME_CLASS.get(type_.name)  # type: ignore[attr-defined]
    if isinstance(type_, GraphQLEnumType):
        # What serialize looks up first: internal value -> enum name.
        complete.kind = "enum"  # type: ignore[attr-defined]
        complete.names = {v.value: name for name, v in type_.values.items()}  # type: ignore[attr-defined]
    return complete


_SAME_CLASS = {"String": "str", "ID": "str", "Boolean": "bool", "Int": "int"}
# Int serializes an int (not a bool) in this range as itself and refuses any other int.
INT_RANGE = "-2147483648 <= v <= 2147483647"


def _object(steps: list[Step]) -> Completer:
    return generate(steps)


def generate(steps: list[Step]) -> Completer:
    """An object completer for ``steps``, as one generated function without a field loop.

    It does what :func:`run_steps` does, step by step, with the default resolver and the
    completion of String/ID/Boolean/custom scalars inlined (they are most of the fields).
    """
    env: dict[str, Any] = {"UNDEF": Undefined, "Bail": _BailError, "Exc": Exception}
    body = ["def complete(src):", "    if src is None or src is UNDEF:", "        return None"]
    body += ["    d = isinstance(src, dict)", "    out = {}"]
    for i, step in enumerate(steps):
        body += _step_code(i, step, env)
    body.append("    return out")
    return bind("\n".join(body), "complete", env)  # type: ignore[no-any-return]


def bind(source: str, name: str, env: dict[str, Any]) -> Callable[..., Any]:
    """The function ``name`` defined by ``source``, its free names bound from ``env``."""
    factory = _FACTORIES.get(source)
    if factory is None:
        # Compiling is the costly part (milliseconds), so the code is kept per selection
        # shape and each request only binds its own infos, arguments and completers.
        binds = [f"    {key} = E[{key!r}]" for key in sorted(env)]
        code = "\n".join(["def factory(E):", *binds, textwrap.indent(source, "    ")])
        namespace: dict[str, Any] = {}
        exec(code + f"\n    return {name}", namespace)  # noqa: S102 - built from schema names
        if len(_FACTORIES) > MAX_FACTORIES:
            _FACTORIES.clear()
        factory = _FACTORIES[source] = namespace["factory"]
    return factory(env)


MAX_FACTORIES = 1024
_FACTORIES: dict[str, Callable[[dict[str, Any]], Callable[..., Any]]] = {}


def _step_code(i: int, step: Step, env: dict[str, Any]) -> list[str]:
    key, _name, _resolve, info, _args, complete = step
    if info is None:  # __typename: a constant
        env[f"K{i}"] = complete(None)
        return [f"    out[{key!r}] = K{i}"]
    env[f"C{i}"] = complete
    lines = resolve_code(i, step, env)
    lines.append("    if isinstance(v, Exc): raise Bail('an exception as a value')")
    inner = getattr(complete, "inner", None)
    leaf = inner if inner is not None else complete
    env[f"L{i}"] = leaf
    expr = leaf_expression(i, leaf, env)
    if expr is not None:
        pass
    elif inner is not None:
        expr = f"L{i}(v)"  # the non-null check below saves a call level
    else:
        return [*lines, f"    out[{key!r}] = C{i}(v)"]
    if inner is None:
        return [*lines, f"    out[{key!r}] = {expr}"]
    return [
        *lines,
        f"    v = {expr}",
        "    if v is None: raise Bail('null in a non-null field')",
        f"    out[{key!r}] = v",
    ]


def resolve_code(i: int, step: Step, env: dict[str, Any]) -> list[str]:
    """Code resolving step ``i`` on ``src`` (``d``: it is a dict) into ``v``, as
    :func:`run_steps` does."""
    _key, name, resolve, info, args, _complete = step
    env[f"I{i}"], env[f"A{i}"], env[f"R{i}"] = info, args, resolve
    extra = f", **A{i}" if args else ""
    if resolve is not None:
        return [f"    v = R{i}(src, I{i}{extra})"]
    return [
        f"    v = src.get({name!r}) if d else getattr(src, {name!r}, None)",
        f"    if callable(v): v = v(I{i}{extra})",
    ]


def leaf_expression(i: int, leaf: Completer, env: dict[str, Any]) -> str | None:
    """Code completing the value ``v`` of leaf ``i`` (bound as ``L{i}``) with the common
    cases inlined; None when only a call of the completer does it."""
    kind = getattr(leaf, "kind", None)
    if kind == "identity":
        return "None if v is UNDEF else v"
    if kind == "enum":
        env[f"E{i}"] = leaf.names  # type: ignore[attr-defined]
        return f"E{i}[v] if v in E{i} else L{i}(v)"
    if kind in ("str", "bool"):
        return f"v if v.__class__ is {kind} else L{i}(v)"
    if kind == "int":
        return f"v if v.__class__ is int and {INT_RANGE} else L{i}(v)"
    return None


def run_steps(steps: list[Step], source: Any) -> dict[str, Any]:
    """Resolve and complete ``steps`` on one source object (a view, a dict or None)."""
    out: dict[str, Any] = {}
    is_dict = isinstance(source, dict)
    for key, name, resolve, info, args, complete in steps:
        if info is None:  # __typename
            out[key] = complete(None)
            continue
        if resolve is not None:
            value = resolve(source, info, **args)
        else:
            # graphql-core's default resolver: mapping key or attribute, called if callable.
            value = source.get(name) if is_dict else getattr(source, name, None)
            if callable(value):
                value = value(info, **args)
        if isinstance(value, Exception):
            raise _BailError("a resolver returned an exception")
        out[key] = complete(value)
    return out


def compile_plan(
    schema: GraphQLSchema,
    document: DocumentNode,
    context: Any,
    variables: dict[str, Any] | None = None,
    operation_name: str | None = None,
    *,
    compiler: type[_Compiler] = _Compiler,
) -> list[Step]:
    """The root steps of the document's query operation.

    ``compiler`` may be a subclass building something else than completers per field
    (``bulk_emit`` builds emit specs).

    Raises:
        UnsupportedError: the document is not a plain query the plan reproduces exactly.
    """
    ops = [d for d in document.definitions if isinstance(d, OperationDefinitionNode)]
    if operation_name is not None:
        ops = [o for o in ops if o.name is not None and o.name.value == operation_name]
    if len(ops) != 1 or len(document.definitions) != 1 or ops[0].operation.value != "query":
        raise UnsupportedError("not exactly one query operation")
    operation = ops[0]
    if operation.directives or schema.query_type is None:
        raise UnsupportedError("operation directives")
    coerced = get_variable_values(schema, operation.variable_definitions or [], variables or {})
    if not isinstance(coerced, dict):
        raise UnsupportedError("invalid variables")  # the reference reports them
    return compiler(schema, operation, coerced, context).fields(
        schema.query_type, operation.selection_set
    )


def execute(
    schema: GraphQLSchema,
    document: DocumentNode,
    context: Any,
    variables: dict[str, Any] | None = None,
    operation_name: str | None = None,
) -> ExecutionResult:
    """Run a query with the compiled plan; the reference executor whenever that differs.

    Args:
        schema: The served schema (resolvers attached).
        document: A parsed, validated document.
        context: The request context handed to resolvers as ``info.context``.
        variables: Raw variable values.
        operation_name: The operation to run when the document holds several.

    Returns:
        What ``graphql.execute_sync`` returns for the same arguments.
    """
    if ENABLED:
        try:
            steps = compile_plan(schema, document, context, variables, operation_name)
            return ExecutionResult(run_steps(steps, None), None)
        except Exception:  # noqa: BLE001, S110 - anything unusual: the reference decides
            pass
    return execute_sync(
        schema,
        document,
        context_value=context,
        variable_values=variables,
        operation_name=operation_name,
    )
