"""The one thread the app's models run on, with one torch thread by default.

Loading, captioning, recommending and scoring run here, one call at a time (`AppConfig.model_threads` for more torch
threads); the other core serves pages and refines. Why: PyTorch keeps an OpenMP team per calling thread, and teams
from Gradio's worker threads, or a team of 2 beside a refine worker, left every op waiting for a sleeping or
descheduled thread (docs/performance.md).
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import TypeVar

T = TypeVar("T")


class ModelThread:
    """Runs calls on one long-lived thread and waits for their results (or exceptions)."""

    def __init__(self, threads: int = 1) -> None:
        self._ident: int | None = None  # set by the thread itself when the first call starts it
        self._pool = ThreadPoolExecutor(1, thread_name_prefix="models", initializer=self._begin, initargs=(threads,))

    def _begin(self, threads: int) -> None:
        import torch  # here, not at import: the page is served while the models load

        self._ident = threading.get_ident()
        torch.set_num_threads(threads)

    def run(self, fn: Callable[..., T], /, *args, **kwargs) -> T:
        """fn(*args, **kwargs) on the model thread; called from that thread, it runs at once (no deadlock)."""
        if threading.get_ident() == self._ident:
            return fn(*args, **kwargs)
        return self._pool.submit(fn, *args, **kwargs).result()
