"""The one thread the app's models run on, with one torch thread by default.

PyTorch runs an op on several cores with an OpenMP team, one team per thread that calls it, and each op waits
for every thread of its team. Gradio serves requests on a pool of worker threads, so every worker that ran a
model brought its own team; on 2 cores the teams outnumbered the cores, and GNU OpenMP then puts idle team
threads to sleep after every op, so each op paid a wake-up: one recommendation at 10,000 items took 0.25-0.27 s
at the client against 0.16 s from one thread. A team of 2 on one thread was fast while the machine was idle,
but a refine worker on the other core left each op waiting for a descheduled team thread: recommend p95 went
from 1.7 s to 17 s under load with a refine running. So the app loads its models, captions, recommends and
scores on this one thread, one call at a time (the outfit LM took one request at a time already), on one
torch thread unless told otherwise (`AppConfig.model_threads`); the other core serves pages and refines.
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
