"""Accuracy of the garment reader (`vocabulary.slot_of`) on Polyvore titles labelled by their shop category.

    python -m stylist eval garments --part valid [--json] [--errors 30]

Overall and per true slot (`stylist.data.garment_labels`); 'test' is read once, after the reader is chosen.
"""

from __future__ import annotations

import argparse
import json
from collections import Counter

from stylist.core.options import summary
from stylist.core.vocabulary import OTHER, SLOTS, slot_of
from stylist.data.garment_labels import labelled_titles


def evaluate(titles: list[tuple[str, str]]) -> dict:
    """Accuracy overall and per true slot, and the mistakes (title, true slot, read slot)."""
    mistakes = [(title, slot, slot_of(title)) for title, slot in titles if slot_of(title) != slot]
    wrong = Counter(slot for _, slot, _ in mistakes)
    total = Counter(slot for _, slot in titles)
    return {"n": len(titles), "accuracy": round(1 - len(mistakes) / max(len(titles), 1), 4),
            "per_slot": {s: {"n": total[s], "accuracy": round(1 - wrong[s] / total[s], 4)}
                         for s in (*SLOTS, OTHER) if total[s]},
            "mistakes": mistakes}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m stylist eval garments", description=summary(__doc__))
    parser.add_argument("command", choices=["garments"], help=argparse.SUPPRESS)
    parser.add_argument("--part", default="valid", choices=["train", "valid", "test", "all"],
                        help="which outfits' titles (split by set id; test is read once)")
    parser.add_argument("--errors", type=int, default=20, help="how many mistakes to print")
    parser.add_argument("--json", action="store_true", help="print one JSON object (without the mistakes)")
    args = parser.parse_args(argv)
    result = evaluate(labelled_titles(args.part))
    if args.json:
        print(json.dumps({k: v for k, v in result.items() if k != "mistakes"}))
        return 0
    print(f"{args.part}: {result['n']} titles, accuracy {result['accuracy']:.4f}")
    for slot, row in result["per_slot"].items():
        print(f"  {slot:12s} {row['n']:5d}  {row['accuracy']:.4f}")
    for title, slot, read in result["mistakes"][:args.errors]:
        print(f"  {slot:>11s} read as {read:11s} {title}")
    return 0
