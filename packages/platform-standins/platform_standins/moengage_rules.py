"""MoEngage Data API rules the stand-in applies: body validation, forbidden ids, event time.

Pure functions over parsed JSON; no I/O. Sources are in the package README.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

ACCEPTED_MESSAGE = "Your request has been accepted and will be processed soon."
ELEMENT_TYPES = ("customer", "event", "device")
# MoEngage refuses these as a user's ID (compared case-insensitively, trimmed), as its
# SDK and Data API documentation list them.
FORBIDDEN_CUSTOMER_IDS = frozenset(
    {
        "unknown",
        "guest",
        "null",
        "0",
        "1",
        "2",
        "-1",
        "-2",
        "true",
        "false",
        "user_attribute_unique_id",
        "(empty)",
        "na",
        "n/a",
        "",
        "dummy_seller_code",
        "user_id",
        "id",
        "customer_id",
        "uid",
        "userid",
        "none",
    }
)
MALFORMED_JSON = (
    "Could not decode the request body. The JSON was incorrect or not encoded as UTF-8."
)


@dataclass(frozen=True, slots=True)
class BadRequest(Exception):  # noqa: N818 - named after MoEngage's 400 answer
    """A whole request MoEngage answers 400, in its error envelope."""

    message: str
    type: str
    attribute: str | None = None

    def body(self, request_id: str) -> dict[str, Any]:
        """MoEngage's ``{"status": "fail", "error": {...}}`` envelope."""
        error: dict[str, Any] = {"message": self.message, "type": self.type}
        if self.attribute is not None:
            error["attribute"] = self.attribute
        error["request_id"] = request_id
        return {"status": "fail", "error": error}


def parse_transition(body: bytes) -> list[dict[str, Any]]:
    """The elements of a bulk ``transition`` body, or ``BadRequest`` for what MoEngage refuses.

    Example:
        >>> body = b'{"type": "transition", "elements": [{"type": "device", "customer_id": "7"}]}'
        >>> parse_transition(body)
        [{'type': 'device', 'customer_id': '7'}]
    """
    try:
        payload = json.loads(body.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        raise BadRequest(MALFORMED_JSON, "Malformed JSON") from error
    if not isinstance(payload, dict) or payload.get("type") != "transition":
        raise BadRequest("type should be transition", "AttributeError", "type")
    elements = payload.get("elements")
    if not isinstance(elements, list) or not elements:
        raise BadRequest("elements cannot be empty array", "MissingAttributeError", "elements")
    for element in elements:
        _check_element(element)
    return elements


def _check_element(element: Any) -> None:
    if not isinstance(element, dict):
        raise BadRequest(MALFORMED_JSON, "Malformed JSON")
    if element.get("type") not in ELEMENT_TYPES:
        raise BadRequest(
            "type in elements should be customer/event/device", "AttributeError", "type"
        )
    if "customer_id" not in element and not element.get("user_identifiers"):
        raise BadRequest(
            "customer_id not found in the payload", "MissingAttributeError", "customer_id"
        )
    if element["type"] != "event":
        return
    actions = element.get("actions")
    if not isinstance(actions, list) or not actions:
        raise BadRequest("actions not found in the payload", "MissingAttributeError", "actions")
    for action in actions:
        name = action.get("action") if isinstance(action, dict) else None
        if not isinstance(name, str) or not name.strip():
            raise BadRequest(
                "action cannot be empty Unicode string", "MissingAttributeError", "action"
            )


def is_forbidden_customer_id(element: dict[str, Any]) -> bool:
    """True when the element names a user by an ID MoEngage refuses."""
    if "customer_id" not in element:
        return False  # identified by user_identifiers (Identity Resolution)
    value = element["customer_id"]
    text = "null" if value is None else str(value)  # JSON null, true, 0 arrive typed
    return text.strip().lower() in FORBIDDEN_CUSTOMER_IDS


def event_time(value: Any) -> float | None:
    """``current_time`` as epoch seconds (numbers are seconds; ISO 8601 strings accepted).

    ``None`` means absent: MoEngage then uses the time it received the event. Raises
    ``ValueError`` for anything else. Milliseconds read as seconds land in the far future.
    """
    if value is None:
        return None
    if isinstance(value, bool):
        raise ValueError(f"current_time {value!r} is not a time")
    if isinstance(value, int | float):
        return float(value)
    if not isinstance(value, str):
        raise ValueError(f"current_time {value!r} is not a time")
    text = value.strip()
    try:
        return float(text)
    except ValueError:
        pass
    moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)  # current_time is documented as UTC
    return moment.timestamp()


def action_verdict(action: dict[str, Any], now: float, tolerance: float) -> str | None:
    """Why MoEngage silently drops this action, or ``None`` when it is stored."""
    try:
        moment = event_time(action.get("current_time"))
    except ValueError as error:
        return f"unreadable current_time: {error}"
    if moment is not None and moment > now + tolerance:
        return (
            f"future-dated event: current_time {moment:.0f} is after the platform's now {now:.0f}"
        )
    return None


def counted(elements: list[dict[str, Any]]) -> tuple[int, int]:
    """(users, events) a request counts against the per-minute limits."""
    users = sum(1 for e in elements if e["type"] == "customer")
    events = sum(len(e["actions"]) for e in elements if e["type"] == "event")
    return users, events
