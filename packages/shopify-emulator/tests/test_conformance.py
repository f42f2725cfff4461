"""Everything the emulator serves as 2025-01 exists in Shopify's own 2025-01 schema.

The oracle is Shopify's introspection in ``../shared/shopify-admin-schema`` (beside the
repository root); the test skips, saying so, where that folder is absent.
"""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import pytest
from graphql import (
    GraphQLEnumType,
    GraphQLInputObjectType,
    GraphQLInterfaceType,
    GraphQLObjectType,
    GraphQLScalarType,
    GraphQLSchema,
    build_client_schema,
    parse,
    validate,
)
from shopify_emulator.schema import SUPPORTED_VERSIONS, served_schema

REPO_ROOT = Path(__file__).resolve().parents[3]
ORACLE = REPO_ROOT.parent / "shared" / "shopify-admin-schema" / "admin_schema_2025-01.json.gz"

pytestmark = pytest.mark.schema_oracle


@pytest.fixture(scope="module")
def shopify() -> GraphQLSchema:
    if not ORACLE.exists():
        pytest.skip(f"Shopify's 2025-01 schema not found at {ORACLE} (shared reference data)")
    with gzip.open(ORACLE) as handle:
        return build_client_schema(json.load(handle)["data"])


def served_types():
    schema = served_schema("2025-01")
    return [
        t
        for name, t in schema.type_map.items()
        if not name.startswith("__") and name not in ("String", "Int", "Float", "Boolean", "ID")
    ]


def test_root_types_have_shopify_names(shopify):
    served = served_schema("2025-01")
    assert served.query_type.name == shopify.query_type.name == "QueryRoot"
    assert served.mutation_type.name == shopify.mutation_type.name == "Mutation"


def test_every_served_type_field_argument_and_enum_value_exists(shopify):
    problems = []
    for ours in served_types():
        theirs = shopify.get_type(ours.name)
        if theirs is None:
            problems.append(f"type {ours.name} is not in Shopify's schema")
            continue
        if type(theirs) is not type(ours):
            problems.append(f"type {ours.name} is a {type(theirs).__name__} on Shopify")
            continue
        if isinstance(ours, GraphQLEnumType):
            problems += [
                f"enum value {ours.name}.{v}" for v in ours.values if v not in theirs.values
            ]
        if isinstance(ours, GraphQLObjectType | GraphQLInterfaceType):
            problems += _compare_fields(ours, theirs)
            ours_ifaces = {i.name for i in ours.interfaces}
            problems += [
                f"{ours.name} implements {i} only here"
                for i in ours_ifaces - {i.name for i in theirs.interfaces}
            ]
        if isinstance(ours, GraphQLInputObjectType):
            for name, field in ours.fields.items():
                if name not in theirs.fields or str(theirs.fields[name].type) != str(field.type):
                    problems.append(f"input field {ours.name}.{name}")
    assert problems == []


def _compare_fields(ours, theirs):
    problems = []
    for name, field in ours.fields.items():
        other = theirs.fields.get(name)
        if other is None:
            problems.append(f"field {ours.name}.{name} is not on Shopify")
            continue
        if str(other.type) != str(field.type):
            problems.append(f"field {ours.name}.{name}: {field.type} here, {other.type} on Shopify")
        for arg_name, arg in field.args.items():
            their_arg = other.args.get(arg_name)
            if their_arg is None:
                problems.append(f"argument {ours.name}.{name}({arg_name}) is not on Shopify")
            elif str(their_arg.type) != str(arg.type):
                problems.append(f"argument {ours.name}.{name}({arg_name}) has another type")
            elif arg.default_value != their_arg.default_value:
                problems.append(f"argument {ours.name}.{name}({arg_name}) default differs")
        if bool(field.deprecation_reason) != bool(other.deprecation_reason):
            problems.append(f"field {ours.name}.{name} deprecation differs")
    return problems


def test_scalars_are_shopify_scalars(shopify):
    for ours in served_types():
        if isinstance(ours, GraphQLScalarType):
            assert isinstance(shopify.get_type(ours.name), GraphQLScalarType), ours.name


SYNC_QUERIES = [
    """query($after: String) { customers(first: 50, after: $after, sortKey: UPDATED_AT,
      query: "updated_at:>='2025-01-01T00:00:00Z'") { edges { cursor node { id legacyResourceId
      email phone firstName lastName displayName numberOfOrders amountSpent { amount currencyCode }
      emailMarketingConsent { marketingState marketingOptInLevel consentUpdatedAt }
      smsMarketingConsent { marketingState marketingOptInLevel consentUpdatedAt
      consentCollectedFrom } defaultAddress { city province provinceCode country countryCodeV2 zip }
      tags state verifiedEmail note createdAt updatedAt
      metafields(first: 10) { nodes { namespace key value type } } } }
      pageInfo { hasNextPage endCursor } } }""",
    """mutation($q: String!) { bulkOperationRunQuery(query: $q) {
      bulkOperation { id status } userErrors { field message code } } }""",
    """{ currentBulkOperation { id status errorCode objectCount rootObjectCount fileSize url
      partialDataUrl createdAt completedAt query type } }""",
]


@pytest.mark.parametrize("query", SYNC_QUERIES)
def test_sync_queries_validate_on_both(shopify, query):
    document = parse(query)
    assert validate(served_schema("2025-01"), document) == []
    assert validate(shopify, document) == []


@pytest.mark.parametrize("version", SUPPORTED_VERSIONS[1:])
def test_later_versions_only_add(version):
    base, later = served_schema("2025-01"), served_schema(version)
    for name, type_ in base.type_map.items():
        if isinstance(type_, GraphQLObjectType):
            assert set(type_.fields) <= set(later.get_type(name).fields), name
