"""A user with a clear taste in the feedback store, for the tests that refine on it (no model needed)."""

from __future__ import annotations

from stylist.core.feedback import Context, FeedbackStore, Option

GARMENTS = ["boots", "sneakers", "loafers", "sandals", "bag", "tote"]
TOPS = ["linen shirt", "silk blouse", "wool sweater", "cotton tee", "denim jacket", "blue jeans"]


def record_taste(store: FeedbackStore, contexts: int = 12) -> None:
    """A user who likes black and white items and dislikes red and floral ones, for several outfits."""
    for n in range(contexts):
        ctx = Context((TOPS[n % 6], TOPS[(n + 1) % 6]), slot="shoes" if n % 2 else "bags", season=str(n))
        shown = [Option(f"{c}-{g}", f"{c} {g}") for c in ("black", "red", "white", "floral")
                 for g in GARMENTS[n % 3: n % 3 + 1]]
        for option in shown:
            store.record("ann", ctx, option, "like" if option.text.split()[0] in ("black", "white") else "dislike",
                         options=shown, adapter_version=0)
