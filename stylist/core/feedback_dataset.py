"""The feedback as a Hugging Face dataset: parquet files and a dataset card, so the votes collected at one demo can
be shared, read with `datasets.load_dataset("parquet", ...)`, and pooled into another instance's store.

    python -m stylist export-feedback --format dataset --out feedback-dataset/ [--catalog demo]
    python -m stylist import-feedback feedback-dataset/ [--data-dir D]

The folder holds three configurations, one parquet file each:
- `votes/`: every click as recorded (undone ones too, with when), with its id unique across instances
  (`<instance>:<number>`), the visitor's request (captions, slot, occasion, season), the options shown, the item
  and the adapter version that suggested it: what `import-feedback` reads back;
- `paired/`: the DPO preference pairs (prompt, chosen, rejected) by the store's pair rule;
- `unpaired/`: the KTO votes (prompt, completion, label) by its vote rule.
Visitors appear only as their server-issued ids: no names, no addresses. The folder is written beside its final
place and renamed when complete, so a failed export leaves nothing half written.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
import time
from collections import Counter
from dataclasses import asdict
from importlib import metadata
from pathlib import Path

from stylist.core.errors import StylistError
from stylist.core.feedback import Context, Event, FeedbackStore, Option, build_pairs, build_votes, open_store

PARTS = ("votes", "paired", "unpaired")
LICENSE = "cc-by-4.0"


def vote_rows(events: list[Event], instance: str) -> list[dict]:
    """One row per click, with everything a dataset user needs and nothing personal beyond the visitor id."""
    return [{"vote_id": e.vote_id(instance), "visitor": e.user, "time": e.time, "captions": list(e.context.captions),
             "slot": e.context.slot, "occasion": e.context.occasion, "season": e.context.season,
             "options": [asdict(o) for o in e.options], "item_id": e.item_id, "item_text": e.item_text,
             "adapter_version": e.adapter_version, "label": e.label, "undone_at": e.undone_at,
             "prompt": e.context.prompt} for e in sorted(events, key=lambda e: e.id)]


def export_dataset(store: FeedbackStore, out: str | os.PathLike, catalog: str | None = None,
                   license_id: str = LICENSE) -> dict[str, int]:
    """Write the store's feedback as a dataset folder at `out` (which must not exist yet); returns the counts."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    out = Path(out)
    if out.exists():
        raise StylistError(f"{out} exists already: name a new folder for the dataset")
    events = store.events(include_undone=True)  # one snapshot for all three parts
    active = [e for e in events if e.undone_at is None]
    tables = {"votes": vote_rows(events, store.instance),
              "paired": [{**p.trl(), "visitor": p.user, "context": p.context_key} for p in build_pairs(active)],
              "unpaired": [{**v.trl(), "visitor": v.user, "context": v.context_key} for v in build_votes(active)]}
    counts = {name: len(rows) for name, rows in tables.items()}
    out.parent.mkdir(parents=True, exist_ok=True)
    scratch = Path(tempfile.mkdtemp(prefix=".tmp-dataset-", dir=out.parent))
    try:
        for name, rows in tables.items():
            (scratch / name).mkdir()
            table = pa.Table.from_pylist(rows) if rows else pa.Table.from_pylist([], schema=_empty_schema(name))
            pq.write_table(table, scratch / name / "train.parquet")
        (scratch / "README.md").write_text(card(events, counts, store.instance, catalog, license_id))
        os.replace(scratch, out)
    except BaseException:
        shutil.rmtree(scratch, ignore_errors=True)
        raise
    return counts


def _empty_schema(name: str):
    """The columns of a part with no rows, so an empty export still loads with its fields."""
    import pyarrow as pa

    text = pa.string()
    fields = {"paired": [("prompt", text), ("chosen", text), ("rejected", text), ("visitor", text), ("context", text)],
              "unpaired": [("prompt", text), ("completion", text), ("label", pa.bool_()), ("visitor", text),
                           ("context", text)],
              "votes": [("vote_id", text), ("visitor", text), ("time", pa.float64()), ("captions", pa.list_(text)),
                        ("slot", text), ("occasion", text), ("season", text),
                        ("options", pa.list_(pa.struct([("id", text), ("text", text)]))), ("item_id", text),
                        ("item_text", text), ("adapter_version", pa.int64()), ("label", text),
                        ("undone_at", pa.float64()), ("prompt", text)]}[name]
    return pa.schema(fields)


def card(events: list[Event], counts: dict[str, int], instance: str, catalog: str | None, license_id: str) -> str:
    """The dataset card: what the fields are, how many, under which licence, and how the votes were collected."""
    labels = Counter("undone" if e.undone_at is not None else e.label for e in events)
    versions = sorted({e.adapter_version for e in events if e.adapter_version is not None})
    origins = sorted({e.origin or instance for e in events})
    first, last = (min(e.time for e in events), max(e.time for e in events)) if events else (None, None)
    day = lambda t: time.strftime("%Y-%m-%d", time.gmtime(t)) if t else "-"  # noqa: E731
    try:
        version = metadata.version("stylist")
    except metadata.PackageNotFoundError:
        version = "unknown"
    configs = "\n".join(f"- config_name: {name}\n  data_files: {name}/*.parquet" for name in PARTS)
    return f"""---
license: {license_id}
task_categories:
- text-generation
tags:
- preference
- dpo
- kto
- fashion
configs:
{configs}
---

# Outfit suggestion feedback (stylist)

Likes and dislikes that visitors gave outfit suggestions in a stylist demo: a visitor described the garments they
had (captions of their photos, editable), optionally an occasion and a season; for each missing piece (slot) the
app showed catalog items suggested by a LoRA-tuned outfit LM; the visitor liked or disliked some of them.

| | |
|---|---|
| votes | {len(events)} (like {labels['like']}, dislike {labels['dislike']}, taken back {labels['undone']}) |
| visitors | {len({e.user for e in events})} (server-issued ids; no names or addresses) |
| preference pairs (`paired`) | {counts['paired']} |
| unpaired votes (`unpaired`) | {counts['unpaired']} |
| collected | {day(first)} to {day(last)}, by {len(origins)} app instance(s): {', '.join(origins) or '-'} |
| app | stylist {version} |
| adapter versions that made the suggestions | {', '.join(f'v{v}' for v in versions) or '-'} |
| catalog | {catalog or 'not recorded'} |

## Configurations and fields

- `votes`: `vote_id` (`<instance>:<number>`, unique across instances), `visitor`, `time` (Unix seconds),
  `captions`, `slot`, `occasion`, `season` (the request), `options` (every item shown for that slot, best first:
  `id`, `text`), `item_id`, `item_text` (the item voted on), `adapter_version` (0 = the initial adapter), `label`
  (`like` or `dislike`), `undone_at` (when the vote was taken back, else null), `prompt` (the outfit LM's prompt).
- `paired`: `prompt`, `chosen`, `rejected` (trl's DPO format), `visitor`, `context`: a liked item over a disliked
  one, or over one shown and passed over, for the same request.
- `unpaired`: `prompt`, `completion`, `label` (trl's KTO format), `visitor`, `context`: each active vote alone.

```python
from datasets import load_dataset
pairs = load_dataset("parquet", data_files={{"train": "paired/*.parquet"}})["train"]
```

## Licence

The votes: {license_id}. Item titles and captions keep the terms of the catalog they come from.
"""


def read_votes(folder: str | os.PathLike) -> list[Event]:
    """The clicks of an exported dataset folder, as events of their origin instance; one line for a folder that
    is not one."""
    import pyarrow.parquet as pq

    files = sorted((Path(folder) / "votes").glob("*.parquet"))
    if not files:
        raise StylistError(f"{folder}: not a stylist feedback dataset (no votes/*.parquet); export one with "
                           "`python -m stylist export-feedback --format dataset --out DIR`")
    events = []
    for path in files:
        try:
            rows = pq.read_table(path).to_pylist()
        except Exception as exc:  # pyarrow raises several kinds for a damaged file
            raise StylistError(f"{path}: cannot read it as parquet ({exc})") from exc
        for n, row in enumerate(rows):
            try:
                origin, _, number = str(row["vote_id"]).rpartition(":")
                if not origin or not number.isdigit() or row["label"] not in ("like", "dislike"):
                    raise ValueError(f"vote_id {row['vote_id']!r} / label {row['label']!r}")
                context = Context(tuple(str(c) for c in row["captions"]), row["slot"], row["occasion"], row["season"])
                events.append(Event(0, str(row["visitor"]), float(row["time"]), context,
                                    [Option(str(o["id"]), str(o["text"])) for o in row["options"]],
                                    str(row["item_id"]), str(row["item_text"]), row["adapter_version"], row["label"],
                                    row["undone_at"], origin, int(number)))
            except (KeyError, TypeError, ValueError) as exc:
                raise StylistError(f"{path}: row {n} is not a stylist vote ({exc!r:.120})") from exc
    return events


def main(argv: list[str] | None = None) -> int:
    import argparse

    parser = argparse.ArgumentParser(prog="python -m stylist import-feedback",
                                     description="pool a feedback dataset exported by another instance into this "
                                                 "store (votes already here are skipped)")
    parser.add_argument("folder", help="a folder written by `export-feedback --format dataset`")
    parser.add_argument("--data-dir", default=None, help="data folder (default: $STYLIST_DATA_DIR or ./data)")
    parser.add_argument("--db", default=None, help="a postgresql:// store instead (default: $STYLIST_DB, else SQLite "
                                                   "in the data folder)")
    args = parser.parse_args(argv)
    events = read_votes(args.folder)
    store = open_store(args.db, args.data_dir)
    added = store.add_imported(events)
    print(json.dumps({"read": len(events), "added": added, "skipped": len(events) - added}))
    return 0
