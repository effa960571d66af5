"""Several app replicas on one PostgreSQL store: visitor tokens and display names hold on every replica, the
active adapter version is the database's, one refine at a time across replicas. Each "replica" here is the
app's object for that concern over its own data folder, all on one throw-away server (tests/pg_server.py)."""

from __future__ import annotations

import json

import pytest

from stylist.app.config import AppConfig
from stylist.app.visitors import Visitors
from stylist.core.errors import StylistError
from stylist.core.feedback import open_store

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
