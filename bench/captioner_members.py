"""The member log: every captioner member trained with `train-captioner --member K`, in how many stretches (on which
machines), how far, and its own figures on the train holdout by part; with `--judge`, the ensembles the adoption
rule compares (docs/experiments/captioner-17-types.md), on the train holdout only.

    python bench/captioner_members.py [--candidates checkpoints/captioner-candidates] [--json]
    python bench/captioner_members.py --judge      # the committed three, with every finished member, and each swap

The log reads each member's metrics.json (written after every epoch). The judge runs `train-captioner --ensemble`
for each candidate ensemble (its folder under runs/) and prints the two holdout parts at every logit adjustment
and their mean at the best one; validation and test are never read here.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from stylist.core.paths import REPO, RUNS

COMMITTED = [str(REPO / "checkpoints" / "captioner" / m) for m in ("", "member1", "member2")]


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


def candidate_ensembles(finished: list[str]) -> dict[str, list[str]]:
    """The rule's candidates: the committed three, the three plus every finished member, each swap of one."""
    names = ["committed root", "committed member1", "committed member2"]
    out = {"the committed three": COMMITTED}
    if finished:
        out["the three + " + ", ".join(Path(m).name for m in finished)] = COMMITTED + finished
    for new in finished:
        for i, name in enumerate(names):
            out[f"{Path(new).name} in place of {name}"] = [new if j == i else c for j, c in enumerate(COMMITTED)]
    return out


def judge(folder: Path) -> list[dict]:
    """Each candidate ensemble's holdout parts under every tau, and the best mean of the two parts."""
    from stylist.train.captioner import PRIOR_TAUS, CaptionerTrainConfig, ensemble

    finished = [str(r.parent) for r in sorted(folder.glob("member-*/metrics.json"))
                if json.loads(r.read_text()).get("finished")]
    rows = []
    for name, members in candidate_ensembles(finished).items():
        report = ensemble(CaptionerTrainConfig(renders=4, out=str(RUNS / "captioner-judge" / name.replace(" ", "_"))),
                          members)
        parts = report["by_prior_tau"]
        means = {t: (parts["data"][str(t)] + parts["extra"][str(t)]) / 2 for t in PRIOR_TAUS}
        tau = max(means, key=means.get)
        rows.append({"ensemble": name, "tau": tau, "mean": round(means[tau], 4), "data": parts["data"][str(tau)],
                     "extra": parts["extra"][str(tau)], "new_types": parts["new_types"][str(tau)],
                     "passes": means[tau] >= 0.800 and parts["data"][str(tau)] >= 0.88})
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--candidates", default=str(REPO / "checkpoints" / "captioner-candidates"))
    parser.add_argument("--json", action="store_true")
    parser.add_argument("--judge", action="store_true", help="compare the rule's candidate ensembles on the holdout")
    args = parser.parse_args()
    if args.judge:
        rows = judge(Path(args.candidates))
        print(json.dumps(rows, indent=1) if args.json else "\n".join(
            f"| {r['ensemble']} | {r['tau']} | {r['data']:.3f} | {r['extra']:.3f} | {r['new_types']:.3f} | {r['mean']:.3f} | "
            f"{'yes' if r['passes'] else 'no'} |" for r in rows))
        return
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
