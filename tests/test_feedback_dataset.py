"""The feedback as a dataset: export to parquet with a card, read back by `datasets.load_dataset`, and pooled into
another instance's store with the same pairs and votes, once however often it is imported."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from stylist.core.errors import StylistError
from stylist.core.feedback import Context, FeedbackStore, Option
from stylist.core.feedback_dataset import export_dataset, read_votes

SHOES = [Option("s1", "black leather ankle boots"), Option("s2", "white canvas sneakers"), Option("s3", "red heels")]


def filled(path) -> FeedbackStore:
    """A store with likes, dislikes, a lone dislike (no pair, still a vote) and a vote taken back."""
    store = FeedbackStore(path)
    jeans = Context(("white cotton t-shirt", "blue denim jeans"), "shoes", "casual", "summer")
    store.record("ann", jeans, SHOES[0], "like", SHOES, adapter_version=0)
    store.record("ann", jeans, SHOES[2], "dislike", SHOES, adapter_version=0)
    store.record("bob", Context(("black satin slip dress",), "shoes", "evening", None), SHOES[1], "dislike", SHOES, 1)
    taken = store.record("bob", jeans, SHOES[1], "like", SHOES, adapter_version=1)
    store.undo(taken.id, "bob")
    return store


def rows(examples) -> list[dict]:
    return sorted((e.trl() for e in examples), key=json.dumps)


def test_an_export_loads_with_datasets_and_says_what_it_holds(tmp_path):
    from datasets import load_dataset

    store = filled(tmp_path / "a")
    counts = export_dataset(store, tmp_path / "out", catalog="demo")
    assert counts == {"votes": 4, "paired": 2, "unpaired": 3}
    paired = load_dataset("parquet", data_files={"train": str(tmp_path / "out/paired/*.parquet")})["train"]
    unpaired = load_dataset("parquet", data_files={"train": str(tmp_path / "out/unpaired/*.parquet")})["train"]
    votes = load_dataset("parquet", data_files={"train": str(tmp_path / "out/votes/*.parquet")})["train"]
    assert sorted(paired.column_names) == ["chosen", "context", "prompt", "rejected", "visitor"]
    assert rows(store.pairs()) == sorted(({k: r[k] for k in ("prompt", "chosen", "rejected")} for r in paired),
                                         key=json.dumps)
    assert sorted(unpaired["label"]) == [False, False, True]  # the lone dislike teaches KTO too
    assert votes.num_rows == 4 and {v["vote_id"].split(":")[0] for v in votes} == {store.instance}
    assert votes[0]["captions"] == ["white cotton t-shirt", "blue denim jeans"] and votes[0]["options"][0]["id"] == "s1"
    card = (tmp_path / "out" / "README.md").read_text()
    assert card.startswith("---\nlicense: cc-by-4.0") and "| votes | 4 (like 1, dislike 2, taken back 1) |" in card
    assert "| catalog | demo |" in card and "v0, v1" in card and "config_name: unpaired" in card
    with pytest.raises(StylistError, match="exists already"):
        export_dataset(store, tmp_path / "out")


def test_importing_an_export_gives_the_same_pairs_and_votes_once(tmp_path):
    first = filled(tmp_path / "a")
    export_dataset(first, tmp_path / "out")
    second = FeedbackStore(tmp_path / "b")
    second.record("cat", Context(("grey wool coat",), "bags"), Option("b1", "brown leather tote"), "like")
    assert second.add_imported(read_votes(tmp_path / "out")) == 4
    assert second.add_imported(read_votes(tmp_path / "out")) == 0  # pooled twice, added once
    mine = {p.prompt for p in second.pairs("cat")}
    assert rows(p for p in second.pairs() if p.prompt not in mine) == rows(first.pairs())
    assert rows(v for v in second.votes() if v.user != "cat") == rows(first.votes())
    assert second.counts()["undone"] == 1  # a vote taken back stays taken back

    export_dataset(second, tmp_path / "back")  # provenance kept: the first instance's votes come home as its own
    assert first.add_imported(read_votes(tmp_path / "back")) == 1  # only cat's vote is new there


def test_a_folder_that_is_no_export_is_refused_in_one_line(tmp_path):
    (tmp_path / "votes").mkdir()
    (tmp_path / "votes" / "train.parquet").write_bytes(b"not parquet")
    with pytest.raises(StylistError, match="cannot read it as parquet"):
        read_votes(tmp_path)
    with pytest.raises(StylistError, match="not a stylist feedback dataset"):
        read_votes(tmp_path / "votes")


def test_the_commands_export_and_import(tmp_path):
    filled(tmp_path / "a" / "feedback.sqlite")
    run = lambda *args: subprocess.run([sys.executable, "-m", "stylist", *args], capture_output=True, text=True)  # noqa: E731
    done = run("export-feedback", "--format", "dataset", "--out", str(tmp_path / "out"), "--data-dir", str(tmp_path / "a"))
    assert done.returncode == 0 and "wrote 4 votes, 2 pairs and 3 unpaired votes" in done.stderr
    done = run("import-feedback", str(tmp_path / "out"), "--data-dir", str(tmp_path / "b"))
    assert done.returncode == 0 and json.loads(done.stdout) == {"read": 4, "added": 4, "skipped": 0}
    done = run("import-feedback", str(tmp_path / "nothing"), "--data-dir", str(tmp_path / "b"))
    assert done.returncode == 2 and done.stderr.count("\n") == 1 and "not a stylist feedback dataset" in done.stderr
