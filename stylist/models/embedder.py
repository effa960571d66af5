"""The sentence embedder that maps the LM's description of a missing piece to catalog items.

The embedded model (`checkpoints/embedder`, built by `python -m stylist train-embedder`, see
`stylist/train/embedder.py`) is a sentence-transformers `StaticEmbedding`; `load_embedder` also loads any
sentence-transformers model id or folder. sentence-transformers is imported only when a model is loaded,
so commands that merely parse their options (`--help`) do not pay seconds for it; and a folder holding only a
`StaticEmbedding` (the embedded one) is read without it (`StaticEmbedder`): sentence-transformers imports
scikit-learn and scipy, 2-4 s of a `recommend` command's 9 s of CPU, for a mean of token vectors.
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path
from typing import TYPE_CHECKING

from stylist.core.errors import StylistError
from stylist.core.paths import CHECKPOINTS

if TYPE_CHECKING:
    import numpy as np
    import torch
    from sentence_transformers import SentenceTransformer

DEFAULT_EMBEDDER = CHECKPOINTS / "embedder"
STATIC = "sentence_transformers.sentence_transformer.modules.static_embedding.StaticEmbedding"


def load_embedder(name_or_path: str | os.PathLike | None = None) -> SentenceTransformer | StaticEmbedder:
    """The embedded embedder (None), or any sentence-transformers model id or local folder."""
    source = str(name_or_path or DEFAULT_EMBEDDER)
    if name_or_path is None and not (DEFAULT_EMBEDDER / "modules.json").exists():
        raise StylistError(f"no embedder at {DEFAULT_EMBEDDER}: run `python -m stylist train-embedder`")
    try:
        if _only_static(Path(source)):
            return StaticEmbedder.load(Path(source))
        from sentence_transformers import SentenceTransformer

        return SentenceTransformer(source, device="cpu")
    except (OSError, ValueError, KeyError) as exc:
        raise StylistError(f"cannot load embedder {source!r}: {exc}") from exc


def _only_static(folder: Path) -> bool:
    """Whether a local folder holds a sentence-transformers model made of one `StaticEmbedding` module alone."""
    modules = folder / "modules.json"
    if not modules.is_file():
        return False
    listed = json.loads(modules.read_text())
    return (len(listed) == 1 and listed[0].get("type") == STATIC and listed[0].get("path") == ""
            and (folder / "tokenizer.json").is_file() and (folder / "model.safetensors").is_file())


class StaticEmbedder:
    """sentence-transformers' `StaticEmbedding` as inference needs it: the mean of the text's token vectors
    (`torch.nn.EmbeddingBag`, no special tokens), the same numbers and the same `encode` options the app uses."""

    def __init__(self, tokenizer, weights: torch.Tensor):
        import torch

        self.tokenizer = tokenizer
        self.tokenizer.no_padding()
        self.embedding = torch.nn.EmbeddingBag.from_pretrained(weights, freeze=True)

    @classmethod
    def load(cls, folder: Path) -> StaticEmbedder:
        from safetensors.torch import load_file
        from tokenizers import Tokenizer

        return cls(Tokenizer.from_file(str(folder / "tokenizer.json")),
                   load_file(str(folder / "model.safetensors"))["embedding.weight"])

    def get_embedding_dimension(self) -> int:
        return self.embedding.embedding_dim

    def encode(self, texts: str | list[str], batch_size: int = 32, normalize_embeddings: bool = False,
               convert_to_numpy: bool = True, convert_to_tensor: bool = False, show_progress_bar: bool = False,
               ) -> np.ndarray | torch.Tensor:
        """Embeddings of the texts, one row each (one vector for a single string), like `SentenceTransformer.encode`."""
        import numpy as np
        import torch

        single = isinstance(texts, str)
        batch = [texts] if single else list(texts)
        ids = [e.ids for e in self.tokenizer.encode_batch(batch, add_special_tokens=False)]
        offsets = torch.from_numpy(np.cumsum([0] + [len(i) for i in ids[:-1]]))
        with torch.inference_mode():
            vectors = self.embedding(torch.tensor([t for i in ids for t in i], dtype=torch.long), offsets)
            if normalize_embeddings:
                vectors = torch.nn.functional.normalize(vectors, p=2, dim=1)
        vectors = vectors[0] if single else vectors
        return vectors if convert_to_tensor or not convert_to_numpy else vectors.numpy()


def embedder_identity(embedder: object) -> str | None:
    """A fingerprint of what the embedder computes (its modules and every weight), so vectors stored on disk
    are reused only by the same model however it was loaded; None for an object that is neither a torch module
    nor a `StaticEmbedder` (a test double), whose vectors are then never stored."""
    import torch

    if isinstance(embedder, StaticEmbedder):
        return weights_fingerprint(embedder.embedding, STATIC)
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
