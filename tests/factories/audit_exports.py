"""Small audit exports built by hand, as the office would write them, for the auditor's tools.

A ``Till`` is one terminal: its own Ed25519 key, its chained records
(keys.chain) and the checkpoints it signs.  ``write_export`` writes the
files and the manifest of kia-audit-export/1; ``rewrite`` changes a file and
its manifest entry, as an office that altered its export would.  No office,
no database: the auditor's side is tested alone.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from keys import kid_for, public_jwk
from keys.chain import GENESIS, Checkpoint, Redemption, chain_hashes, sign_checkpoint
from kia.audit_export_format import (
    FIGURES,
    MANIFEST,
    Manifest,
    TableWriter,
    csv_to_parquet,
    entry_for,
    file_name,
    write_manifest,
)
from tests.factories import NOW, SURAKARTA, WIB

START = dt.datetime.fromtimestamp(NOW, WIB).date().replace(day=1)  # the export's month
END = START.replace(day=28)


def scan(at: int, serial: str | None = "8H635DTC", *, accepted: bool = True, price: int = 40_000,
         flags: tuple[str, ...] = ()) -> Redemption:
    """An accepted scan at half price (or a refusal without amounts); seq is set by the till."""
    if not accepted:
        return Redemption(0, at, serial, False, "card_revoked", "bioskop-reguler", None, 0, 0, 0, flags)
    return Redemption(0, at, serial, True, "accepted", "bioskop-reguler", "5-12", price, price // 2,
                      price - price // 2, flags)


def local_day(at: int) -> int:
    return int(dt.datetime.fromtimestamp(at, WIB).strftime("%Y%m%d"))


@dataclasses.dataclass
class Till:
    terminal_id: str = "T-KASIR1"
    partner_id: int = 1
    key: Ed25519PrivateKey = dataclasses.field(default_factory=Ed25519PrivateKey.generate)
    records: list[Redemption] = dataclasses.field(default_factory=list)
    held: set[int] = dataclasses.field(default_factory=set)

    def log(self, *scans: Redemption) -> Till:
        first = len(self.records) + 1
        self.records += [dataclasses.replace(item, seq=first + n) for n, item in enumerate(scans)]
        return self

    def hashes(self) -> list[bytes]:
        return chain_hashes(GENESIS, self.records)

    def checkpoint(self, seq: int, *, key: Ed25519PrivateKey | None = None, digest: bytes | None = None
                   ) -> dict[str, Any]:
        signer = key or self.key
        signed = digest if digest is not None else self.hashes()[seq - 1]
        jws = sign_checkpoint(Checkpoint(self.terminal_id, seq, signed, NOW), signer, kid_for(signer.public_key()))
        return {"terminal_id": self.terminal_id, "seq": seq, "hash": signed.hex(), "jws": jws, "received_at": NOW}

    def rows(self, first: int = 1, last: int | None = None) -> list[dict[str, Any]]:
        """Redemption rows for records ``first``..``last``, as the office exports them."""
        hashes = [GENESIS, *self.hashes()]
        return [{
            "terminal_id": self.terminal_id, "partner_id": self.partner_id, "seq": record.seq, "at": record.at,
            "day": local_day(record.at), "serial": record.serial, "accepted": record.accepted,
            "reason": record.reason, "service": record.service, "category": record.category,
            "price": record.price, "discount": record.discount, "paid": record.paid, "flags": " ".join(record.flags),
            "prev_hash": hashes[record.seq - 1].hex(), "hash": hashes[record.seq].hex(), "received_at": NOW,
            "held": record.seq in self.held, "flagged": bool(record.flags), "home": record.home,
        } for record in self.records[first - 1:last]]

    def terminal_row(self) -> dict[str, Any]:
        return {"terminal_id": self.terminal_id, "partner_id": self.partner_id, "state": "active",
                "enrolled_at": NOW - 86_400, "public_jwk": json.dumps(public_jwk(self.key.public_key()))}


def partner_row(partner_id: int = 1, latitude: float | None = -7.5666) -> dict[str, Any]:
    return {"partner_id": partner_id, "name": f"Bioskop \"Solo\", {partner_id}", "kind": "cinema",
            "cluster": "education_culture", "region": SURAKARTA, "latitude": latitude,
            "longitude": None if latitude is None else 110.8243}


def write_export(directory: Path, *, redemptions: Sequence[dict[str, Any]], checkpoints: Sequence[dict[str, Any]],
                 terminals: Sequence[dict[str, Any]], partners: Sequence[dict[str, Any]],
                 figures: dict[str, Any] | None = None, findings: Sequence[dict[str, Any]] = (),
                 formats: Sequence[str] = ("csv",), partner: int | None = None) -> Manifest:
    directory.mkdir(parents=True, exist_ok=True)
    files = {}
    tables = {"redemptions": redemptions, "checkpoints": checkpoints, "terminals": terminals, "partners": partners,
              "findings": findings}
    for table, rows in tables.items():
        csv_path = directory / file_name(table, "csv")
        with TableWriter(csv_path, table) as writer:
            for row in rows:
                writer.write(row)
        if "parquet" in formats:
            csv_to_parquet(csv_path, directory / file_name(table, "parquet"), table)
            files[file_name(table, "parquet")] = entry_for(directory / file_name(table, "parquet"), len(rows))
        if "csv" in formats:
            files[csv_path.name] = entry_for(csv_path, len(rows))
        else:
            csv_path.unlink()
    empty = {"partners": [], "programme": []}
    (directory / FIGURES).write_text(json.dumps({"from": START.isoformat(), "to": END.isoformat(),
                                                 "partner": partner, "period": "day"} | (figures or empty)))
    files[FIGURES] = entry_for(directory / FIGURES)
    manifest = Manifest(START.isoformat(), END.isoformat(), partner, "2026-11-22T03:00:00+00:00", "rhRa", files)
    write_manifest(directory, manifest)
    return manifest


def honest_export(directory: Path, till: Till, **options: Any) -> Manifest:
    """The till's records, one checkpoint after the last, its terminal and partner."""
    return write_export(directory, redemptions=till.rows(), checkpoints=[till.checkpoint(len(till.records))],
                        terminals=[till.terminal_row()], partners=[partner_row(till.partner_id)], **options)


def rewrite(directory: Path, name: str, change: Callable[[bytes], bytes]) -> None:
    """Change file ``name`` and its manifest entry alike: an export altered by whoever made it."""
    path = directory / name
    path.write_bytes(change(path.read_bytes()))
    manifest = json.loads((directory / MANIFEST).read_text())
    entry = entry_for(path)
    manifest["files"][name] |= {"sha256": entry.sha256, "bytes": entry.bytes}
    (directory / MANIFEST).write_text(json.dumps(manifest))


def csv_line(directory: Path, name: str, number: int, change: Callable[[list[str]], list[str]]) -> None:
    """Rewrite line ``number`` (1 = header) of a CSV file, field by field, and the manifest with it."""
    import csv
    import io

    def edit(data: bytes) -> bytes:
        rows = list(csv.reader(io.StringIO(data.decode())))
        rows[number - 1] = change(rows[number - 1])
        out = io.StringIO()
        csv.writer(out, lineterminator="\r\n").writerows(rows)
        return out.getvalue().encode()

    rewrite(directory, name, edit)
