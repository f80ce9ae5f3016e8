"""The office's transparency log, on SQLite and PostgreSQL: every fact appended, heads and proofs from stored hashes.

What the office serves is checked by keys.tlog's verifiers and by hashing the
entries anew: the tree head over every entry's leaf hash, each inclusion and
consistency proof, each tile and entry bundle against the head a checkpoint
signs.
"""

from __future__ import annotations

import json

import pytest

from issuer import cards, issuing_keys, quarantine, terminals, transparency
from issuer.errors import Invalid, NotFound, Refused
from issuer.storage.store import IssuerHome
from keys.chain import chain_hash
from keys.tiles import Tile, TileInvalid, split_hashes, tiles_for, unbundle
from keys.tlog import (
    NoteKey,
    leaf_hash,
    node_hash,
    open_checkpoint,
    tree_root,
    verify_consistency,
    verify_inclusion,
)
from tests.factories import ACTOR, DAY, NOW
from tests.factories.offices import UNLOCK, add_partner, add_service, issued_cards
from tests.terminal_sim import decision, enrolled_terminal, send

ORIGIN = "kia.disdukcapil.example/3372/log"


@pytest.fixture
def founded_at() -> int:
    return NOW - 30 * DAY


def integrated(office: IssuerHome) -> int:
    """Place the pending facts in the tree, as ``kia issuer log publish`` does first; the log's size."""
    transparency.integrate_all(office)
    with office.transaction() as session:
        return transparency.size_of(session)


def entries(office: IssuerHome) -> list[dict[str, object]]:
    size = integrated(office)
    with office.transaction() as session:
        return [json.loads(transparency.entry(session, index)) for index in range(size)]


def all_leaves(office: IssuerHome) -> list[bytes]:
    size = integrated(office)
    with office.transaction() as session:
        return [leaf_hash(transparency.entry(session, index)) for index in range(size)]


def test_every_fact_the_office_accepts_is_an_entry_in_order(office: IssuerHome):
    partner = add_partner(office)
    add_service(office, partner, now=NOW - 20 * DAY)
    issued = issued_cards(office, 3, NOW - 20 * DAY)
    cards.revoke_card(office, issued[0][0], "hilang", NOW - 10 * DAY, by=ACTOR)
    replacement = cards.replace_card(office, UNLOCK, issued[1][0], NOW - 9 * DAY, by=ACTOR)
    terminal = enrolled_terminal(office, partner, NOW - 8 * DAY, cards=issued)
    send(office, terminal, [decision(n, NOW - DAY + n, issued[2:]) for n in (1, 2)], NOW)
    issuing_keys.rotate_issuing_key(office, UNLOCK, NOW, by=ACTOR)

    kinds = [item["kind"] for item in entries(office)]
    assert kinds == ["key_created", "key_created", "partner", "service_rules", *["card_issued"] * 3, "card_revoked",
                     "card_issued", "card_replaced", "terminal_registered", "terminal_enrolled", "redemption",
                     "redemption", "key_retired", "key_created"]
    logged = entries(office)
    first, second = (item for item in logged if item["kind"] == "redemption")
    record = terminal.records[0]
    assert (first["terminal"], first["partner"], first["seq"]) == (terminal.terminal_id, partner, 1)
    assert first["hash"] == chain_hash(bytes(32), record).hex()  # the chain hash the terminal signed
    assert second["seq"] == 2
    assert record.serial not in json.dumps(first)  # the public log does not follow a child from place to place
    assert next(item for item in logged if item["kind"] == "card_replaced")["by"] == replacement.serial
    issued_entry = next(item for item in logged if item["kind"] == "card_issued")
    assert set(issued_entry) == {"kind", "at", "serial", "kid", "token_sha256"}


def test_the_head_and_every_proof_agree_with_the_entries(office: IssuerHome):
    partner = add_partner(office)
    add_service(office, partner, now=NOW - 20 * DAY)
    issued = issued_cards(office, 4, NOW - 20 * DAY)
    terminal = enrolled_terminal(office, partner, NOW - 8 * DAY, cards=issued)
    sizes = [integrated(office)]
    for batch in range(5):  # growth in uneven steps: 1, 3, 5, 7, 9 records
        send(office, terminal, [decision(n, NOW - DAY + n, issued) for n in range(1, 2 * batch + 2)], NOW)
        sizes.append(integrated(office))
    leaves = all_leaves(office)
    with office.transaction() as session:
        for size in sizes:
            head = transparency.root(session, size)
            assert head == tree_root(leaves[:size])
            for index in range(size):
                verify_inclusion(index, size, leaves[index], transparency.inclusion(session, index, size), head)
            for old in sizes:
                if old <= size:
                    verify_consistency(old, size, tree_root(leaves[:old]), head,
                                       transparency.consistency(session, old, size))
        with pytest.raises(NotFound):
            transparency.root(session, len(leaves) + 1)
        with pytest.raises(Invalid):
            transparency.inclusion(session, len(leaves), len(leaves))
        with pytest.raises(Invalid):
            transparency.consistency(session, 3, 2)


def test_tiles_and_bundles_rebuild_the_head(office: IssuerHome):
    """A client that fetches only tiles (C2SP tlog-tiles) gets the same head; a tile the tree lacks is refused."""
    partner = add_partner(office)
    add_service(office, partner, now=NOW - 20 * DAY)
    issued = issued_cards(office, 300, NOW - 20 * DAY)  # past one full tile of 256
    leaves = all_leaves(office)
    size = len(leaves)
    with office.transaction() as session:
        assert transparency.integrate(session) == 0  # nothing left pending
        fetched = {tile.path: transparency.tile(session, tile) for tile in tiles_for(size)}
        with pytest.raises(TileInvalid):
            transparency.tile(session, Tile(0, 1, 255))  # wider than the tree has reached
        with pytest.raises(TileInvalid):
            transparency.tile(session, Tile(0, 2))
    assert split_hashes(Tile(0, 0), fetched["tile/0/000"]) == leaves[:256]
    partial = Tile(0, 1, size - 256)
    assert split_hashes(partial, fetched[partial.path]) == leaves[256:]
    bundled = unbundle(Tile(None, 0), fetched["tile/entries/000"])
    assert [leaf_hash(item) for item in bundled] == leaves[:256]
    assert {json.loads(item)["serial"] for item in bundled if json.loads(item)["kind"] == "card_issued"} <= {
        serial for serial, _ in issued}
    # Level 1 holds the head of the first 256 leaves: the tile above is what the tree stores.
    level_one = split_hashes(Tile(1, 0, 1), fetched["tile/1/000.p/1"])
    assert level_one == [tree_root(leaves[:256])]
    assert node_hash(tree_root(leaves[:128]), tree_root(leaves[128:256])) == level_one[0]


def test_a_checkpoint_is_signed_by_the_logs_own_key_and_opens_with_its_verifier_key(office: IssuerHome):
    with pytest.raises(Refused, match="log init"):
        transparency.sign(office, UNLOCK, NOW)
    key = transparency.init_log(office, UNLOCK, ORIGIN, NOW, by=ACTOR)
    with pytest.raises(Refused, match="never changes"):
        transparency.init_log(office, UNLOCK, "another/log", NOW, by=ACTOR)
    with pytest.raises(Invalid):
        transparency.init_log(office, UNLOCK, "two words", NOW, by=ACTOR)
    checkpoint = transparency.sign(office, UNLOCK, NOW)
    head = open_checkpoint(checkpoint.note, NoteKey.parse(key.verifier_key), ORIGIN)
    leaves = all_leaves(office)
    assert (head.size, head.root) == (len(leaves), tree_root(leaves))
    with office.transaction() as session:
        logged = json.loads(transparency.entry(session, transparency.entry_index(session, "log_key", ORIGIN)))
    assert logged["verifier_key"] == key.verifier_key
    assert transparency.sign(office, UNLOCK, NOW + 1) == checkpoint  # nothing new: the same checkpoint
    add_partner(office, name="Museum Radya Pustaka")
    grown = transparency.sign(office, UNLOCK, NOW + 3)
    assert grown.size == checkpoint.size + 1 and transparency.latest_checkpoint(office) == grown


def test_office_changes_are_logged_with_the_change(office: IssuerHome):
    partner = add_partner(office)
    registration = terminals.register_terminal(office, partner, "Gerbang", NOW, by=ACTOR)
    with pytest.raises(Refused):  # refused changes leave no entry
        terminals.set_terminal_state(office, registration.terminal_id, "suspended", NOW, by=ACTOR)
    terminals.set_terminal_state(office, registration.terminal_id, "retired", NOW, by=ACTOR)
    kinds = [item["kind"] for item in entries(office)]
    assert kinds[-2:] == ["terminal_registered", "terminal_state"]
    assert entries(office)[-1]["state"] == "retired"


def test_an_auditors_decision_on_a_held_record_is_logged(office: IssuerHome):
    partner = add_partner(office)
    add_service(office, partner, now=NOW - 20 * DAY)
    terminal = enrolled_terminal(office, partner, NOW - 8 * DAY)
    send(office, terminal, [decision(1, NOW - DAY)], NOW)  # a serial never issued: held
    quarantine.decide(office, terminal.terminal_id, 1, "confirm", "kartu palsu", NOW, by=ACTOR)
    last = entries(office)[-1]
    assert (last["kind"], last["terminal"], last["seq"], last["decision"]) == (
        "record_decision", terminal.terminal_id, 1, "confirm")
    assert "kartu palsu" not in json.dumps(last)  # free text stays in the audit trail, not in the public log



def test_facts_wait_pending_until_integrated_and_a_rolled_back_change_leaves_none(office: IssuerHome):
    before = integrated(office)
    add_partner(office)
    with office.transaction() as session:
        assert transparency.size_of(session) == before  # recorded, not yet placed
    with pytest.raises(Refused), office.transaction() as session:
        transparency.record_fact(session, "partner", "99", NOW, partner=99)
        raise Refused("the change fails: its fact goes with it")
    assert integrated(office) == before + 1
    assert entries(office)[-1]["kind"] == "partner"


def test_integration_takes_batches_in_the_order_facts_were_recorded(office: IssuerHome):
    before = integrated(office)
    issued = issued_cards(office, 30, NOW - DAY)
    placed = []
    while True:
        with office.transaction() as session:
            count = transparency.integrate(session, limit=7)
        if not count:
            break
        placed.append(count)
    assert placed == [7, 7, 7, 7, 2]
    serials = [entry["serial"] for entry in entries(office)[before:]]
    assert serials == [serial for serial, _ in issued]


def test_a_terminals_batch_becomes_one_entry_per_record_and_is_never_split(office: IssuerHome):
    partner = add_partner(office)
    add_service(office, partner, now=NOW - 20 * DAY)
    terminal = enrolled_terminal(office, partner, NOW - 8 * DAY)
    before = integrated(office)
    send(office, terminal, [decision(n, NOW - DAY + n) for n in range(1, 13)], NOW)
    with office.transaction() as session:
        assert transparency.integrate(session, limit=5) == 12  # the whole batch, past the limit
    logged = entries(office)[before:]
    assert [(entry["kind"], entry["seq"], entry["at"]) for entry in logged] == [
        ("redemption", seq, NOW) for seq in range(1, 13)]
