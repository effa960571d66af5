"""The Refine tab's work: start and stop the background refine worker (DPO or KTO), read its state, switch adapter
versions."""

from __future__ import annotations

from stylist.app.access import Access
from stylist.app.refine_worker import RefineWorker
from stylist.core.adapters import AdapterRegistry, AdapterVersion
from stylist.core.errors import StylistError
from stylist.core.feedback import FeedbackStore, Readiness
from stylist.core.options import parse_known_config
from stylist.core.readiness import ReadinessCounter
from stylist.core.refine_options import METHODS, RefineConfig
from stylist.core.refine_protocol import RefineStatus


class RefineControl:
    """Admin actions on the adapter: every one checks the password on the server."""

    def __init__(self, access: Access, registry: AdapterRegistry, worker: RefineWorker, store: FeedbackStore,
                 extra_args: list[str]):
        self.access, self.registry, self.worker, self.store, self.extra_args = access, registry, worker, store, extra_args
        # the worker's settings (its minimum and held-out share), as the options the app passes it will set them
        self.worker_config = parse_known_config(RefineConfig, extra_args)
        self.counter = ReadinessCounter(store)  # the tab asks often: only what changed is read again

    def method(self, method: str | None) -> str:
        """The refine method asked for (None: the worker's default), checked against the choices on the server."""
        method = self.worker_config.method if method in (None, "") else method
        if method not in METHODS:
            raise StylistError(f"unknown refine method {str(method)[:40]!r}: choose {' or '.join(METHODS)}")
        return method

    def readiness(self, method: str | None = None) -> Readiness:
        """The pairs (DPO) or votes (KTO) recorded so far and how many more a refine needs (the worker applies the
        same rule)."""
        return self.counter.readiness(self.method(method), self.worker_config.min_pairs,
                                      self.worker_config.heldout_percent)

    def start(self, password: str | None, method: str | None = None) -> None:
        self.access.check_admin(password, "refining")
        method = self.method(method)
        ready = self.readiness(method)
        if ready.needed:
            raise StylistError(f"not enough votes to refine yet: {ready.describe()}")
        self.worker.start(extra=[*self.extra_args, "--method", method])

    def stop(self, password: str | None) -> None:
        self.access.check_admin(password, "stopping a refine")
        self.worker.stop()

    def status(self) -> RefineStatus:
        return self.worker.status()

    def versions(self) -> list[AdapterVersion]:
        return self.registry.list()

    def activate(self, version: str | int, password: str | None) -> AdapterVersion:
        self.access.check_admin(password, "changing the active adapter")
        if version in (None, ""):
            raise StylistError("pick a version first")
        return self.registry.activate(version)

    def rollback(self, password: str | None) -> AdapterVersion:
        self.access.check_admin(password, "rolling back the adapter")
        return self.registry.rollback()
