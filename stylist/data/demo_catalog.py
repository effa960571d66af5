"""The built-in demo catalog: a deterministic range of garments, their images, and rule-made outfits.

    python -m stylist make-demo-catalog            # assets/demo, assets/examples, docs/demo-catalog.png
    python -m stylist make-demo-catalog --out /tmp/demo --limit 20 --examples /tmp/ex --sheet /tmp/s.png

Items. `RANGE` lists the lines of a small shop (a category in one material, its colours, patterns,
formality and seasons). Each line yields items titled "<colour> [<pattern>] [<material>] <category>",
the way the captioner writes captions ("navy striped cotton t-shirt"); "solid" is never written.
Colours are `stylist.core.colors.PALETTE` names, main colour first, then a pattern's second colour.
An item's `style` tags are its formality levels (sporty, casual, smart, formal), its seasons
(spring, summer, autumn, winter), both from `stylist.core.vocabulary`, and one look (minimalist, preppy,
boho, bold, classic).

Outfits follow explicit styling rules, checked by `check_outfit` both while composing and in tests:
  1. Structure: a top and a bottom, or a dress; exactly one pair of shoes; at most one item per slot;
     3-5 items.
  2. Formality: the occasion sets one level (sport -> sporty, casual -> casual, work -> smart,
     evening -> formal) and every item must carry that level.
  3. Season: every item must carry the outfit's season (so no coats or boots with summer shorts,
     no sandals in winter), and a winter outfit must have outerwear.
  4. Colour harmony: black, white, grey, navy, beige, brown and denim are neutrals and go with
     everything. The other colours of an outfit (accents) are at most two, and two accents must be an
     analogous or complementary pair from `HARMONY`.
  5. One statement: at most one item that is patterned or in a loud colour (red, orange, yellow, pink,
     purple, green).
  6. Leather goods: shoes, bags and belts in leather or suede do not mix black with brown.
Each outfit is tagged with its occasion, season, formality and a line saying which rules shaped it.
Composition cycles through every occasion x season pair; each slot is drawn among the items that keep
every rule, favouring items used less so far, so nearly the whole range appears in some outfit.

Pictures: `images/<id>.png` (224x224, light studio background) for every item, and for the app's
Style tab a few "phone photos" of garments lying on a floor or bed (`render.floor_photo`).
"""

from __future__ import annotations

import argparse
import functools
import random
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

from PIL import Image, ImageDraw, ImageFont
from tqdm import tqdm

from stylist.core.catalog import Catalog, Item, Outfit
from stylist.core.colors import PALETTE
from stylist.core.errors import StylistError
from stylist.core.options import summary
from stylist.core.paths import DEMO_CATALOG, EXAMPLES, REPO
from stylist.core.vocabulary import OCCASIONS, SEASONS
from stylist.core.vocabulary import slot_of as _slot_of
from stylist.data.render import floor_photo, render_item, seed_of

SEED = 2024
slot_of = functools.lru_cache(maxsize=None)(_slot_of)  # the composer asks for the same few categories often
N_OUTFITS = 360
OCCASION_CYCLE = ("casual", "work", "casual", "evening", "sport", "casual", "work", "evening", "sport",
                  "casual", "work")  # 11 long, so with 4 seasons every pair recurs every 44 outfits

NEUTRALS = frozenset({"black", "white", "grey", "navy", "beige", "brown"})
LOUD = frozenset({"red", "orange", "yellow", "pink", "purple", "green"})
HARMONY = frozenset(frozenset(p) for p in (
    # analogous: neighbours on the colour wheel
    ("blue", "light blue"), ("blue", "purple"), ("red", "orange"), ("orange", "yellow"), ("yellow", "green"),
    ("green", "olive"), ("red", "burgundy"), ("burgundy", "pink"), ("pink", "purple"),
    # complementary: opposites, muted or bright
    ("blue", "orange"), ("light blue", "yellow"), ("yellow", "purple"), ("burgundy", "olive"),
    ("light blue", "pink"),
))
LEATHERS = ("leather", "suede")

ALL = SEASONS
WARM, COLD = ("spring", "summer"), ("autumn", "winter")
NOT_WINTER, NOT_SUMMER, MILD = ("spring", "summer", "autumn"), ("spring", "autumn", "winter"), ("spring", "autumn")


@dataclass(frozen=True)
class Line:
    """One line of the demo range: a category in one material, and what its items may be."""

    category: str
    material: str
    colors: tuple[str, ...]
    patterns: tuple[str, ...]
    formality: tuple[str, ...]
    seasons: tuple[str, ...]
    count: int


RANGE: tuple[Line, ...] = (
    # tops
    Line("t-shirt", "cotton",
         ("white", "black", "grey", "navy", "red", "yellow", "green", "light blue", "pink", "olive"),
         ("solid", "striped"), ("casual", "sporty"), NOT_WINTER, 15),
    Line("tank top", "cotton", ("white", "black", "pink", "yellow", "light blue", "orange"), ("solid", "striped"),
         ("casual", "sporty"), WARM, 8),
    Line("shirt", "cotton", ("white", "light blue", "blue", "pink", "navy"), ("solid", "striped", "checked"),
         ("smart", "casual"), ALL, 12),
    Line("shirt", "linen", ("white", "beige", "light blue", "olive"), ("solid",), ("casual", "smart"), WARM, 4),
    Line("shirt", "flannel", ("red", "green", "navy", "burgundy"), ("plaid",), ("casual",), COLD, 4),
    Line("blouse", "silk", ("white", "pink", "beige", "burgundy", "black", "light blue"),
         ("solid", "polka dot", "floral"),
         ("smart", "formal"), ALL, 12),
    Line("sweater", "wool", ("grey", "navy", "beige", "burgundy", "olive", "black"), ("solid", "striped"),
         ("casual", "smart"), COLD, 10),
    Line("sweater", "cashmere", ("beige", "grey", "pink", "light blue", "white"), ("solid",), ("smart", "casual"),
         NOT_SUMMER, 5),
    Line("hoodie", "jersey", ("grey", "black", "navy", "green", "burgundy", "white"), ("solid",), ("casual", "sporty"),
         NOT_SUMMER, 6),
    # bottoms
    Line("jeans", "denim", ("blue", "light blue", "black", "grey", "navy"), ("solid",), ("casual",), ALL, 5),
    Line("trousers", "wool", ("black", "grey", "navy", "beige", "brown"), ("solid", "checked"), ("smart", "formal"),
         NOT_SUMMER, 9),
    Line("trousers", "linen", ("beige", "white", "olive", "light blue"), ("solid",), ("casual", "smart"), WARM, 4),
    Line("trousers", "corduroy", ("brown", "olive", "burgundy", "beige"), ("solid",), ("casual",), COLD, 4),
    Line("track pants", "jersey", ("black", "grey", "navy"), ("solid",), ("sporty",), ALL, 3),
    Line("shorts", "cotton", ("beige", "navy", "olive", "white", "light blue"), ("solid", "striped"), ("casual",),
         ("summer",), 7),
    Line("shorts", "denim", ("blue", "light blue"), ("solid",), ("casual",), ("summer",), 2),
    Line("shorts", "jersey", ("black", "grey", "navy"), ("solid",), ("sporty",), ("summer",), 3),
    Line("skirt", "cotton", ("yellow", "pink", "light blue", "white", "red"), ("floral", "polka dot"), ("casual",),
         WARM, 6),
    Line("skirt", "wool", ("grey", "navy", "burgundy", "black"), ("solid", "plaid"), ("smart", "casual"), COLD, 6),
    Line("skirt", "silk", ("black", "beige", "green", "burgundy", "navy"), ("solid",), ("smart", "formal"), ALL, 5),
    # dresses
    Line("dress", "cotton", ("yellow", "light blue", "pink", "white", "red", "green"),
         ("floral", "polka dot", "striped"),
         ("casual",), WARM, 12),
    Line("dress", "silk", ("black", "red", "navy", "burgundy", "green", "purple"), ("solid",), ("formal",),
         NOT_WINTER, 6),
    Line("dress", "velvet", ("black", "burgundy", "navy", "purple", "green"), ("solid",), ("formal",), COLD, 5),
    Line("dress", "wool", ("grey", "navy", "black", "burgundy"), ("solid",), ("smart",), COLD, 4),
    Line("dress", "linen", ("white", "beige", "olive", "light blue"), ("solid",), ("casual", "smart"), WARM, 4),
    # outerwear
    Line("jacket", "denim", ("blue", "light blue", "black"), ("solid",), ("casual",), MILD, 3),
    Line("jacket", "leather", ("black", "brown", "burgundy"), ("solid",), ("casual",), MILD, 3),
    Line("jacket", "cotton", ("olive", "beige", "navy"), ("solid",), ("casual",), MILD, 3),
    Line("blazer", "wool", ("navy", "black", "grey", "beige"), ("solid", "checked"), ("smart", "formal"),
         NOT_SUMMER, 7),
    Line("blazer", "linen", ("beige", "white", "light blue"), ("solid",), ("smart",), WARM, 3),
    Line("coat", "wool", ("beige", "black", "grey", "navy", "burgundy", "brown"), ("solid",),
         ("smart", "formal", "casual"), COLD, 6),
    Line("coat", "cotton", ("beige", "navy", "olive"), ("solid",), ("smart", "casual"), MILD, 3),
    Line("puffer jacket", "nylon", ("black", "navy", "olive", "red", "green"), ("solid",), ("casual", "sporty"),
         ("winter",), 5),
    # shoes
    Line("sneakers", "leather", ("white", "black"), ("solid",), ("casual", "sporty"), ALL, 2),
    Line("sneakers", "canvas", ("white", "navy", "red", "grey", "black"), ("solid",), ("casual", "sporty"),
         NOT_WINTER, 5),
    Line("ankle boots", "leather", ("black", "brown", "burgundy"), ("solid",), ("casual", "smart"), NOT_SUMMER, 3),
    Line("ankle boots", "suede", ("beige", "brown", "grey"), ("solid",), ("casual", "smart"), MILD + ("winter",), 3),
    Line("heels", "leather", ("black", "red", "beige", "navy"), ("solid",), ("smart", "formal"), ALL, 4),
    Line("heels", "satin", ("black", "burgundy", "white"), ("solid",), ("formal",), ALL, 3),
    Line("loafers", "leather", ("black", "brown", "burgundy"), ("solid",), ("smart", "casual", "formal"), ALL, 3),
    Line("loafers", "suede", ("beige", "navy"), ("solid",), ("smart", "casual"), NOT_WINTER, 2),
    Line("sandals", "leather", ("brown", "beige", "black", "white"), ("solid",), ("casual",), ("summer",), 4),
    # bags
    Line("shoulder bag", "leather", ("black", "brown", "burgundy", "beige", "red"), ("solid",),
         ("smart", "formal", "casual"),
         ALL, 5),
    Line("clutch", "satin", ("black", "white", "red", "burgundy"), ("solid",), ("formal",), ALL, 4),
    Line("tote bag", "canvas", ("beige", "navy", "white", "black"), ("solid", "striped"), ("casual",), ALL, 6),
    Line("tote bag", "leather", ("black", "brown", "beige"), ("solid",), ("smart", "casual"), ALL, 3),
    Line("backpack", "canvas", ("navy", "black", "grey", "olive", "red"), ("solid",), ("casual", "sporty"), ALL, 5),
    # accessories and hats
    Line("scarf", "wool", ("grey", "burgundy", "beige", "navy", "red"), ("checked", "solid", "striped"),
         ("casual", "smart"), COLD, 8),
    Line("scarf", "silk", ("white", "navy", "pink", "red", "light blue"), ("polka dot", "floral", "solid"),
         ("smart", "formal"), NOT_WINTER, 5),
    Line("belt", "leather", ("black", "brown", "beige"), ("solid",), ("casual", "smart", "formal"), ALL, 3),
    Line("sunglasses", "", ("black", "brown", "white", "red"), ("solid",), ("casual", "sporty"), WARM, 4),
    Line("hat", "straw", ("beige", "white"), ("solid",), ("casual",), ("summer",), 2),
    Line("hat", "wool", ("grey", "black", "brown", "navy"), ("solid",), ("casual", "smart"), COLD, 4),
    Line("beanie", "wool", ("grey", "black", "navy", "burgundy", "orange"), ("solid",), ("casual", "sporty"), COLD, 5),
)

# the second colour a pattern may bring, tried in order until one contrasts with the main colour
SECOND_COLORS = {
    "striped": ("white", "navy", "red", "black", "beige"), "checked": ("white", "navy", "black", "red"),
    "plaid": ("navy", "red", "green", "black", "burgundy"), "polka dot": ("white", "navy", "red", "black"),
    "floral": ("white", "pink", "red", "yellow", "blue", "light blue"),
}
TRIM_COLORS = {"sneakers": ("white", "navy", "grey", "black"), "hat": ("black", "brown", "navy")}


def _luma(name: str) -> float:
    r, g, b = PALETTE[name]
    return 0.299 * r + 0.587 * g + 0.114 * b


def _second(main: str, options: tuple[str, ...], rng: random.Random) -> str:
    """A second colour that reads against the main one (a clear luminance step) and harmonises with it,
    so that every item can appear in some outfit (rule 4 applies to an item's own colours too)."""
    fine = [c for c in options if c != main and (main in NEUTRALS or c in NEUTRALS or {main, c} in HARMONY)]
    return rng.choice([c for c in fine if abs(_luma(c) - _luma(main)) > 60] or fine)


def _look(colors: list[str], pattern: str, material: str) -> str:
    """One aesthetic tag, for search and display; the outfit rules do not use it."""
    if pattern == "floral" or material in ("suede", "straw"):
        return "boho"
    if pattern in ("striped", "checked", "plaid", "polka dot"):
        return "preppy"
    if colors[0] in LOUD:
        return "bold"
    return "minimalist" if colors[0] in NEUTRALS else "classic"


def title_of(color: str, pattern: str, material: str, category: str) -> str:
    """"<colour> [<pattern>] [<material>] <category>", as the captioner writes captions."""
    return " ".join(p for p in (color, "" if pattern == "solid" else pattern, material, category) if p)


def build_items(seed: int = SEED) -> list[Item]:
    """Every line of RANGE, expanded: colours in a seeded order, first all solid, then the patterns."""
    rng = random.Random(seed)
    items: list[Item] = []
    numbers: dict[str, int] = {}
    for line in RANGE:
        colours = list(line.colors)
        rng.shuffle(colours)
        for k in range(line.count):
            main, pattern = colours[k % len(colours)], line.patterns[(k // len(colours)) % len(line.patterns)]
            colors = [main]
            if pattern != "solid":
                colors.append(_second(main, SECOND_COLORS[pattern], rng))
            elif line.category in TRIM_COLORS:
                colors.append(_second(main, TRIM_COLORS[line.category], rng))
            numbers[line.category] = numbers.get(line.category, 0) + 1
            item_id = f"{line.category.replace(' ', '-')}-{numbers[line.category]:02d}"
            items.append(Item(id=item_id, title=title_of(main, pattern, line.material, line.category),
                              category=line.category, colors=colors, pattern=pattern, material=line.material,
                              style=[*line.formality, *line.seasons, _look(colors, pattern, line.material)],
                              image=f"images/{item_id}.png"))
    return items


# ----------------------------------------------------------------------------------------------------
# the styling rules

def _is_statement(item: Item) -> bool:
    return item.pattern not in ("", "solid") or (bool(item.colors) and item.colors[0] in LOUD)


def accents(items: list[Item]) -> set[str]:
    """The non-neutral colours an outfit shows (denim counts as a neutral whatever its shade)."""
    return {c for item in items if item.material != "denim" for c in item.colors if c not in NEUTRALS}


def check_outfit(items: list[Item], occasion: str, season: str, partial: bool = False) -> list[str]:
    """The styling rules an outfit breaks (empty: it follows them all). `partial` skips the checks
    that only a finished outfit can pass (it has shoes, a base, enough items, winter outerwear)."""
    broken: list[str] = []
    slots = [slot_of(item.category) for item in items]
    level = OCCASIONS.get(occasion)
    if level is None or season not in SEASONS:
        return [f"unknown occasion {occasion!r} or season {season!r}"]
    # 1. structure
    if len(set(slots)) != len(slots):
        broken.append("two items in one slot")
    if "dresses" in slots and ("tops" in slots or "bottoms" in slots):
        broken.append("a dress with a top or bottom")
    if len(items) > 5:
        broken.append("more than 5 items")
    if not partial:
        if not ("dresses" in slots or ("tops" in slots and "bottoms" in slots)):
            broken.append("neither a top and a bottom nor a dress")
        if "shoes" not in slots:
            broken.append("no shoes")
        if len(items) < 3:
            broken.append("fewer than 3 items")
    # 2. formality, 3. season
    for item in items:
        if level not in item.style:
            broken.append(f"{item.title} is not {level} (occasion {occasion})")
        if season not in item.style:
            broken.append(f"{item.title} is not for {season}")
    if not partial and season == "winter" and "outerwear" not in slots:
        broken.append("winter without outerwear")
    # 4. colour harmony
    extra = sorted(accents(items))
    if len(extra) > 2 or (len(extra) == 2 and frozenset(extra) not in HARMONY):
        broken.append(f"accent colours {', '.join(extra)} do not harmonise")
    # 5. one statement piece
    if sum(map(_is_statement, items)) > 1:
        broken.append("more than one statement piece (pattern or loud colour)")
    # 6. leather goods
    leather = {item.colors[0] for item in items if item.material in LEATHERS
               and (slot_of(item.category) in ("shoes", "bags") or item.category == "belt")}
    if {"black", "brown"} <= leather:
        broken.append("black and brown leather together")
    return broken


def _rules_line(items: list[Item], occasion: str, season: str) -> str:
    """Which rules shaped an outfit, in words, stored in its tags for people and for the LM's data."""
    statement = [i.title for i in items if _is_statement(i)]
    extra = sorted(accents(items))
    return "; ".join([
        f"all {OCCASIONS[occasion]}", f"all for {season}" + (", outerwear for winter" if season == "winter" else ""),
        "neutrals only" if not extra else f"accents {' + '.join(extra)}"
        + (" (harmonious pair)" if len(extra) == 2 else ""),
        f"statement: {statement[0]}" if statement else "no statement piece",
    ])


def compose(pool: dict[str, list[Item]], occasion: str, season: str, rng: random.Random,
            uses: Counter) -> list[Item] | None:
    """One outfit: base pieces, shoes, then outerwear, a bag and an accessory or hat, each drawn among
    the items that keep every rule, favouring items used less so far; None when a required slot has
    no candidate."""
    dress_ok = any(OCCASIONS[occasion] in i.style and season in i.style for i in pool["dresses"])
    required = ["dresses"] if dress_ok and rng.random() < 0.35 else ["tops", "bottoms"]
    required += ["shoes", "outerwear"] if season == "winter" else ["shoes"]
    optional = ["outerwear"] if season != "winter" and rng.random() < 0.45 else []
    optional += ["bags"] if rng.random() < 0.65 else []
    optional += [rng.choice(("accessories", "hats"))] if rng.random() < 0.5 else []
    rng.shuffle(optional)  # optional pieces compete for the places left under 5 in random order
    chosen: list[Item] = []
    for k, slot in enumerate((required + optional)[:5]):
        fits = [i for i in pool[slot] if OCCASIONS[occasion] in i.style and season in i.style
                and not check_outfit([*chosen, i], occasion, season, partial=True)]
        if fits:
            chosen.append(rng.choices(fits, weights=[1 / (1 + uses[i.id]) for i in fits])[0])
        elif k < len(required):
            return None
    return chosen if not check_outfit(chosen, occasion, season) else None


def build_outfits(items: list[Item], n: int = N_OUTFITS, seed: int = SEED) -> list[Outfit]:
    """`n` distinct outfits cycling through every occasion x season pair."""
    rng = random.Random(seed + 1)
    pool: dict[str, list[Item]] = {}
    for item in items:
        pool.setdefault(slot_of(item.category), []).append(item)
    for slot in ("tops", "bottoms", "dresses", "outerwear", "shoes", "bags", "accessories", "hats"):
        pool.setdefault(slot, [])
    outfits: list[Outfit] = []
    seen: set[frozenset[str]] = set()
    uses: Counter = Counter()
    for _ in range(n * 50):
        if len(outfits) == n:
            break
        occasion, season = OCCASION_CYCLE[len(outfits) % len(OCCASION_CYCLE)], SEASONS[len(outfits) % len(SEASONS)]
        chosen = compose(pool, occasion, season, rng, uses)
        if not chosen or frozenset(i.id for i in chosen) in seen:
            continue
        seen.add(frozenset(i.id for i in chosen))
        uses.update(i.id for i in chosen)
        core = " with ".join(i.title for i in chosen if slot_of(i.category) in ("tops", "bottoms", "dresses"))
        outfits.append(Outfit(id=f"outfit-{len(outfits) + 1:03d}", item_ids=[i.id for i in chosen],
                              name=f"{occasion} {season}: {core}",
                              tags={"occasion": occasion, "season": season, "formality": OCCASIONS[occasion],
                                    "rules": _rules_line(chosen, occasion, season)}))
    if len(outfits) < n:
        raise RuntimeError(f"only {len(outfits)} of {n} outfits could be composed; widen RANGE")
    return outfits


def build_catalog(seed: int = SEED) -> Catalog:
    """Items and outfits, without images: pure and fast, so tests can check every rule."""
    items = build_items(seed)
    catalog = Catalog(name="demo", items={i.id: i for i in items})
    catalog.outfits = build_outfits(items, seed=seed)
    return catalog


# ----------------------------------------------------------------------------------------------------
# pictures

def item_image(item: Item, size: int = 224, seed: int = SEED) -> Image.Image:
    return render_item(item.category, item.colors, item.pattern, item.material, size, seed_of(seed, item.id))


def save_png(image: Image.Image, path: Path, colors: int = 128) -> None:
    """A palette PNG: textures survive 128 colours, and the whole catalog stays a few MB."""
    image.quantize(colors=colors, method=Image.Quantize.MEDIANCUT, dither=Image.Dither.NONE).save(path, optimize=True)


EXAMPLE_PICKS = ("t-shirt", "jeans", "dress", "sneakers", "jacket", "sweater", "skirt", "shoulder bag")


def example_items(catalog: Catalog) -> list[Item]:
    """A patterned or coloured garment of each example category: the photos a first visitor tries."""
    picks = []
    for category in EXAMPLE_PICKS:
        same = [i for i in catalog.items.values() if i.category == category]
        picks.append(max(same, key=lambda i: (i.pattern != "solid", i.colors[0] not in NEUTRALS, i.id == same[0].id)))
    return picks


SHEET_PICKS = ("t-shirt", "shirt", "blouse", "sweater", "hoodie", "jeans", "trousers", "shorts", "skirt", "dress",
               "dress", "jacket", "blazer", "coat", "puffer jacket", "sneakers", "ankle boots", "heels", "loafers",
               "shoulder bag", "backpack", "scarf", "sunglasses", "hat")


def sheet_items(catalog: Catalog) -> list[Item]:
    """24 items over every slot for the contact sheet, alternating patterned and solid ones."""
    picks: list[Item] = []
    for k, category in enumerate(SHEET_PICKS):
        same = [i for i in catalog.items.values() if i.category == category and i not in picks]
        patterned = [i for i in same if i.pattern != "solid"]
        pool = patterned if patterned and k % 2 == 0 else same
        picks.append(pool[k * 7 % len(pool)])
    return picks


def _font(size: int) -> ImageFont.ImageFont:
    try:
        return ImageFont.truetype("/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf", size)
    except OSError:
        return ImageFont.load_default(size)


def contact_sheet(items: list[Item], images: list[Image.Image], header: str, cols: int = 6) -> Image.Image:
    """A grid of images with each title wrapped under it."""
    tile, text_h, pad = images[0].width, 40, 8
    rows = -(-len(items) // cols)
    sheet = Image.new("RGB", (cols * (tile + pad) + pad, 44 + rows * (tile + text_h + pad)), (255, 255, 255))
    draw, font = ImageDraw.Draw(sheet), _font(13)
    draw.text((pad, 12), header, fill=(30, 30, 30), font=_font(18))
    for k, (item, image) in enumerate(zip(items, images)):
        x, y = pad + (k % cols) * (tile + pad), 44 + (k // cols) * (tile + text_h + pad)
        sheet.paste(image, (x, y))
        lines, line = [], ""
        for word in item.title.split():
            if line and draw.textlength(f"{line} {word}", font=font) > tile:
                lines.append(line)
                line = word
            else:
                line = f"{line} {word}".strip()
        for j, text in enumerate([*lines, line][:2]):
            draw.text((x + (tile - draw.textlength(text, font=font)) / 2, y + tile + 3 + j * 16), text,
                      fill=(40, 40, 40), font=font)
    return sheet


def _clear_stale(folder: Path, keep: set[str]) -> None:
    """Remove PNGs a previous run made that this one does not, so the committed set is exactly this run's."""
    for stale in folder.glob("*.png"):
        if stale.name not in keep:
            stale.unlink()


def write(catalog: Catalog, out: Path, examples: Path, sheet: Path, limit: int | None, seed: int) -> None:
    """catalog.json, images/<id>.png, the example floor photos and the contact sheet; `limit` renders
    only the first few of each (the JSON is always whole)."""
    (out / "images").mkdir(parents=True, exist_ok=True)
    examples.mkdir(parents=True, exist_ok=True)
    items, photos = list(catalog.items.values())[:limit], example_items(catalog)[:limit]
    picks = sheet_items(catalog)[:limit]
    if limit is None:
        _clear_stale(out / "images", {f"{i.id}.png" for i in items})
        _clear_stale(examples, {f"{i.id}.png" for i in photos})
    for item in tqdm(items, desc="rendering items", unit="img"):
        save_png(item_image(item, seed=seed), out / "images" / f"{item.id}.png")
    for k, item in enumerate(tqdm(photos, desc="example photos", unit="img")):
        photo = floor_photo(item.category, item.colors, item.pattern, item.material, seed=seed_of(seed, "photo", k))
        save_png(photo, examples / f"{item.id}.png", colors=256)
    header = (f"stylist demo catalog: {len(catalog)} items, {len(catalog.categories())} categories, "
              f"{len(catalog.outfits)} outfits ({len(picks)} shown)")
    sheet.parent.mkdir(parents=True, exist_ok=True)
    save_png(contact_sheet(picks, [item_image(i, seed=seed) for i in picks], header), sheet, colors=256)
    catalog.save(out / "catalog.json")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m stylist make-demo-catalog", description=summary(__doc__))
    parser.add_argument("--out", type=Path, default=DEMO_CATALOG, help="folder for catalog.json and images/")
    parser.add_argument("--examples", type=Path, default=EXAMPLES, help="folder for the example photos")
    parser.add_argument("--sheet", type=Path, default=REPO / "docs" / "demo-catalog.png", help="contact sheet PNG")
    parser.add_argument("--limit", type=int, default=None, help="render only the first N of each kind of picture")
    parser.add_argument("--seed", type=int, default=SEED)
    args = parser.parse_args(argv)
    if args.limit is not None and args.limit < 1:
        raise StylistError(f"--limit must be at least 1, got {args.limit}")
    catalog = build_catalog(args.seed)
    write(catalog, args.out, args.examples, args.sheet, args.limit, args.seed)
    print(f"wrote {len(catalog)} items ({len(catalog.categories())} categories) and {len(catalog.outfits)} outfits "
          f"to {args.out}, photos to {args.examples}, contact sheet to {args.sheet}")
    return 0
