"""Items and outfits, loaded from a photo folder, a Polyvore outfits JSON, a stylist catalog JSON, or the demo.

    python -m stylist catalog-info --catalog demo
    python -m stylist catalog-info --catalog ../shared/data/clothing-small/train
    python -m stylist catalog-info --catalog ../shared/data/polyvore/outfits.json
"""

from __future__ import annotations

import argparse
import json
import math
import os
import re
from collections import Counter
from dataclasses import asdict, dataclass, field
from pathlib import Path

from stylist.core.errors import StylistError
from stylist.core.options import summary
from stylist.core.paths import DEMO_CATALOG
from stylist.core.vocabulary import OTHER, slot_of

IMAGE_SUFFIXES = {".jpg", ".jpeg", ".png", ".webp", ".gif", ".bmp", ".tif", ".tiff"}
MAX_JSON_BYTES = 256 * 2**20  # a catalog JSON larger than this is refused before parsing (memory)
TEXT_FIELDS = ("title", "category", "pattern", "material", "image")
LIST_FIELDS = ("colors", "style")


@dataclass
class Item:
    """One garment or accessory. `title` is empty until a captioner writes one for a bare photo."""

    id: str
    title: str = ""
    category: str = ""
    colors: list[str] = field(default_factory=list)
    pattern: str = ""
    material: str = ""
    style: list[str] = field(default_factory=list)
    image: str | None = None
    price: float | None = None  # when the shop lists one (Polyvore does); outfits keep to a price range

    @property
    def slot(self) -> str:
        """The outfit slot (tops, shoes, bags...) this item fills; see `categories.slot_of`."""
        return slot_of(self.category or self.title)

    @property
    def text(self) -> str:
        """The item's own words: its title, or its attributes when it has no title yet (`prompts.item_caption`
        adds the category and price band to make what the outfit LM reads)."""
        if self.title:
            return self.title
        parts = [*self.colors[:1], self.pattern if self.pattern not in ("", "solid") else "", self.material, self.category]
        return " ".join(p for p in parts if p).strip()


@dataclass
class Outfit:
    """A set of items worn together, with optional tags (occasion, season) and the rules that made it."""

    id: str
    item_ids: list[str]
    name: str = ""
    tags: dict[str, str] = field(default_factory=dict)


@dataclass
class Catalog:
    """The items the app can recommend from, and any outfits that came with them."""

    name: str
    items: dict[str, Item] = field(default_factory=dict)
    outfits: list[Outfit] = field(default_factory=list)

    def __len__(self) -> int:
        return len(self.items)

    def add(self, item: Item) -> None:
        if item.id in self.items:
            raise StylistError(f"catalog {self.name}: item id {item.id!r} already exists")
        self.items[item.id] = item

    def categories(self) -> Counter:
        return Counter(item.category or "(none)" for item in self.items.values())

    def slots(self) -> Counter:
        return Counter(item.slot for item in self.items.values())

    def wearable(self) -> list[Item]:
        """Items that can complete an outfit (not beauty or home decor, which Polyvore sets also hold)."""
        return [item for item in self.items.values() if item.slot != OTHER]

    def search(self, query: str, limit: int = 60) -> list[Item]:
        """Items whose id, title, category, colours, pattern or material contain every word of the query."""
        words = query.lower().split()
        hits = []
        for item in list(self.items.values()):  # a snapshot: a visitor may add photos meanwhile
            haystack = " ".join([item.id, item.text, item.category, *item.colors, item.pattern, item.material,
                                 *item.style]).lower()
            if all(w in haystack for w in words):
                hits.append(item)
                if len(hits) >= limit:
                    break
        return hits

    def outfit_items(self, outfit: Outfit) -> list[Item]:
        return [self.items[i] for i in outfit.item_ids if i in self.items]

    def to_json(self) -> dict:
        return {"name": self.name, "items": [asdict(i) for i in self.items.values()],
                "outfits": [asdict(o) for o in self.outfits]}

    def save(self, path: str | os.PathLike) -> None:
        """Write the catalog as stylist JSON (atomically: a crash never leaves half a file)."""
        path = Path(path)
        tmp = path.with_suffix(path.suffix + ".tmp")
        tmp.write_text(json.dumps(self.to_json(), indent=1))
        os.replace(tmp, path)


def load_catalog(source: str | os.PathLike | None = None, categories: str | os.PathLike | None = None) -> Catalog:
    """Load `demo` (the default), a photo folder, a Polyvore outfits JSON or a stylist catalog JSON."""
    if source is None or str(source) == "demo":
        return load_stylist_json(DEMO_CATALOG / "catalog.json", name="demo")
    path = Path(source)
    if path.is_dir():
        return load_folder(path)
    if not path.exists():
        raise StylistError(f"catalog {path}: no such file or folder (give a photo folder, a .json file or 'demo')")
    data = _read_json(path)
    if isinstance(data, list):
        return load_polyvore(path, categories, data=data)
    if isinstance(data, dict) and "items" in data:
        return load_stylist_json(path, data=data)
    raise StylistError(f"catalog {path}: JSON is neither a Polyvore outfit list nor an object with 'items'")


def load_folder(path: str | os.PathLike) -> Catalog:
    """Photos in a flat folder or in `<class>/*.jpg`; the class folder becomes the category."""
    root = Path(path)
    if not root.is_dir():
        raise StylistError(f"catalog {root}: not a folder")
    catalog = Catalog(name=root.name)
    for file in sorted(root.rglob("*")):
        if file.suffix.lower() not in IMAGE_SUFFIXES or not file.is_file():
            continue
        rel = file.relative_to(root)
        category = rel.parts[0] if len(rel.parts) > 1 else ""
        item_id = "/".join(rel.with_suffix("").parts)
        catalog.items[item_id] = Item(id=item_id, category=category, image=str(file))
    if not catalog.items:
        raise StylistError(f"catalog {root}: no images found ({', '.join(sorted(IMAGE_SUFFIXES))})")
    return catalog


def read_categories(path: str | os.PathLike) -> dict[int, str]:
    """Polyvore `category_id.txt`: one `<id> <name>` per line."""
    path = Path(path)
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as exc:
        raise StylistError(f"categories {path}: cannot read ({exc})") from exc
    names: dict[int, str] = {}
    for number, line in enumerate(lines, 1):
        if not line.strip():
            continue
        match = re.fullmatch(r"\s*(\d+)\s+(.+?)\s*", line)
        if not match:
            raise StylistError(f"categories {path}, line {number}: expected '<id> <name>', got {line[:60]!r}")
        names[int(match.group(1))] = match.group(2)
    if not names:
        raise StylistError(f"categories {path}: no categories in the file")
    return names


def load_polyvore(path: str | os.PathLike, categories: str | os.PathLike | None = None,
                  data: list | None = None) -> Catalog:
    """Polyvore outfits (`set_id`, `items[index, name, categoryid]`); item ids are `<set_id>_<index>`."""
    path = Path(path)
    cat_path = Path(categories) if categories else path.with_name("category_id.txt")
    names = read_categories(cat_path) if cat_path.exists() else {}
    if data is None:
        data = _read_json(path)
    if not isinstance(data, list):
        raise StylistError(f"polyvore {path}: expected a JSON list of outfits, got {type(data).__name__}")
    catalog = Catalog(name=path.stem)
    for n, outfit in enumerate(data):
        where = f"polyvore {path}, outfit #{n}"
        if not isinstance(outfit, dict) or "set_id" not in outfit or not isinstance(outfit.get("items"), list):
            raise StylistError(f"{where}: expected an object with 'set_id' and an 'items' list")
        set_id = identifier(outfit["set_id"], f"{where}: 'set_id'")
        where = f"{where} (set {set_id[:40]!r})"
        ids = []
        for entry in outfit["items"]:
            if not isinstance(entry, dict) or "index" not in entry:
                raise StylistError(f"{where}: item without 'index'")
            item_id = f"{set_id}_{identifier(entry['index'], f'{where}: item index')}"
            try:
                category = names.get(int(entry.get("categoryid", -1)), "")
            except (TypeError, ValueError, OverflowError):
                raise StylistError(f"{where}: bad categoryid {str(entry.get('categoryid'))[:40]!r}") from None
            title = text_field(entry.get("name"), f"{where}, item {item_id[:40]!r}: 'name'")
            catalog.items[item_id] = Item(id=item_id, title=title.strip(), category=category,
                                          price=price_of(entry.get("price")))
            ids.append(item_id)
        catalog.outfits.append(Outfit(id=set_id, item_ids=ids, name=text_field(outfit.get("name"), f"{where}: 'name'")))
    if not catalog.items:
        raise StylistError(f"polyvore {path}: no items in the file")
    return catalog


def load_stylist_json(path: str | os.PathLike, data: dict | None = None, name: str | None = None) -> Catalog:
    """The project's own catalog JSON (what `Catalog.save` and `make-demo-catalog` write)."""
    path = Path(path)
    if data is None:
        data = _read_json(path)
    if not isinstance(data, dict) or not isinstance(data.get("items"), list):
        raise StylistError(f"catalog {path}: expected an object with an 'items' list")
    catalog = Catalog(name=name or text_field(data.get("name"), f"catalog {path}: 'name'") or path.stem)
    for n, raw in enumerate(data["items"]):
        item = parse_item(raw, f"catalog {path}, item #{n}")
        if item.image and not Path(item.image).is_absolute():
            item.image = str(path.parent / item.image)
        catalog.items[item.id] = item
    outfits = data.get("outfits") or []
    if not isinstance(outfits, list):
        raise StylistError(f"catalog {path}: 'outfits' must be a list, got {json_kind(outfits)}")
    for n, raw in enumerate(outfits):
        catalog.outfits.append(parse_outfit(raw, n, f"catalog {path}, outfit #{n}"))
    if not catalog.items:
        raise StylistError(f"catalog {path}: the catalog is empty")
    return catalog


def parse_item(raw: object, where: str) -> Item:
    """An Item from one JSON object, checked field by field: catalog files and visitors' additions are untrusted.

    `where` names the file and the item in the one-line StylistError; unknown keys are ignored.
    """
    if not isinstance(raw, dict) or raw.get("id") is None:
        raise StylistError(f"{where}: expected an object with an 'id'")
    item_id = identifier(raw["id"], f"{where}: 'id'")
    where = f"{where} (id {item_id[:40]!r})"
    fields = {name: text_field(raw.get(name), f"{where}: {name!r}") for name in TEXT_FIELDS}
    for name in LIST_FIELDS:
        value = raw.get(name) or []
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise StylistError(f"{where}: {name!r} must be a list of strings, got {json_kind(value)}")
        fields[name] = value
    fields["image"] = fields["image"] or None
    price = raw.get("price")
    if isinstance(price, (bool, list, dict)):
        raise StylistError(f"{where}: 'price' must be a number, got {json_kind(price)}")
    return Item(id=item_id, **fields, price=price_of(price))


def parse_outfit(raw: object, n: int, where: str) -> Outfit:
    """An Outfit from one JSON object (`id`, `item_ids`, optional `name` and string `tags`), checked like items."""
    if not isinstance(raw, dict) or not isinstance(raw.get("item_ids"), list):
        raise StylistError(f"{where}: expected an object with an 'item_ids' list")
    tags = raw.get("tags") or {}
    if not isinstance(tags, dict) or not all(isinstance(v, str) for v in tags.values()):
        raise StylistError(f"{where}: 'tags' must be an object of strings, got {json_kind(tags)}")
    return Outfit(id=identifier(raw.get("id", n), f"{where}: 'id'"),
                  item_ids=[identifier(i, f"{where}: 'item_ids'") for i in raw["item_ids"]],
                  name=text_field(raw.get("name"), f"{where}: 'name'"), tags=tags)


def identifier(value: object, where: str) -> str:
    """An id as a string: JSON strings as they are, whole numbers written out; anything else is refused."""
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    if isinstance(value, str) and value:
        return value
    raise StylistError(f"{where} must be a non-empty string or a whole number, got {json_kind(value)}")


def text_field(value: object, where: str) -> str:
    """A string field; missing or null is empty."""
    if value is None:
        return ""
    if not isinstance(value, str):
        raise StylistError(f"{where} must be a string, got {json_kind(value)}")
    return value


def json_kind(value: object) -> str:
    """How a JSON value reads in an error: the kind of a container, a short excerpt of anything else."""
    if isinstance(value, (list, dict)):
        return "a list" if isinstance(value, list) else "an object"
    return json.dumps(value)[:40]


def price_of(value) -> float | None:
    """A listed price as a positive float; unknown (Polyvore writes -1), missing or malformed -> None."""
    try:
        price = float(value)
    except (TypeError, ValueError, OverflowError):
        return None
    return price if math.isfinite(price) and price > 0 else None


def price_band(price: float | None) -> int | None:
    """Prices a factor of 2 apart fall in neighbouring bands (round(log2 price)); None when not listed."""
    return round(math.log2(price)) if price and price > 0 else None


def _read_json(path: Path):
    """Parse a catalog file, refusing one too large to hold or nested too deep to parse, in one line."""
    try:
        size = path.stat().st_size
        if size > MAX_JSON_BYTES:
            raise StylistError(f"{path}: {size / 2**20:.0f} MB is over the {MAX_JSON_BYTES // 2**20} MB limit for a "
                               "catalog JSON file")
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise StylistError(f"{path}: cannot read ({exc})") from exc
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        # json's messages end in " at" where they meant the position ("Invalid control character at")
        problem = exc.msg.removesuffix(" at").lower()
        raise StylistError(f"{path}: malformed JSON, {problem} at line {exc.lineno}, column {exc.colno}") from exc
    except ValueError as exc:  # e.g. an integer too long to convert
        raise StylistError(f"{path}: malformed JSON ({exc})") from exc
    except RecursionError:
        raise StylistError(f"{path}: JSON nested too deeply to be a catalog") from None


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m stylist catalog-info", description=summary(__doc__))
    parser.add_argument("--catalog", default="demo", help="'demo', a photo folder, or a .json file")
    parser.add_argument("--categories", default=None, help="Polyvore category_id.txt (default: beside the JSON)")
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    args = parser.parse_args(argv)
    catalog = load_catalog(args.catalog, args.categories)
    info = {"catalog": catalog.name, "items": len(catalog), "categories": len(catalog.categories()),
            "outfits": len(catalog.outfits), "per_category": dict(catalog.categories().most_common()),
            "per_slot": dict(catalog.slots().most_common())}
    if args.json:
        print(json.dumps(info))
        return 0
    print(f"catalog {info['catalog']}: {info['items']} items, {info['categories']} categories, "
          f"{info['outfits']} outfits")
    print("slots: " + ", ".join(f"{k} {v}" for k, v in info["per_slot"].items()))
    for category, count in catalog.categories().most_common(20):
        print(f"  {count:5d}  {category}")
    if info["categories"] > 20:
        print(f"  ... and {info['categories'] - 20} more categories")
    return 0
