"""Large photos are decoded in one child process at a lower CPU priority; ordinary ones in the request's thread.

Why: decoding a 64-megapixel PNG (a few hundred kB on the wire) takes seconds of a core and its full-size buffer
(256 MB for RGBA). In the app's own process it competes at the app's priority with every visitor's suggestions
(one client sending such photos in a loop made everyone's recommend several times slower) and leaves its pages in
the app's heap. In a child process with a higher nice value the OS runs the visitors' work first, no GIL is
shared, and the memory is the child's: the app's own stays where it was. The child is started at the first
large photo and stopped 10 s after the last (its memory then goes back to the OS whole); if it dies (out of
memory, killed) the photo is refused in one line and the next large one starts a fresh child.
"""

from __future__ import annotations

import atexit
import multiprocessing
import os
import threading
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool

from PIL import Image

from stylist.core.errors import StylistError
from stylist.core.images import RELEASE_PIXELS, load_image

NICE = 10  # the child's nice value above the app's: its CPU goes to suggestions and page loads first
IDLE_SECONDS = 10.0  # the child stops this long after its last large photo: its memory goes back to the OS


class PhotoDecoder:
    """`load(path, name, pixels)`: `load_image`, in the child process when the photo decodes to many pixels."""

    def __init__(self, large_pixels: int = RELEASE_PIXELS, idle_seconds: float = IDLE_SECONDS):
        self.large_pixels, self.idle_seconds = large_pixels, idle_seconds
        self._pool: ProcessPoolExecutor | None = None
        self._busy = 0  # large photos being decoded: the child is not stopped under them
        self._idle: threading.Timer | None = None
        self._lock = threading.Lock()

    def load(self, path: str, name: str, pixels: int) -> Image.Image:
        """The photo as `load_image` gives it; `pixels`: its decoded size from the header (`decoded_pixels`)."""
        if pixels <= self.large_pixels:
            return load_image(path, name=name)
        pool = self._child()
        try:
            return pool.submit(load_image, path, name=name).result()
        except BrokenProcessPool:
            with self._lock:
                if self._pool is pool:
                    self._pool = None
            raise StylistError(f"{name}: decoding this photo failed (the server ran short of memory?): "
                               "try a smaller one") from None
        finally:
            self._done()

    def _child(self) -> ProcessPoolExecutor:
        with self._lock:
            if self._pool is None:
                self._pool = ProcessPoolExecutor(1, mp_context=multiprocessing.get_context("spawn"),
                                                 initializer=os.nice, initargs=(NICE,))
                atexit.register(self.close)  # stopped before the interpreter's teardown, which it would trip
            self._busy += 1
            return self._pool

    def _done(self) -> None:
        """One large photo less; with none left, the child stops after `idle_seconds` unless another comes."""
        with self._lock:
            self._busy -= 1
            if self._idle is not None:
                self._idle.cancel()
            if self._busy == 0:
                self._idle = threading.Timer(self.idle_seconds, self._stop_idle)
                self._idle.daemon = True
                self._idle.start()

    def _stop_idle(self) -> None:
        with self._lock:
            pool = self._pool if self._busy == 0 else None
            if pool is not None:
                self._pool = None
        if pool is not None:
            pool.shutdown(cancel_futures=True)

    def close(self) -> None:
        with self._lock:
            pool, self._pool = self._pool, None
            if self._idle is not None:
                self._idle.cancel()
        if pool is not None:
            pool.shutdown(cancel_futures=True)
