"""The sentence embedder that maps the LM's description of a missing piece to catalog items.

The embedded model (`checkpoints/embedder`, built by `python -m stylist train-embedder`, see
`stylist/train/embedder.py`) is a sentence-transformers `StaticEmbedding`; `load_embedder` also loads any
sentence-transformers model id or folder.
"""

from __future__ import annotations

import os

from sentence_transformers import SentenceTransformer

from stylist.core.errors import StylistError
from stylist.core.paths import CHECKPOINTS

DEFAULT_EMBEDDER = CHECKPOINTS / "embedder"


def load_embedder(name_or_path: str | os.PathLike | None = None) -> SentenceTransformer:
    """The embedded embedder (None), or any sentence-transformers model id or local folder."""
    source = str(name_or_path or DEFAULT_EMBEDDER)
    if name_or_path is None and not (DEFAULT_EMBEDDER / "modules.json").exists():
        raise StylistError(f"no embedder at {DEFAULT_EMBEDDER}: run `python -m stylist train-embedder`")
    try:
        return SentenceTransformer(source, device="cpu")
    except (OSError, ValueError) as exc:
        raise StylistError(f"cannot load embedder {source!r}: {exc}") from exc
