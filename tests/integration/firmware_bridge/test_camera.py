"""Cameras and photos: a printed card's QR, photographed at an angle, read with zxing-cpp.

The photos are made here from the PNG the office prints (issuer.artifacts):
the QR is laid on an ID-1 card, the card is warped in perspective as if held
tilted in front of a camera (PIL's PERSPECTIVE transform), put on a dark
table, blurred by the lens and given sensor noise.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from PIL import Image, ImageDraw, ImageFilter

from firmware_bridge import events
from firmware_bridge.camera import CallableFrames, CameraReader, DirectoryFrames
from firmware_bridge.dispatch import Dispatcher
from firmware_bridge.image import payloads_from_image, payloads_in
from issuer.artifacts import write_card_files
from keys import qr_text
from tests.unit.firmware_bridge.doubles import CardVerifier

from .conftest import TIMEOUT, Running

PX_PER_MM = 20  # a phone held 25 cm from the card
CARD_MM = (85.6, 54.0)  # ID-1, the size of a KIA
QR_MM = 30.9  # the printed QR with its quiet zone (docs/benchmarks.md)
PHOTO = (1920, 1440)
# Where the card's corners land in the photo (top-left, top-right, bottom-right, bottom-left).
TILTS = {
    "top-edge-away": ((450, 270), (1500, 390), (1440, 1050), (510, 1170)),
    "left-edge-away": ((525, 225), (1425, 375), (1500, 1125), (375, 1140)),
    "turned-and-tilted": ((630, 300), (1320, 255), (1590, 1140), (375, 1080)),
}


def perspective(source: list[tuple[float, float]], target: list[tuple[float, float]]) -> list[float]:
    """PIL's PERSPECTIVE coefficients mapping each ``target`` point (in the photo) to its ``source`` point."""
    rows, values = [], []
    for (x, y), (u, v) in zip(target, source, strict=True):
        rows += [[x, y, 1, 0, 0, 0, -u * x, -u * y], [0, 0, 0, x, y, 1, -v * x, -v * y]]
        values += [u, v]
    return [float(value) for value in np.linalg.solve(np.array(rows, float), np.array(values, float))]


def printed_card(qr_png: Path) -> Image.Image:
    width, height = (round(mm * PX_PER_MM) for mm in CARD_MM)
    card = Image.new("L", (width, height), 235)
    ImageDraw.Draw(card).rectangle((0, 0, width, 8 * PX_PER_MM), fill=120)  # the card's printed header band
    side = round(QR_MM * PX_PER_MM)
    with Image.open(qr_png) as qr:
        card.paste(qr.convert("L").resize((side, side), Image.Resampling.BILINEAR),
                   (width - side - 4 * PX_PER_MM, height - side - 4 * PX_PER_MM))
    return card


def photograph(card: Image.Image, corners: tuple[tuple[int, int], ...], seed: int = 1) -> Image.Image:
    width, height = card.size
    coefficients = perspective([(0, 0), (width, 0), (width, height), (0, height)], list(corners))
    warped = card.transform(PHOTO, Image.Transform.PERSPECTIVE, coefficients, Image.Resampling.BICUBIC)
    mask = Image.new("L", card.size, 255).transform(PHOTO, Image.Transform.PERSPECTIVE, coefficients,
                                                    Image.Resampling.BILINEAR)
    photo = Image.new("L", PHOTO, 70)  # a dark table
    photo.paste(warped, (0, 0), mask)
    photo = photo.filter(ImageFilter.GaussianBlur(1.2))  # the lens
    noisy = np.asarray(photo, float) + np.random.default_rng(seed).normal(0, 8, (PHOTO[1], PHOTO[0]))
    return Image.fromarray(np.clip(noisy, 0, 255).astype(np.uint8))


@pytest.fixture(scope="module")
def cards(card_tokens: list[str], tmp_path_factory: pytest.TempPathFactory) -> list[Image.Image]:
    out = tmp_path_factory.mktemp("printed")
    return [printed_card(write_card_files(f"card{index}", token, out).qr_png)
            for index, token in enumerate(card_tokens)]


def save(image: Image.Image, path: Path) -> Path:
    """Written under a hidden name, then renamed: a frame appears whole, as capture daemons do it."""
    hidden = path.with_name("." + path.name)
    image.save(hidden, format="PNG")
    hidden.rename(path)
    return path


@pytest.mark.parametrize("tilt", TILTS.values(), ids=TILTS.keys())
def test_a_photo_of_a_card_held_at_an_angle_decodes_to_its_qr_text(cards: list[Image.Image], card_tokens: list[str],
                                                                  tmp_path: Path,
                                                                  tilt: tuple[tuple[int, int], ...]) -> None:
    (top_left, top_right, bottom_right, bottom_left) = np.array(tilt, float)
    top, bottom = np.linalg.norm(top_right - top_left), np.linalg.norm(bottom_right - bottom_left)
    left, right = np.linalg.norm(bottom_left - top_left), np.linalg.norm(bottom_right - top_right)
    assert max(abs(top / bottom - 1), abs(left / right - 1)) > 0.1, "not a perspective view"

    photo = save(photograph(cards[0], tilt), tmp_path / "photo.png")

    assert payloads_from_image(photo) == [qr_text(card_tokens[0])]


# --- a camera: frames in a directory ---------------------------------------------------------


@pytest.fixture()
def frames_dir(tmp_path: Path) -> Path:
    directory = tmp_path / "frames"
    directory.mkdir()
    return directory


def test_frames_appearing_in_a_directory_are_read_and_each_card_passed_on(
    running: Running, dispatcher: Dispatcher, verifier: CardVerifier, frames_dir: Path,
    cards: list[Image.Image], card_tokens: list[str],
) -> None:
    running.start(CameraReader(DirectoryFrames(frames_dir, poll=0.02), dispatcher, name="camera"))
    assert dispatcher.events.wait_for(events.CONNECTED, 1, "camera", TIMEOUT)

    save(Image.new("L", (640, 480), 90), frames_dir / "0001.png")  # nobody in front of the camera
    save(photograph(cards[0], TILTS["top-edge-away"]), frames_dir / "0002.png")
    save(photograph(cards[1], TILTS["left-edge-away"]), frames_dir / "0003.png")

    assert dispatcher.events.wait_for(events.DECIDED, 2, "camera", TIMEOUT, detail="accepted")
    assert verifier.payloads == [qr_text(card_tokens[0]), qr_text(card_tokens[1])]
    assert {call.source for call in verifier.calls} == {"camera"}


def test_a_frame_rewritten_in_place_is_read_again_and_a_half_written_one_waits(
    frames_dir: Path, cards: list[Image.Image], card_tokens: list[str]
) -> None:
    source = DirectoryFrames(frames_dir)
    photo = frames_dir / ".photo.png"
    photograph(cards[2], TILTS["turned-and-tilted"]).save(photo)
    data = photo.read_bytes()
    frame = frames_dir / "frame.png"  # a capture daemon updating one file
    (frames_dir / "notes.txt").write_text("not a frame")

    frame.write_bytes(data[: len(data) // 2])
    assert source.poll_once() == []
    frame.write_bytes(data)
    (read,) = source.poll_once()
    assert source.poll_once() == []  # unchanged since
    save(Image.new("L", (640, 480), 90), frame)
    (empty,) = source.poll_once()

    assert payloads_in(read) == [qr_text(card_tokens[2])]
    assert payloads_in(empty) == []


def test_a_camera_directory_that_appears_later_is_read_then(running: Running, dispatcher: Dispatcher,
                                                            tmp_path: Path, cards: list[Image.Image]) -> None:
    later = tmp_path / "mounted-later"
    running.start(CameraReader(DirectoryFrames(later, poll=0.02), dispatcher, name="camera"))
    assert dispatcher.events.wait_for(events.CONNECTED, 1, "camera", TIMEOUT)

    later.mkdir()
    save(photograph(cards[0], TILTS["left-edge-away"]), later / "frame.png")

    assert dispatcher.events.wait_for(events.DECIDED, 1, "camera", TIMEOUT, detail="accepted")


# --- the same card, frame after frame ------------------------------------------------------


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_a_card_in_view_frame_after_frame_is_one_scan_until_it_has_left(dispatcher: Dispatcher,
                                                                        verifier: CardVerifier,
                                                                        cards: list[Image.Image],
                                                                        card_tokens: list[str]) -> None:
    clock = Clock()
    reader = CameraReader(CallableFrames(lambda: None), dispatcher, repeat_window=2.0, clock=clock)
    held = [photograph(cards[0], tilt, seed) for seed, tilt in enumerate(TILTS.values())]
    empty = Image.new("L", (640, 480), 90)

    for frame in held:  # the child moves the card about in front of the camera
        reader.look_at(frame)
        clock.now += 0.1
    for _ in range(5):  # gone for 2.5 s
        reader.look_at(empty)
        clock.now += 0.5
    reader.look_at(held[0])  # back again: a new visit

    assert verifier.payloads == [qr_text(card_tokens[0])] * 2
    assert dispatcher.events.count(events.REPEATED) == 2


def test_a_callable_frame_source_is_read_until_stopped(dispatcher: Dispatcher, verifier: CardVerifier,
                                                       cards: list[Image.Image], card_tokens: list[str]) -> None:
    stop = threading.Event()
    frames: Iterator[Image.Image] = iter([photograph(cards[1], TILTS["top-edge-away"])])

    def capture() -> Image.Image | None:
        frame = next(frames, None)
        if frame is None:
            stop.set()  # the camera was unplugged; the integrator stops the reader
        return frame

    CameraReader(CallableFrames(capture, interval=0.01), dispatcher).run(stop)

    assert verifier.payloads == [qr_text(card_tokens[1])]
    assert dispatcher.events.count(events.STOPPED) == 1
