"""The printed QR code: real encoder (libzint), real decoder (zxing-cpp reader).

Each PNG issuer.artifacts writes must decode to exactly the numeric QR text of
the token, stay a small symbol (version <= 12 at EC level Q) and keep
decoding after the damage a card suffers in a child's pocket.  segno, an
independent encoder, cross-checks the symbol module by module, and so does
zxing-cpp's writer, which the cards were drawn with before.
"""

from __future__ import annotations

import re
import struct
import xml.etree.ElementTree as ET
import zlib
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
import segno
import zxingcpp
from PIL import Image, ImageFilter

from firmware_bridge.image import ImageUnreadable, payloads_from_image
from issuer import artifacts
from issuer.artifacts import CardFiles, printed_size_mm, write_card_files, write_many
from keys import qr_text, token_from_payload
from keys.serial import serial_from_value
from tests.factories import Trust, make_card

MODULES = 65  # a version-12 symbol
QUIET_ZONE = 4
SIDE = MODULES + 2 * QUIET_ZONE  # 73 modules printed
SCALE = artifacts.QR_PIXELS_PER_MODULE
SEED = 20261122


@pytest.fixture(scope="module")
def printed(card_tokens: list[str], tmp_path_factory: pytest.TempPathFactory) -> list[tuple[str, CardFiles]]:
    out = tmp_path_factory.mktemp("cards")
    return [(token, write_card_files(f"card{index}", token, out)) for index, token in enumerate(card_tokens)]


def decode(image: Image.Image) -> zxingcpp.Barcode:
    found = zxingcpp.read_barcode(image, formats=zxingcpp.BarcodeFormat.QRCode)
    assert found is not None, "no QR code found"
    assert found.valid
    return found


def grey(path: Path) -> Image.Image:
    with Image.open(path) as image:
        return image.convert("L")


def modules_of_png(path: Path) -> np.ndarray:
    """The dark modules of the printed symbol (quiet zone included), sampled at module centres."""
    pixels = np.asarray(grey(path))
    return pixels[SCALE // 2 :: SCALE, SCALE // 2 :: SCALE] < 128


# --- the PNG as written ------------------------------------------------------------


def test_every_png_decodes_to_exactly_the_qr_text_of_its_token(printed: list[tuple[str, CardFiles]]) -> None:
    for token, files in printed:
        found = decode(grey(files.qr_png))

        assert found.text == qr_text(token)
        assert found.text.isdigit() and len(found.text) == 2 * len(token)
        assert token_from_payload(found.text) == token
        assert payloads_from_image(files.qr_png) == [qr_text(token)]  # the bridge reads it the same way


def test_the_symbol_is_version_12_or_smaller_at_error_correction_q(printed: list[tuple[str, CardFiles]]) -> None:
    for _token, files in printed:
        found = decode(grey(files.qr_png))

        assert found.ec_level == "Q"
        assert found.extra.get("ECLevel", "Q") == "Q"
        assert 1 <= int(found.extra["Version"]) <= 12


def test_the_png_is_73_modules_of_5_pixels_at_300_dpi(printed: list[tuple[str, CardFiles]]) -> None:
    for _token, files in printed:
        with Image.open(files.qr_png) as image:
            assert image.format == "PNG"
            assert image.size == (SIDE * SCALE, SIDE * SCALE) == (365, 365)
            assert image.mode == "1"
            assert tuple(round(value) for value in image.info["dpi"]) == (300, 300)
        modules = modules_of_png(files.qr_png)
        assert modules.shape == (SIDE, SIDE)
        # The quiet zone is white all round; the finder pattern starts right after it.
        assert not modules[:QUIET_ZONE].any() and not modules[-QUIET_ZONE:].any()
        assert not modules[:, :QUIET_ZONE].any() and not modules[:, -QUIET_ZONE:].any()
        assert modules[QUIET_ZONE, QUIET_ZONE : QUIET_ZONE + 7].all()
        # Every module is a solid 5x5 block: nothing was resampled.
        pixels = np.asarray(grey(files.qr_png)) < 128
        assert (pixels == np.kron(modules, np.ones((SCALE, SCALE), dtype=bool))).all()


def test_segno_encodes_the_same_symbol_module_for_module(printed: list[tuple[str, CardFiles]]) -> None:
    for token, files in printed:
        found = decode(grey(files.qr_png))
        if "DataMask" not in found.extra:
            pytest.skip("this zxing-cpp does not report the data mask, so segno cannot be told which to use")
        reference = segno.make(
            qr_text(token),
            error="q",
            mode="numeric",
            version=int(found.extra["Version"]),
            mask=int(found.extra["DataMask"]),
            boost_error=False,
        )
        expected = np.array([[bool(module) for module in row] for row in reference.matrix])

        assert reference.designator == f"{found.extra['Version']}-Q"
        assert expected.shape == (MODULES, MODULES)
        written = modules_of_png(files.qr_png)[QUIET_ZONE:-QUIET_ZONE, QUIET_ZONE:-QUIET_ZONE]
        assert (written == expected).all(), f"{(written != expected).sum()} modules differ"


def test_libzint_draws_the_symbol_zxing_cpps_writer_draws(card_tokens: list[str]) -> None:
    """The cards' encoder is libzint itself; zxing-cpp's writer wraps libzint, so cards look as they did with it."""
    for token in card_tokens:
        written = zxingcpp.create_barcode(qr_text(token), zxingcpp.BarcodeFormat.QRCode, ec_level="Q")
        expected = np.asarray(written.to_image(scale=1, add_quiet_zones=False)) < 128

        modules = artifacts.qr_modules(token)

        assert modules.dtype == bool and modules.shape == expected.shape == (MODULES, MODULES)
        assert (modules == expected).all(), f"{(modules != expected).sum()} modules differ"


# --- worn print -------------------------------------------------------------------


def halved_and_back(image: Image.Image) -> Image.Image:
    small = image.resize((image.width // 2, image.height // 2), Image.Resampling.BILINEAR)
    return small.resize(image.size, Image.Resampling.BILINEAR)


def blurred(image: Image.Image) -> Image.Image:
    return image.filter(ImageFilter.GaussianBlur(1.5))


def salt_and_pepper(image: Image.Image) -> Image.Image:
    """5% of pixels flipped to black or white, as seen through a camera's optics (a slight blur).

    On raw pixels, without any optical blur, zxing-cpp's detector already misses
    some symbols at 0.5% salt-and-pepper; no camera delivers such an image.
    """
    rng = np.random.default_rng(SEED)
    pixels = np.array(image)
    draw = rng.random(pixels.shape)
    pixels[draw < 0.025] = 0
    pixels[draw > 0.975] = 255
    return Image.fromarray(pixels).filter(ImageFilter.GaussianBlur(1.0))


def gaussian_noise(image: Image.Image) -> Image.Image:
    rng = np.random.default_rng(SEED)
    noisy = np.asarray(image, dtype=float) + rng.normal(0.0, 30.0, (image.height, image.width))
    return Image.fromarray(np.clip(noisy, 0, 255).astype(np.uint8))


def smudged(image: Image.Image) -> Image.Image:
    """A light grey band (a dirty thumb) across the middle of the symbol, 8 modules high."""
    pixels = np.asarray(image, dtype=float).copy()
    band = slice(image.height // 2 - 20, image.height // 2 + 20)
    pixels[band] = 0.5 * pixels[band] + 0.5 * 128
    return Image.fromarray(pixels.astype(np.uint8))


def rotated(image: Image.Image) -> Image.Image:
    return image.rotate(7, resample=Image.Resampling.BILINEAR, expand=True, fillcolor=255)


def worn(image: Image.Image) -> Image.Image:
    """Skewed, printed at half resolution, grainy, then seen through a camera's blur.

    (Noise added after the blur, on soft edges, defeats zxing-cpp at 5 pixels a
    module already at sigma 30; a camera's optics blur the paper's grain instead.)
    """
    return blurred(gaussian_noise(halved_and_back(image.rotate(-3, expand=True, fillcolor=255))))


DAMAGE: dict[str, Callable[[Image.Image], Image.Image]] = {
    "downscaled-50%": halved_and_back,
    "gaussian-blur-1.5": blurred,
    "salt-and-pepper-5%": salt_and_pepper,
    "gaussian-noise-30": gaussian_noise,
    "grey-smudge": smudged,
    "rotated-7deg": rotated,
    "all-at-once": worn,
}


@pytest.mark.parametrize("damage", DAMAGE.values(), ids=DAMAGE.keys())
def test_a_worn_print_still_decodes_to_the_same_text(
    printed: list[tuple[str, CardFiles]], damage: Callable[[Image.Image], Image.Image]
) -> None:
    for token, files in printed:
        original = grey(files.qr_png)
        damaged = damage(original)
        assert (np.asarray(damaged) != np.asarray(original.resize(damaged.size))).any()

        found = decode(damaged)

        assert found.text == qr_text(token)
        assert token_from_payload(found.text) == token


# --- the SVG ------------------------------------------------------------------------

_SVG = "{http://www.w3.org/2000/svg}"
_RECTANGLE = re.compile(r"M(\d+) (\d+)h(\d+)v(\d+)h-\3Z")


def test_the_svg_is_printed_at_the_same_size_in_millimetres(printed: list[tuple[str, CardFiles]]) -> None:
    for _token, files in printed:
        root = ET.fromstring(files.qr_svg.read_text(encoding="ascii"))

        assert root.tag == f"{_SVG}svg"
        assert root.get("viewBox") == f"0 0 {SIDE} {SIDE}"
        for dimension in ("width", "height"):
            text = root.get(dimension)
            assert text is not None and text.endswith("mm")
            assert float(text[:-2]) == pytest.approx(printed_size_mm(SIDE), abs=0.005)
    assert printed_size_mm(SIDE) == pytest.approx(30.90, abs=0.01)


def test_the_svg_draws_the_same_modules_as_the_png(printed: list[tuple[str, CardFiles]]) -> None:
    for _token, files in printed:
        root = ET.fromstring(files.qr_svg.read_text(encoding="ascii"))
        paths = [element.get("d") or "" for element in root.iter(f"{_SVG}path")]
        assert len(paths) == 1
        drawn = np.zeros((SIDE, SIDE), dtype=bool)
        rectangles = list(_RECTANGLE.finditer(paths[0]))
        assert "".join(match[0] for match in rectangles) == paths[0], "unexpected SVG path syntax"
        for match in rectangles:
            x, y, width, height = map(int, match.groups())
            drawn[y : y + height, x : x + width] = True

        assert (drawn == modules_of_png(files.qr_png)).all()


# --- a school's batch, drawn on several cores -----------------------------------------


def test_a_large_batch_drawn_in_parallel_keeps_its_order_and_every_card_decodes(
    fixed_trust: Trust, tmp_path: Path
) -> None:
    serials = [serial_from_value(value) for value in range(70)]
    cards = [(serial, fixed_trust.issue(make_card(serial=serial))) for serial in serials]
    progress: list[int] = []

    files = write_many(cards, tmp_path / "batch", on_progress=progress.append, workers=2)

    assert sum(progress) == len(cards) and len(progress) > 1
    assert [card_files.qr_png.name for card_files in files] == [f"{serial}.png" for serial, _ in cards]
    for (_serial, token), card_files in zip(cards, files, strict=True):
        assert payloads_from_image(card_files.qr_png) == [qr_text(token)]
        assert card_files.ndef.read_bytes() == artifacts.ndef_message(token)
    assert files[0].qr_png.read_bytes() == write_card_files("again", cards[0][1], tmp_path).qr_png.read_bytes()


# --- hostile images at the bridge ----------------------------------------------------


def test_a_decompression_bomb_image_is_unreadable_not_a_crash(tmp_path: Path) -> None:
    """A PNG header claiming 20000 x 20000 pixels (a decompression bomb) is refused cleanly."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    bomb = tmp_path / "bomb.png"
    bomb.write_bytes(
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", struct.pack(">IIBBBBB", 20_000, 20_000, 1, 0, 0, 0, 0))
        + chunk(b"IDAT", zlib.compress(b"\x00"))
        + chunk(b"IEND", b"")
    )

    with pytest.raises(ImageUnreadable):
        payloads_from_image(bomb)


def test_an_image_without_a_qr_code_gives_no_payload(tmp_path: Path) -> None:
    blank = tmp_path / "blank.png"
    Image.new("L", (365, 365), 255).save(blank)

    assert payloads_from_image(blank) == []
