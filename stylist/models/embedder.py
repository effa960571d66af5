"""The sentence embedder that maps the LM's description of a missing piece to catalog items.

The embedded model (`checkpoints/embedder`, built by `python -m stylist train-embedder`, see
`stylist/train/embedder.py`) is a sentence-transformers `StaticEmbedding`; `load_embedder` also loads any
sentence-transformers model id or folder. sentence-transformers is imported only when a model is loaded,
so commands that merely parse their options (`--help`) do not pay seconds for it.
"""

from __future__ import annotations

import hashlib
import os
from typing import TYPE_CHECKING

from stylist.core.errors import StylistError
from stylist.core.paths import CHECKPOINTS

if TYPE_CHECKING:
    from sentence_transformers import SentenceTransformer

DEFAULT_EMBEDDER = CHECKPOINTS / "embedder"


def load_embedder(name_or_path: str | os.PathLike | None = None) -> SentenceTransformer:
    """The embedded embedder (None), or any sentence-transformers model id or local folder."""
    from sentence_transformers import SentenceTransformer

    source = str(name_or_path or DEFAULT_EMBEDDER)
    if name_or_path is None and not (DEFAULT_EMBEDDER / "modules.json").exists():
        raise StylistError(f"no embedder at {DEFAULT_EMBEDDER}: run `python -m stylist train-embedder`")
    try:
        return SentenceTransformer(source, device="cpu")
    except (OSError, ValueError) as exc:
        raise StylistError(f"cannot load embedder {source!r}: {exc}") from exc


def embedder_identity(embedder: object) -> str | None:
    """A fingerprint of what the embedder computes (its modules and every weight), so vectors stored on disk
    are reused only by the same model however it was loaded; None for an object that is not a torch module
    (a test double), whose vectors are then never stored."""
    import torch

    if not isinstance(embedder, torch.nn.Module):
        return None
    digest = hashlib.blake2b(repr(embedder).encode(), digest_size=16)
    for name, tensor in embedder.state_dict().items():
        digest.update(f"{name}:{tensor.dtype}:{tuple(tensor.shape)}".encode())
        digest.update(tensor.detach().contiguous().reshape(-1).view(torch.uint8).numpy())
    return digest.hexdigest()
