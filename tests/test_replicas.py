"""Several app replicas on one PostgreSQL store: visitor tokens and display names hold on every replica, the
active adapter version is the database's, one refine at a time across replicas. Each "replica" here is the
app's object for that concern over its own data folder, all on one throw-away server (bench/pg_server.py)."""

from __future__ import annotations

import json
import os
import shutil
import signal
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from test_refine_protocol import FAKE_WORKER

from stylist.app.config import AppConfig
from stylist.app.refine_worker import RefineWorker
from stylist.app.visitors import Visitors
from stylist.core.adapters import AdapterRegistry
from stylist.core.errors import StylistError
from stylist.core.feedback import open_store
from stylist.core.refine_protocol import RefineStatus

SECRET = "a" * 40


def replicas(tmp_path, url: str, n: int = 2) -> list[Visitors]:
    return [Visitors(tmp_path / f"replica{i}", AppConfig(), open_store(url)) for i in range(n)]


def test_a_token_and_a_name_from_one_replica_hold_on_another(tmp_path, pg_url, monkeypatch):
    monkeypatch.setenv("STYLIST_SECRET", SECRET)
    one, two = replicas(tmp_path, pg_url)
    token = one.issue()
    visitor = two.verify(token)
    one.rename(visitor, "Ann")
    one.share(visitor, True)
    assert (two.name(visitor), two.sharing(visitor)) == ("Ann", True)
    assert not (tmp_path / "replica0" / "visitor-secret").exists()  # the key comes from the environment
    monkeypatch.delenv("STYLIST_SECRET")
    alone = Visitors(tmp_path / "alone", AppConfig(), open_store(pg_url))  # a key of its own: tokens differ
    with pytest.raises(StylistError, match="no valid visitor id"):
        alone.verify(token)
    monkeypatch.setenv("STYLIST_SECRET", "short")
    with pytest.raises(StylistError, match=r"\$STYLIST_SECRET is too short"):
        Visitors(tmp_path / "short", AppConfig(), open_store(pg_url))


def test_names_kept_in_visitors_json_are_imported_once(tmp_path, capsys):
    data = tmp_path / "data"
    data.mkdir()
    (data / "visitors.json").write_text(json.dumps({"v-1": {"name": "Ann", "share": True},
                                                    "v-2": {"name": "Bob", "share": False}}))
    store = open_store(data=data)
    visitors = Visitors(data, AppConfig(), store)
    assert "imported 2 display names" in capsys.readouterr().err
    assert (visitors.name("v-1"), visitors.sharing("v-1"), visitors.name("v-2")) == ("Ann", True, "Bob")
    assert not (data / "visitors.json").exists() and (data / "visitors.json.imported").exists()
    visitors.rename("v-1", "Annie")  # one row changes; no file is written
    Visitors(data, AppConfig(), store)
    assert capsys.readouterr().err == "" and visitors.name("v-1") == "Annie"


def adapter_folder(folder: Path, parent: int = 0) -> Path:
    """A version folder that passes the registry's check (a config and a readable weights file)."""
    from safetensors.numpy import save_file

    folder.mkdir(parents=True)
    (folder / "adapter_config.json").write_text("{}")
    (folder / "version.json").write_text(json.dumps({"parent": parent}))
    save_file({"w": np.zeros(2, dtype=np.float32)}, str(folder / "adapter_model.safetensors"))
    return folder


def test_the_active_version_is_the_databases_and_a_replica_missing_its_files_keeps_its_last(tmp_path, pg_url,
                                                                                             capsys):
    one, two = (AdapterRegistry(tmp_path / name, tmp_path / "v0", open_store(pg_url)) for name in ("one", "two"))
    for registry in (one, two):
        adapter_folder(registry.root / "1")
    one.activate(1)
    assert two.active_number() == 1  # switched on its next read, with no file of its own changed
    adapter_folder(one.root / "2", parent=1)  # written where replica two does not see it (yet)
    one.activate(2)
    assert (one.active_number(), two.active_number(), two.active_number()) == (2, 1, 1)
    warning = capsys.readouterr().err
    assert warning.count("adapter version 2 is active in postgresql://") == 1 and "serving v1" in warning
    shutil.copytree(one.root / "2", two.root / "2")
    assert two.active_number() == 2
    sqlite = AdapterRegistry(tmp_path / "alone", tmp_path / "v0", open_store(data=tmp_path / "alone"))
    adapter_folder(sqlite.root / "1")
    sqlite.activate(1)
    assert json.loads((sqlite.root / "active.json").read_text())["version"] == 1  # SQLite: the file, as before


def test_one_refine_at_a_time_across_replicas_and_a_killed_worker_frees_the_lock(tmp_path, pg_url):
    jobs = []
    for name in ("one", "two"):  # separate data folders: only the database's lock can keep them apart
        job = RefineWorker(tmp_path / name, store=open_store(pg_url))
        job.command = (sys.executable, "-c", FAKE_WORKER)
        jobs.append(job)
    one, two = jobs
    one.start(user="ann")
    deadline = time.time() + 60
    while not two.running() and time.time() < deadline:  # the worker takes the database's lock as it starts
        time.sleep(0.05)
    assert two.running() and one.status().state in ("starting", "running")
    with pytest.raises(StylistError, match="already running .*started by another replica"):
        two.start(user="bob")
    assert RefineStatus.read(two.status_file).state == "idle"  # the refused start wrote nothing
    while RefineStatus.read(one.status_file).pid is None and time.time() < deadline:
        time.sleep(0.05)
    os.killpg(RefineStatus.read(one.status_file).pid, signal.SIGKILL)
    while two.running() and time.time() < deadline:
        time.sleep(0.05)
    assert not two.running() and not one.running()  # the server dropped the dead worker's lock
    assert one.status().state == "failed" and not list((tmp_path / "one").glob("adapters/[0-9]*"))
