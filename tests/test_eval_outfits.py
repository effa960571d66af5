"""FITB and compatibility evaluation: deterministic question building, fair tie-breaking, file formats,
unknown ids reported, and the CLI's JSON last line."""

from __future__ import annotations

import json

import pytest

from stylist.core.catalog import Catalog, Item, Outfit
from stylist.evaluation import outfits as ev

CATEGORIES = ["Boots", "T-Shirts", "Jeans", "Earrings"]


def synthetic(n: int = 120) -> Catalog:
    """n outfits of one item per category; within an outfit all items share a colour word."""
    catalog = Catalog("synthetic")
    for o in range(n):
        colour = ["black", "white", "red", "blue", "green"][o % 5]
        ids = []
        for k, category in enumerate(CATEGORIES):
            item = Item(f"{o}_{k + 1}", f"{colour} {category.lower()}", category)
            catalog.items[item.id] = item
            ids.append(item.id)
        catalog.outfits.append(Outfit(str(o), ids))
    return catalog


class Oracle:
    """Knows which outfit each item came from: the right answer shares the context's outfit."""

    def candidate_scores(self, context, candidates):
        owner = context[0].id.split("_")[0]
        return [float(c.id.split("_")[0] == owner) for c in candidates]

    def outfit_score(self, items):
        return float(len({i.id.split("_")[0] for i in items}) == 1)


def test_questions_are_deterministic_and_well_formed():
    catalog = synthetic()
    first = ev.build_fitb_questions(catalog, catalog.outfits, seed=3)
    assert first == ev.build_fitb_questions(catalog, catalog.outfits, seed=3)
    assert first != ev.build_fitb_questions(catalog, catalog.outfits, seed=4)
    for q in first:
        owner = q.question[0].split("_")[0]
        assert len(q.answers) == 4 and q.answers[0].split("_")[0] == owner
        assert all(a.split("_")[0] != owner for a in q.answers[1:])
        assert len(q.question) == 3 and q.answers[0] not in q.question


def test_hard_negatives_share_the_category():
    catalog = synthetic()
    for q in ev.build_fitb_questions(catalog, catalog.outfits, hard=True):
        assert len({catalog.items[a].category for a in q.answers}) == 1


def test_ties_do_not_favour_the_first_answer():
    catalog = synthetic(400)
    questions = ev.build_fitb_questions(catalog, catalog.outfits)
    assert 0.19 < ev.fitb_accuracy(ev.ChanceScorer(), catalog, questions, progress=False) < 0.31
    assert ev.fitb_accuracy(Oracle(), catalog, questions, progress=False) == 1.0


def test_compat_pairs_and_auc():
    catalog = synthetic()
    pairs = ev.build_compat_pairs(catalog, catalog.outfits)
    assert sum(p.label for p in pairs) == len(pairs) // 2
    assert ev.compat_auc(Oracle(), catalog, pairs, progress=False) == 1.0
    assert ev.compat_auc(ev.ChanceScorer(), catalog, pairs, progress=False) == 0.5


def test_file_formats_round_trip(tmp_path):
    path = tmp_path / "fitb.json"
    path.write_text(json.dumps([{"question": ["1_1", "1_2"], "answers": ["1_3", "2_3", "3_3", "4_3"], "blank_position": 3}]))
    assert ev.read_fitb_questions(path) == [ev.FitbQuestion(["1_1", "1_2"], ["1_3", "2_3", "3_3", "4_3"], 3)]
    (tmp_path / "compat.txt").write_text("1 1_1 1_2\n0 1_1 2_2\n\n")
    assert ev.read_compat_pairs(tmp_path / "compat.txt") == [ev.CompatPair(1, ["1_1", "1_2"]), ev.CompatPair(0, ["1_1", "2_2"])]
    (tmp_path / "bad.txt").write_text("yes 1_1\n")
    with pytest.raises(ev.StylistError, match="line 1"):
        ev.read_compat_pairs(tmp_path / "bad.txt")


def polyvore_file(tmp_path, n: int = 40):
    outfits = [{"set_id": str(o), "items": [{"index": k + 1, "name": f"item {o} {k}", "categoryid": k + 1}
                                            for k in range(4)]} for o in range(n)]
    (tmp_path / "outfits.json").write_text(json.dumps(outfits))
    (tmp_path / "cats.txt").write_text("1 Boots\n2 T-Shirts\n3 Jeans\n4 Earrings\n")
    return ["--outfits", str(tmp_path / "outfits.json"), "--categories", str(tmp_path / "cats.txt")]


def test_cli_reports_unknown_ids_and_prints_json_last(tmp_path, capsys):
    args = polyvore_file(tmp_path)
    (tmp_path / "fitb.json").write_text(json.dumps(
        [{"question": ["1_1", "1_2"], "answers": ["1_3", "2_3", "3_3", "4_3"], "blank_position": 3},
         {"question": ["1_1", "9999_1"], "answers": ["1_3", "2_3", "3_3", "4_3"], "blank_position": 3}]))
    assert ev.main(["fitb", *args, "--questions", str(tmp_path / "fitb.json"), "--scorer", "chance", "--json"]) == 0
    out, err = capsys.readouterr()
    assert "9999_1" in err and "skipped 1" in err
    result = json.loads(out.strip().splitlines()[-1])
    assert result["n"] == 1 and result["unknown_ids"] == 1
    assert ev.main(["compat", *args, "--scorer", "chance", "--json"]) == 0
    result = json.loads(capsys.readouterr()[0].strip().splitlines()[-1])
    assert result["auc"] == 0.5 and result["n"] == 80
