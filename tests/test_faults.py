"""Faults in the data the app keeps: each is caught where it starts, reported in one line, and loses nothing.

A damaged feedback database, a truncated adapter version, a read-only or full data folder, malformed
catalogs. Tests run as root, where chmod does not stop writes, so the read-only folder is simulated: SQLite
is opened with `mode=ro` (its real read-only errors), and file writes are monkeypatched to raise the OSError
a read-only or full disk gives.
"""

from __future__ import annotations

import errno
import json
import os
import sqlite3
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from safetensors.numpy import save_file

from stylist.app.server import free_port
from stylist.core import paths
from stylist.core.adapters import BROKEN, POINTER, WEIGHTS, AdapterRegistry
from stylist.core.adapters import main as adapters_main
from stylist.core.catalog import load_catalog
from stylist.core.errors import StylistError
from stylist.core.feedback import Context, FeedbackStore, Option
from stylist.core.paths import REPO, data_dir, writing

CTX = Context(("white linen shirt", "blue jeans"), slot="shoes")
SHOWN = [Option("s1", "black leather boots"), Option("s2", "red sneakers")]


def _one_line(error: pytest.ExceptionInfo) -> str:
    text = str(error.value)
    assert "\n" not in text
    return text


# -- a damaged feedback database ---------------------------------------------------------------------------

def _filled_store(path: Path, clicks: int = 200) -> FeedbackStore:
    store = FeedbackStore(path)
    for n in range(clicks):
        store.record("ann", Context((f"shirt {n}",), "shoes"), Option(str(n), "black leather boots " * 8), "like")
    return store


def _zero_pages(path: Path, first: int = 1, count: int = 2) -> bytes:
    """Zero whole pages after the first: the header still says SQLite, the tables are gone."""
    data = bytearray(path.read_bytes())
    assert len(data) > (first + count) * 4096
    data[first * 4096:(first + count) * 4096] = bytes(count * 4096)
    path.write_bytes(data)
    return bytes(data)


def test_a_damaged_store_is_refused_at_open_with_how_to_recover_and_left_untouched(tmp_path):
    path = tmp_path / "feedback.sqlite"
    _filled_store(path)
    damaged = _zero_pages(path)
    with pytest.raises(StylistError, match="damaged") as error:
        FeedbackStore(path)
    assert str(path) in _one_line(error) and ".recover" in str(error.value)
    assert path.read_bytes() == damaged and not path.with_name("feedback-recovered.sqlite").exists()


def test_the_app_refuses_a_damaged_store_in_one_line_though_its_models_load_in_the_background(tmp_path):
    """`python app.py` serves the page while its models and stores load; a store found damaged then still ends
    it with the store's one line and exit status 2, as before the page was served first."""
    data = tmp_path / "data"
    data.mkdir()
    _filled_store(data / "feedback.sqlite")
    _zero_pages(data / "feedback.sqlite")
    run = subprocess.run([sys.executable, str(REPO / "app.py"), "--data-dir", str(data), "--port", str(free_port())],
                         capture_output=True, text=True, cwd=REPO, timeout=180)
    assert run.returncode == 2 and "Traceback" not in run.stderr
    assert f"error: {data / 'feedback.sqlite'}: the feedback database is damaged" in run.stderr


def test_damage_found_after_opening_is_the_same_line_and_a_failed_export_leaves_no_file(tmp_path):
    path = tmp_path / "feedback.sqlite"
    store = _filled_store(path)
    _zero_pages(path, first=2)
    for read in (store.events, store.history_texts, store.pairs):
        with pytest.raises(StylistError, match="feedback database is damaged"):
            read("ann")
    out = tmp_path / "export" / "pairs.jsonl"
    out.parent.mkdir()
    with pytest.raises(StylistError, match="damaged"):
        store.export_trl(out, "ann")
    assert list(out.parent.iterdir()) == []


def test_a_file_that_is_not_sqlite_keeps_its_own_message(tmp_path):
    path = tmp_path / "feedback.sqlite"
    path.write_bytes(b"\x00" * 5000)
    with pytest.raises(StylistError, match="not a stylist feedback database"):
        FeedbackStore(path)
    assert path.read_bytes() == b"\x00" * 5000


def test_an_empty_store_is_refused_not_started_afresh(tmp_path):
    """A 0-byte feedback.sqlite is what a truncated copy of a store looks like: refused, with how to start fresh
    on purpose, and left at 0 bytes."""
    path = tmp_path / "feedback.sqlite"
    path.write_bytes(b"")
    with pytest.raises(StylistError, match="empty .0 bytes.*To start fresh on purpose, delete it") as error:
        FeedbackStore(path)
    _one_line(error)
    assert path.read_bytes() == b"" and sorted(p.name for p in tmp_path.iterdir()) == ["feedback.sqlite"]


def test_a_store_of_another_schema_is_refused_before_anything_is_written(tmp_path):
    """Another program's database is refused before the store switches it to WAL (which rewrites its header)."""
    path = tmp_path / "feedback.sqlite"
    with sqlite3.connect(path) as db:
        db.execute("CREATE TABLE orders (id INTEGER PRIMARY KEY, total REAL)")
        db.execute("INSERT INTO orders VALUES (1, 9.5)")
    db.close()
    before = path.read_bytes()
    with pytest.raises(StylistError, match=r"not a stylist feedback database \(its tables: orders\).*start fresh"):
        FeedbackStore(path)
    assert path.read_bytes() == before and sorted(p.name for p in tmp_path.iterdir()) == ["feedback.sqlite"]


def test_the_store_is_readable_by_its_owner_only(tmp_path):
    store = _filled_store(tmp_path / "feedback.sqlite", clicks=2)
    assert (store.path.stat().st_mode & 0o777) == 0o600
    store.path.chmod(0o644)  # a store made before: narrowed when opened
    FeedbackStore(store.path)
    assert (store.path.stat().st_mode & 0o777) == 0o600


# -- a truncated adapter version ----------------------------------------------------------------------------

def _version(registry: AdapterRegistry, parent: int) -> int:
    """A minimal PEFT adapter folder (config and safetensors weights) committed as the next version."""
    tmp = registry.new_tmp()
    (tmp / "adapter_config.json").write_text(json.dumps({"peft_type": "LORA", "r": 4, "lora_alpha": 8,
                                                         "target_modules": ["q_proj", "v_proj"]}))
    save_file({"base_model.model.layers.0.q_proj.lora_A.weight": np.ones((4, 32), np.float32),
               "base_model.model.layers.0.q_proj.lora_B.weight": np.zeros((32, 4), np.float32)}, tmp / WEIGHTS)
    return registry.commit(tmp, {"parent": parent, "pairs": 10}).number


@pytest.fixture
def registry(tmp_path) -> AdapterRegistry:
    registry = AdapterRegistry(tmp_path / "adapters", tmp_path / "sft")
    for parent in (0, 1):
        registry.activate(_version(registry, parent))
    return registry


def _truncate(path: Path) -> None:
    path.write_bytes(path.read_bytes()[:-100])


def test_a_truncated_active_version_is_reported_marked_and_skipped_for_its_parent(registry, capsys):
    weights = registry.path(2) / WEIGHTS
    _truncate(weights)
    assert registry.active_number() == 1 and registry.active_path() == registry.path(1)
    warning = capsys.readouterr().err.splitlines()
    assert len(warning) == 1 and "adapter version 2" in warning[0] and "broken" in warning[0]
    assert (registry.path(2) / BROKEN).read_text().startswith(f"{WEIGHTS} is damaged")
    assert weights.exists() and json.loads((registry.root / POINTER).read_text())["version"] == 2  # nothing removed

    assert registry.active().number == 1 and registry.get(2).broken and not registry.get(2).active
    assert capsys.readouterr().err == ""  # reported once
    adapters_main(["list", "--data-dir", str(registry.root.parent), "--sft-adapter", str(registry.initial)])
    lines = capsys.readouterr().out.splitlines()
    assert lines[1].startswith("* v1") and lines[2].startswith("  v2") and "BROKEN" in lines[2]
    with pytest.raises(StylistError, match="version 2 is broken .* nearest complete version it came from is v1"):
        registry.activate(2)


def test_the_fallback_follows_the_parent_chain_down_to_version_0(registry, capsys):
    (registry.path(1) / "adapter_config.json").write_text("{not json")
    _truncate(registry.path(2) / WEIGHTS)
    assert registry.active_number() == 0 and registry.active_path() == registry.initial
    assert len(capsys.readouterr().err.splitlines()) == 2
    with pytest.raises(StylistError, match="nothing to roll back"):
        registry.rollback()


def test_rollback_skips_a_broken_parent(registry):
    registry.activate(_version(registry, 2))
    (registry.path(2) / WEIGHTS).unlink()
    assert registry.rollback().number == 1


# -- a read-only or full data folder -------------------------------------------------------------------------

def _read_only_sqlite(monkeypatch) -> None:
    """Open every SQLite database read-only, as SQLite does itself when the folder refuses writes."""
    connect = sqlite3.connect
    monkeypatch.setattr(sqlite3, "connect", lambda path, *a, **k: connect(f"file:{path}?mode=ro", *a, uri=True, **k))


def test_votes_on_a_read_only_store_fail_in_one_line_and_reading_still_works(tmp_path, monkeypatch):
    path = tmp_path / "feedback.sqlite"
    store = FeedbackStore(path)
    liked = store.record("ann", CTX, SHOWN[0], "like", options=SHOWN)
    before = store.events(include_undone=True)
    _read_only_sqlite(monkeypatch)
    store = FeedbackStore(path)  # opening needs no write
    for write in (lambda: store.record("ann", CTX, SHOWN[1], "dislike", options=SHOWN), lambda: store.undo(liked.id)):
        with pytest.raises(StylistError, match="read-only") as error:
            write()
        assert f"cannot save in {tmp_path}" in _one_line(error)
    assert store.events(include_undone=True) == before
    assert store.history_texts("ann") == (["black leather boots"], []) and len(store.pairs("ann")) == 1


def test_a_new_store_in_a_read_only_folder_names_the_folder(tmp_path, monkeypatch):
    _read_only_sqlite(monkeypatch)
    with pytest.raises(StylistError, match=f"cannot save in {tmp_path}: the data folder is read-only"):
        FeedbackStore(tmp_path / "feedback.sqlite")
    assert not (tmp_path / "feedback.sqlite").exists()


def _refuse(code: int):
    def refuse(*args, **kwargs):
        raise OSError(code, os.strerror(code))
    return refuse


@pytest.mark.parametrize("code, reason", [(errno.EROFS, "read-only"), (errno.ENOSPC, "full")])
def test_registry_writes_on_a_read_only_or_full_disk_change_nothing(registry, monkeypatch, code, reason):
    pointer = (registry.root / POINTER).read_text()
    monkeypatch.setattr(os, "replace", _refuse(code))
    with pytest.raises(StylistError, match=f"cannot save in {registry.root}: the data folder is {reason}") as error:
        registry.activate(1)
    _one_line(error)
    monkeypatch.setattr(os, "rename", _refuse(code))
    with pytest.raises(StylistError, match=reason):
        _version(registry, 2)
    monkeypatch.undo()
    assert (registry.root / POINTER).read_text() == pointer and registry.numbers() == [0, 1, 2]


def test_creating_the_data_folder_on_a_read_only_disk(tmp_path, monkeypatch):
    monkeypatch.setattr(Path, "mkdir", _refuse(errno.EACCES))
    with pytest.raises(StylistError, match=f"cannot save in {tmp_path / 'data'}: the data folder is read-only"):
        data_dir(tmp_path / "data")


@pytest.mark.parametrize("error, reason", [
    (PermissionError(errno.EACCES, "Permission denied"), "read-only"),
    (OSError(errno.EDQUOT, "Disk quota exceeded"), "full"),
    (sqlite3.OperationalError("attempt to write a readonly database"), "read-only"),
    (sqlite3.OperationalError("database or disk is full"), "full"),
    (sqlite3.OperationalError("disk I/O error"), "read-only or full"),
])
def test_refused_writes_become_one_line(tmp_path, error, reason):
    with pytest.raises(StylistError, match=f"the data folder is {reason} "):
        with writing(tmp_path):
            raise error


@pytest.mark.parametrize("error", [FileNotFoundError(errno.ENOENT, "gone"), sqlite3.OperationalError("no such table")])
def test_other_errors_pass_through(tmp_path, error):
    assert paths.unwritable(error) is None
    with pytest.raises(type(error)):
        with writing(tmp_path):
            raise error


# -- malformed catalogs ---------------------------------------------------------------------------------------

@pytest.mark.parametrize("data, match", [
    ({"items": [{"id": 1, "title": 5}]}, r"item #0 \(id '1'\): 'title' must be a string, got 5"),
    ({"items": [{"id": "a", "category": ["dress"]}]}, r"item #0 \(id 'a'\): 'category' must be a string, got a list"),
    ({"items": [{"id": "a"}, {"id": {"x": 1}}]}, r"item #1: 'id' must be a non-empty string or a whole number"),
    ({"items": [{"id": "a", "colors": "red"}]}, r"'colors' must be a list of strings, got \"red\""),
    ({"items": [{"id": "a", "style": [1]}]}, r"'style' must be a list of strings"),
    ({"items": [{"id": "a", "price": [1]}]}, r"'price' must be a number, got a list"),
    ({"items": [{"id": "a", "image": 3}]}, r"'image' must be a string"),
    ({"items": [{"id": "a"}], "outfits": {"o": 1}}, r"'outfits' must be a list, got an object"),
    ({"items": [{"id": "a"}], "outfits": [{"item_ids": ["a"], "tags": [1]}]}, r"outfit #0: 'tags' must be an object"),
    ([{"set_id": [1], "items": []}], r"outfit #0: 'set_id' must be"),
    ([{"set_id": 1, "items": [{"index": 1, "name": 7}]}], r"set '1'\), item '1_1': 'name' must be a string"),
    ([{"set_id": 1, "items": [{"index": 1, "categoryid": 1e400}]}], r"bad categoryid 'inf'"),
])
def test_malformed_catalog_fields_name_the_file_and_the_item(tmp_path, data, match):
    path = tmp_path / "catalog.json"
    path.write_text(json.dumps(data))
    with pytest.raises(StylistError, match=match) as error:
        load_catalog(path)
    assert str(path) in _one_line(error)


def test_whole_number_ids_become_strings(tmp_path):
    path = tmp_path / "catalog.json"
    path.write_text(json.dumps({"items": [{"id": 7, "title": "red dress", "price": 20}],
                                "outfits": [{"id": 3, "item_ids": [7]}]}))
    catalog = load_catalog(path)
    assert list(catalog.items) == ["7"] and catalog.items["7"].price == 20.0
    assert (catalog.outfits[0].id, catalog.outfits[0].item_ids) == ("3", ["7"])


def test_deep_and_huge_json_is_refused_before_it_hurts(tmp_path, monkeypatch):
    path = tmp_path / "deep.json"
    path.write_text("[" * 100_000 + "]" * 100_000)
    with pytest.raises(StylistError, match="nested too deeply"):
        load_catalog(path)
    path.write_text('{"items": [{"id": "' + "x" * 2_000_000 + '"}]}')
    monkeypatch.setattr("stylist.core.catalog.MAX_JSON_BYTES", 2**20)
    with pytest.raises(StylistError, match="2 MB is over the 1 MB limit"):
        load_catalog(path)
    path.write_text('{"items": [{"id": ' + "9" * 5000 + "}]}")
    with pytest.raises(StylistError, match="malformed JSON"):
        load_catalog(path)


def test_catalog_info_reports_a_bad_field_without_a_traceback(tmp_path):
    path = tmp_path / "catalog.json"
    path.write_text('{"items": [{"id": 1, "title": 5}]}')
    run = subprocess.run([sys.executable, "-m", "stylist", "catalog-info", "--catalog", str(path)],
                         capture_output=True, text=True, cwd=REPO)
    assert run.returncode == 2 and "Traceback" not in run.stderr
    assert run.stderr.strip() == f"error: catalog {path}, item #0 (id '1'): 'title' must be a string, got 5"
