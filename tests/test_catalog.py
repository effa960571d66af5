"""Catalog loaders: photo folders, Polyvore JSON, stylist JSON, and clear errors on malformed input."""

import json
import subprocess
import sys

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from PIL import Image

from stylist.core.catalog import Item, load_catalog, load_folder, load_polyvore, read_categories
from stylist.core.errors import StylistError
from stylist.core.paths import REPO, shared_data


def _photo(path):
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.new("RGB", (8, 8), (200, 10, 10)).save(path)


def test_folder_nested_uses_class_as_category(tmp_path):
    _photo(tmp_path / "dress" / "a.jpg")
    _photo(tmp_path / "shoes" / "b.png")
    (tmp_path / "shoes" / "notes.txt").write_text("not an image")
    catalog = load_catalog(tmp_path)
    assert sorted(catalog.items) == ["dress/a", "shoes/b"]
    assert catalog.items["dress/a"].category == "dress"
    assert catalog.items["shoes/b"].slot == "shoes"
    assert catalog.items["dress/a"].title == ""  # the captioner fills it later


def test_folder_flat_and_empty(tmp_path):
    _photo(tmp_path / "x.jpg")
    assert load_folder(tmp_path).items["x"].category == ""
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(StylistError, match="no images"):
        load_folder(empty)


def _polyvore(tmp_path, outfits, categories="11 Tops\n41 Shoes\n"):
    (tmp_path / "category_id.txt").write_text(categories)
    path = tmp_path / "outfits.json"
    path.write_text(json.dumps(outfits))
    return path


def test_polyvore_ids_titles_categories(tmp_path):
    path = _polyvore(tmp_path, [{"set_id": "77", "name": "n", "items": [
        {"index": 1, "name": "white silk blouse", "categoryid": 11, "price": 59.5},
        {"index": 2, "name": "", "categoryid": 41, "price": -1},
        {"index": 3, "name": "mystery", "categoryid": 999, "price": "n/a"}]}])
    catalog = load_catalog(path)
    assert list(catalog.items) == ["77_1", "77_2", "77_3"]
    assert catalog.items["77_1"].category == "Tops" and catalog.items["77_1"].title == "white silk blouse"
    assert catalog.items["77_2"].slot == "shoes"
    assert catalog.items["77_3"].category == ""  # unknown category id is kept, not dropped
    assert [i.price for i in catalog.items.values()] == [59.5, None, None]  # -1 and junk mean "not listed"
    assert catalog.outfits[0].item_ids == ["77_1", "77_2", "77_3"]


@pytest.mark.parametrize("text,match", [
    ("[{", "malformed JSON, expecting property name enclosed in double quotes at line 1, column 3"),
    ("[{\"set_id\": \"a\tb\"}]", "malformed JSON, invalid control character at line 1, column 15"),
    ('[{"items": []}]', "set_id"),
    ('[{"set_id": 1, "items": [{"name": "x"}]}]', "without 'index'"),
    ('[{"set_id": 1, "items": [{"index": 1, "categoryid": "abc"}]}]', "bad categoryid"),
    ('"just a string"', "neither a Polyvore"),
    ("[]", "no items"),
])
def test_malformed_json_names_file_and_problem(tmp_path, text, match):
    (tmp_path / "category_id.txt").write_text("11 Tops\n")
    path = tmp_path / "outfits.json"
    path.write_text(text)
    with pytest.raises(StylistError, match=match) as info:
        load_catalog(path)
    assert "outfits.json" in str(info.value)


def test_malformed_categories_names_line(tmp_path):
    path = tmp_path / "category_id.txt"
    path.write_text("11 Tops\nthis is wrong\n")
    with pytest.raises(StylistError, match="line 2"):
        read_categories(path)


def test_not_utf8_and_missing(tmp_path):
    path = tmp_path / "c.json"
    path.write_bytes(b"\xff\xfe\x00garbage")
    with pytest.raises(StylistError, match="cannot read"):
        load_catalog(path)
    with pytest.raises(StylistError, match="no such file"):
        load_catalog(tmp_path / "nope.json")


def test_stylist_json_roundtrip_and_errors(tmp_path):
    _photo(tmp_path / "img" / "a.png")
    catalog = load_folder(tmp_path / "img")
    catalog.add(Item(id="extra", title="black leather ankle boots", category="ankle boots", colors=["black"]))
    with pytest.raises(StylistError, match="already exists"):
        catalog.add(Item(id="extra"))
    catalog.save(tmp_path / "cat.json")
    again = load_catalog(tmp_path / "cat.json")
    assert again.items["extra"].slot == "shoes" and again.items["a"].image.endswith("a.png")
    assert [i.id for i in again.search("black boots")] == ["extra"]
    (tmp_path / "bad.json").write_text('{"items": [{"title": "no id"}]}')
    with pytest.raises(StylistError, match="item #0"):
        load_catalog(tmp_path / "bad.json")


def test_item_text_falls_back_to_attributes():
    item = Item(id="1", category="t-shirt", colors=["navy", "white"], pattern="striped", material="cotton")
    assert item.text == "navy striped cotton t-shirt"
    assert Item(id="2", title="red dress", category="dress").text == "red dress"


SHARED = shared_data()


@pytest.mark.skipif(not (SHARED / "polyvore").exists(), reason="../shared/data not present")
def test_real_sources_load():
    photos = load_catalog(SHARED / "clothing-small" / "train")
    assert len(photos) > 3000 and len(photos.categories()) == 10
    polyvore = load_polyvore(SHARED / "polyvore" / "outfits.json")
    assert len(polyvore.outfits) == 1037 and len(polyvore) == 6309


def test_cli_reports_counts_and_clean_errors(tmp_path):
    _photo(tmp_path / "shoes" / "a.jpg")
    run = subprocess.run([sys.executable, "-m", "stylist", "catalog-info", "--catalog", str(tmp_path), "--json"],
                         capture_output=True, text=True, cwd=REPO)
    assert run.returncode == 0, run.stderr
    assert json.loads(run.stdout.splitlines()[-1])["items"] == 1
    (tmp_path / "broken.json").write_text("{not json")
    run = subprocess.run([sys.executable, "-m", "stylist", "catalog-info", "--catalog", str(tmp_path / "broken.json")],
                         capture_output=True, text=True, cwd=REPO)
    assert run.returncode == 2 and run.stderr.startswith("error: ") and "Traceback" not in run.stderr


FAST = settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
SCALARS = st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=12)
JSON = st.recursive(SCALARS, lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner,
                                                                                        max_size=4), max_leaves=20)
FIELDS = ["title", "category", "colors", "pattern", "material", "style", "image", "price", "name", "item_ids", "tags",
          "categoryid"]
VALUE = st.text(min_size=1, max_size=8) | st.integers(0, 50) | st.lists(st.text(max_size=6), max_size=3) | JSON


def _shaped(key: str):
    """Objects with the keys the loaders read, holding plausible or random values."""
    return st.fixed_dictionaries({key: VALUE}, optional={field: VALUE for field in FIELDS if field != key})


CATALOGS = (JSON | st.fixed_dictionaries({"items": st.lists(_shaped("id"), max_size=4)},
                                         optional={"outfits": st.lists(_shaped("item_ids"), max_size=3) | JSON,
                                                   "name": VALUE})
            | st.lists(st.fixed_dictionaries({"set_id": VALUE, "items": st.lists(_shaped("index"), max_size=3)},
                                             optional={"name": VALUE}), max_size=3))


def _only_stylist_errors(path) -> None:
    try:
        catalog = load_catalog(path)
    except StylistError as exc:
        assert "\n" not in str(exc)
        return
    assert len(catalog) > 0 and all(isinstance(i.id, str) and isinstance(i.text, str) for i in catalog.items.values())
    catalog.categories(), catalog.slots(), catalog.search("a b")


@FAST
@given(CATALOGS)
def test_any_json_loads_or_gives_one_stylist_error(tmp_path, data):
    path = tmp_path / "catalog.json"
    path.write_text(json.dumps(data))
    _only_stylist_errors(path)


@FAST
@given(st.binary(max_size=300) | st.text(max_size=300).map(str.encode))
def test_any_file_content_loads_or_gives_one_stylist_error(tmp_path, content):
    path = tmp_path / "catalog.json"
    path.write_bytes(content)
    _only_stylist_errors(path)
