"""Must-show of the feedback loop: a simulated user with a taste the recommender does not share clicks
on top-5 recommendations, one DPO refine runs, and the liked share rises on outfits it never clicked on.

    python bench/simulated_user.py                       # demo catalog, 200 clicks, embedded models
    python bench/simulated_user.py --json --out runs/simulated_user.json

The user likes solid black, white and grey pieces and dislikes everything else (red, colours, any
pattern). The demo catalog's outfits are split by a hash of their id: the user is shown outfits of the
first half with one piece missing and clicks like or dislike on each of the 5 suggestions (through the
real FeedbackStore, as the app does), until 200 clicks; `refine` then trains on those pairs. The liked
share of the top 5 is measured before and after on outfits of the second half only; held-out Polyvore
FITB (the recommender's scorer) before and after comes from the refine's own metrics.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

from tqdm import tqdm

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from stylist.catalog import Catalog, Item, Outfit, load_catalog  # noqa: E402
from stylist.feedback import Context, FeedbackStore, Option  # noqa: E402
from stylist.prompts import item_caption  # noqa: E402
from stylist.recommending import Recommender  # noqa: E402
from stylist.refine import RefineConfig, refine  # noqa: E402
from stylist.splits import bucket  # noqa: E402

USER = "sim-monochrome"
LIKED_COLOURS = {"black", "white", "grey"}


def likes(item: Item) -> bool:
    """The simulated taste: solid black, white or grey; anything red, coloured or patterned is disliked."""
    return bool(item.colors) and item.colors[0] in LIKED_COLOURS and item.pattern in ("", "solid")


@dataclass
class Query:
    """An outfit with one piece taken out: what the user has, and which slot to fill."""

    outfit: str
    captions: list[str]
    slot: str
    occasion: str | None
    season: str | None


def queries(catalog: Catalog, outfits: list[Outfit]) -> list[Query]:
    out = []
    for n, outfit in enumerate(outfits):
        items = catalog.outfit_items(outfit)
        if len(items) < 2:
            continue
        missing = items[n % len(items)]  # a different slot across outfits
        out.append(Query(outfit.id, [item_caption(i) for i in items if i is not missing], missing.slot,
                         outfit.tags.get("occasion"), outfit.tags.get("season")))
    return out


def top_k(recommender: Recommender, q: Query, k: int) -> list[Item]:
    found = recommender.recommend(q.captions, q.occasion, q.season, k=k, slots=[q.slot]).get(q.slot, [])
    return [s.item for s in found]


def liked_share(recommender: Recommender, qs: list[Query], k: int, desc: str) -> float:
    shown = [likes(item) for q in tqdm(qs, desc=desc, leave=False) for item in top_k(recommender, q, k)]
    return sum(shown) / max(len(shown), 1)


def click(recommender: Recommender, store: FeedbackStore, qs: list[Query], clicks: int, k: int) -> int:
    """The user looks at the top k for each training outfit and likes or dislikes every one of them."""
    done = 0
    for q in tqdm(qs, desc="clicking", leave=False):
        items = top_k(recommender, q, k)[:clicks - done]
        shown = [Option(i.id, item_caption(i)) for i in items]
        context = Context(tuple(q.captions), q.slot, q.occasion, q.season)
        for item, option in zip(items, shown):
            store.record(USER, context, option, "like" if likes(item) else "dislike", options=shown, adapter_version=0)
        done += len(items)
        if done >= clicks:
            break
    return done


@dataclass
class BenchConfig:
    clicks: int = 200
    k: int = 5
    heldout_outfits: int = 80
    refine: RefineConfig = field(default_factory=lambda: RefineConfig(fitb_questions=1000))


def run(config: BenchConfig, data: Path, llm: str | None = None, sft_adapter: str | None = None) -> dict:
    catalog = load_catalog("demo")
    train_outfits = [o for o in catalog.outfits if bucket(o.id) < 50]
    test_outfits = [o for o in catalog.outfits if bucket(o.id) >= 50]
    train_qs, test_qs = queries(catalog, train_outfits), queries(catalog, test_outfits)[:config.heldout_outfits]
    recommender = Recommender.load(catalog, llm=llm, adapter=sft_adapter)
    store = FeedbackStore(data / "feedback.sqlite")
    clicks = click(recommender, store, train_qs, config.clicks, config.k)
    before = liked_share(recommender, test_qs, config.k, "held-out before")
    started = time.time()
    result = refine(data, USER, config.refine, llm=llm, sft_adapter=sft_adapter)
    refine_seconds = time.time() - started
    recommender.set_adapter(data / "adapters" / str(result.version))
    after = liked_share(recommender, test_qs, config.k, "held-out after")
    counts = store.counts(USER)
    return {"clicks": clicks, "likes": counts["like"], "dislikes": counts["dislike"],
            "train_pairs": result.train_pairs, "heldout_pairs": result.heldout_pairs,
            "train_outfits_clicked": len({e.context.key for e in store.events(USER)}),
            "heldout_outfits": len(test_qs), "liked_share_before": before, "liked_share_after": after,
            "gain_pp": 100 * (after - before), "fitb_before": result.before.get("fitb"),
            "fitb_after": result.after.get("fitb"), "preference_accuracy_before": result.before.get("preference_accuracy"),
            "preference_accuracy_after": result.after.get("preference_accuracy"),
            "reward_accuracy_after": result.after.get("reward_accuracy"), "refine_train_seconds": result.train_seconds,
            "refine_total_seconds": refine_seconds, "steps": result.steps, "config": asdict(config)}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--clicks", type=int, default=200)
    parser.add_argument("--heldout-outfits", type=int, default=80)
    parser.add_argument("--learning-rate", type=float, default=RefineConfig.learning_rate)
    parser.add_argument("--beta", type=float, default=RefineConfig.beta)
    parser.add_argument("--epochs", type=float, default=RefineConfig.epochs)
    parser.add_argument("--fitb-questions", type=int, default=1000, help="held-out Polyvore FITB questions")
    parser.add_argument("--llm", default=None, help="base LM (default: the embedded one)")
    parser.add_argument("--sft-adapter", default=None, help="adapter version 0 (default: the committed SFT adapter)")
    parser.add_argument("--data-dir", default=None, help="a fresh data folder (default: a temporary one)")
    parser.add_argument("--json", action="store_true")
    parser.add_argument("--out", default=None, help="also write the result JSON here")
    args = parser.parse_args(argv)
    config = BenchConfig(args.clicks, heldout_outfits=args.heldout_outfits, refine=RefineConfig(
        learning_rate=args.learning_rate, beta=args.beta, epochs=args.epochs, fitb_questions=args.fitb_questions))
    with tempfile.TemporaryDirectory(prefix="stylist-sim-") as tmp:
        data = Path(args.data_dir or tmp)
        data.mkdir(parents=True, exist_ok=True)
        if (data / "feedback.sqlite").exists():
            parser.error(f"{data} already holds feedback: give a fresh --data-dir")
        result = run(config, data, args.llm, args.sft_adapter)
    if args.out:
        Path(args.out).write_text(json.dumps(result, indent=1))
    if args.json:
        print(json.dumps(result))
        return 0
    print(f"{result['clicks']} clicks ({result['likes']} likes) on {result['train_outfits_clicked']} outfits -> "
          f"{result['train_pairs']} training pairs; refine {result['refine_train_seconds']:.0f} s training, "
          f"{result['refine_total_seconds']:.0f} s with metrics")
    print(f"liked share of the top {config.k} on {result['heldout_outfits']} held-out outfits: "
          f"{result['liked_share_before']:.3f} -> {result['liked_share_after']:.3f} ({result['gain_pp']:+.1f} pp)")
    print(f"held-out Polyvore FITB: {result['fitb_before']} -> {result['fitb_after']}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
