"""What a reader hands on: the card payload, found in what the reader saw.

The bridge does not verify anything; it only finds the text a card carries
and passes it to the verifier, which decides.  Two places need care:

* an NFC tag holds an NDEF message; the card is its one record of the NFC
  Forum external type ``urn:nfc:ext:dukcapil.go.id:kia`` (docs/card-token.md),
  read here with ndeflib;
* a scanner types a line that may carry a prefix (an AIM symbology id such as
  ``]Q1``, a stray keystroke) before the card.  A card's payload always
  starts the same way: a compact JWS starts with ``eyJ`` (base64url of
  ``{"``), and the numeric QR form of that is ``567629``.  The bridge starts
  the payload there, and never repairs anything: a doubled or dropped
  keystroke inside a token breaks its signature, and the verifier refuses it.

Payloads never reach the log whole (``describe``).
"""

from __future__ import annotations

import re

import ndef

from .errors import NotACard

# keys.card.NDEF_RECORD_TYPE; the bridge imports nothing of keys/ (a test holds the two equal).
KIA_RECORD_TYPE = "urn:nfc:ext:dukcapil.go.id:kia"
# An NTAG216, the largest tag a card may carry, holds 888 bytes.
MAX_NDEF_MESSAGE = 888
# verifier.local.MAX_PAYLOAD_CHARS: the verifier reads no more; a line longer than this is noise.
MAX_LINE_CHARS = 16_384
# Shorter lines are stray keystrokes, not scans (a card's payload is ~240 characters).
MIN_SCAN_CHARS = 8
# Characters of a payload that may appear in a log line.
LOGGED_PREFIX = 6

_CARD_START = re.compile(r"eyJ[A-Za-z0-9_.-]*|567629[0-9]*")
_PRINTABLE_RUN = re.compile(r"[!-~]+")
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


def payload_from_ndef(message: bytes) -> str:
    """The text of the one KIA record in an NDEF message.

    Raises NotACard for a message that is not NDEF, holds no KIA record, or
    holds more than one (a tag crafted to confuse readers).
    """
    if not message:
        raise NotACard("the tag holds an empty NDEF message")
    if len(message) > MAX_NDEF_MESSAGE:
        raise NotACard(f"the tag holds {len(message)} bytes, more than any card")
    try:
        # known_types={}: records stay generic; only the KIA record's type and bytes matter.
        records = list(ndef.message_decoder(message, errors="strict", known_types={}))
    except (ndef.DecodeError, ValueError):
        raise NotACard("the tag does not hold a valid NDEF message") from None
    cards = [bytes(record.data) for record in records if record.type == KIA_RECORD_TYPE]
    if not cards:
        raise NotACard("the tag holds an NDEF message without a KIA card record")
    if len(cards) > 1:
        raise NotACard("the tag holds more than one KIA card record")
    # A damaged record is still a card scan: the verifier refuses it and logs the refusal.
    return cards[0].decode("ascii", errors="replace")


def payload_from_line(line: str) -> str | None:
    """The card payload in a line a scanner typed, or None for noise.

    Starts at the first ``eyJ`` or ``567629`` and runs to the end of the
    token's characters.  A line without either start is passed on as its
    longest printable run, so scanning a product's barcode shows the staff
    "not a KIA card"; lines shorter than MIN_SCAN_CHARS are dropped as
    stray keystrokes.
    """
    text = _CONTROL.sub("", line)
    if len(text) > MAX_LINE_CHARS:
        return None
    found = _CARD_START.search(text)
    if found is not None:
        return found.group()
    runs = _PRINTABLE_RUN.findall(text)
    longest = max(runs, key=len, default="")
    return longest if len(longest) >= MIN_SCAN_CHARS else None


def describe(payload: str) -> str:
    """A payload as the log may show it: its first characters and its length."""
    return f"{payload[:LOGGED_PREFIX]!r}...({len(payload)} chars)"
