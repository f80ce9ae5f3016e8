"""``kia issuer card issue --csv FILE --archive``: one zip a batch instead of three files a card.

The command runs as an office runs it (the installed ``kia``, a fresh home,
SQLite); the archive is then read back as a printer's software would: each
PNG decoded by zxing-cpp, each member compared with the file the default
mode writes for the same card.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import io
import json
import subprocess
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import zxingcpp
from PIL import Image

from issuer.artifacts import write_archive, write_card_files
from keys import token_from_payload
from keys.eligibility import WIB, birthday
from tests.integration.conftest import RunKia

# The command stamps cards with the real clock, so the children are dated from
# today, each far from a birthday that would change their card.
TODAY = dt.datetime.now(WIB).date()
EIGHT = birthday(TODAY, -8) - dt.timedelta(days=100)
TWELVE = birthday(TODAY, -12) - dt.timedelta(days=10)
BATCH = [
    "birth_date,region,external_id",  # line 1
    f"{EIGHT},3372,p-01",  # 2: good
    f"{EIGHT},33X2,p-02",  # 3: bad region, refused
    f"{TWELVE},6311,p-03",  # 4: good
    f"{EIGHT + dt.timedelta(days=3)},9171,p-04",  # 5: good
]


@dataclasses.dataclass(frozen=True)
class Batch:
    out: Path
    result: subprocess.CompletedProcess[str]
    report: dict[str, Any]
    archive: zipfile.ZipFile


@pytest.fixture(scope="module")
def batch(run_kia: RunKia, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Batch]:
    folder = tmp_path_factory.mktemp("archive")
    home, out = folder / "home", folder / "cards"
    assert run_kia("issuer", "init", "--home", home).returncode == 0
    (folder / "school.csv").write_text("\n".join(BATCH) + "\n", encoding="utf-8")
    result = run_kia("issuer", "card", "issue", "--home", home, "--csv", folder / "school.csv", "--out", out,
                     "--archive")
    report = json.loads(result.stdout)
    with zipfile.ZipFile(report["archive"]) as archive:
        yield Batch(out, result, report, archive)


def test_the_archive_holds_exactly_the_cards_issued(batch: Batch) -> None:
    assert batch.result.returncode == 1, batch.result.stderr  # one row refused
    assert (batch.report["issued"], batch.report["rejected"]) == (3, 1)
    assert batch.report["archive"] == str(batch.out / f"cards-batch-{batch.report['batch_id']}.zip")
    serials = [card["serial"] for card in batch.report["cards"]]
    assert batch.archive.namelist() == [f"{serial}{suffix}" for serial in serials
                                        for suffix in (".png", ".svg", ".ndef")]
    for card in batch.report["cards"]:
        assert (card["qr_png"], card["qr_svg"], card["ndef"]) == (
            f"{card['serial']}.png", f"{card['serial']}.svg", f"{card['serial']}.ndef")
    # One archive instead of three files a card, and no temporary file left beside it.
    assert sorted(path.name for path in batch.out.iterdir()) == [Path(batch.report["archive"]).name, "issued.csv"]


def test_a_refused_row_is_not_in_the_archive(batch: Batch) -> None:
    assert [error["external_id"] for error in batch.report["errors"]] == ["p-02"]
    assert [card["external_id"] for card in batch.report["cards"]] == ["p-01", "p-03", "p-04"]
    assert len(batch.archive.namelist()) == 3 * 3


def test_each_qr_in_the_archive_reads_back_as_its_cards_token(batch: Batch) -> None:
    for card in batch.report["cards"]:
        with Image.open(io.BytesIO(batch.archive.read(card["qr_png"]))) as image:
            found = zxingcpp.read_barcode(image.convert("L"), formats=zxingcpp.BarcodeFormat.QRCode)
        assert found is not None and found.valid, card["serial"]
        assert token_from_payload(found.text) == card["token"]


def test_the_archive_holds_the_bytes_the_three_files_hold(batch: Batch, tmp_path: Path) -> None:
    for card in batch.report["cards"]:
        files = write_card_files(card["serial"], card["token"], tmp_path)
        assert batch.archive.read(card["ndef"]) == files.ndef.read_bytes()
        assert batch.archive.read(card["qr_png"]) == files.qr_png.read_bytes()
        assert batch.archive.read(card["qr_svg"]) == files.qr_svg.read_bytes()


def test_archive_without_csv_is_a_usage_error(run_kia: RunKia, tmp_path: Path) -> None:
    result = run_kia("issuer", "card", "issue", "--home", tmp_path / "home", "--birth-date", EIGHT.isoformat(),
                     "--region", "3372", "--out", tmp_path / "cards", "--archive")

    assert result.returncode == 2, result.stderr
    assert "Traceback" not in result.stderr
    assert "--archive" in result.stderr and len(result.stderr.strip().splitlines()) == 1
    assert not (tmp_path / "cards").exists()


def test_a_write_cut_short_leaves_the_old_archive_whole(tmp_path: Path) -> None:
    path = tmp_path / "cards-batch-7.zip"
    path.write_bytes(b"the archive written before")

    def crash(done: int) -> None:
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        write_archive([("00J6HB74", "a.b.c")], path, on_progress=crash)

    assert path.read_bytes() == b"the archive written before"
    assert [item.name for item in tmp_path.iterdir()] == [path.name]
