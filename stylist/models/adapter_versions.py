"""The outfit LM's adapter versions and likelihood caches: one LM in memory carries every adapter version a
request asks for (the one in use merged into the weights), each version with its own cache of conditional
likelihoods, and version 0's unconditional terms cached for good, in memory and in the data folder.

Private to the outfit model (`stylist.models.outfit`), which is the one object the rest of the project talks to.
"""

from __future__ import annotations

import json
import os
import sys
import threading
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager, nullcontext, suppress
from pathlib import Path

import numpy as np
import torch
from transformers import PreTrainedModel, PreTrainedTokenizerBase

from stylist.core.prompts import outfit_prompt
from stylist.models.likelihood import completion_logprobs, generate
from stylist.models.lm import adapter_key, attach_adapter, check_adapter_fits


def is_unconditional(prompt: str) -> bool:
    """An empty outfit without occasion or season: the prompt of the PMI "nothing" terms."""
    head, _, rest = prompt.partition("\n")
    return head == outfit_prompt([]).partition("\n")[0] and "\n" not in rest


Pair = tuple[str, str]  # (prompt, completion text)
PRIOR_FORMAT = 1  # bump when the way a likelihood is computed changes: stored terms are then recomputed
PRIOR_SAVE_SECONDS = 10.0


class PriorFile:
    """Version 0's unconditional terms on disk, one file per LM fingerprint: the same for every request and
    every start, and a shop's catalog holds more items than a start should score (hours with a 7B LLM), so each
    item's term is computed the first time it is a candidate, ever. JSON lines after a header line; new terms
    are appended. A damaged or stale file is said once, what can be read of it is kept, and it is written anew
    (temporary file, then `os.replace`); a folder that refuses writes keeps the terms in memory only."""

    def __init__(self, folder: str | os.PathLike, key: str):
        self.path, self.key = Path(folder) / f"lm-prior-{key[:20]}.jsonl", key
        self.whole = True  # the next write replaces the file with every term

    def header(self) -> str:
        return json.dumps({"format": PRIOR_FORMAT, "key": self.key})

    def read(self) -> dict[Pair, tuple[float, float]]:
        terms: dict[Pair, tuple[float, float]] = {}
        if not self.path.exists():
            return terms
        try:
            with open(self.path) as lines:
                if next(lines, "").strip() != self.header():
                    return terms  # another format: written anew
                for line in lines:
                    prompt, text, lp, n = json.loads(line)
                    terms[(str(prompt), str(text))] = (float(lp), float(n))
            self.whole = False
        except (OSError, ValueError, TypeError) as exc:
            print(f"warning: damaged LM term file {self.path} ({exc!r:.200}): {len(terms)} terms read, "
                  "the rest computed again", file=sys.stderr)
        return terms

    def write(self, terms: dict[Pair, tuple[float, float]], new: list[Pair]) -> bool:
        """Append the new terms (or write every term, see `whole`); False (said once) when the folder refuses."""
        tmp = self.path.with_name(self.path.name + ".tmp")
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            target = tmp if self.whole else self.path
            with open(target, "w" if self.whole else "a") as out:
                if self.whole:
                    out.write(self.header() + "\n")
                out.writelines(json.dumps([*pair, *terms[pair]]) + "\n" for pair in (terms if self.whole else new))
            if self.whole:
                os.replace(tmp, self.path)
                self.whole = False
            return True
        except OSError as exc:
            print(f"warning: LM terms kept in memory only: cannot write {self.path} ({exc.strerror or exc})",
                  file=sys.stderr)
            with suppress(OSError):
                tmp.unlink()
            return False


class AdapterVersions:
    """The LM with the adapter versions loaded into it, one likelihood cache per version and the shared cache
    of unconditional terms. Version 0 is the adapter the LM came with (its folder, or None when unknown) and
    scores every unconditional term. Switching adapter and the forward pass happen under one lock, so
    threads asking for different versions never see each other's adapter."""

    def __init__(self, model: PreTrainedModel, tokenizer: PreTrainedTokenizerBase, folder: str | None,
                 merge: bool = False):
        from peft import PeftModel

        self.model, self.tokenizer, self.folder = model, tokenizer, folder
        # a LoRA adds a third to a small LM's forward FLOPs: the version in use is merged into the weights,
        # float32 only (taking it out again leaves float32 rounding, ~1e-7 of a weight)
        self.merge = merge and isinstance(model, PeftModel) and all(p.dtype == torch.float32 for p in model.parameters())
        self.merged = False
        self.lock = threading.RLock()
        self.names: dict[str | None, str] = {None: model.active_adapter if isinstance(model, PeftModel) else ""}
        self.caches: dict[str | None, dict[Pair, tuple[float, float]]] = {None: {}}  # -> (log p, tokens)
        self.prior: dict[Pair, tuple[float, float]] = {}
        self.stored: PriorFile | None = None
        self.saved = 0  # unconditional terms the file holds

    def keep_prior(self, folder: str | os.PathLike) -> None:
        """Read the unconditional terms stored in `folder` for this LM and store new ones there every
        PRIOR_SAVE_SECONDS (a daemon thread: at most those seconds of terms are lost with the process)."""
        from stylist.models.embedder import weights_fingerprint

        with self.lock:
            self._unmerge()  # version 0 as loaded
            try:
                key = weights_fingerprint(self.model, type(self.tokenizer).__name__, str(len(self.tokenizer)),
                                          str(getattr(self.tokenizer, "chat_template", None)))
            except (RuntimeError, NotImplementedError) as exc:  # weights offloaded to disk (meta tensors)
                print(f"warning: LM terms kept in memory only: cannot fingerprint the LM ({exc!r:.120})",
                      file=sys.stderr)
                return
            self.stored = PriorFile(folder, key)
            self.prior.update(self.stored.read())
            self.saved = len(self.prior)
        threading.Thread(target=self._keep_saving, name="lm-prior", daemon=True).start()

    def _keep_saving(self) -> None:
        while self.save_prior() is not False:
            time.sleep(PRIOR_SAVE_SECONDS)

    def save_prior(self) -> bool | None:
        """Store the unconditional terms computed since the last save, if any; False when the folder refuses
        writes. The cache only grows, in insertion order, so the new terms are its last ones."""
        with self.lock:
            if self.stored is None or len(self.prior) == self.saved:
                return None
            terms = dict(self.prior)
            new, self.saved = list(terms)[self.saved:], len(terms)
        return self.stored.write(terms, new)

    def version(self, adapter: str | os.PathLike | None) -> str | None:
        """The key of an adapter folder: None for version 0, however it is named."""
        if adapter is None:
            return None
        key = adapter_key(adapter)
        return None if key == self.folder else key

    def _name(self, version: str | None) -> str:
        """The PEFT adapter name of a version ("" for the bare base model), loading it when first asked for."""
        from peft import PeftModel

        if version not in self.names:
            name = f"version_{len(self.names)}"  # PEFT adapter names may not contain dots
            if isinstance(self.model, PeftModel):
                check_adapter_fits(self.model, version)
                self._unmerge()
                self.model.load_adapter(version, adapter_name=name)
            else:
                self.model = attach_adapter(self.model, version, name=name)
            self.model.eval()
            self.names[version], self.caches[version] = name, {}
        return self.names[version]

    @contextmanager
    def _active(self, version: str | None) -> Iterator[None]:
        """The model with this version's adapter on (the caller holds the lock)."""
        from peft import PeftModel

        name = self._name(version)
        if name == "":  # version 0 is the bare base model
            self._unmerge()
            with self.model.disable_adapter() if isinstance(self.model, PeftModel) else nullcontext():
                yield
            return
        if self.model.active_adapter != name:
            self._unmerge()
            self.model.set_adapter(name)
        if self.merge and not self.merged:
            self.model.merge_adapter()
            self.merged = True
        yield

    def _unmerge(self) -> None:
        """Take the merged version's LoRA out of the weights before another version (or none) is put on."""
        if self.merged:
            self.model.unmerge_adapter()
            self.merged = False

    def likelihoods(self, pairs: Sequence[Pair], version: str | None) -> np.ndarray:
        """(log p, tokens) of each pair: conditional ones with `version`, unconditional ones with version 0."""
        with self.lock:
            self._name(version)  # a version's cache comes with it
            caches = {False: self.caches[version], True: self.prior}
            todo = sorted({p for p in pairs if p not in caches[is_unconditional(p[0])]})
            for unconditional, by in ((False, version), (True, None)):
                part = [p for p in todo if is_unconditional(p[0]) == unconditional]
                if part:
                    with self._active(by):
                        lp, n = completion_logprobs(self.model, self.tokenizer, [p for p, _ in part],
                                                    [t for _, t in part])
                    caches[unconditional].update(zip(part, zip(lp.tolist(), n.tolist())))
            return np.array([caches[is_unconditional(p[0])][p] for p in pairs]).reshape(-1, 2)

    def generate(self, prompts: Sequence[str], max_new_tokens: int, version: str | None, samples: int = 0,
                 temperature: float = 1.0) -> list[str]:
        """Greedy texts, or `samples` sampled ones per prompt (see `likelihood.generate`)."""
        with self.lock, self._active(version):
            return generate(self.model, self.tokenizer, prompts, max_new_tokens=max_new_tokens, samples=samples,
                            temperature=temperature)
