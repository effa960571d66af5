"""What a 10,000-character caption costs the `recommend` command, next to a short one: wall and CPU seconds,
peak memory of the process, and whether it said the text was cut.

    python bench/long_caption.py [--chars 10000] [--runs 1]

Each run is a fresh `python -m stylist recommend` process on the demo catalog (imports, model loading and one
recommendation); its CPU time and peak resident memory come from the kernel's accounting of that child
(`os.wait4`), so other work on the machine does not count, while the wall time does.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PHRASE = "navy cotton t-shirt with a white logo on the chest and short sleeves "


def run_recommend(caption: str) -> dict:
    """One `recommend` process: wall and CPU seconds, peak RSS in MB, and its stderr (where notes go)."""
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": str(ROOT)}
    with tempfile.TemporaryFile() as err:
        begin = time.monotonic()
        child = subprocess.Popen([sys.executable, "-m", "stylist", "recommend", "--caption", caption],
                                 cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=err)
        _, status, usage = os.wait4(child.pid, 0)
        wall = time.monotonic() - begin
        err.seek(0)
        stderr = err.read().decode(errors="replace")
    return {"rc": os.waitstatus_to_exitcode(status), "wall_s": wall, "cpu_s": usage.ru_utime + usage.ru_stime,
            "peak_mb": usage.ru_maxrss / 1024, "stderr": stderr}


def long_caption(chars: int) -> str:
    return (PHRASE * (chars // len(PHRASE) + 1))[:chars]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--chars", type=int, default=10_000, help="length of the long caption")
    parser.add_argument("--runs", type=int, default=1, help="processes per caption (the figures are the worst)")
    args = parser.parse_args()
    print(f"{os.cpu_count()} CPUs, load {os.getloadavg()[0]:.1f}")
    for name, caption in (("40 characters", PHRASE[:40]), (f"{args.chars:,} characters", long_caption(args.chars))):
        runs = [run_recommend(caption) for _ in range(args.runs)]
        cut = all("was cut" in r["stderr"] for r in runs)
        print(f"{name:>17}: wall {max(r['wall_s'] for r in runs):5.1f} s, CPU {max(r['cpu_s'] for r in runs):5.1f} s, "
              f"peak {max(r['peak_mb'] for r in runs):6.0f} MB, exit {max(r['rc'] for r in runs)}, "
              f"said it was cut: {'yes' if cut else 'no'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
