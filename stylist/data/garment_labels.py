"""Polyvore item titles labelled with the slot their shop category names: the test set of the garment reader.

Every Polyvore item carries a shop category id (`category_id.txt`). The table below maps each wearable
category name to one of `SLOTS`; every other category (beauty, home, stationery, swimwear, underwear) is
`OTHER`, and categories that do not say what the item is ("Clothing", "Men's Fashion", "Kids") are left out.
Titles split by their outfit's set id like every Polyvore use (`splits.part_of`), so the reader is written
on 'train' titles, compared on 'valid' and read once on 'test'.

    python -m stylist eval garments --part valid
"""

from __future__ import annotations

from stylist.core.vocabulary import OTHER
from stylist.data.splits import part_of, polyvore_catalog

# Category names that say nothing about the kind of item: their titles carry no label.
UNLABELLED = frozenset({
    "Clothing", "Men's Clothing", "Men's Fashion", "Activewear", "Men's Activewear", "Maternity", "Juniors",
    "Kids", "Boys", "Girls", "Baby", "Costumes", "Accessories", "Men's Accessories", "Sports & Outdoors",
    "Outdoors", "Men's Watches & Jewelry",
})

CATEGORY_SLOTS: dict[str, tuple[str, ...]] = {
    "tops": ("Tops", "Tunics", "Blouses", "Sweaters", "T-Shirts", "Men's Tank Tops", "Tank Tops", "Camisoles",
             "Activewear Tops", "Men's Shirts", "Men's Sweaters", "Men's T-Shirts", "Men's Activewear Tops",
             "Activewear Tank Tops", "Men's Polos", "Men's Casual Shirts", "Sweatshirts", "Hoodies",
             "Men's Sweatshirts", "Men's Hoodies", "Men's Dress Shirts"),
    "bottoms": ("Skirts", "Mini Skirts", "Knee Length Skirts", "Long Skirts", "Jeans", "Pants", "Shorts",
                "Skinny Jeans", "Bootcut Jeans", "Wide Leg Jeans", "Boyfriend Jeans", "Leggings", "Activewear Pants",
                "Activewear Skirts", "Activewear Shorts", "Men's Jeans", "Men's Pants", "Men's Shorts",
                "Men's Activewear Pants", "Men's Activewear Shorts", "Straight Leg Jeans", "Flared Jeans",
                "Men's Casual Pants", "Men's Dress Pants", "Capri & Cropped Pants"),
    "dresses": ("Dresses", "Day Dresses", "Cocktail Dresses", "Gowns", "Jumpsuits", "Rompers", "Wedding Dresses"),
    "outerwear": ("Cardigans", "Outerwear", "Coats", "Jackets", "Vests", "Blazers", "Activewear Jackets",
                  "Men's Outerwear", "Men's Sportcoats & Blazers", "Men's Activewear Jackets", "Men's Coats",
                  "Men's Jackets", "Men's Vests"),
    "shoes": ("Shoes", "Boots", "Pumps", "Sandals", "Flats", "Flip Flops", "Sneakers", "Slippers", "Ankle Booties",
              "Mid Calf Boots", "Knee High Boots", "Over-The-Knee Boots", "Loafers & Moccasins", "Oxfords", "Clogs",
              "Athletic Shoes", "Men's Shoes", "Men's Boots", "Men's Sandals", "Men's Flip Flops",
              "Men's Loafers & Moccasins", "Men's Dress Shoes", "Men's Sneakers", "Men's Athletic Shoes",
              "Men's Oxfords", "Men's Slippers", "Men's Work Boots"),
    "bags": ("Bags", "Tote Bags", "Shoulder Bags", "Clutches", "Wallets", "Messenger Bags", "Backpacks",
             "Briefcases", "Handbags", "Men's Bags & Wallets", "Men's Bags", "Men's Briefcases", "Men's Wallets",
             "Men's Backpacks", "Men's Messenger Bags"),
    "accessories": ("Belts", "Gloves", "Ties", "Sunglasses", "Hair Accessories", "Watches", "Scarves", "Men's Belts",
                    "Men's Gloves", "Men's Scarves", "Men's Sunglasses", "Men's Watches", "Suspenders", "Eyewear",
                    "Eyeglasses", "Men's Eyeglasses", "Bow Ties", "Umbrellas", "Men's Umbrellas"),
    "jewelry": ("Jewelry", "Necklaces", "Earrings", "Rings", "Brooches", "Bracelets & Bangles", "Charms & Pendants",
                "Cuff Links", "Men's Bracelets", "Men's Necklaces", "Men's Rings"),
    "hats": ("Hats", "Men's Hats"),
}
_SLOT_OF_CATEGORY = {name: slot for slot, names in CATEGORY_SLOTS.items() for name in names}


def category_slot(name: str) -> str | None:
    """The slot a Polyvore category name stands for, OTHER for a non-wearable one, None when it does not say."""
    return None if name in UNLABELLED else _SLOT_OF_CATEGORY.get(name, OTHER)


def labelled_titles(part: str) -> list[tuple[str, str]]:
    """(title, slot) of every titled Polyvore item in a labelled category whose outfit is in `part`
    ('train', 'valid', 'test' or 'all'); a title is kept once per part."""
    catalog = polyvore_catalog()
    seen: dict[str, str] = {}
    for outfit in catalog.outfits:
        if part != "all" and part_of(outfit.id) != part:
            continue
        for item in catalog.outfit_items(outfit):
            slot = category_slot(item.category) if item.category else None
            if item.title.strip() and slot is not None:
                seen.setdefault(item.title.strip(), slot)
    return sorted(seen.items())
