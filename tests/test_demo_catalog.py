"""The demo catalog: deterministic generation, coverage, styling rules, palette colours, committed images."""

import json
import subprocess
import sys
from collections import Counter

import numpy as np
import pytest
from PIL import Image

from stylist.core.catalog import Item, load_catalog
from stylist.core.colors import PALETTE, name_color
from stylist.core.paths import DEMO_CATALOG, EXAMPLES, REPO
from stylist.core.vocabulary import FORMALITY, SEASONS, slot_of
from stylist.data.demo_catalog import (
    HARMONY,
    NEUTRALS,
    RANGE,
    build_catalog,
    check_outfit,
    item_image,
    main,
)
from stylist.data.render import BACKGROUND, DRAWERS


@pytest.fixture(scope="module")
def built():
    return build_catalog()


@pytest.fixture(scope="module")
def committed():
    return load_catalog("demo")


def test_generator_is_deterministic(tmp_path):
    """Two runs into different folders give byte-identical JSON, images, photos and sheets."""
    for run in ("a", "b"):
        assert main(["--out", str(tmp_path / run), "--limit", "3", "--examples", str(tmp_path / run / "ex"),
                     "--sheet", str(tmp_path / run / "sheet.png")]) == 0
    a, b = tmp_path / "a", tmp_path / "b"
    files = sorted(p.relative_to(a) for p in a.rglob("*") if p.is_file())
    assert len([f for f in files if f.parts[0] == "images"]) == 3 and len(files) == 3 + 3 + 2
    for rel in files:
        assert (a / rel).read_bytes() == (b / rel).read_bytes(), rel


def test_cli_rejects_a_bad_limit(tmp_path):
    run = subprocess.run([sys.executable, "-m", "stylist", "make-demo-catalog", "--out", str(tmp_path), "--limit", "0"],
                         capture_output=True, text=True, cwd=REPO)
    assert run.returncode == 2 and run.stderr.strip() == "error: --limit must be at least 1, got 0"
    assert not (tmp_path / "catalog.json").exists()


def test_committed_catalog_is_what_the_generator_makes(built):
    data = json.loads((DEMO_CATALOG / "catalog.json").read_text())
    assert data == json.loads(json.dumps(built.to_json())), "assets/demo is stale: run make-demo-catalog"


def test_coverage(built):
    assert len(built) >= 240
    assert len(built.categories()) >= 14
    slots = built.slots()
    for slot in ("tops", "bottoms", "dresses", "outerwear", "shoes", "bags", "accessories"):
        assert slots[slot] >= 5, slot
    assert "other" not in slots
    assert len(built.outfits) >= 300
    assert len({o.id for o in built.outfits}) == len(built.outfits)
    assert len({frozenset(o.item_ids) for o in built.outfits}) == len(built.outfits)
    tags = Counter((o.tags["occasion"], o.tags["season"]) for o in built.outfits)
    assert len(tags) == 16 and min(tags.values()) >= 10  # every occasion in every season


def test_items_speak_the_palette(built):
    titles = Counter(item.title for item in built.items.values())
    assert max(titles.values()) == 1, titles.most_common(3)
    for item in built.items.values():
        assert item.colors and all(c in PALETTE for c in item.colors), item
        assert item.title.startswith(item.colors[0] + " ") and item.title.endswith(item.category)
        assert slot_of(item.title) == slot_of(item.category) == item.slot, item.title
        assert item.category in DRAWERS
        assert item.image == f"images/{item.id}.png"
        assert set(item.style) & set(FORMALITY) and set(item.style) & set(SEASONS) and item.pattern


def test_every_outfit_obeys_the_rules(built):
    for outfit in built.outfits:
        items = built.outfit_items(outfit)
        assert len(items) == len(outfit.item_ids)
        assert 3 <= len(items) <= 5
        assert check_outfit(items, outfit.tags["occasion"], outfit.tags["season"]) == [], outfit


def _item(category, colour, pattern="solid", material="cotton", style=("casual", "summer", "winter")):
    second = [] if pattern == "solid" else ["white"]
    return Item(id=f"{colour}-{category}", title=f"{colour} {category}", category=category,
                colors=[colour, *second], pattern=pattern, material=material, style=list(style))


def test_rule_checker_catches_each_rule():
    ok = [_item("t-shirt", "white"), _item("jeans", "blue", material="denim"), _item("sneakers", "white")]
    assert check_outfit(ok, "casual", "summer") == []
    assert "no shoes" in check_outfit(ok[:2], "casual", "summer")
    assert any("dress with" in r for r in check_outfit([*ok, _item("dress", "black")], "casual", "summer"))
    assert any("not smart" in r for r in check_outfit(ok, "work", "summer"))
    assert any("not for spring" in r for r in check_outfit(ok, "casual", "spring"))
    assert "winter without outerwear" in check_outfit(ok, "casual", "winter")
    loud = [_item("t-shirt", "red"), _item("trousers", "beige"), _item("sneakers", "green")]
    assert any("statement" in r for r in check_outfit(loud, "casual", "summer"))
    clash = [_item("t-shirt", "orange"), _item("trousers", "purple"), _item("sneakers", "white")]
    assert frozenset({"orange", "purple"}) not in HARMONY
    assert any("harmonise" in r for r in check_outfit(clash, "casual", "summer"))
    leather = [*ok[:2], _item("sneakers", "black", material="leather"), _item("tote bag", "brown", material="leather")]
    assert "black and brown leather together" in check_outfit(leather, "casual", "summer")


def test_committed_images_exist_and_open(committed):
    for item in committed.items.values():
        with Image.open(item.image) as image:
            assert image.size == (224, 224)
    photos = sorted(EXAMPLES.glob("*.png"))
    assert 6 <= len(photos) <= 10
    assert (REPO / "docs" / "demo-catalog.png").exists()
    size = sum(p.stat().st_size for p in (REPO / "assets").rglob("*") if p.is_file())
    assert size < 15e6, f"assets/ is {size / 1e6:.1f} MB"


def test_committed_images_match_the_renderer(committed):
    """A drawing change without `make-demo-catalog` would leave stale images: compare a few (with a
    tolerance for the 128-colour palette and float noise across machines)."""
    for item_id in ("t-shirt-01", "jeans-01", "sneakers-01", "shoulder-bag-01", "hat-01"):
        item = committed.items[item_id]
        fresh = np.asarray(item_image(item), np.float32)
        with Image.open(item.image) as image:
            stored = np.asarray(image.convert("RGB"), np.float32)
        assert np.abs(fresh - stored).mean() < 1.5, item_id


@pytest.mark.parametrize("line", [line for line in RANGE if line.patterns == ("solid",)][::4],
                         ids=lambda line: f"{line.category}-{line.material}")
def test_solid_render_is_named_by_its_colour(built, line):
    """The captioner's colour naming reads back the colour a solid garment was painted in."""
    item = next(i for i in built.items.values() if i.category == line.category and i.material == line.material)
    pixels = np.asarray(item_image(item, size=112)).reshape(-1, 3).astype(int)
    background = np.array(BACKGROUND)
    garment = pixels[np.abs(pixels - background).sum(1) > 30]
    assert name_color(np.median(garment, 0)) == item.colors[0], item.title


def test_cli_catalog_info_reads_the_demo(committed):
    out = subprocess.run([sys.executable, "-m", "stylist", "catalog-info", "--catalog", "demo", "--json"],
                         capture_output=True, text=True, cwd=REPO, check=True).stdout
    info = json.loads(out)
    assert info["items"] == len(committed) >= 240 and info["outfits"] >= 300
    assert set(NEUTRALS) <= set(PALETTE)
