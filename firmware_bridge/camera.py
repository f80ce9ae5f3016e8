"""Cameras: QR codes in a stream of frames, each card passed on once while it stays in view.

A frame source yields PIL images.  Two come with the bridge:

* ``DirectoryFrames`` (``camera:DIR``): image files appearing in, or
  rewritten in, a directory, e.g. by a capture daemon (``ffmpeg ... -update 1
  DIR/frame.jpg``, a phone app, a scanner's "scan to folder");
* ``CallableFrames``: any function that returns the next frame or None (a
  camera SDK, OpenCV's ``VideoCapture.read`` wrapped by the integrator).

The same QR text in consecutive frames is one scan: it is passed on again
only after it has been out of view for ``repeat_window`` seconds.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Protocol

from PIL import Image

from . import events
from .dispatch import Dispatcher, RepeatFilter
from .image import ImageUnreadable, load_grey, payloads_in
from .payload import describe

log = logging.getLogger(__name__)

REPEAT_WINDOW = 2.0  # seconds a card must be out of view before it counts again
POLL = 0.1  # seconds between looks at a directory
IMAGE_SUFFIXES = frozenset({".png", ".jpg", ".jpeg", ".bmp", ".gif", ".tif", ".tiff", ".webp", ".pgm", ".ppm"})


class FrameSource(Protocol):
    def frames(self, stop: threading.Event) -> Iterator[Image.Image]:
        """Frames as they come, until ``stop`` is set."""
        ...


class DirectoryFrames:
    """New or rewritten image files in ``directory``, oldest first; hidden files are skipped."""

    def __init__(self, directory: Path, poll: float = POLL) -> None:
        self.directory, self.poll = directory, poll
        self._seen: dict[str, tuple[int, int]] = {}
        self._missing = False

    def frames(self, stop: threading.Event) -> Iterator[Image.Image]:
        while not stop.is_set():
            fresh = self.poll_once()
            yield from fresh
            if not fresh:
                stop.wait(self.poll)

    def poll_once(self) -> list[Image.Image]:
        """The frames written since the last look; a half-written one is read once it is whole."""
        frames = []
        for path in self._fresh_files():
            try:
                frames.append(load_grey(path))
            except ImageUnreadable:  # half-written: the rest of it gives it a new size and mtime
                log.debug("camera: %s is not readable (yet)", path.name)
        return frames

    def _fresh_files(self) -> list[Path]:
        try:
            entries = [entry for entry in os.scandir(self.directory)
                       if entry.is_file() and not entry.name.startswith(".")
                       and Path(entry.name).suffix.lower() in IMAGE_SUFFIXES]
        except OSError as exc:
            if not self._missing:
                log.warning("camera: cannot read %s (%s); waiting for it", self.directory, exc)
                self._missing = True
            return []
        self._missing = False
        stats = {entry.name: entry.stat() for entry in entries}
        fresh = [name for name, st in stats.items() if self._seen.get(name) != (st.st_mtime_ns, st.st_size)]
        self._seen = {name: (st.st_mtime_ns, st.st_size) for name, st in stats.items()}
        fresh.sort(key=lambda name: (stats[name].st_mtime_ns, name))
        return [self.directory / name for name in fresh]


class CallableFrames:
    """Frames from ``capture()`` (None when there is no new frame), looked for every ``interval`` seconds."""

    def __init__(self, capture: Callable[[], Image.Image | None], interval: float = POLL) -> None:
        self.capture, self.interval = capture, interval

    def frames(self, stop: threading.Event) -> Iterator[Image.Image]:
        while not stop.is_set():
            frame = self.capture()
            if frame is not None:
                yield frame
            else:
                stop.wait(self.interval)


class CameraReader:
    def __init__(
        self,
        source: FrameSource,
        dispatcher: Dispatcher,
        repeat_window: float = REPEAT_WINDOW,
        name: str = "camera",
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.source, self.dispatcher, self.name = source, dispatcher, name
        self.repeats = RepeatFilter(repeat_window, clock)

    def run(self, stop: threading.Event) -> None:
        self.dispatcher.events.emit(self.name, events.CONNECTED)
        for frame in self.source.frames(stop):
            self.look_at(frame)
        self.dispatcher.events.emit(self.name, events.STOPPED)

    def look_at(self, frame: Image.Image) -> None:
        """Pass on each QR code in ``frame`` that was not in view just before."""
        for payload in payloads_in(frame):
            if self.repeats.fresh(payload):
                self.dispatcher.submit(payload, "camera", self.name)
            else:
                log.debug("%s: %s still in view", self.name, describe(payload))
                self.dispatcher.events.emit(self.name, events.REPEATED)
