"""The office's witnesses: independent bodies that cosign its checkpoints (C2SP tlog-witness).

``publish`` signs a checkpoint of the log as it is (issuer.transparency.sign)
and asks each witness to cosign it with a consistency proof from the size
that witness last cosigned.  A witness that answers 409 with another size
(it cosigned for someone else meanwhile, or the office's record of it is
behind) is asked once more with a proof from that size.  Each cosignature is
verified with the witness's key before it is added to the stored
checkpoint, so a published checkpoint carries only cosignatures that hold.
A witness that refuses or does not answer leaves the checkpoint as it was,
with its reason in the result and an alarm for the office.
"""

from __future__ import annotations

import dataclasses

from sqlalchemy import select

from keys.cosignature import (
    CosignatureInvalid,
    CosignatureMissing,
    CosignerKey,
    add_cosignatures,
    verify_cosignature,
)

from . import transparency
from .audit import Actor
from .audit import record as audit
from .errors import Invalid, Refused
from .issuing_keys import KeyUnlock
from .storage.models import Alarm, LogCheckpoint, LogWitness
from .storage.store import IssuerHome

TIMEOUT = 10.0


@dataclasses.dataclass(frozen=True)
class Witness:
    name: str
    url: str
    verifier_key: str
    size: int


@dataclasses.dataclass(frozen=True)
class Outcome:
    """What one witness did with a checkpoint: ``cosigned``, or why not."""

    witness: str
    cosigned: bool
    detail: str


@dataclasses.dataclass(frozen=True)
class Published:
    checkpoint: transparency.Checkpoint
    outcomes: list[Outcome]


def add_witness(home: IssuerHome, url: str, verifier_key: str, now: int, *, by: Actor) -> Witness:
    """Follow a witness at ``url`` whose cosignature key is ``verifier_key`` (name+keyid+base64)."""
    try:
        key = CosignerKey.parse(verifier_key)
    except CosignatureInvalid as exc:
        raise Invalid(str(exc)) from None
    if not url.startswith(("http://", "https://")) or len(url) > 300 or any(c.isspace() for c in url):
        raise Invalid("a witness's URL is http(s)://HOST[:PORT][/PREFIX]")
    with home.transaction() as session:
        if session.scalar(select(LogWitness.id).where(LogWitness.name == key.name)) is not None:
            raise Refused(f"witness {key.name} is already added")
        session.add(LogWitness(name=key.name, url=url, verifier_key=verifier_key.strip(), size=0, added_at=now))
        audit(session, by, "witness_add", key.name, now)
    return Witness(key.name, url, verifier_key.strip(), 0)


def witnesses(home: IssuerHome) -> list[Witness]:
    with home.transaction() as session:
        return [Witness(row.name, row.url, row.verifier_key, row.size)
                for row in session.scalars(select(LogWitness).order_by(LogWitness.name))]


def publish(home: IssuerHome, unlock: KeyUnlock, now: int, *, timeout: float = TIMEOUT) -> Published:
    """Sign a checkpoint of the log and gather its witnesses' cosignatures."""
    from kia.witness import WitnessConflict, WitnessError, request_cosignature

    checkpoint = transparency.sign(home, unlock, now)
    outcomes = []
    for witness in witnesses(home):
        key = CosignerKey.parse(witness.verifier_key)
        old = witness.size
        try:
            for attempt in range(2):
                proof = _proof(home, old, checkpoint.size)
                try:
                    lines = request_cosignature(witness.url, old, proof, checkpoint.note, timeout)
                    break
                except WitnessConflict as conflict:
                    if attempt or conflict.size > checkpoint.size:
                        raise
                    old = conflict.size
            cosigned = add_cosignatures(checkpoint.note, lines)
            verify_cosignature(cosigned, key, now)
        except (WitnessError, CosignatureInvalid, Refused) as exc:
            outcomes.append(Outcome(witness.name, False, str(exc)))
            _alarm(home, witness.name, str(exc), now)
            continue
        _keep(home, checkpoint.size, key, lines, now)
        outcomes.append(Outcome(witness.name, True, f"cosigned size {checkpoint.size}"))
    latest = transparency.latest_checkpoint(home)
    return Published(latest or checkpoint, outcomes)


def _proof(home: IssuerHome, old: int, size: int) -> list[bytes]:
    if old > size:
        raise Refused(f"the witness has cosigned size {old}, beyond this checkpoint's {size}")
    with home.transaction() as session:
        return transparency.consistency(session, old, size)


def _keep(home: IssuerHome, size: int, key: CosignerKey, lines: list[str], now: int) -> None:
    """Add verified cosignature ``lines`` to the stored checkpoint, once per witness (locked: racing publishers)."""
    with home.transaction() as session:
        row = session.get_one(LogCheckpoint, size, with_for_update=True)
        try:
            verify_cosignature(row.note, key, now)
        except CosignatureMissing:
            row.note = add_cosignatures(row.note, lines)
            row.cosignatures += 1
        name = key.name
        witness = session.scalars(select(LogWitness).where(LogWitness.name == name).with_for_update()).one()
        witness.size = max(witness.size, size)


def _alarm(home: IssuerHome, name: str, detail: str, now: int) -> None:
    with home.transaction() as session:
        session.add(Alarm(at=now, kind="witness_refused", terminal_id=None, partner_id=None,
                          detail=f"witness {name}: {detail}"[:500]))
