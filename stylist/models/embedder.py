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

    return weights_fingerprint(embedder) if isinstance(embedder, torch.nn.Module) else None


BIG_TENSOR = 2 ** 24  # elements; a larger tensor is fingerprinted by every STRIDE-th element (a 7B LLM: seconds)
STRIDE = 1024


def weights_fingerprint(module, *extra: str) -> str:
    """A fingerprint of a torch module: its structure, every weight (large ones sampled) and `extra` texts, so
    what was computed from it and stored on disk is reused only by the same model however it was loaded."""
    import torch

    digest = hashlib.blake2b(repr(module).encode(), digest_size=16)
    for text in extra:
        digest.update(f"\x1e{text}".encode())
    for name, tensor in module.state_dict().items():
        digest.update(f"{name}:{tensor.dtype}:{tuple(tensor.shape)}".encode())
        flat = tensor.detach().reshape(-1)
        flat = flat[::STRIDE] if flat.numel() > BIG_TENSOR else flat
        digest.update(flat.contiguous().cpu().view(torch.uint8).numpy())
    return digest.hexdigest()
