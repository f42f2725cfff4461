"""Shopify's calculated query cost, from the parsed document, and the per-app leaky bucket.

Rules (shopify.dev "rate limits"): scalars and enums 0, objects 1, connections
2 + first|last x the cost of one node, mutations 10. Edges and pageInfo wrappers cost
nothing of their own. The requested cost is computed before execution; the actual cost
walks the response and counts only what came back.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from graphql import (
    DocumentNode,
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    GraphQLList,
    GraphQLNonNull,
    GraphQLObjectType,
    GraphQLSchema,
    InlineFragmentNode,
    OperationDefinitionNode,
    SelectionSetNode,
    get_named_type,
    is_composite_type,
    value_from_ast_untyped,
)

MAX_QUERY_COST = 1000
MUTATION_COST = 10


@dataclass(frozen=True, slots=True)
class PlanLimits:
    """Bucket size and restore rate (points per second) of a Shopify plan."""

    maximum: float
    restore_rate: float


PLANS: dict[str, PlanLimits] = {
    "standard": PlanLimits(2000.0, 100.0),
    "advanced": PlanLimits(4000.0, 200.0),
    "plus": PlanLimits(20000.0, 1000.0),
}


def _is_wrapper(type_name: str) -> bool:
    return type_name.endswith(("Edge", "Connection")) or type_name == "PageInfo"


def _is_list(type_: Any) -> bool:
    inner = type_.of_type if isinstance(type_, GraphQLNonNull) else type_
    return isinstance(inner, GraphQLList)


_MISSING = object()


class CostCalculator:
    """Computes requested and actual cost of one operation."""

    def __init__(
        self,
        schema: GraphQLSchema,
        document: DocumentNode,
        operation: OperationDefinitionNode,
        variables: dict[str, Any] | None,
    ) -> None:
        """Prepare for one operation of a parsed document."""
        self.schema = schema
        self.operation = operation
        self.variables = variables or {}
        self._composite: dict[tuple[Any, str], Any] = {}
        self.fragments = {
            d.name.value: d for d in document.definitions if isinstance(d, FragmentDefinitionNode)
        }

    def requested(self) -> int:
        """Requested (static) cost of the operation."""
        if self.operation.operation.value == "mutation":
            return MUTATION_COST * len(self._fields(self.operation.selection_set))
        root = self.schema.query_type
        assert root is not None
        return self._selection_cost(root, self.operation.selection_set, None)

    def actual(self, data: Any) -> int:
        """Actual cost, counting only the objects the response holds."""
        if self.operation.operation.value == "mutation":
            return MUTATION_COST * len(self._fields(self.operation.selection_set))
        root = self.schema.query_type
        assert root is not None
        if data is None:
            return 0
        return self._selection_cost(root, self.operation.selection_set, data)

    def _fields(self, selection_set: SelectionSetNode | None) -> list[FieldNode]:
        out: list[FieldNode] = []
        if selection_set is None:
            return out
        for sel in selection_set.selections:
            if isinstance(sel, FieldNode):
                out.append(sel)
            elif isinstance(sel, InlineFragmentNode):
                out.extend(self._fields(sel.selection_set))
            elif isinstance(sel, FragmentSpreadNode) and sel.name.value in self.fragments:
                out.extend(self._fields(self.fragments[sel.name.value].selection_set))
        return out

    def _type_for(self, parent: Any, name: str) -> Any:
        fields = getattr(parent, "fields", None)
        if fields is not None and name in fields:
            return fields[name]
        # Abstract parent (Node): look the field up on any implementing object type.
        for type_ in self.schema.type_map.values():
            if (
                isinstance(type_, GraphQLObjectType)
                and name in type_.fields
                and parent in type_.interfaces
            ):
                return type_.fields[name]
        return None

    def _composite_field(self, parent: Any, name: str) -> Any:
        """The field when its type has a selection (objects cost), else None; memoized."""
        key = (parent, name)
        found = self._composite.get(key, _MISSING)
        if found is _MISSING:
            field = self._type_for(parent, name)
            composite = field is not None and is_composite_type(get_named_type(field.type))
            found = self._composite[key] = field if composite else None
        return found

    def _selection_cost(
        self, parent: Any, selection_set: SelectionSetNode | None, data: Any
    ) -> int:
        total = 0
        for node in self._fields(selection_set):
            name = node.name.value
            if name.startswith("__"):
                continue
            field = self._composite_field(parent, name)
            if field is None:  # unknown, or a scalar/enum field: costs nothing
                continue
            key = node.alias.value if node.alias else name
            if data is not None:
                if not isinstance(data, dict) or data.get(key) is None:
                    continue
                total += self._field_cost(field, node, data[key])
            else:
                total += self._field_cost(field, node, None)
        return total

    def _field_cost(self, field: Any, node: FieldNode, data: Any) -> int:  # noqa: PLR0911
        named = get_named_type(field.type)
        if not is_composite_type(named):
            return 0
        if named.name.endswith("Connection"):
            if data is None:
                size = self._page_size(node)
                return 2 + size * self._selection_cost(named, node.selection_set, None)
            return 2 + self._selection_cost(named, node.selection_set, data)
        if _is_wrapper(named.name):
            if data is not None and isinstance(data, list):
                return sum(self._selection_cost(named, node.selection_set, d) for d in data)
            return self._selection_cost(named, node.selection_set, data)
        one: Callable[[Any], int] = lambda d: 1 + self._selection_cost(named, node.selection_set, d)  # noqa: E731
        if _is_list(field.type):
            if data is not None:
                return sum(one(d) for d in data if d is not None)
            return max(1, self._page_size(node, default=1)) * one(None)
        return one(data)

    def _page_size(self, node: FieldNode, default: int = 0) -> int:
        for arg in node.arguments:
            if arg.name.value in ("first", "last"):
                value = value_from_ast_untyped(arg.value, self.variables)
                if isinstance(value, int):
                    return value
        return default


class LeakyBucket:
    """Shopify's per-app leaky bucket: fills at the restore rate up to the plan maximum."""

    def __init__(self, limits: PlanLimits, clock: Callable[[], float]) -> None:
        """Start full."""
        self.limits = limits
        self.clock = clock
        self._available = limits.maximum
        self._at = clock()
        self._lock = threading.Lock()

    def _refill(self) -> None:
        now = self.clock()
        elapsed = max(0.0, now - self._at)
        self._available = min(
            self.limits.maximum, self._available + elapsed * self.limits.restore_rate
        )
        self._at = now

    def try_take(self, cost: int) -> bool:
        """Take ``cost`` points if the bucket holds them; False means THROTTLED."""
        with self._lock:
            self._refill()
            if cost > self._available:
                return False
            self._available -= cost
            return True

    def give_back(self, points: int) -> None:
        """Refund the difference between requested and actual cost."""
        with self._lock:
            self._available = min(self.limits.maximum, self._available + max(0, points))

    def drain(self) -> None:
        """Empty the bucket (THROTTLED storms)."""
        with self._lock:
            self._refill()
            self._available = 0.0

    def status(self) -> dict[str, Any]:
        """The ``throttleStatus`` object."""
        with self._lock:
            self._refill()
            return {
                "maximumAvailable": self.limits.maximum,
                "currentlyAvailable": int(self._available),
                "restoreRate": self.limits.restore_rate,
            }
