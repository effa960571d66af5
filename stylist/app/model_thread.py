"""The one thread the app's models run on.

PyTorch runs an op on several cores with an OpenMP team, one team per thread that calls it. GNU OpenMP lets a
team's idle threads spin for the next op only while the process has no more OpenMP threads than cores, and
otherwise puts them to sleep after every op, so each op then pays a wake-up. Gradio serves requests on a pool
of worker threads, and every one of them that ran a model brought its own team: on 2 cores one recommendation
at 10,000 items took 0.25-0.27 s at the client, against 0.16 s when one thread runs every model. So the app
loads its models, captions, recommends and scores on this one thread, one call at a time (the outfit LM took
one request at a time already).
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import TypeVar

T = TypeVar("T")


class ModelThread:
    """Runs calls on one long-lived thread and waits for their results (or exceptions)."""

    def __init__(self) -> None:
        self._pool = ThreadPoolExecutor(1, thread_name_prefix="models")
        self._ident = self._pool.submit(threading.get_ident).result()

    def run(self, fn: Callable[..., T], /, *args, **kwargs) -> T:
        """fn(*args, **kwargs) on the model thread; called from that thread, it runs at once (no deadlock)."""
        if threading.get_ident() == self._ident:
            return fn(*args, **kwargs)
        return self._pool.submit(fn, *args, **kwargs).result()
