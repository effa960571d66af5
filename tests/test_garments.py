"""The garment reader: product titles and typed phrases to slots, and typed descriptions to garments."""

import json
import os
import resource
import subprocess
import sys
import time
from pathlib import Path

import pytest

from stylist.__main__ import main
from stylist.core.paths import shared_data
from stylist.core.vocabulary import OTHER, slot_of, split_garments


@pytest.mark.parametrize("text, slot", [
    ("white cotton t-shirt with short sleeves", "tops"),
    ("navy cotton t-shirt with a white logo on the chest and short sleeves", "tops"),
    ("black short sleeve sheer t-shirt", "tops"),
    ("long-sleeve", "tops"), ("crop top", "tops"), ("lace bralet", "tops"), ("round neck long sleeve knitwear", "tops"),
    ("short dress", "dresses"), ("shorts", "bottoms"), ("high waisted denim short", "bottoms"),
    ("boots", "shoes"), ("chloé suede ballerinas", "shoes"), ("paul andrew suede floral wedges", "shoes"),
    ("chelsea boots", "shoes"), ("small crossbody", "bags"), ("hobo", "bags"), ("honey simple coin pouch", "bags"),
    ("miss selfridge glitter choker", "jewelry"), ("zoe pave mix bar studs", "jewelry"), ("galaxy cuff", "jewelry"),
    ("Bootcut Jeans", "bottoms"), ("Men's Dress Pants", "bottoms"), ("Men's Dress Shirts", "tops"),
    ("pendant light", OTHER), ("glass modern pendant light", OTHER), ("nail polish in boots", OTHER),
    ("striped bikini top", OTHER), ("Dressers", OTHER), ("Flatware", OTHER),
    ("short sleeves", OTHER), ("a white logo on the chest", OTHER), ("with short sleeves", OTHER),
    ("nail polish", OTHER), ("lighting pendant", OTHER), ("iphone case", OTHER), ("yellow floral sundress", "dresses"),
    ("river island gold tone gem front skinny jeans belt", "accessories"), ("christian louboutin pigalle", "shoes"),
    ("j.crew embellished cotton cardigan sweater", "outerwear"), ("ray-ban round green classic", "accessories"),
])
def test_the_garment_is_the_head_of_the_phrase_and_details_are_no_garment(text, slot):
    assert slot_of(text) == slot


def test_a_detail_after_and_stays_with_its_garment():
    typed = "navy cotton t-shirt with a white logo on the chest and short sleeves"
    assert split_garments(typed) == [typed]
    assert split_garments("white cotton t-shirt and denim shorts") == ["white cotton t-shirt", "denim shorts"]


def test_catalog_info_counts_slots_of_titles_without_categories(tmp_path, capsys):
    titles = ["white cotton t-shirt with short sleeves", "high waisted denim short", "suede wedges",
              "small crossbody", "glass modern pendant light"]
    path = tmp_path / "titles.json"
    path.write_text(json.dumps({"name": "titles", "items": [{"id": str(n), "title": t} for n, t in enumerate(titles)]}))
    assert main(["catalog-info", "--catalog", str(path), "--json"]) == 0
    counts = json.loads(capsys.readouterr().out)["per_slot"]
    assert counts == {"tops": 1, "bottoms": 1, "shoes": 1, "bags": 1, OTHER: 1}


@pytest.mark.skipif(not (shared_data() / "polyvore" / "outfits.json").exists(), reason="needs the shared Polyvore data")
def test_the_reader_reads_held_out_polyvore_titles():
    from stylist.data.garment_labels import labelled_titles
    from stylist.evaluation.garments import evaluate
    result = evaluate(labelled_titles("valid"))
    assert result["n"] > 600 and result["accuracy"] >= 0.95


def test_the_recommend_command_refuses_an_unknown_occasion_and_lists_the_choices(capsys):
    assert main(["recommend", "--caption", "white t-shirt", "--occasion", "monsoon"]) == 2
    assert "unknown occasion 'monsoon': choose from sport, casual, work, evening" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main(["recommend", "--help"])
    shown = " ".join(capsys.readouterr().out.split())
    assert "re-ranks them." in shown and "beach" in shown and "spring, summer, autumn, winter" in shown


def test_the_recommend_command_cuts_a_10000_character_caption_says_so_and_stays_small():
    caption = ("navy cotton t-shirt with a white logo on the chest and short sleeves " * 150)[:10_000]
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": str(Path(__file__).resolve().parents[1])}
    begin = time.monotonic()
    done = subprocess.run([sys.executable, "-m", "stylist", "recommend", "--caption", caption], env=env,
                          capture_output=True, text=True, timeout=300, check=False)
    wall = time.monotonic() - begin
    assert done.returncode == 0, done.stderr[-500:]
    assert "note: a caption of 10,000 characters was cut to" in done.stderr and "bottoms" in done.stdout
    # the largest child this test process has waited for, so an upper bound for this one (ru_maxrss in KB)
    assert resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss < 2 * 1024 ** 2
    assert wall < 120  # generous for a shared machine; `python bench/long_caption.py` prints the figures
