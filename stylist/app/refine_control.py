"""The Refine tab's work: start and stop the background DPO worker, read its state, switch adapter versions."""

from __future__ import annotations

from stylist.app.access import Access
from stylist.app.refine_worker import RefineWorker
from stylist.core.adapters import AdapterRegistry, AdapterVersion
from stylist.core.errors import StylistError
from stylist.core.feedback import FeedbackStore, Readiness, readiness
from stylist.core.options import parse_known_config
from stylist.core.refine_options import RefineConfig
from stylist.core.refine_protocol import RefineStatus


class RefineControl:
    """Admin actions on the adapter: every one checks the password on the server."""

    def __init__(self, access: Access, registry: AdapterRegistry, worker: RefineWorker, store: FeedbackStore,
                 extra_args: list[str]):
        self.access, self.registry, self.worker, self.store, self.extra_args = access, registry, worker, store, extra_args
        # the worker's settings (its minimum and held-out share), as the options the app passes it will set them
        self.worker_config = parse_known_config(RefineConfig, extra_args)

    def readiness(self) -> Readiness:
        """The pairs recorded so far and how many more a refine needs (the worker applies the same rule)."""
        return readiness(self.store.pairs(), self.worker_config.min_pairs, self.worker_config.heldout_percent)

    def start(self, password: str | None) -> None:
        self.access.check_admin(password, "refining")
        ready = self.readiness()
        if ready.needed:
            raise StylistError(f"not enough votes to refine yet: {ready.describe()}")
        self.worker.start(extra=self.extra_args)

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
