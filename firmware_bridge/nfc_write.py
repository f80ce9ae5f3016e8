"""Writing a card's NDEF record to its tag at issuance (``kia bridge nfc write``).

The office writes the NDEF message ``kia issuer card issue`` produced
(SERIAL.ndef) to the card's tag: refuse a tag that is not NDEF-formatted, is
read-only or is too small (an NTAG213 holds 142 bytes; a card needs about
265), write, read the message back from the tag and compare, and optionally
lock the tag so nobody can overwrite it (permanent: NTAG lock bits).
"""

from __future__ import annotations

import dataclasses
import logging

import nfc
import nfc.clf
import nfc.tag

from .errors import NotACard, TagError, TagNotNdef, TagNotWritable, TagTooSmall, TagWriteFailed
from .nfc_reader import DEFAULT_TARGETS, tag_label, with_one_tag
from .payload import payload_from_ndef

log = logging.getLogger(__name__)


@dataclasses.dataclass(frozen=True)
class Written:
    """What was written where: for the issuance record (no card content)."""

    tag: str
    identifier: str
    bytes: int
    capacity: int
    locked: bool


def check_card_message(message: bytes) -> None:
    """Refuse to write anything but one KIA card record (a wrong file costs a card)."""
    try:
        payload_from_ndef(message)
    except NotACard as exc:
        raise TagError(f"this is not a card's NDEF file: {exc}") from None


def write_to_tag(tag: nfc.tag.Tag, message: bytes, lock: bool = False) -> Written:
    """Write ``message`` to ``tag``, read it back, lock it if asked.  Raises a TagError leaf."""
    try:
        ndef = tag.ndef
    except (nfc.tag.TagCommandError, nfc.clf.CommunicationError):
        ndef = None
    if ndef is None:
        raise TagNotNdef(f"the {tag.product} is not formatted for NDEF (or was taken away): use a new NTAG215")
    if not ndef.is_writeable:
        raise TagNotWritable(f"the {tag.product} is read-only (locked): use a new tag")
    if len(message) > ndef.capacity:
        raise TagTooSmall(f"the card needs {len(message)} bytes but the {tag.product} holds {ndef.capacity}: "
                          "use an NTAG215 or NTAG216")
    try:
        ndef.octets = message
        changed = ndef.has_changed  # reads the message back from the tag and compares
    except (nfc.tag.TagCommandError, nfc.clf.CommunicationError, RuntimeError) as exc:
        raise TagWriteFailed(f"writing the {tag.product} failed ({exc}): hold it still and try again") from None
    if changed:
        raise TagWriteFailed(f"the {tag.product} does not read back what was written: use another tag")
    locked = False
    if lock:
        if tag.protect() is not True:
            raise TagWriteFailed(f"the {tag.product} could not be locked (the bridge locks NTAG21x tags only)")
        reread = tag.ndef  # protect() dropped nfcpy's cached view: this reads the tag again
        if reread is None or reread.is_writeable or bytes(reread.octets) != message:
            raise TagWriteFailed(f"the {tag.product} does not read back as locked with the card on it")
        locked = True
    return Written(tag.product, bytes(tag.identifier).hex().upper(), len(message), ndef.capacity, locked)


def write_card(path: str, message: bytes, *, lock: bool = False, timeout: float = 30.0,
               targets: tuple[str, ...] = DEFAULT_TARGETS) -> Written:
    """Wait up to ``timeout`` seconds for a tag on the reader at ``path`` and write the card to it.

    Raises ReaderUnavailable, NoTag, or another TagError leaf.
    """
    check_card_message(message)

    def write(tag: nfc.tag.Tag) -> Written:
        log.info("writing %d bytes to %s", len(message), tag_label(tag))
        return write_to_tag(tag, message, lock)

    return with_one_tag(path, timeout, targets, write,
                        missing=f"no tag was presented within {timeout:g} s: hold the card's tag on the reader")
