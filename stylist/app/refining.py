"""The Refine tab's work: start and stop the background DPO worker, read its state, switch adapter versions."""

from __future__ import annotations

from stylist.app.access import Access
from stylist.app.runner import RefineJob
from stylist.core.adapters import AdapterRegistry, AdapterVersion
from stylist.core.errors import StylistError
from stylist.core.refine_status import RefineStatus


class Refining:
    """Admin actions on the adapter: every one checks the password on the server."""

    def __init__(self, access: Access, registry: AdapterRegistry, job: RefineJob, extra_args: list[str]):
        self.access, self.registry, self.job, self.extra_args = access, registry, job, extra_args

    def start(self, password: str | None) -> None:
        self.access.check_admin(password, "refining")
        self.job.start(extra=self.extra_args)

    def stop(self, password: str | None) -> None:
        self.access.check_admin(password, "stopping a refine")
        self.job.stop()

    def status(self) -> RefineStatus:
        return self.job.status()

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
