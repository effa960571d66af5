"""Must-show of the feedback loop: a simulated user with a taste the recommender does not share clicks
on top-5 recommendations, one DPO refine runs, and the liked share rises on outfits it never clicked on.

    python bench/simulated_user.py --out runs/simulated_user.json       # the reported run (test split)
    python bench/simulated_user.py --split valid --grid '{"beta": 0.5}' '{"learning_rate": 5e-4}'  # tuning
    python bench/simulated_user.py --split valid --taste colour --clicks 30 --grid '{}' '{"method": "kto"}'  # KTO

The user has one of three tastes (`--taste`): "monochrome" (the default) likes solid black, white and grey pieces and
dislikes everything else (red, colours, any pattern); "colour" likes pieces whose main colour is not a neutral;
"pattern" likes patterned pieces (stripes, dots, checks, florals); the last two go against the model's own lean to
neutrals. The demo catalog's outfits are split by a hash of their id: the user is shown outfits of the
first half with one piece missing and clicks like or dislike on each of the 5 suggestions (through the
real FeedbackStore, as the app does), until 200 clicks; `refine` then trains on those pairs. The liked
share of the top 5 is measured before and after on outfits of the second half (`--split test`), and
FITB of the recommender's scorer on the held-out Polyvore test part. Configs are chosen with
`--split valid`: first-half outfits the user never clicked on and the Polyvore validation part.
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import torch
from tqdm import tqdm

from stylist.core.adapters import AdapterRegistry
from stylist.core.catalog import Catalog, Item, Outfit, load_catalog
from stylist.core.errors import StylistError
from stylist.core.feedback import Context, FeedbackStore, Option
from stylist.core.prompts import item_caption
from stylist.data.splits import bucket, polyvore_catalog, polyvore_split
from stylist.evaluation.outfits import build_fitb_questions, fitb_accuracy
from stylist.recommend.recommender import Recommender
from stylist.train.refine import RefineConfig, refine

LIKED_COLOURS = {"black", "white", "grey"}
NEUTRALS = {"black", "white", "grey", "navy", "beige", "brown"}
TASTES: dict[str, Callable[[Item], bool]] = {
    "monochrome": lambda i: bool(i.colors) and i.colors[0] in LIKED_COLOURS and i.pattern in ("", "solid"),
    "colour": lambda i: bool(i.colors) and i.colors[0] not in NEUTRALS,
    "pattern": lambda i: i.pattern not in ("", "solid"),
}


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


def top_k(recommender: Recommender, q: Query, k: int, adapter: Path | None = None) -> list[Item]:
    found = recommender.recommend(q.captions, q.occasion, q.season, k=k, slots=[q.slot], adapter=adapter)
    return [s.item for s in found.get(q.slot, [])]


def liked_share(recommender: Recommender, qs: list[Query], k: int, desc: str, likes: Callable[[Item], bool],
                adapter: Path | None = None) -> float:
    shown = [likes(item) for q in tqdm(qs, desc=desc, leave=False) for item in top_k(recommender, q, k, adapter)]
    return sum(shown) / max(len(shown), 1)


def click(recommender: Recommender, store: FeedbackStore, qs: list[Query], clicks: int, k: int,
          likes: Callable[[Item], bool], user: str) -> int:
    """The user looks at the top k for each training outfit and likes or dislikes every one of them."""
    done = 0
    for q in tqdm(qs, desc="clicking", leave=False):
        items = top_k(recommender, q, k)[:clicks - done]
        shown = [Option(i.id, item_caption(i)) for i in items]
        context = Context(tuple(q.captions), q.slot, q.occasion, q.season)
        for item, option in zip(items, shown):
            store.record(user, context, option, "like" if likes(item) else "dislike", options=shown, adapter_version=0)
        done += len(items)
        if done >= clicks:
            break
    return done


def polyvore_fitb(recommender: Recommender, part: str, seeds: tuple[int, ...], adapter: Path | None = None) -> float:
    """FITB of the recommender's own scorer (LM PMI + counts, with this adapter) on a Polyvore part, averaged
    over question seeds (other blanks and negatives): one seed's ~200 questions are too noisy for a 0.03 bar."""
    catalog = polyvore_catalog()
    outfits = polyvore_split(catalog)[part]
    scorer = recommender.model.scorer(adapter)
    return float(np.mean([fitb_accuracy(scorer, catalog, build_fitb_questions(catalog, outfits, seed=seed),
                                        seed=seed, progress=False) for seed in seeds]))


def run(configs: list[RefineConfig], data: Path, split: str = "test", clicks: int = 200, k: int = 5,
        outfits: int = 80, llm: str | None = None, sft_adapter: str | None = None,
        fitb_seeds: tuple[int, ...] = (0, 1, 2, 3, 4), taste: str = "monochrome") -> dict:
    """Click once, then refine v0 with each config; measure on `split`: 'test' = the held-out half of the
    demo outfits and Polyvore test FITB (for reporting), 'valid' = training-half outfits the user never
    clicked on and Polyvore valid FITB (for choosing a config)."""
    catalog = load_catalog("demo")
    first_half = queries(catalog, [o for o in catalog.outfits if bucket(o.id) < 50])
    recommender = Recommender.load(catalog, llm=llm, adapter=sft_adapter)
    store = FeedbackStore(data / "feedback.sqlite")
    likes, user = TASTES[taste], f"sim-{taste}"
    clicked = click(recommender, store, first_half, clicks, k, likes, user)
    shown = {e.context.key for e in store.events(user)}
    if split == "test":
        measured = queries(catalog, [o for o in catalog.outfits if bucket(o.id) >= 50])[:outfits]
    else:
        measured = [q for q in first_half if Context(tuple(q.captions), q.slot, q.occasion, q.season).key
                    not in shown][:outfits]
    fitb_part = "test" if split == "test" else "valid"
    base = {"liked_share": liked_share(recommender, measured, k, "v0", likes),
            "fitb": polyvore_fitb(recommender, fitb_part, fitb_seeds)}
    counts = store.counts(user)
    report = {"split": split, "taste": taste, "clicks": clicked, "likes": counts["like"], "dislikes": counts["dislike"],
              "clicked_outfits": len(shown), "measured_outfits": len(measured), "fitb_part": fitb_part,
              "fitb_seeds": list(fitb_seeds), "before": base, "runs": []}
    registry = AdapterRegistry(data / "adapters", sft_adapter)
    for config in configs:
        registry.activate(0)  # every config refines the same starting adapter on the same clicks
        started = time.time()
        try:
            result = refine(data, user, config, llm=llm, sft_adapter=sft_adapter)
        except StylistError as exc:  # too few votes for this method: a cell of its own, where it gained nothing
            report["runs"].append({"config": asdict(config), "cannot_train": str(exc), "gain_pp": 0.0})
            continue
        seconds = time.time() - started
        adapter = registry.path(result.version)
        share = liked_share(recommender, measured, k, f"v{result.version}", likes, adapter)
        report["runs"].append({
            "config": asdict(config), "version": result.version, "train_pairs": result.train_pairs,
            "steps": result.steps, "train_seconds": result.train_seconds, "refine_seconds": seconds,
            "liked_share": share, "gain_pp": 100 * (share - base["liked_share"]),
            "fitb": polyvore_fitb(recommender, fitb_part, fitb_seeds, adapter),
            "preference_accuracy": result.after["preference_accuracy"],
            "preference_accuracy_before": result.before["preference_accuracy"]})
        report["runs"][-1]["fitb_drop"] = base["fitb"] - report["runs"][-1]["fitb"]
    return report


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--split", choices=["test", "valid"], default="test",
                        help="test: report on held-out outfits; valid: choose a config without touching them")
    parser.add_argument("--grid", nargs="*", default=[], metavar="JSON",
                        help='refine configs to compare, e.g. \'{"beta": 0.5}\' (default: RefineConfig())')
    parser.add_argument("--clicks", type=int, default=200)
    parser.add_argument("--taste", choices=sorted(TASTES), default="monochrome", help="what the simulated user likes")
    parser.add_argument("--outfits", type=int, default=80, help="outfits the liked share is measured on")
    parser.add_argument("--fitb-seeds", type=int, nargs="+", default=[0, 1, 2, 3, 4],
                        help="Polyvore FITB question seeds to average over (~200 questions each)")
    parser.add_argument("--llm", default=None, help="base LM (default: the embedded one)")
    parser.add_argument("--sft-adapter", default=None, help="adapter version 0 (default: the committed SFT adapter)")
    parser.add_argument("--data-dir", default=None, help="a fresh data folder (default: a temporary one)")
    parser.add_argument("--json", action="store_true")
    parser.add_argument("--out", default=None, help="also write the result JSON here")
    args = parser.parse_args(argv)
    torch.set_num_threads(1)
    # the bench measures Polyvore FITB itself on the whole part, so refine skips its quick 100-question one
    configs = [RefineConfig(**{"fitb_questions": 0, **json.loads(g)}) for g in args.grid or ["{}"]]
    with tempfile.TemporaryDirectory(prefix="stylist-sim-") as tmp:
        data = Path(args.data_dir or tmp)
        data.mkdir(parents=True, exist_ok=True)
        if (data / "feedback.sqlite").exists():
            parser.error(f"{data} already holds feedback: give a fresh --data-dir")
        report = run(configs, data, args.split, args.clicks, outfits=args.outfits, llm=args.llm,
                     sft_adapter=args.sft_adapter, fitb_seeds=tuple(args.fitb_seeds), taste=args.taste)
    if args.out:
        Path(args.out).write_text(json.dumps(report, indent=1))
    if args.json:
        print(json.dumps(report))
        return 0
    b = report["before"]
    print(f"{report['clicks']} clicks ({report['likes']} likes) on {report['clicked_outfits']} outfits; measured on "
          f"{report['measured_outfits']} {report['split']} outfits and Polyvore {report['fitb_part']} FITB")
    print(f"v0 (SFT): liked share {b['liked_share']:.3f}, FITB {b['fitb']:.3f}")
    for r in report["runs"]:
        c = r["config"]
        if "cannot_train" in r:
            print(f"{c['method'].upper()}: cannot train: {r['cannot_train']}")
            continue
        print(f"{c['method'].upper()} lr {c['learning_rate']:g} beta {c['beta']:g} epochs {c['epochs']:g} "
              f"anchors {c['anchors']:g} "
              f"sft {c['sft_weight']:g}: liked share "
              f"{r['liked_share']:.3f} ({r['gain_pp']:+.1f} pp), FITB {r['fitb']:.3f} ({-r['fitb_drop']:+.3f}); "
              f"{r['train_pairs']} pairs or votes, {r['steps']} steps, {r['train_seconds']:.0f} s training, "
              f"{r['refine_seconds']:.0f} s refine")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
