"""Card payloads from still images (photos of cards, scans, printed PNGs, camera frames)."""

from __future__ import annotations

from pathlib import Path

import zxingcpp
from PIL import Image, UnidentifiedImageError

MAX_IMAGE_PIXELS = 40_000_000


class ImageUnreadable(ValueError):
    """The file is not an image this bridge can read."""


def load_grey(path: Path) -> Image.Image:
    """The image at ``path`` in greyscale; raises ImageUnreadable (also for a decompression bomb)."""
    try:
        with Image.open(path) as image:  # reads the header only
            if image.width * image.height > MAX_IMAGE_PIXELS:
                raise ImageUnreadable(f"{path.name} is larger than {MAX_IMAGE_PIXELS} pixels")
            return image.convert("L")
    except (UnidentifiedImageError, OSError, Image.DecompressionBombError) as exc:
        raise ImageUnreadable(f"{path.name} is not a readable image") from exc


def payloads_in(image: Image.Image) -> list[str]:
    """The text of every QR code zxing-cpp finds in ``image``, in reading order."""
    grey = image if image.mode == "L" else image.convert("L")
    return [found.text for found in zxingcpp.read_barcodes(grey, formats=zxingcpp.BarcodeFormat.QRCode)]  # type: ignore[arg-type]


def payloads_from_image(path: Path) -> list[str]:
    """The text of every QR code in the image file at ``path``; raises ImageUnreadable."""
    return payloads_in(load_grey(path))
