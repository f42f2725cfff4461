"""Bulk query operations: validation, lifecycle, JSONL output with ``__parentId``, faults.

An operation goes CREATED -> RUNNING -> COMPLETED over ``bulk_seconds`` of store time
(the query itself runs in a background thread and must also have finished). Output lines
are the nodes of the top-level connection; nested connections become their own lines
with ``__parentId``. Grouped output (default before 2026-01) puts children right after
their parent; ungrouped output may put them anywhere, so it is shuffled on purpose.
"""

from __future__ import annotations

import secrets
import threading
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any

from graphql import (
    DocumentNode,
    FieldNode,
    GraphQLError,
    GraphQLList,
    GraphQLNonNull,
    GraphQLSchema,
    OperationDefinitionNode,
    TypeInfo,
    TypeInfoVisitor,
    Visitor,
    get_named_type,
    parse,
    validate,
    visit,
)

from shopify_emulator import bulk_emit, fastexec
from shopify_emulator.bulk_output import BulkFile, flatten
from shopify_emulator.bulk_reuse import OutputReuse
from shopify_emulator.model import gid, iso, parse_gid
from shopify_emulator.schema import served_schema

if TYPE_CHECKING:
    from shopify_emulator.faults import FaultInjector
    from shopify_emulator.store import Store
    from shopify_emulator.views import RequestContext

URL_TTL_SECONDS = 7 * 86_400
MAX_CONNECTIONS = 5
MAX_NESTING = 2
ACTIVE = ("CREATED", "RUNNING", "CANCELING")
CHUNK = 2000  # top-level nodes per execution slice


@dataclass
class BulkOperation:
    """One bulk query and its (eventual) output."""

    id: int
    app_key: str
    query: str
    version: str
    created_at: float
    duration: float
    grouped: bool
    outcome: str | None  # fault to end with
    output: BulkFile = field(default_factory=BulkFile)
    error_code: str | None = None
    canceled_at: float | None = None
    file_token: str = field(default_factory=lambda: secrets.token_hex(12))
    done: threading.Event = field(default_factory=threading.Event)


class BulkManager:
    """All bulk operations of the shop."""

    def __init__(self, store: Store, faults: FaultInjector, bulk_seconds: float) -> None:
        """Bulk operations of ``store`` take ``bulk_seconds`` of store time each."""
        self.store = store
        self.faults = faults
        self.bulk_seconds = bulk_seconds
        self.ops: dict[int, BulkOperation] = {}
        self._next_id = 4_100_000_000
        self._lock = threading.Lock()
        self._closed = False
        self.reuse = OutputReuse()

    # --- lifecycle --------------------------------------------------------------------
    def status(self, op: BulkOperation) -> str:  # noqa: PLR0911 - one return per state
        """Status now, derived from store time and the outcome."""
        now = self.store.clock.now()
        if op.canceled_at is not None:
            return "CANCELED" if now >= op.canceled_at else "CANCELING"
        elapsed = now - op.created_at
        if elapsed < min(0.05, op.duration / 4):
            return "CREATED"
        if elapsed < op.duration or not op.done.is_set():
            return "RUNNING"
        if op.error_code is not None:
            return "FAILED"
        if op.outcome in ("FAILED", "TIMEOUT", "ACCESS_DENIED"):
            return "FAILED"
        if op.outcome == "EXPIRED":
            return "EXPIRED"
        return "COMPLETED"

    def view(self, ctx: RequestContext, number: int) -> dict[str, Any] | None:
        """GraphQL ``BulkOperation`` (only the requesting app's operations)."""
        op = self.ops.get(number)
        if op is None or op.app_key != ctx.app_key:
            return None
        status = self.status(op)
        total = op.output.line_count
        roots = op.output.root_count
        running = status in ("CREATED", "RUNNING")
        progress = min(1.0, (self.store.clock.now() - op.created_at) / max(op.duration, 1e-6))
        objects = int(total * progress) if running else total
        finished = status in ("COMPLETED", "FAILED", "EXPIRED", "CANCELED")
        url, partial, size = self._urls(ctx, op, status)
        return {
            "__typename": "BulkOperation",
            "id": gid("BulkOperation", op.id),
            "status": status,
            "errorCode": self._error_code(op, status),
            "createdAt": iso(int(op.created_at)),
            "completedAt": iso(int(op.created_at + op.duration)) if finished else None,
            "objectCount": str(objects if status != "FAILED" else total // 2),
            "rootObjectCount": str(roots if not running else int(roots * progress)),
            "fileSize": size,
            "url": url,
            "partialDataUrl": partial,
            "query": op.query,
            "type": "QUERY",
        }

    def _error_code(self, op: BulkOperation, status: str) -> str | None:
        if status != "FAILED":
            return None
        if op.error_code is not None:
            return op.error_code
        return {"FAILED": "INTERNAL_SERVER_ERROR", "TIMEOUT": "TIMEOUT"}.get(
            op.outcome or "", op.outcome
        )

    def _urls(
        self, ctx: RequestContext, op: BulkOperation, status: str
    ) -> tuple[str | None, str | None, str | None]:
        expires = int(op.created_at + op.duration + URL_TTL_SECONDS)
        link = f"{ctx.base_url}/_bulk/{op.file_token}.jsonl?Expires={expires}"
        if status == "COMPLETED":
            return link, None, str(op.output.size)
        if status == "FAILED" and op.outcome in ("FAILED", "TIMEOUT"):
            return None, link + "&partial=1", None
        return None, None, None

    def file(self, file_token: str, partial: bool) -> tuple[int, bytes | str]:
        """The JSONL behind a bulk URL: (HTTP status, body, or the path of a whole file to
        stream, since a million orders' output is gigabytes). Expired links answer 403."""
        op = next((o for o in self.ops.values() if o.file_token == file_token), None)
        if op is None or not op.done.is_set():
            return 404, b"<Error><Code>NoSuchKey</Code></Error>"
        if self.store.clock.now() > op.created_at + op.duration + URL_TTL_SECONDS:
            return 403, (
                b"<?xml version='1.0' encoding='UTF-8'?><Error><Code>ExpiredToken</Code>"
                b"<Message>The provided token has expired.</Message>"
                b"<Details>Request signature expired.</Details></Error>"
            )
        if partial:
            return 200, op.output.first_lines(op.output.line_count // 2)
        if op.outcome == "TRUNCATED":
            return 200, op.output.read(max(1, op.output.size * 2 // 3))
        return 200, op.output.path or b""

    def close(self) -> None:
        """Delete every operation's output file."""
        self._closed = True
        for op in self.ops.values():
            op.done.wait(timeout=10)  # a running query stops at its next slice
            op.output.delete()
        self.reuse.close()

    # --- mutations --------------------------------------------------------------------
    def run(self, ctx: RequestContext, query: str, group_objects: bool | None) -> dict[str, Any]:
        """``bulkOperationRunQuery``."""
        problem = self._validate(ctx, query)
        if problem is not None:
            return _payload(None, [{"field": ["query"], "message": problem, "code": "INVALID"}])
        limit = 5 if ctx.version >= "2026-01" else 1
        with self._lock:
            active = [
                o
                for o in self.ops.values()
                if o.app_key == ctx.app_key and self.status(o) in ACTIVE
            ]
            if len(active) >= limit:
                busy = gid("BulkOperation", active[-1].id)
                message = (
                    f"A bulk query operation for this app and shop is already in progress: {busy}."
                )
                return _payload(
                    None, [{"field": None, "message": message, "code": "OPERATION_IN_PROGRESS"}]
                )
            grouped = group_objects if group_objects is not None else ctx.version < "2026-01"
            self._next_id += 1
            op = BulkOperation(
                id=self._next_id,
                app_key=ctx.app_key,
                query=query,
                version=ctx.version,
                created_at=self.store.clock.now(),
                duration=self.bulk_seconds,
                grouped=grouped,
                outcome=self.faults.bulk_outcome(),
            )
            self.ops[op.id] = op
        # The answer describes the operation as created, before its rendering thread can
        # take the interpreter away from this request (a busy machine made it RUNNING).
        answer = _payload(self.view(ctx, op.id), [])
        threading.Thread(target=self._execute, args=(ctx, op), daemon=True).start()
        return answer

    def cancel(self, ctx: RequestContext, op_gid: str) -> dict[str, Any]:
        """``bulkOperationCancel``."""
        parsed = parse_gid(op_gid)
        op = self.ops.get(parsed[1]) if parsed and parsed[0] == "BulkOperation" else None
        if op is None or op.app_key != ctx.app_key:
            return _payload(None, [{"field": ["id"], "message": "Bulk operation does not exist"}])
        status = self.status(op)
        if status not in ACTIVE:
            message = f"A bulk operation cannot be canceled when it is {status.lower()}"
            return _payload(self.view(ctx, op.id), [{"field": None, "message": message}])
        op.canceled_at = self.store.clock.now() + min(0.2, op.duration / 4)
        return _payload(self.view(ctx, op.id), [])

    def current(self, ctx: RequestContext, op_type: str) -> dict[str, Any] | None:
        """``currentBulkOperation``: the app's most recent operation of ``op_type``."""
        if op_type != "QUERY":
            return None
        mine = [o for o in self.ops.values() if o.app_key == ctx.app_key]
        return self.view(ctx, mine[-1].id) if mine else None

    # --- validation and execution ----------------------------------------------------
    def _validate(self, ctx: RequestContext, query: str) -> str | None:  # noqa: PLR0911
        try:
            document = parse(query)
        except GraphQLError as error:
            return f"Invalid bulk query: {error.message}"
        errors = validate(served_schema(ctx.version), document)
        if errors:
            return f"Invalid bulk query: {errors[0].message}"
        ops = [d for d in document.definitions if isinstance(d, OperationDefinitionNode)]
        if len(ops) != 1 or ops[0].operation.value != "query":
            return "Invalid bulk query: expected exactly one query operation"
        tops = [s for s in ops[0].selection_set.selections if isinstance(s, FieldNode)]
        if any(t.name.value in ("node", "nodes") for t in tops):
            return "Bulk queries cannot contain a top level `node` or `nodes` field."
        found = [_connections(t, 0) for t in tops]
        count = sum(c for c, _ in found)
        depth = max((d for _, d in found), default=0)
        if count == 0:
            return "Bulk queries must contain at least one connection."
        if any(_parent_without_id(t) for t in tops):
            return "The parent 'node' field for a nested connection must select the 'id' field."
        if _connection_in_list(served_schema(ctx.version), document):
            return "Queries that contain a connection field within a list field are not supported."
        if count > MAX_CONNECTIONS:
            return f"Bulk queries cannot contain more than {MAX_CONNECTIONS} connections."
        if depth > MAX_NESTING:
            return (
                "Bulk queries cannot contain connections with a nesting depth greater than "
                f"{MAX_NESTING}."
            )
        return None

    def _execute(self, ctx: RequestContext, op: BulkOperation) -> None:
        try:
            key = self.reuse.key(ctx, op.query, op.version)
            with self.store.lock:
                store_version = self.store.version
            kept = self.reuse.find(key, store_version)
            if kept is not None:  # the same query on the same store: the same bytes
                try:
                    self.reuse.copy_into(
                        kept, op.output, grouped=op.grouped, seed=op.id, step=CHUNK
                    )
                    return
                except OSError:  # a newer rendering replaced the kept file meanwhile
                    op.output.delete()
                    op.output = BulkFile()
            self._render(ctx, op)
            with self.store.lock:
                unchanged = self.store.version == store_version
            if unchanged and op.grouped and op.error_code is None and self._finished(op):
                op.output.finish()
                self.reuse.keep(key, store_version, op.output)
        except Exception:  # noqa: BLE001 - any crash is the operation's INTERNAL_SERVER_ERROR
            op.error_code = "INTERNAL_SERVER_ERROR"
        finally:
            op.output.finish()
            op.done.set()

    def _finished(self, op: BulkOperation) -> bool:
        """Whether the rendering ran to the end (not closed or canceled midway)."""
        return not self._closed and op.canceled_at is None

    def _render(self, ctx: RequestContext, op: BulkOperation) -> None:
        """Run the query slice by slice into the operation's file."""
        document = parse(op.query)
        schema = served_schema(op.version)
        cache: dict[Any, list[int]] = {}
        offset = 0
        while not self._closed and op.canceled_at is None:
            # Top-level connections are read one slice at a time (bounded memory).
            chunk_ctx = replace(ctx, unbounded=True, bulk_slice=(offset, CHUNK), bulk_cache=cache)
            seed = op.id + offset
            written = bulk_emit.emit_chunk(
                schema, document, chunk_ctx, grouped=op.grouped, seed=seed
            )
            if written is None:  # the general path: errors and unusual documents
                result = fastexec.execute(schema, document, chunk_ctx)
                if result.errors:
                    op.error_code = _error_code_of(result.errors)
                    break
                written = flatten(result.data or {}, grouped=op.grouped, seed=seed)
            lines, roots = written
            if roots == 0:
                break
            op.output.append(lines, roots)
            offset += CHUNK


def _error_code_of(errors: list[GraphQLError]) -> str:
    denied = any((e.extensions or {}).get("code") == "ACCESS_DENIED" for e in errors)
    return "ACCESS_DENIED" if denied else "INTERNAL_SERVER_ERROR"


def _payload(op: dict[str, Any] | None, errors: list[dict[str, Any]]) -> dict[str, Any]:
    return {"bulkOperation": op, "userErrors": errors}


def _is_connection_field(node: FieldNode) -> bool:
    return node.selection_set is not None and any(
        isinstance(s, FieldNode) and s.name.value in ("edges", "nodes")
        for s in node.selection_set.selections
    )


def _node_selections(conn: FieldNode) -> list[FieldNode]:
    """The fields selected on a connection's nodes (through edges.node or nodes)."""
    out: list[FieldNode] = []
    for sel in conn.selection_set.selections if conn.selection_set else []:
        if not isinstance(sel, FieldNode) or sel.selection_set is None:
            continue
        if sel.name.value == "nodes":
            out += [f for f in sel.selection_set.selections if isinstance(f, FieldNode)]
        elif sel.name.value == "edges":
            for edge_field in sel.selection_set.selections:
                if isinstance(edge_field, FieldNode) and edge_field.name.value == "node":
                    inner = edge_field.selection_set.selections if edge_field.selection_set else []
                    out += [f for f in inner if isinstance(f, FieldNode)]
    return out


def _parent_without_id(node: FieldNode) -> bool:
    """Whether a connection's nodes hold a nested connection but do not select ``id``."""
    if not _is_connection_field(node):
        return any(
            _parent_without_id(s)
            for s in (node.selection_set.selections if node.selection_set else [])
            if isinstance(s, FieldNode)
        )
    fields = _node_selections(node)
    nested = [f for f in fields if _is_connection_field(f)]
    if nested and not any(f.name.value == "id" and f.alias is None for f in fields):
        return True
    return any(_parent_without_id(f) for f in fields)


def _plain_list(info: TypeInfo, node: FieldNode) -> bool:
    """A list field other than a connection's own ``edges`` / ``nodes``."""
    type_ = info.get_type()
    inner = type_.of_type if isinstance(type_, GraphQLNonNull) else type_
    parent = info.get_parent_type()
    wrapper = parent is not None and parent.name.endswith("Connection")
    return isinstance(inner, GraphQLList) and not wrapper


def _connection_in_list(schema: GraphQLSchema, document: DocumentNode) -> bool:
    """Whether a connection is selected under a list field (``refunds { refundLineItems }``),
    which Shopify's bulk queries refuse."""
    info = TypeInfo(schema)
    lists = [0]  # list-typed fields open above the current field

    class Finder(Visitor):
        found = False

        def enter_field(self, node: FieldNode, *_: Any) -> None:
            type_ = info.get_type()
            named = get_named_type(type_)
            if lists[0] and named is not None and named.name.endswith("Connection"):
                Finder.found = True
            lists[0] += _plain_list(info, node)

        def leave_field(self, node: FieldNode, *_: Any) -> None:
            lists[0] -= _plain_list(info, node)

    visit(document, TypeInfoVisitor(info, Finder()))
    return Finder.found


def _connections(node: FieldNode, depth: int) -> tuple[int, int]:
    """(number of connections, deepest connection nesting) under a field."""
    is_connection = any(a.name.value in ("first", "last") for a in node.arguments) or (
        node.selection_set is not None
        and any(
            isinstance(s, FieldNode) and s.name.value in ("edges", "nodes")
            for s in node.selection_set.selections
        )
    )
    level = depth + 1 if is_connection else depth
    count, deepest = (1 if is_connection else 0), (level if is_connection else 0)
    if node.selection_set is not None:
        for sel in node.selection_set.selections:
            if isinstance(sel, FieldNode):
                c, d = _connections(sel, level)
                count += c
                deepest = max(deepest, d)
    return count, deepest
