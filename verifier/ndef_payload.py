"""The card token inside an NDEF message (a file, or what a tag returned)."""

from __future__ import annotations

import ndef

from keys import NDEF_RECORD_TYPE
from keys.errors import CardMalformed, CardTooLarge

# An NTAG216, the largest tag a card may carry, holds 888 bytes.
MAX_NDEF_MESSAGE = 888


def token_from_ndef(message: bytes) -> bytes:
    """The payload of the KIA record; raises CardMalformed for anything else."""
    if len(message) > MAX_NDEF_MESSAGE:
        raise CardTooLarge("the NDEF message is larger than any card's tag")
    try:
        # known_types={}: every record stays generic; only the KIA record's
        # type and bytes matter, and other records are never interpreted.
        records = list(ndef.message_decoder(message, errors="strict", known_types={}))
    except (ndef.DecodeError, ValueError):  # damaged type names raise UnicodeDecodeError
        raise CardMalformed("the tag does not hold a valid NDEF message") from None
    payloads = [bytes(record.data) for record in records if record.type == NDEF_RECORD_TYPE]
    if len(payloads) != 1:
        raise CardMalformed("the tag does not hold exactly one KIA card record")
    return payloads[0]
