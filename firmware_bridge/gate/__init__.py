"""Gate readers: small boards (an ESP32 or STM32 with a PN532 and a relay) in a turnstile.

``protocol`` is the versioned binary line protocol of docs/gate-protocol.md,
``auth`` its version 2 handshake and sealed (MAC'd, counted) frames,
``keyfile`` the bridge's board keys, ``session`` the bridge's side of one
conversation with a board, ``transport`` the TCP server (with its connection
limits) and the serial line that carry it, ``board`` a reference board in
Python for firmware developers and for the tests, and ``cli`` the
``kia bridge board-key`` commands and the gate options of ``kia bridge``.
"""
