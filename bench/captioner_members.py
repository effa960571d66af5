"""The member log: every captioner member trained with `train-captioner --member K`, in how many stretches (on which
machines), how far, and its own figures on the train holdout by part.

    python bench/captioner_members.py [--candidates checkpoints/captioner-candidates] [--json]

Reads each member's metrics.json (written after every epoch); trains and measures nothing.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from stylist.core.paths import REPO


def members(folder: Path) -> list[dict]:
    """One row per member folder, in member order."""
    rows = []
    for metrics in sorted(folder.glob("member-*/metrics.json"), key=lambda p: int(p.parent.name.split("-")[1])):
        m = json.loads(metrics.read_text())
        parts = m.get("holdout_by_part", {})
        rows.append({"member": metrics.parent.name, "seed": m["config"]["seed"], "epoch": m["epoch"],
                     "epochs": m["epochs"], "finished": m.get("finished", False),
                     "stretches": [(s["from_epoch"], s.get("to_epoch"), s["host"], s["device"], s.get("minutes"))
                                   for s in m.get("stretches", [])],
                     "holdout": m["holdout_accuracy"],
                     **{part: parts.get(part, {}).get("member") for part in ("data", "extra", "new_types")}})
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--candidates", default=str(REPO / "checkpoints" / "captioner-candidates"))
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    rows = members(Path(args.candidates))
    if args.json:
        print(json.dumps(rows, indent=1))
        return
    print("| member | seed | epochs | stretches (from-to epoch, machine, minutes) | holdout | clothing-small part | "
          "clothing-extra part | new types |")
    print("|---|---|---|---|---|---|---|---|")
    fmt = lambda x: "-" if x is None else f"{x:.3f}"
    for r in rows:
        stretches = "; ".join(f"{a}-{b} {host} {device} {minutes} min" for a, b, host, device, minutes in r["stretches"])
        done = f"{r['epoch']}/{r['epochs']}" + ("" if r["finished"] else " (unfinished)")
        print(f"| {r['member']} | {r['seed']} | {done} | {len(r['stretches'])}: {stretches} | {fmt(r['holdout'])} | "
              f"{fmt(r['data'])} | {fmt(r['extra'])} | {fmt(r['new_types'])} |")


if __name__ == "__main__":
    main()
