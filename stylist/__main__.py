"""The command line: `python -m stylist <command> [args]`; `python -m stylist` lists the commands.

Each command lives in the module that owns its concept and exposes `main(argv) -> int`; modules are
imported only when their command runs, so `catalog-info` never pays for loading torch.
"""

from __future__ import annotations

import importlib
import sys

from stylist.core.errors import StylistError

# command (or "command subcommand") -> (module, one-line help)
COMMANDS: dict[str, tuple[str, str]] = {
    "catalog-info": ("stylist.core.catalog", "item and category counts of a catalog (demo, folder, JSON)"),
    "make-demo-catalog": ("stylist.data.demo_catalog", "regenerate the built-in demo catalog in assets/demo"),
    "caption": ("stylist.models.captioner", "caption garment photos"),
    "contact-sheet": ("stylist.data.contact_sheet", "draw 24 photos with their generated captions"),
    "train-captioner": ("stylist.train.captioner", "train the embedded captioner on garment photos"),
    "train-caption-words": ("stylist.train.caption_words", "fit the captioner's pattern word on labelled real photos"),
    "train-lm": ("stylist.train.lm", "pre-train the base LM, then LoRA-SFT the outfit adapter"),
    "train-embedder": ("stylist.train.embedder", "build the embedded sentence embedder"),
    "recommend": ("stylist.recommend.recommender", "complete an outfit from captions"),
    "export-feedback": ("stylist.core.feedback", "export preference pairs (trl JSONL) or a feedback dataset (parquet)"),
    "import-feedback": ("stylist.core.feedback_dataset", "pool a feedback dataset exported by another instance"),
    "refine": ("stylist.train.refine", "DPO-refine the active adapter on recorded feedback"),
    "adapters": ("stylist.core.adapters", "list, activate or roll back adapter versions"),
    "train-preference": ("stylist.train.preference", "train the per-user preference model"),
    "eval captions": ("stylist.evaluation.captions", "category accuracy of the captioner"),
    "eval garments": ("stylist.evaluation.garments", "slot accuracy of the garment reader on labelled Polyvore titles"),
    "eval fitb": ("stylist.evaluation.outfits", "fill-in-the-blank accuracy"),
    "eval compat": ("stylist.evaluation.outfits", "compatibility ROC AUC"),
    "eval retrieval": ("stylist.evaluation.retrieval", "generation -> retrieval recall@1/@10 of held-out missing items"),
    "eval preference": ("stylist.evaluation.preference", "per-user like/dislike prediction"),
}


def usage() -> str:
    lines = ["usage: python -m stylist <command> [args]   (each command takes --help)", ""]
    lines += [f"  {name:20s} {text}" for name, (_, text) in COMMANDS.items()]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if not argv or argv[0] in ("-h", "--help", "help"):
        print(usage())
        return 0
    name = " ".join(argv[:2]) if " ".join(argv[:2]) in COMMANDS else argv[0]
    if name not in COMMANDS:
        print(f"error: unknown command {' '.join(argv[:2])!r}\n\n{usage()}", file=sys.stderr)
        return 2
    rest = argv[len(name.split()):]
    module = importlib.import_module(COMMANDS[name][0])
    try:
        if len(name.split()) == 2:  # "eval fitb": the module's main gets the subcommand first
            return int(module.main([name.split()[1], *rest]) or 0)
        return int(module.main(rest) or 0)
    except StylistError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
