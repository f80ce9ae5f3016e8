"""One exception tree for the bridge.

Readers never raise these at a running gate: a reader logs, answers a board
(NAK, or DENY) and carries on.  They reach a person only from the command
line (a bad ``--reader`` SPEC, a tag that cannot take a card) as one line.
Messages carry no child data: at most a tag's identifier or a board's id.
"""

from __future__ import annotations


class BridgeError(Exception):
    """Base of every error raised by firmware_bridge."""


class ReaderSpecError(BridgeError, ValueError):
    """A ``--reader`` SPEC that names no reader this bridge knows."""


# --- what a reader saw --------------------------------------------------------


class NotACard(BridgeError):
    """What the reader saw holds no KIA card payload (another tag, an empty line)."""


# --- the gate protocol (docs/gate-protocol.md) ----------------------------------


class FrameError(BridgeError):
    """A frame the bridge cannot use; ``nak`` is the NAK reason code a board gets."""

    nak: int = 0x05

    def __init__(self, message: str, seq: int | None = None) -> None:
        super().__init__(message)
        self.seq = seq  # the frame's sequence number when the header was readable


class BadCrc(FrameError):
    """The frame's CRC-16/CCITT-FALSE does not match its bytes."""

    nak = 0x01


class FrameTooLarge(FrameError):
    """The frame announces a payload larger than the protocol allows."""

    nak = 0x02


class UnsupportedVersion(FrameError):
    """The frame is intact but speaks a protocol version this bridge does not."""

    nak = 0x03


class UnknownType(FrameError):
    """The frame is intact but its type is not one of the protocol's."""

    nak = 0x04


class BadPayload(FrameError):
    """The frame is intact but its payload does not have the layout of its type."""

    nak = 0x05


class HelloRequired(FrameError):
    """A board sent a scan before saying who it is."""

    nak = 0x06


class Truncated(FrameError):
    """The bytes end before the frame does (only from the one-shot decoder)."""

    nak = 0x01


# --- writing a card's tag ------------------------------------------------------


class TagError(BridgeError):
    """The tag cannot take the card; the message says what to do."""


class NoTag(TagError):
    """No tag was presented within the time allowed."""


class TagNotNdef(TagError):
    """The tag is not formatted for NDEF."""


class TagTooSmall(TagError):
    """The card's NDEF message does not fit the tag."""


class TagNotWritable(TagError):
    """The tag is read-only (locked) or its NDEF area is not writable."""


class TagWriteFailed(TagError):
    """Writing, reading back or locking the tag failed."""
