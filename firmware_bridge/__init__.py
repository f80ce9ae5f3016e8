"""Readers: what an NFC reader, a QR scanner, a camera or a gate board sees, handed to the verifier.

The bridge finds a card's payload and passes it on; it decides nothing.  It
reaches the terminal only through ``verifier.local`` (DESIGN section 3) and
imports nothing else of the project.

* ``dispatch``: payload in, verdict out; a refusal when there is no decision
* ``payload``: the card in an NDEF message or in a typed line; log-safe descriptions
* ``nfc_reader``, ``nfc_write``: NFC tags with nfcpy; ``tagsim``: simulated tags
* ``lines``, ``wedge``, ``serial_scanner``, ``serial_link``: scanners that type
* ``camera``, ``image``: QR codes in frames and photos (zxing-cpp)
* ``gate``: the gate protocol (docs/gate-protocol.md), its TCP and serial lines,
  and a reference board
* ``spec``, ``runner``, ``cli``: ``kia bridge`` (docs/readers.md)
"""
