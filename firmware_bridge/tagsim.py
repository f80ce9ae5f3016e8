"""Simulated NFC tags for nfcpy's UDP driver: test readers and writers without hardware.

nfcpy's ``udp:HOST:PORT`` driver sends what a reader would send over the air
as UDP datagrams (``"106A 3004"``: bit rate, then the frame in hex; ``RFOFF``
when the field drops) and takes the answers the same way.  A simulated card
is whatever answers those datagrams:

* ``NtagSimulator``: an NXP NTAG213/215/216 (NFC Forum Type 2): ISO 14443-3A
  anticollision with a 7-byte UID, READ, WRITE, GET_VERSION, READ_SIG, and
  the static and dynamic lock bits (simplified: a lock bit locks its pages);
* ``Type4Simulator``: an NFC Forum Type 4 tag (ISO-DEP with the NDEF
  application, capability container and NDEF file);
* ``FelicaSimulator``: a FeliCa card (Type 3), its commands answered by
  nfcpy's own Type 3 tag emulation.

Each can vanish from the field (``remove``), or vanish after so many reads
(a card pulled away in the middle of a read).  Partners can use them to try
``kia bridge run --reader nfc:udp:127.0.0.1:PORT`` before a reader arrives
(``kia bridge simulate tag``).  These are simulations of the commands a
reader uses, not of every datasheet detail.
"""

from __future__ import annotations

import contextlib
import dataclasses
import socket
import struct
import threading

BRTY = "106A"
ACK, NAK = b"\x0a", b"\x00"  # Type 2 answers to a WRITE (4-bit frames sent as one byte)


class UdpTag:
    """A card in the field of nfcpy's UDP driver.  Start with ``start()`` or ``with``."""

    def __init__(self, host: str = "127.0.0.1", port: int = 0) -> None:
        self.socket = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.socket.bind((host, port))
        self.socket.settimeout(0.1)
        self.host, self.port = host, self.socket.getsockname()[1]
        self.commands = 0  # frames answered while present
        self._answered = threading.Condition()
        self._present = threading.Event()
        self._present.set()
        self._stop = threading.Event()
        self._reader: tuple[str, int] | None = None
        self._thread = threading.Thread(target=self._serve, name=f"tag udp:{self.port}", daemon=True)
        self.lock = threading.RLock()

    @property
    def path(self) -> str:
        """The nfcpy device path that reaches this tag."""
        return f"udp:{self.host}:{self.port}"

    def start(self) -> UdpTag:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(5)
        self.socket.close()

    def __enter__(self) -> UdpTag:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def remove(self) -> None:
        """Take the card out of the field: it answers nothing until ``present`` again."""
        self._present.clear()

    def present(self) -> None:
        with self.lock:
            self.field_off()
        self._present.set()

    def wait_answered(self, count: int, timeout: float = 10.0) -> bool:
        """Wait until the tag has answered ``count`` frames in all (a reader polling it, say)."""
        with self._answered:
            return self._answered.wait_for(lambda: self.commands >= count, timeout)

    def kick(self) -> None:
        """Tell a reader waiting for an answer that the field is off, so it looks again at once."""
        if self._reader is not None:
            with contextlib.suppress(OSError):
                self.socket.sendto(b"RFOFF", self._reader)

    def _serve(self) -> None:
        while not self._stop.is_set():
            try:
                datagram, reader = self.socket.recvfrom(1024)
            except TimeoutError:
                continue
            except OSError:
                return
            self._reader = reader
            if datagram.startswith(b"RFOFF"):
                with self.lock:
                    self.field_off()
                continue
            try:
                brty, hex_data = datagram.decode("ascii").split()
                frame = bytes.fromhex(hex_data)
            except ValueError:
                continue
            if not self._present.is_set():
                continue
            with self.lock:
                answer = self.answer(brty, frame)
            if answer is not None and self._present.is_set():
                self.socket.sendto(f"{brty} {answer.hex()}".encode("ascii"), reader)
                with self._answered:
                    self.commands += 1
                    self._answered.notify_all()

    # --- what a subclass answers ----------------------------------------------------

    def field_off(self) -> None:
        """The reader's field went off: back to the idle state."""

    def answer(self, brty: str, frame: bytes) -> bytes | None:
        raise NotImplementedError


class TypeATag(UdpTag):
    """ISO 14443-3A: answers REQA/WUPA and the two cascade levels of a 7-byte UID."""

    SENS_RES = b"\x44\x00"
    SAK = 0x00

    def __init__(self, uid: bytes, host: str = "127.0.0.1", port: int = 0) -> None:
        if len(uid) != 7:
            raise ValueError("a simulated Type A tag has a 7-byte UID")
        super().__init__(host, port)
        self.uid = uid
        cl1 = b"\x88" + uid[:3]
        cl2 = uid[3:]
        self._cascade = [cl1 + bytes([_bcc(cl1)]), cl2 + bytes([_bcc(cl2)])]
        self.active = False

    def field_off(self) -> None:
        self.active = False

    def answer(self, brty: str, frame: bytes) -> bytes | None:
        if brty != BRTY or not frame:
            return None
        if frame in (b"\x26", b"\x52"):  # REQA, WUPA
            self.active = False
            return self.SENS_RES
        for level, (sdd, sel) in enumerate(((b"\x93\x20", b"\x93\x70"), (b"\x95\x20", b"\x95\x70"))):
            if frame == sdd:
                return self._cascade[level]
            if frame == sel + self._cascade[level]:
                last = level == 1
                self.active = last
                return bytes([self.SAK if last else 0x04])
        if not self.active:
            return None
        return self.command(frame)

    def command(self, frame: bytes) -> bytes | None:
        raise NotImplementedError


def _bcc(data: bytes) -> int:
    result = 0
    for byte in data:
        result ^= byte
    return result


# --- NTAG21x (Type 2) -----------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class NtagModel:
    name: str
    pages: int  # all pages, 0 to pages-1
    cc_size: int  # byte 2 of the capability container: data area / 8
    version: bytes

    @property
    def dynamic_lock_page(self) -> int:
        return self.pages - 5

    @property
    def config_page(self) -> int:
        return self.pages - 4


NTAG = {
    "NTAG213": NtagModel("NTAG213", 45, 0x12, bytes.fromhex("0004040201000F03")),
    "NTAG215": NtagModel("NTAG215", 135, 0x3E, bytes.fromhex("0004040201001103")),
    "NTAG216": NtagModel("NTAG216", 231, 0x6D, bytes.fromhex("0004040201001303")),
}


class NtagSimulator(TypeATag):
    """An NTAG21x: ``ndef`` is the NDEF message on it (None: an empty formatted tag).

    ``formatted=False`` leaves the capability container blank (not NDEF);
    ``read_only`` sets the CC's write access to 0x0F; ``ignore_writes`` ACKs
    writes without storing them (a faulty tag, for read-back checks);
    ``vanish_after_reads`` takes the card away after that many READs.
    """

    def __init__(
        self,
        model: str = "NTAG215",
        ndef: bytes | None = None,
        *,
        uid: bytes = bytes.fromhex("04A1B2C3D4E580"),
        formatted: bool = True,
        read_only: bool = False,
        ignore_writes: bool = False,
        vanish_after_reads: int | None = None,
        host: str = "127.0.0.1",
        port: int = 0,
    ) -> None:
        super().__init__(uid, host, port)
        self.model = NTAG[model]
        self.ignore_writes = ignore_writes
        self.vanish_after_reads = vanish_after_reads
        self.reads = 0
        self.memory = bytearray(4 * self.model.pages)
        self.memory[0:4] = self._cascade[0][1:4] + bytes([self._cascade[0][4]])
        self.memory[4:8] = uid[3:]
        self.memory[8:12] = bytes([_bcc(uid[3:]), 0x48, 0x00, 0x00])
        if formatted:
            self.memory[12:16] = bytes([0xE1, 0x10, self.model.cc_size, 0x0F if read_only else 0x00])
            self.set_ndef(ndef or b"")
        config = 4 * self.model.config_page
        self.memory[config : config + 16] = bytes.fromhex("04000000FF000000FFFFFFFF00000000")

    def set_ndef(self, message: bytes) -> None:
        """Put ``message`` on the tag as an NDEF message TLV followed by a terminator TLV."""
        length = bytes([len(message)]) if len(message) < 255 else b"\xff" + struct.pack(">H", len(message))
        tlv = b"\x03" + length + message + b"\xfe"
        with self.lock:
            if 16 + len(tlv) > 16 + 8 * self.model.cc_size:
                raise ValueError(f"{len(message)} bytes do not fit an {self.model.name}")
            self.memory[16 : 16 + len(tlv)] = tlv

    def page(self, number: int) -> bytes:
        with self.lock:
            return bytes(self.memory[4 * number : 4 * number + 4])

    def command(self, frame: bytes) -> bytes | None:
        code = frame[0]
        if code == 0x30 and len(frame) == 2:  # READ: four pages, rolling over to page 0
            return self._read(frame[1])
        if code == 0xA2 and len(frame) == 6:  # WRITE: one page
            return self._write(frame[1], frame[2:6])
        if code == 0x60 and len(frame) == 1:  # GET_VERSION
            return self.model.version
        if code == 0x3C and len(frame) == 2:  # READ_SIG
            return bytes(32)
        self.active = False  # anything else: silence, and the tag goes idle
        return None

    def _read(self, page: int) -> bytes:
        if page >= self.model.pages:
            self.active = False
            return NAK
        self.reads += 1
        if self.vanish_after_reads is not None and self.reads > self.vanish_after_reads:
            self.remove()
            return NAK
        pages = [(page + offset) % self.model.pages for offset in range(4)]
        return b"".join(bytes(self.memory[4 * each : 4 * each + 4]) for each in pages)

    def _write(self, page: int, data: bytes) -> bytes:
        if page < 2 or page >= self.model.pages or self._locked(page):
            return NAK
        if self.ignore_writes:
            return ACK
        start = 4 * page
        if page == 2:  # only the lock bytes, and bits are only ever set
            self.memory[start + 2] |= data[2]
            self.memory[start + 3] |= data[3]
        elif page in (3, self.model.dynamic_lock_page):  # one-time programmable: bits are only ever set
            for index in range(4):
                self.memory[start + index] |= data[index]
        else:
            self.memory[start : start + 4] = data
        return ACK

    def _locked(self, page: int) -> bool:
        static = self.memory[10] | self.memory[11] << 8
        if 3 <= page <= 15:
            return bool(static >> page & 1)
        dynamic = 4 * self.model.dynamic_lock_page
        if 16 <= page < self.model.dynamic_lock_page:
            bits = self.memory[dynamic] | self.memory[dynamic + 1] << 8
            return bool(bits >> ((page - 16) // 16) & 1)
        if page >= self.model.config_page:
            return bool(self.memory[4 * self.model.config_page + 4] & 0x40)  # CFGLCK
        return False


# --- Type 4 (ISO-DEP) -------------------------------------------------------------------

NDEF_AID = bytes.fromhex("D2760000850101")
CC_FILE, NDEF_FILE = b"\xe1\x03", b"\xe1\x04"
_OK, _NOT_FOUND, _DENIED, _WRONG = b"\x90\x00", b"\x6a\x82", b"\x69\x82", b"\x6a\x86"


class Type4Simulator(TypeATag):
    """An NFC Forum Type 4 tag (mapping 2.0) holding ``ndef`` in a file of ``file_size`` bytes."""

    SAK = 0x20  # ISO 14443-4 compliant
    # ATS: FSCI 8 (256-byte frames), FWI 8 (77 ms frame waiting time).
    ATS = bytes.fromhex("0578808002")

    def __init__(self, ndef: bytes | None = None, *, file_size: int = 1024, read_only: bool = False,
                 uid: bytes = bytes.fromhex("04C0FFEE012345"), host: str = "127.0.0.1", port: int = 0) -> None:
        super().__init__(uid, host, port)
        self.read_only = read_only
        self.file = bytearray(file_size)
        message = ndef or b""
        self.file[: 2 + len(message)] = struct.pack(">H", len(message)) + message
        self.cc = struct.pack(">HBHHBB2sHBB", 15, 0x20, 0xF6, 0xF6, 0x04, 0x06, NDEF_FILE, file_size,
                              0x00, 0xFF if read_only else 0x00)
        self._selected: bytearray | bytes | None = None
        self._application = False

    @property
    def ndef(self) -> bytes:
        with self.lock:
            (length,) = struct.unpack_from(">H", self.file)
            return bytes(self.file[2 : 2 + length])

    def field_off(self) -> None:
        super().field_off()
        self._selected, self._application = None, False

    def command(self, frame: bytes) -> bytes | None:
        pcb = frame[0]
        if frame[:1] == b"\xe0":  # RATS
            return self.ATS
        if pcb & 0xE2 == 0x02:  # I-block: an APDU
            return bytes([0x02 | (pcb & 1)]) + self._apdu(frame[1:])
        if pcb & 0xF6 == 0xB2:  # R(NAK): a presence check
            return bytes([0xA2 | (pcb & 1)])
        if pcb == 0xC2:  # S(DESELECT)
            self.active = False
            return b"\xc2"
        return None

    def _apdu(self, apdu: bytes) -> bytes:
        if len(apdu) < 4:
            return _WRONG
        ins, p1, p2, body = apdu[1], apdu[2], apdu[3], apdu[4:]
        data, expected = b"", 0
        if len(body) == 1:
            expected = body[0] or 256
        elif body:
            data = body[1 : 1 + body[0]]
            expected = (body[1 + body[0]] or 256) if len(body) > 1 + body[0] else 0
        if ins == 0xA4 and p1 == 0x04:  # SELECT by name
            self._application = data == NDEF_AID
            return _OK if self._application else _NOT_FOUND
        if ins == 0xA4 and p1 == 0x00:  # SELECT a file
            files: dict[bytes, bytes | bytearray] = {CC_FILE: self.cc, NDEF_FILE: self.file}
            self._selected = files.get(bytes(data)) if self._application else None
            return _OK if self._selected is not None else _NOT_FOUND
        offset = p1 << 8 | p2
        if ins == 0xB0 and self._selected is not None:  # READ BINARY
            return bytes(self._selected[offset : offset + expected]) + _OK
        if ins == 0xD6 and self._selected is self.file:  # UPDATE BINARY
            if self.read_only or offset + len(data) > len(self.file):
                return _DENIED
            self.file[offset : offset + len(data)] = data
            return _OK
        return _WRONG


# --- FeliCa (Type 3): nfcpy's own Type 3 tag emulation behind the UDP loop --------------------


class FelicaSimulator(UdpTag):
    """A FeliCa card (NFC Forum Type 3) holding ``ndef`` in ``blocks`` blocks of 16 bytes.

    The commands (polling, read and write without encryption) are answered
    by nfcpy's ``Type3TagEmulation``; only the UDP loop is ours.  (nfcpy's own
    listen loop re-opens its socket every listen period and can miss the
    command that follows a polling answer, so it is not used.)
    """

    IDM = bytes.fromhex("03FE001122334455")  # 01FE would be taken for a phone (NFC-DEP)
    PMM = bytes.fromhex("00FFFFFFFFFFFFFF")  # an unknown IC: the reader uses the longest timeouts
    SYSTEM = bytes.fromhex("12FC")  # the NFC Forum NDEF system

    def __init__(self, ndef: bytes | None = None, *, blocks: int = 64, read_only: bool = False,
                 host: str = "127.0.0.1", port: int = 0) -> None:
        import nfc.clf
        import nfc.tag.tt3  # the tag side needs nfcpy; the simulators above do not

        super().__init__(host, port)
        self.blocks, self.read_only = blocks, read_only
        message = ndef or b""
        self.data = bytearray(16 * blocks)
        self.data[: len(message)] = message
        self.length = len(message)
        target = nfc.clf.LocalTarget("212F", sensf_res=bytearray(b"\x01" + self.IDM + self.PMM + self.SYSTEM),
                                     tt3_cmd=bytearray(b"\x00\xff\xff\x01\x00"))
        self.emulation = nfc.tag.tt3.Type3TagEmulation(None, target)
        for service in (0x0009, 0x000B):  # NDEF write and read services
            self.emulation.add_service(service, self._read_block, self._write_block)

    @property
    def ndef(self) -> bytes:
        with self.lock:
            return bytes(self.data[: self.length])

    def attribute_block(self) -> bytes:
        block = bytearray(16)
        block[0:5] = struct.pack(">BBBH", 0x10, 4, 1, self.blocks)  # version 1.0, Nbr, Nbw, Nmaxb
        block[10] = 0x00 if self.read_only else 0x01  # RWFlag
        block[11:14] = self.length.to_bytes(3, "big")
        block[14:16] = struct.pack(">H", sum(block[0:14]))
        return bytes(block)

    def answer(self, brty: str, frame: bytes) -> bytes | None:
        if brty not in ("212F", "424F") or not frame or frame[0] != len(frame):
            return None
        response = self.emulation.process_command(bytearray(frame))
        return bytes(response) if response is not None else None

    def _read_block(self, number: int, rb: object, re: object) -> bytes:
        if number == 0:
            return self.attribute_block()
        return bytes(self.data[16 * (number - 1) : 16 * number])

    def _write_block(self, number: int, data: bytes, wb: object, we: object) -> bool:
        if self.read_only:
            return False
        if number == 0:
            self.length = int.from_bytes(data[11:14], "big")
        else:
            self.data[16 * (number - 1) : 16 * number] = data
        return True


Simulator = NtagSimulator | Type4Simulator | FelicaSimulator
