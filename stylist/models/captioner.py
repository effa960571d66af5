"""Garment photo -> short style caption ("navy striped t-shirt"): the first stage of the outfit method.

    python -m stylist caption photo1.jpg photo2.png [--json] [--captioner ID_OR_PATH]

The embedded default (`checkpoints/captioner/`, trained by `python -m stylist train-captioner`) is a small
image classifier: the category comes from the model, the colour and pattern from the garment's own pixels
(`stylist.core.colors`), so the caption never names the floor the garment lies on. Any Hugging Face
image-to-text or image-text-to-text model (BLIP, a small VLM, a ViT+GPT2 VisionEncoderDecoder...) can be
used instead through the same `Captioner`; it is prompted for a five-word style caption.
"""

from __future__ import annotations

import argparse
import json
import os
import re
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
from PIL import Image

from stylist.core.colors import garment_colors, garment_mask, garment_pattern, thumbnail
from stylist.core.errors import StylistError
from stylist.core.images import load_image
from stylist.core.paths import CHECKPOINTS

# the shared real photos' ten classes, then "bag", which only the demo catalog's floor-photo renders teach
CLASSES = ("dress", "hat", "longsleeve", "outwear", "pants", "shirt", "shoes", "shorts", "skirt", "t-shirt", "bag")
DEFAULT = CHECKPOINTS / "captioner"
PROMPT = "Describe this garment in five words: colour, pattern, material and type."

# class -> the noun a shopper (and the outfit LM, trained on product titles) would use
NOUNS = {"dress": "dress", "hat": "hat", "longsleeve": "long-sleeve top", "outwear": "jacket", "pants": "trousers",
         "shirt": "shirt", "shoes": "shoes", "shorts": "shorts", "skirt": "skirt", "t-shirt": "t-shirt", "bag": "bag"}

# words in free text (a generative captioner's output) -> class; specific words first
_TEXT_CLASSES = (("t-shirt", "t-shirt"), ("tshirt", "t-shirt"), ("tee", "t-shirt"), ("longsleeve", "longsleeve"),
                 ("long-sleeve", "longsleeve"), ("sweater", "longsleeve"), ("hoodie", "longsleeve"),
                 ("jumper", "longsleeve"), ("dress", "dress"), ("skirt", "skirt"), ("shorts", "shorts"),
                 ("jeans", "pants"), ("pants", "pants"), ("trousers", "pants"), ("jacket", "outwear"),
                 ("coat", "outwear"), ("blazer", "outwear"), ("shoe", "shoes"), ("sneaker", "shoes"),
                 ("boot", "shoes"), ("sandal", "shoes"), ("hat", "hat"), ("cap", "hat"), ("shirt", "shirt"),
                 ("blouse", "shirt"), ("bag", "bag"), ("handbag", "bag"), ("clutch", "bag"), ("tote", "bag"),
                 ("backpack", "bag"), ("purse", "bag"))


@dataclass
class Caption:
    """One photo's caption and the attributes it was built from; `error` is set instead when it failed."""

    path: str
    caption: str = ""
    category: str = ""
    colors: list[str] = field(default_factory=list)
    pattern: str = ""  # "" when it cannot be told
    material: str = ""  # "" when it cannot be told (the default captioner does not guess materials)
    confidence: float = 0.0
    error: str = ""


def model_pixels(image: Image.Image, size: int) -> np.ndarray:
    """The classifier's view of a photo: the whole frame squashed to size x size (uint8 HWC).

    Squashing rather than cropping keeps shoes and hats that sit near a border; training caches the same.
    """
    return np.array(image.resize((size, size), Image.Resampling.BILINEAR), dtype=np.uint8)


def compose(color: str, pattern: str, material: str, category: str) -> str:
    """"<colour> [<pattern>] [<material>] <noun>", the caption format the outfit LM reads."""
    parts = [color, pattern if pattern != "solid" else "", material, NOUNS.get(category, category)]
    return " ".join(p for p in parts if p)


def category_from_text(text: str) -> str:
    """The class a free-text caption names, or "" (first matching word wins)."""
    words = re.findall(r"[a-z][a-z-]*", text.lower())
    for key, name in _TEXT_CLASSES:
        if any(w == key or w == key + "s" or (len(key) > 4 and w.startswith(key)) for w in words):
            return name
    return ""


class _Classifier:
    """An image-classification checkpoint (the embedded default or any HF classifier with these labels).

    `"ensemble": ["seed1", ...]` in its preprocessor_config.json names sub-folders holding more classifiers of
    the same architecture and preprocessing (trained with other seeds); their logits are summed."""

    def __init__(self, path: str):
        import torch
        from transformers import AutoModelForImageClassification

        processor = _read_json(Path(path) / "preprocessor_config.json") if Path(path).is_dir() else {}
        members = [path, *(str(Path(path) / name) for name in processor.get("ensemble", []))]
        self.models = [AutoModelForImageClassification.from_pretrained(m).eval() for m in members]
        self.model = self.models[0]
        size = processor.get("size", {"height": 224})
        self.size = int(size.get("height", size.get("shortest_edge", 224)))
        self.mean = torch.tensor(processor.get("image_mean", [0.5] * 3)).view(1, 3, 1, 1)
        self.std = torch.tensor(processor.get("image_std", [0.5] * 3)).view(1, 3, 1, 1)
        self.flip = bool(processor.get("flip_tta", False))
        self.labels = [self.model.config.id2label[i] for i in range(self.model.config.num_labels)]

    def __call__(self, image: Image.Image) -> tuple[str, float, str]:
        """(category, confidence, free text); a classifier has no free text."""
        import torch

        x = torch.from_numpy(model_pixels(image, self.size)).permute(2, 0, 1)[None].float() / 255.0
        x = (x - self.mean) / self.std
        if self.flip:  # the mirror image: the same test-time augmentation the training holdout used
            x = torch.cat([x, x.flip(-1)])
        with torch.inference_mode():
            logits = sum(model(pixel_values=x).logits.sum(0, keepdim=True) for model in self.models)
        probs = logits.softmax(-1)[0]
        best = int(probs.argmax())
        return self.labels[best], float(probs[best]), ""


class _Generator:
    """A Hugging Face image-to-text / image-text-to-text model asked for a five-word caption."""

    def __init__(self, name: str):
        from transformers import AutoImageProcessor, AutoModelForImageTextToText, AutoProcessor, AutoTokenizer

        self.model = AutoModelForImageTextToText.from_pretrained(name).eval()
        try:
            self.processor = AutoProcessor.from_pretrained(name)
        except (OSError, ValueError, TypeError):
            self.processor = None
        if self.processor is None or not hasattr(self.processor, "image_processor"):
            # e.g. a VisionEncoderDecoder folder: an image processor and a tokenizer, no joint processor
            self.image_processor = AutoImageProcessor.from_pretrained(name)
            self.tokenizer = AutoTokenizer.from_pretrained(name)
            self.processor = None
        else:
            self.tokenizer = self.processor.tokenizer

    def __call__(self, image: Image.Image) -> tuple[str, float, str]:
        import torch

        if self.processor is None:
            inputs = self.image_processor(images=image, return_tensors="pt")
        elif getattr(self.processor, "chat_template", None):
            messages = [{"role": "user", "content": [{"type": "image", "image": image}, {"type": "text", "text": PROMPT}]}]
            inputs = self.processor.apply_chat_template(messages, add_generation_prompt=True, tokenize=True,
                                                        return_dict=True, return_tensors="pt")
        else:  # BLIP-style conditional captioners continue a text prefix
            inputs = self.processor(images=image, text="a photo of a", return_tensors="pt")
        with torch.inference_mode():
            out = self.model.generate(**inputs, max_new_tokens=16, do_sample=False)
        if "input_ids" in inputs and out.shape[1] > inputs["input_ids"].shape[1] and \
                torch.equal(out[:, :inputs["input_ids"].shape[1]], inputs["input_ids"]):
            out = out[:, inputs["input_ids"].shape[1]:]  # decoder-only VLMs echo the prompt
        text = " ".join(self.tokenizer.decode(out[0], skip_special_tokens=True).split())
        return category_from_text(text), 0.0, text


class Captioner:
    """Photos -> `Caption`s with one interface for the embedded classifier and any HF captioning model."""

    def __init__(self, backend, name: str):
        self.backend = backend
        self.name = name

    @classmethod
    def load(cls, name_or_path: str | os.PathLike | None = None) -> Captioner:
        """None/"default" -> the embedded checkpoint; otherwise a local folder or a Hugging Face model id."""
        name = str(name_or_path) if name_or_path not in (None, "", "default") else str(DEFAULT)
        try:
            from transformers import AutoConfig

            config = AutoConfig.from_pretrained(name)
            classifier = any(a.endswith("ForImageClassification") for a in (config.architectures or []))
            backend = _Classifier(name) if classifier else _Generator(name)
        except (OSError, ValueError, KeyError) as exc:
            first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            raise StylistError(f"cannot load captioner {name!r}: {first}") from None
        return cls(backend, name)

    def caption_image(self, image: Image.Image | str | os.PathLike | bytes, path: str | None = None) -> Caption:
        """Caption one photo (PIL image, path or bytes). Bad input raises StylistError naming the file."""
        if not isinstance(image, Image.Image):
            path = path or (str(image) if not isinstance(image, (bytes, bytearray)) else "uploaded image")
            image = load_image(image, name=path)
        image = image.convert("RGB")
        category, confidence, text = self.backend(image)
        mask = garment_mask(thumbnail(image))  # the garment's own pixels, apart from the floor it lies on
        colors = garment_colors(image, mask)
        pattern = garment_pattern(image, mask)
        caption = text or compose(colors[0], pattern, "", category or "garment")
        return Caption(path=path or "", caption=caption, category=category, colors=colors, pattern=pattern,
                       confidence=round(confidence, 4))

    def caption_images(self, paths: list[str | os.PathLike]) -> list[Caption]:
        """Caption a batch; a file that cannot be read gets a Caption with `error` set, the rest still work."""
        from tqdm import tqdm

        captions = []
        for path in tqdm(paths, desc="captioning", disable=len(paths) < 20):
            try:
                captions.append(self.caption_image(path, path=str(path)))
            except StylistError as exc:
                captions.append(Caption(path=str(path), error=str(exc)))
        return captions


def _read_json(path: Path) -> dict:
    return json.loads(path.read_text()) if path.exists() else {}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m stylist caption", description="Caption garment photos.")
    parser.add_argument("images", nargs="+", help="image files")
    parser.add_argument("--json", action="store_true", help="print a JSON list of caption objects")
    parser.add_argument("--captioner", default=None, help="checkpoint folder or Hugging Face model id (default: embedded)")
    args = parser.parse_args(argv)
    captions = Captioner.load(args.captioner).caption_images(args.images)
    if args.json:
        print(json.dumps([asdict(c) for c in captions], indent=1))
    else:
        for c in captions:
            print(f"{c.path}\t{'error: ' + c.error if c.error else c.caption}")
    return 1 if all(c.error for c in captions) else 0
