"""The text format the outfit LM is trained on, recommends with, and is DPO-refined on.

One place defines it, so SFT data, FITB scoring, recommendation and DPO pairs always agree. The plain prompt
(`outfit_prompt`) is what the rest of the code keys and stores; an LM whose tokenizer has a chat template (an
instruct LLM) reads it as a templated user message and answers as the assistant (`model_prompt`, `chat_messages`,
`trl_row`), while a base LM without one (the embedded LM) reads the plain prompt as it is.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from stylist.core.catalog import Item, price_band

CAPTION_CHARS = 200  # a five-word caption needs ~40; longer text only slows every LM call that reads it


def cut_caption(text: str, limit: int = CAPTION_CHARS) -> tuple[str, str | None]:
    """A caption within `limit` characters, cut at the last word boundary before it, and a note saying it was
    cut (None when it was not), so the visitor knows which words the model never read."""
    text = " ".join(text.split())
    if len(text) <= limit:
        return text, None
    cut = text[:limit + 1].rsplit(" ", 1)[0] if " " in text[:limit + 1] else text[:limit]
    cut = cut.rstrip(" ,;.&") or text[:limit]
    return cut, f"a caption of {len(text):,} characters was cut to {len(cut)} at a word: \"...{cut[-30:]}\""


def outfit_prompt(captions: Sequence[str], slot: str | None = None, occasion: str | None = None,
                  season: str | None = None) -> str:
    """Captions of the items present (plus optional occasion/season) -> a prompt ending where the
    missing item's caption begins. `slot` names what is missing (shoes, bags...), when known."""
    lines = ["outfit: " + " ; ".join(c.strip() for c in captions if c.strip())]
    if occasion:
        lines.append(f"occasion: {occasion.strip()}")
    if season:
        lines.append(f"season: {season.strip()}")
    lines.append(f"missing {slot}:" if slot else "missing:")
    return "\n".join(lines)


def completion(caption: str) -> str:
    """The target text after the prompt: the missing item's caption."""
    return " " + caption.strip()


FORMATS = ("caption", "slot")  # how an LM was trained: its checkpoint's scoring.json says (`ScoringConfig.format`)


def open_prompt(captions: Sequence[str], occasion: str | None = None, season: str | None = None) -> str:
    """The slot format's prompt when the missing slot is not named: it ends at "missing", so the LM's answer
    starts with the slot (`slot_completion`). Its tokens are those of `outfit_prompt` up to the slot."""
    return outfit_prompt(captions, None, occasion, season).removesuffix(":")


def slot_completion(slot: str, caption: str) -> str:
    """The slot format's answer to `open_prompt`: " shoes: black boots", the same text as `outfit_prompt(...,
    "shoes")` + `completion("black boots")`, so a prompt that names the slot reads the same in both formats."""
    return completion(f"{slot}: {caption.strip()}")


def training_pair(captions: Sequence[str], slot: str, caption: str, name_slot: bool, occasion: str | None = None,
                  season: str | None = None, format: str = "caption") -> tuple[str, str]:
    """One (prompt, completion) an LM of `format` is trained on: with `name_slot` the prompt names the slot in
    both formats; without, the caption format asks "missing:" for the caption and the slot format ends the
    prompt at "missing" and answers with the slot, then the caption."""
    if name_slot:
        return outfit_prompt(captions, slot, occasion, season), completion(caption)
    if format == "slot":
        return open_prompt(captions, occasion, season), slot_completion(slot, caption)
    return outfit_prompt(captions, None, occasion, season), completion(caption)


@dataclass(frozen=True)
class Decoding:
    """How the outfit LM's descriptions of a missing piece are drawn and ordered (`OutfitModel.describe`); the
    recommender's settings were chosen on part of `bench/descriptions.py`'s requests."""

    samples: int = 0  # sampled texts per slot beside the greedy ones
    temperature: float = 1.0
    prior_weight: float = 0.0  # 0: greedy order; w > 0: by log p(text | outfit) - w log p(text | slot alone)


CHAT_INSTRUCTION = "Complete this outfit: describe the missing item in a few words, on one line."
# template options every chat call passes: a template with a thinking mode (Qwen3) answers directly, the
# others ignore it
CHAT_OPTIONS = {"enable_thinking": False}


def uses_chat(tokenizer: Any) -> bool:
    """Whether the LM reads chat messages: instruct LLMs ship a chat template, base LMs do not."""
    return bool(getattr(tokenizer, "chat_template", None))


def chat_messages(prompt: str, answer: str | None = None) -> list[dict[str, str]]:
    """The plain prompt as a user message (instruction first), plus the assistant's answer when given: a
    completion without the leading space the plain format puts before it."""
    messages = [{"role": "user", "content": f"{CHAT_INSTRUCTION}\n\n{prompt}"}]
    if answer is not None:
        messages.append({"role": "assistant", "content": answer.strip()})
    return messages


def model_prompt(tokenizer: Any, prompt: str) -> str:
    """The text the LM reads before its answer: the templated user message with the generation prompt for a
    chat LM (its special tokens included, so tokenise it without adding more), the plain prompt otherwise."""
    if not uses_chat(tokenizer):
        return prompt
    return tokenizer.apply_chat_template(chat_messages(prompt), tokenize=False, add_generation_prompt=True,
                                         **CHAT_OPTIONS)


def chat_ids(tokenizer: Any, prompt: str, answer: str | None = None) -> list[int]:
    """Token ids of the chat messages as trl's trainers tokenise them: the user message with the generation
    prompt, or the whole exchange with the answer and its end of turn."""
    return tokenizer.apply_chat_template(chat_messages(prompt, answer), tokenize=True, return_dict=True,
                                         add_generation_prompt=answer is None, **CHAT_OPTIONS)["input_ids"]


def trl_row(tokenizer: Any, prompt: str, **completions: str) -> dict[str, Any]:
    """A trl row: `completion=` for SFTTrainer, `chosen=`/`rejected=` for DPOTrainer. Conversational for a chat
    LM, so trl applies the template and its loss covers the assistant's answer only; plain text otherwise."""
    if not uses_chat(tokenizer):
        return {"prompt": prompt, **completions}
    return {"prompt": chat_messages(prompt), "chat_template_kwargs": CHAT_OPTIONS,
            **{key: chat_messages(prompt, text)[1:] for key, text in completions.items()}}


def item_caption(item: Item) -> str:
    """What the outfit LM reads for a catalog item: its text, plus the category when the text does not
    already name it (many Polyvore titles are brand names), so the model always knows what the piece is,
    plus its price band ("p7": about $128) when the shop lists a price, since outfits keep to a price range."""
    text = item.text.strip().lower()
    category = item.category.strip().lower()
    if category and category != "(none)" and not text:
        text = category
    elif category and category != "(none)":
        words = set(re.findall(r"[a-z]+", text))
        if not any(w in words or w.rstrip("s") in words for w in re.findall(r"[a-z]+", category)):
            text = f"{text}, {category}"
    band = price_band(item.price)
    return text if band is None else f"{text}, p{band}"
