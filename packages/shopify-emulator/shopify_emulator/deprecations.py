"""The ``X-Shopify-API-Deprecated-Reason`` header: deprecated fields a request used."""

from __future__ import annotations

from typing import Any

from graphql import (
    DocumentNode,
    FieldNode,
    GraphQLSchema,
    TypeInfo,
    TypeInfoVisitor,
    Visitor,
    visit,
)

DEPRECATION_PRACTICES = "https://shopify.dev/api/usage/versioning#deprecation-practices"


class _Collector(Visitor):
    def __init__(self, type_info: TypeInfo) -> None:
        super().__init__()
        self.type_info = type_info
        self.found: list[str] = []

    def enter_field(self, node: FieldNode, *_: Any) -> None:
        field = self.type_info.get_field_def()
        parent = self.type_info.get_parent_type()
        if field is not None and field.deprecation_reason and parent is not None:
            name = f"{parent.name}.{node.name.value}"
            if name not in self.found:
                self.found.append(name)


def deprecated_reason(schema: GraphQLSchema, document: DocumentNode, version: str) -> str | None:
    """The header value, or None when no deprecated field was used.

    From 2025-04 Shopify lists the fields (``Customer.email, Customer.emailMarketingConsent``);
    before, it sends a link to its deprecation practices.
    """
    type_info = TypeInfo(schema)
    collector = _Collector(type_info)
    visit(document, TypeInfoVisitor(type_info, collector))
    if not collector.found:
        return None
    return ", ".join(collector.found) if version >= "2025-04" else DEPRECATION_PRACTICES
