"""C2SP tlog-tiles paths, tiles and entry bundles (keys/tiles.py), with the spec's own examples."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from keys.tiles import Tile, TileInvalid, bundle, fits, parse_path, split_hashes, tiles_for, unbundle


def test_paths_spell_the_index_in_groups_of_three_as_the_spec_shows():
    assert Tile(0, 1234067).path == "tile/0/x001/x234/067"
    assert Tile(2, 5, 17).path == "tile/2/005.p/17"
    assert Tile(None, 1000).path == "tile/entries/x001/000"


@given(st.integers(min_value=0, max_value=2**40), st.integers(min_value=1, max_value=256),
       st.sampled_from([None, 0, 1, 5]))
def test_a_path_parses_back_to_its_tile(index: int, width: int, level: int | None):
    tile = Tile(level, index, width)
    assert parse_path(tile.path) == tile


@pytest.mark.parametrize("path", ["tile/0/1", "tile/0/x1/000", "tile/00/000", "tile/64x/000", "tile/0/000.p/0",
                                  "tile/0/000.p/256", "tile/0/000.p/07", "tile/entries/000/", "/tile/0/000",
                                  "tile/0/../000", "tile/0/x000/x000/x000/x000/x000/x000/x000/000", "tile/64/000"])
def test_malformed_paths_are_refused(path: str):
    with pytest.raises(TileInvalid):
        parse_path(path)


def test_the_tiles_of_a_tree_of_70000_are_those_the_spec_lists():
    hash_tiles = [tile for tile in tiles_for(70_000) if tile.level is not None]
    assert len([t for t in hash_tiles if t.level == 0 and t.width == 256]) == 273
    assert [t.path for t in hash_tiles if t.width != 256 or t.level] == [
        "tile/0/273.p/112", "tile/1/000", "tile/1/001.p/17", "tile/2/000.p/1"]
    assert [t.path for t in tiles_for(256) if t.level is not None] == ["tile/0/000", "tile/1/000.p/1"]


def test_only_the_tiles_the_tree_holds_fit_it():
    fits(Tile(0, 273, 112), 70_000)
    fits(Tile(0, 273, 111), 70_000)  # the partial tile of a checkpoint of size 69,999
    fits(Tile(0, 3), 70_000)
    fits(Tile(2, 0, 1), 70_000)
    for wrong in (Tile(0, 273), Tile(0, 273, 113), Tile(0, 274, 1), Tile(3, 0, 1), Tile(2, 0, 2)):
        with pytest.raises(TileInvalid):
            fits(wrong, 70_000)


def test_bundles_round_trip_and_a_truncated_one_is_refused():
    entries = [b"", b"a", bytes(300), b"kartu"]
    data = bundle(entries)
    assert data[:2] == b"\x00\x00" and data[2:4] == b"\x00\x01"
    assert unbundle(Tile(None, 0, 4), data) == entries
    for cut in (1, 3, len(data) - 1):
        with pytest.raises(TileInvalid, match="truncated"):
            unbundle(Tile(None, 0, 4), data[:cut])
    with pytest.raises(TileInvalid, match="not 5"):
        unbundle(Tile(None, 0, 5), data)
    with pytest.raises(ValueError):
        bundle([bytes(70_000)])


def test_a_truncated_tile_is_refused():
    data = bytes(32 * 3)
    assert len(split_hashes(Tile(0, 0, 3), data)) == 3
    with pytest.raises(TileInvalid, match="95 bytes"):
        split_hashes(Tile(0, 0, 3), data[:-1])
