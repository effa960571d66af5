"""The outfit model's results table for any base LM, adapter and scoring weights, on the Maryland outfits.

    python bench/lm_table.py --outfits maryland --split valid --llm runs/pretrain --adapter runs/sft \
        --scoring runs/sft/scoring.json --scoring-base runs/pretrain/scoring_base.json

`bench/outfit_table.py` measures the embedded checkpoints on the Maryland test part; this one measures
candidates before they are adopted (choose on --split valid, read test once). Rows: chance, counts, base LM
(PMI alone and + counts, with the base's own weights), LoRA-SFT (alone and + counts = the recommender's scorer).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import torch

from stylist.core.catalog import load_polyvore
from stylist.core.paths import shared_data
from stylist.data.splits import split_outfits
from stylist.evaluation.outfits import ChanceScorer, ResultsTable
from stylist.models.outfit import load_outfit_model

ROWS = (  # label, uses the LM, uses the counts, adapter (None = the SFT adapter given)
    ("chance", False, False, None), ("counts", False, True, None),
    ("base LM, PMI", True, False, "none"), ("base LM PMI + counts", True, True, "none"),
    ("LoRA-SFT, PMI", True, False, None), ("LoRA-SFT PMI + counts (the recommender's scorer)", True, True, None),
)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--outfits", default="maryland", help="maryland, or a Polyvore-format file with categories")
    parser.add_argument("--split", default="valid", choices=["valid", "test"])
    parser.add_argument("--llm", help="base LM folder (default: checkpoints/base-lm)")
    parser.add_argument("--adapter", help="LoRA-SFT adapter folder (default: the embedded one)")
    parser.add_argument("--scoring", help="the adapter's weights (scoring.json; default: checkpoints/scorer)")
    parser.add_argument("--scoring-base", help="the bare base LM's weights (scoring_base.json)")
    parser.add_argument("--seeds", type=int, nargs="+", default=[0])
    parser.add_argument("--limit", type=int, help="the first N outfits of the part")
    parser.add_argument("--rows", nargs="+", help="only rows whose label starts with one of these")
    parser.add_argument("--json", help="also write the numbers here")
    args = parser.parse_args()
    torch.set_num_threads(1)
    path = shared_data() / "polyvore" / "outfits.json" if args.outfits == "maryland" else args.outfits
    catalog = load_polyvore(path)
    outfits = split_outfits(catalog.outfits)[args.split][:args.limit]
    table, shared = ResultsTable(catalog, outfits, args.seeds), {}
    for label, use_lm, use_counts, adapter in ROWS:
        if args.rows and not any(label.startswith(r) for r in args.rows):
            continue
        adapter = adapter or args.adapter
        weights = args.scoring_base if adapter == "none" else args.scoring
        if not use_lm and not use_counts:
            scorer = ChanceScorer()
        else:
            scorer = load_outfit_model(args.llm, adapter, use_lm=use_lm, use_counts=use_counts,
                                       share=shared.get(adapter) if use_lm else None,
                                       **({"scoring": weights} if weights else {}))
            if use_lm:  # rows on the same LM and adapter share its memoised likelihoods
                shared.setdefault(adapter, scorer)
        table.add(label, scorer)
    print(table.markdown(f"{args.outfits} {args.split} part"))
    if args.json:
        Path(args.json).write_text(json.dumps({"args": vars(args), "n": table.questions, **table.to_json()}, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
