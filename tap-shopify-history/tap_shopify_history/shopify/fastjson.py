"""The fastest JSON decoder available: msgspec (installed with singer-sdk[msgspec]) or json."""

from __future__ import annotations

from typing import Any

try:
    import msgspec

    _decoder = msgspec.json.Decoder()

    def loads(raw: bytes | str) -> Any:
        """Decode one JSON document.

        Args:
            raw: JSON text.

        Returns:
            The decoded value.
        """
        try:
            return _decoder.decode(raw)
        except msgspec.DecodeError as error:
            raise ValueError(str(error)) from None

except ImportError:  # pragma: no cover - msgspec ships with singer-sdk[msgspec]
    import json

    def loads(raw: bytes | str) -> Any:
        """Decode one JSON document.

        Args:
            raw: JSON text.

        Returns:
            The decoded value.
        """
        return json.loads(raw)
