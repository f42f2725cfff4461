"""A msgspec Singer writer that flushes stdout at STATE messages, not after every record.

singer-sdk's ``MsgSpecWriter`` flushes after each message: one system call per record.
Flushing at each STATE (and at exit) is enough: a record lost in an unflushed buffer when
the process dies was never covered by a STATE the target saw, so a resume re-reads it.
"""

from __future__ import annotations

import sys

from singer_sdk.contrib.msgspec import MsgSpecWriter
from singer_sdk.singerlib import Message, SingerMessageType

# Flush anyway after this many buffered messages, so a slow run still streams to the target.
FLUSH_EVERY = 2000


class BufferedMsgSpecWriter(MsgSpecWriter):
    """Writes Singer messages with msgspec, flushing at STATE (and every 2,000 messages)."""

    _pending = 0

    def write_message(self, message: Message) -> None:
        """Write one message; flush at STATE and ACTIVATE_VERSION or when enough are pending.

        Args:
            message: The Singer message.
        """
        sys.stdout.buffer.write(self.format_message(message))
        self._pending += 1
        if self._pending >= FLUSH_EVERY or message.type in {
            SingerMessageType.STATE,
            SingerMessageType.ACTIVATE_VERSION,
            SingerMessageType.SCHEMA,
        }:
            sys.stdout.flush()
            self._pending = 0
