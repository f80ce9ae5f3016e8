"""Gate readers: small boards (an ESP32 or STM32 with a PN532 and a relay) in a turnstile.

``protocol`` is the versioned binary line protocol of docs/gate-protocol.md,
``session`` the bridge's side of one conversation with a board, ``transport``
the TCP server and the serial line that carry it, and ``board`` a reference
board in Python for firmware developers and for the tests.
"""
