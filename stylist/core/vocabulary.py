"""The words outfits are described in: slots, occasions, seasons and formality levels, in one place.

The outfit model reasons about *slots* (what is missing: shoes, a bag, outerwear...), while sources name
fine categories ("Ankle Booties", "longsleeve", "tote bag") and shops and visitors write titles ("white
cotton t-shirt with short sleeves"). One garment reader (`slot_of`) turns all of them into slots.

Occasions and seasons reach the model as prompt text (`stylist.core.prompts.outfit_prompt`), so the app
may only offer the words its training outfits carry: the demo generator tags every outfit with these, and
the Style tab's dropdowns list the same ones. A word the model never saw in a prompt steers it nowhere.
"""

from __future__ import annotations

import re

from stylist.core.errors import StylistError

# Slots an outfit is built from, in the order the app shows them.
SLOTS = ("tops", "bottoms", "dresses", "outerwear", "shoes", "bags", "accessories", "jewelry", "hats")
OTHER = "other"  # beauty, home decor, stationery...: present in Polyvore outfits, never recommended

# How dressed up an outfit is, least first; demo items carry one or more of these in their `style` tags.
FORMALITY = ("sporty", "casual", "smart", "formal")
# An outfit's occasion sets the one formality level all its items share (the demo catalog's outfit rule 2).
OCCASIONS = {"sport": "sporty", "casual": "casual", "work": "smart", "evening": "formal"}
SEASONS = ("spring", "summer", "autumn", "winter")
# Everyday words for an occasion, read as the occasion (and, for some, the season) the model knows.
OCCASION_WORDS: dict[str, tuple[str, str | None]] = {
    "gym": ("sport", None), "workout": ("sport", None), "running": ("sport", None), "yoga": ("sport", None),
    "hiking": ("sport", None), "ski": ("sport", "winter"), "skiing": ("sport", "winter"),
    "everyday": ("casual", None), "weekend": ("casual", None), "brunch": ("casual", None), "travel": ("casual", None),
    "beach": ("casual", "summer"), "holiday": ("casual", "summer"), "vacation": ("casual", "summer"),
    "picnic": ("casual", "summer"), "festival": ("casual", "summer"), "school": ("casual", None),
    "office": ("work", None), "business": ("work", None), "interview": ("work", None), "meeting": ("work", None),
    "wedding": ("evening", None), "party": ("evening", None), "date": ("evening", None), "dinner": ("evening", None),
    "cocktail": ("evening", None), "gala": ("evening", None), "prom": ("evening", None), "formal": ("evening", None),
}
SEASON_WORDS = {"fall": "autumn", "christmas": "winter"}

# Garment types of the real photo sets (folder names) and the captioner's "bag" -> the category noun a shopper
# (and the outfit model, trained on product titles) uses; `slot_of` of the noun gives the type's slot.
GARMENT_TYPES = {
    "dress": "dress", "hat": "hat", "longsleeve": "long-sleeve top", "outwear": "jacket", "pants": "trousers",
    "shirt": "shirt", "shoes": "shoes", "shorts": "shorts", "skirt": "skirt", "t-shirt": "t-shirt", "bag": "bag",
    "blazer": "blazer", "blouse": "blouse", "body": "bodysuit", "hoodie": "hoodie", "polo": "polo shirt", "top": "top",
    "undershirt": "tank top",
}

# The garment reader. A product title or typed phrase names its garment last ("short sleeve tee", "denim jacket",
# "pendant light"): English noun phrases end in their head, and what follows "with", "in", "on", "by"... is a
# detail ("t-shirt with short sleeves", "nail polish in boots"). So the reader cuts the detail off and takes the
# last word it knows: a garment noun gives its slot, a thing no one wears gives OTHER. Written on the 'train'
# Polyvore titles (`python -m stylist eval garments`).
_NOUNS: dict[str, str] = {
    "tops": "top tee shirt blouse sweater sweatshirt hoodie hoody tank cami camisole tunic polo knitwear jumper "
            "pullover singlet turtleneck bodysuit undershirt longsleeve bralet bralette bustier corset henley clothing",
    "bottoms": "jean jeans pant pants trouser trousers shorts skirt miniskirt legging leggings jeggings culotte "
               "culottes chino chinos jogger joggers sweatpants skort capri capris",
    "dresses": "dress gown jumpsuit romper playsuit sundress shirtdress kaftan caftan",
    "outerwear": "coat jacket blazer outerwear outwear vest waistcoat gilet parka trench cardigan bomber poncho cape "
                 "anorak windbreaker puffer raincoat overcoat",
    "shoes": "shoe boot bootie booties booty pump sandal sneaker trainer loafer moccasin heel stiletto slipper mule "
             "oxford brogue espadrille wedge ballerina ballerinas flipflop clog creeper slingback slipon footwear "
             "converse keds birkenstock martens anklestrap",
    "bags": "bag handbag purse clutch tote backpack satchel crossbody hobo pouch wallet shopper duffle duffel "
            "briefcase messenger wristlet minaudiere cardcase",
    "accessories": "belt watch sunglass sunglasses sunnies shades eyeglasses glasses scarf scarves bandana headband "
                   "glove mitten tie necktie bowtie umbrella suspenders barrette scrunchie headpiece crown accessory "
                   "accessories shawl hairclip lens",
    "jewelry": "earring necklace bracelet bangle ring jewel jewelry jewellery brooch pendant choker cuff cufflinks "
               "stud studs hoop hoops charm anklet locket pin lariat",
    "hats": "hat cap beanie beret fedora snapback visor trilby cloche",
    # beauty, home, stationery, underwear and swimwear: in Polyvore outfits, never recommended
    OTHER: "bra bikini swimsuit swimwear lingerie panties thong knickers underwear sock tights stockings hosiery "
           "pajama pajamas pyjama pyjamas sleepwear robe lamp light chandelier pillow cushion candle mug cup vase rug "
           "chair sofa table desk shelf bed blanket towel curtain mirror clock lipstick gloss mascara eyeliner "
           "eyeshadow palette polish perfume fragrance parfum cologne lotion serum moisturizer cleanser shampoo "
           "conditioner brush powder foundation concealer blush bronzer primer balm wig extensions book notebook "
           "journal planner pen pencil sticker magazine phone poster wallpaper plant decor ornament basket tray "
           "plate bowl headphones camera set glassware box doll lighting coverup tech office electronics decor",
}
# Words that are a garment only when they end the phrase: "denim short", "ballet flat", "black crop", while
# "short sleeve tee", "flat sandals" and "crop top" name their garment later.
_TRAILING_NOUNS = {"short": "bottoms", "flat": "shoes", "flats": "shoes", "tight": "bottoms", "denim": "bottoms",
                   "crop": "tops", "sweat": "tops", "knit": "tops", "maxi": "dresses", "platform": "shoes",
                   "skinny": "bottoms", "toe": "shoes", "flip": "shoes", "brim": "hats"}
# Category words a title may end in ("... shirt clothing accessories"): read only when it names nothing else.
_GENERIC = frozenset({"clothing", "accessory", "accessories", "jewelry", "jewellery", "footwear", "outerwear"})
# Accessories that, after a garment, are a part of it: "dress tie detail", "shorts silver studs" (a title ending in
# "belt" is a belt: "skinny jeans belt", "corset belt").
_PARTS = frozenset({"tie", "charm", "stud", "studs", "cape", "set"})
# A garment's parts and marks: never a garment ("short sleeves", "a white logo on the chest").
DETAILS = frozenset(["sleeve", "sleeves", "logo", "chest", "pocket", "pockets", "collar", "neck", "neckline", "hem", "button", "buttons", "print", "detail", "trim", "strap", "straps", "zip", "zipper", "waist", "back", "front", "lining", "hood", "embroidery"])
# Words after which a title only adds details of the garment named before them.
_DETAIL_MARKERS = ("with", "featuring", "in", "on", "by", "for", "from")
# Spellings read as one word before the words are looked up.
_SPELLINGS = ((r"\bt ?-? ?shirts?\b|\btee ?shirts?\b|\btees\b", "tee"), (r"\bcross ?-?body\b", "crossbody"),
              (r"\bflip ?-?flops?\b", "flipflop"), (r"\bslip ?-?ons?\b", "slipon"), (r"\bback ?pack", "backpack"),
              (r"\bsling ?-?backs?\b", "slingback"), (r"\b(long|short) ?-sleeved?\b", "longsleeve"),
              (r"\bbow ?-?ties?\b", "bowtie"), (r"\bcuff ?-?links?\b", "cufflinks"),
              (r"\b(bikini|bra|swim|tankini) (tops?|bottoms?|shorts?|briefs?)\b", "bikini"),
              (r"\b(wine|shot|drinking|champagne) glass(es)?\b", "glassware"),
              (r"\b(bean|laundry|tea|makeup|cosmetics?|toiletry|brush) bags?\b", "box"),
              (r"\bhair (clip|pin|bow|tie|band|slide)s?\b", "hairclip"), (r"\bmirror(ed)? lens", "lens"),
              (r"\b(card|passport) (case|holder)s?\b", "cardcase"),
              (r"\b(i?phone|ipad|ipod|laptop|macbook|tablet|glasses|pencil) (case|cover|sleeve)s?\b", "tech"),
              (r"\b(pajama|pyjama|sleep|lounge) (shorts?|pants?|tops?|shirts?)\b", "pajama"),
              (r"\bcover ?-?ups?\b", "coverup"), (r"\b(patio|beach|garden) umbrellas?\b", "decor"), (r"\bankle ?-?straps?\b", "anklestrap"),
              (r"\b(peep|pointed|pointy|open|almond|square) ?-?toed?\b", "toe"),
              (r"\bchuck taylor|\bair (max|force)|\broshe\b", "sneaker"), (r"\bcardigan sweater", "cardigan"),
              (r"\bray ?-?ban\b", "sunglasses"))
# Words that make a whole title a thing no one wears wherever they stand: "lighting pendant", "lamp shade top".
_THINGS = frozenset({"lighting", "lamp", "chandelier"})
# Makers known for one kind of item, read only when a title names no garment ("christian louboutin pigalle").
_MAKERS = {"louboutin": "shoes", "zanotti": "shoes", "casadei": "shoes", "madden": "shoes", "ugg": "shoes",
           "choo": "shoes", "blahnik": "shoes", "aquazzura": "shoes", "weitzman": "shoes", "edelman": "shoes",
           "olympia": "shoes", "rossi": "shoes", "campbell": "shoes", "frye": "shoes",
           "birkin": "bags", "hindmarch": "bags", "longchamp": "bags", "pandora": "jewelry", "tiffany": "jewelry",
           "baublebar": "jewelry", "ray": "accessories"}
_SLOT_OF_WORD = {word: slot for slot, words in _NOUNS.items() for word in words.split()}


def read_occasion_season(occasion: str | None, season: str | None) -> tuple[str | None, str | None, list[str]]:
    """The occasion and season as the model knows them, and a note for each everyday word read as one of them
    ("beach -> casual, summer"); a season given outright wins over the one an occasion word implies. A word the
    model never saw in a prompt would steer it nowhere, so any other word is refused in one line that lists the
    choices."""
    occasion, season = (occasion or "").strip().lower() or None, (season or "").strip().lower() or None
    notes, implied = [], None
    if occasion and occasion not in OCCASIONS:
        if occasion not in OCCASION_WORDS:
            raise StylistError(f"unknown occasion {occasion[:40]!r}: choose from {occasion_choices()}")
        word, (occasion, implied) = occasion, OCCASION_WORDS[occasion]
        notes.append(f"{word} -> {occasion}" + (f", {implied}" if implied and not season else ""))
    if season and season not in SEASONS:
        if season not in SEASON_WORDS:
            raise StylistError(f"unknown season {season[:40]!r}: choose from {season_choices()}")
        notes.append(f"{season} -> {SEASON_WORDS[season]}")
        season = SEASON_WORDS[season]
    return occasion, season or implied, notes


def occasion_choices() -> str:
    return f"{', '.join(OCCASIONS)} (or {', '.join(OCCASION_WORDS)})"


def season_choices() -> str:
    return f"{', '.join(SEASONS)} (or {', '.join(SEASON_WORDS)})"


def slot_of(category: str) -> str:
    """Map a category name, product title or typed phrase to one of SLOTS, or OTHER when it names nothing
    wearable (a brand, a lipstick, a lamp) or only a detail of a garment ("short sleeves")."""
    text = category.lower()
    for pattern, word in _SPELLINGS:
        text = re.sub(pattern, word, text)
    words = re.findall(r"[a-z0-9]+", text)
    if _THINGS.intersection(words):
        return OTHER
    garment = words[:next((n for n, w in enumerate(words) if n and w in _DETAIL_MARKERS), len(words))]
    return (_head(garment) or _head(words) or _head(words, generic=True)
            or next((_MAKERS[w] for w in reversed(words) if w in _MAKERS), OTHER))


def _head(words: list[str], generic: bool = False) -> str | None:
    """The slot of the last noun of a phrase that names a garment or a thing (None when none does); the category
    words of `_GENERIC` count only when `generic`."""
    trailing = True  # no noun or detail read yet: "short" may still be the garment ("denim short")
    for n in range(len(words) - 1, -1, -1):
        word = words[n]
        if word in _GENERIC and not generic or word in _PARTS and any(_noun(w) for w in words[:n]):
            continue
        slot = _noun(word) or (_TRAILING_NOUNS.get(word) if trailing else None)
        if slot:
            return slot
        trailing = trailing and word not in DETAILS
    return None


def _noun(word: str) -> str | None:
    """The slot of a known noun in the singular or plural ("dresses", "clutches", "boots")."""
    for form in (word, word[:-1] if word.endswith("s") else "", word[:-2] if word.endswith("es") else ""):
        if form in _SLOT_OF_WORD:
            return _SLOT_OF_WORD[form]
    return None


def split_garments(text: str) -> list[str]:
    """One typed description as the garments it names: "white t-shirt and blue denim shorts" is two items, while
    "black and white striped shirt" and "t-shirt with a logo on the chest and short sleeves" stay one, because a
    part is split off only when it names a garment itself.

    Commas, semicolons, new lines, " and ", " with " and " & " separate candidate parts; parts naming no garment
    stay joined, as typed, to the garment after them (or, at the end, to the one before)."""
    pieces = re.split(r"([,;\n]| and | with | & )", text.strip())  # parts at even places, separators between
    garments = [n for n in range(0, len(pieces), 2) if slot_of(pieces[n]) != OTHER]
    if not garments:
        return [text.strip()]
    starts = [0, *(n + 2 for n in garments[:-1])]
    ends = [*garments[:-1], len(pieces) - 1]
    items = ["".join(pieces[a:b + 1]).strip(" ,;.\n") for a, b in zip(starts, ends)]
    return [i for i in items if i] or [text.strip()]
