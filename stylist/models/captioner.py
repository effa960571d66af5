"""Garment photo -> short style caption ("navy t-shirt"): the first stage of the outfit method.

    python -m stylist caption photo1.jpg photo2.png [--json] [--captioner ID_OR_PATH]

The embedded default (`checkpoints/captioner/`, trained by `python -m stylist train-captioner`) is a small
image classifier: the category comes from the model, the colour from the garment's own pixels
(`stylist.core.colors`), so the caption never names the floor the garment lies on. Any Hugging Face
image-to-text or image-text-to-text model (BLIP, a small VLM, a ViT+GPT2 VisionEncoderDecoder...) can be
used instead through the same `Captioner`; it is prompted for a five-word style caption.
"""

from __future__ import annotations

import argparse
import importlib.metadata
import importlib.util
import itertools
import json
import os
import re
from collections import deque
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
from PIL import Image

from stylist.core.colors import garment_colors, garment_mask, thumbnail
from stylist.core.errors import StylistError
from stylist.core.images import load_image
from stylist.core.paths import CHECKPOINTS
from stylist.core.texture import TEXTURE_FEATURES, texture_statistics
from stylist.core.vocabulary import GARMENT_TYPES

if TYPE_CHECKING:
    import torch
    from transformers import PreTrainedModel

# the ten classes of clothing-small, "bag" (only the demo catalog's floor-photo renders teach it), then the seven
# types clothing-extra adds; new classes go last, so a checkpoint trained on fewer grows without changing its outputs
CLASSES = ("dress", "hat", "longsleeve", "outwear", "pants", "shirt", "shoes", "shorts", "skirt", "t-shirt", "bag",
           "blazer", "blouse", "body", "hoodie", "polo", "top", "undershirt")
DEFAULT = CHECKPOINTS / "captioner"
CAPTION_WORDS = "caption_words.json"  # in a classifier's folder: the pattern and material words fitted to its features
PROMPT = "Describe this garment in at most five words: colour, pattern, material, type."

# words in free text (a generative captioner's output) -> garment type; specific words first, "top" last
_TEXT_CLASSES = (("t-shirt", "t-shirt"), ("tshirt", "t-shirt"), ("tee", "t-shirt"), ("longsleeve", "longsleeve"),
                 ("long-sleeve", "longsleeve"), ("sweater", "longsleeve"), ("jumper", "longsleeve"),
                 ("outerwear", "outwear"), ("hoodie", "hoodie"), ("sweatshirt", "hoodie"), ("bodysuit", "body"), ("undershirt", "undershirt"),
                 ("tank", "undershirt"), ("singlet", "undershirt"), ("polo", "polo"), ("blouse", "blouse"),
                 ("blazer", "blazer"), ("dress", "dress"), ("skirt", "skirt"), ("shorts", "shorts"),
                 ("jeans", "pants"), ("pants", "pants"), ("trousers", "pants"), ("jacket", "outwear"),
                 ("coat", "outwear"), ("shoe", "shoes"), ("sneaker", "shoes"), ("boot", "shoes"), ("sandal", "shoes"),
                 ("hat", "hat"), ("cap", "hat"), ("shirt", "shirt"), ("bag", "bag"), ("handbag", "bag"),
                 ("clutch", "bag"), ("tote", "bag"), ("backpack", "bag"), ("purse", "bag"), ("top", "top"))
# every garment type a generative captioner's words can name
TEXT_CLASSES = tuple(dict.fromkeys(name for _, name in _TEXT_CLASSES))

MAX_WORDS = 8  # a caption is a product-title-like phrase; a VLM that rambles is cut here
# openings that name no garment: chat role echoes, "this is", BLIP's "a photo of a" and its "arafed" artefact
_FILLER = re.compile(r"^(?:assistant|answer|caption|this is|it is|that is|there is|this shows|"
                     r"(?:the|this) (?:image|photo|picture) (?:shows|depicts|features)|"
                     r"(?:a|an) (?:photo|image|picture|close-up) of|(?:a )?pair of|arafed|a|an|the)(?: |$)")
# "Colour: navy\nPattern: striped...": a VLM answering the prompt's list field by field
_FIELD = re.compile(r"\n?\s*\b(?:colou?r|pattern|material|type)\s*:")
# optional packages some captioners need (module -> pip name): requirements-extra.txt, or requirements.txt for
# num2words, which the tests need
EXTRAS = {"torchvision": "torchvision", "num2words": "num2words", "bitsandbytes": "bitsandbytes",
          "sentencepiece": "sentencepiece"}


@dataclass
class Caption:
    """One photo's caption and the attributes it was built from; `error` is set instead when it failed."""

    path: str
    caption: str = ""
    category: str = ""
    colors: list[str] = field(default_factory=list)
    pattern: str = ""  # "printed", "striped" or "": a word measured right often enough on real photos (`CaptionWord`)
    material: str = ""  # "denim" or "": likewise
    confidence: float = 0.0
    error: str = ""


def model_pixels(image: Image.Image, size: int) -> np.ndarray:
    """The classifier's view of a photo: the whole frame squashed to size x size (uint8 HWC).

    Squashing rather than cropping keeps shoes and hats that sit near a border; training caches the same.
    """
    return np.array(image.resize((size, size), Image.Resampling.BILINEAR), dtype=np.uint8)


def compose(color: str, pattern: str, material: str, category: str) -> str:
    """"<colour> [<pattern>] [<material>] <noun>", the caption format the outfit LM reads."""
    parts = [color, pattern if pattern != "solid" else "", material, GARMENT_TYPES.get(category, category)]
    return " ".join(p for p in parts if p)


def category_from_text(text: str) -> str:
    """The garment type a free-text caption names, or "" (first matching word wins)."""
    words = re.findall(r"[a-z][a-z-]*", text.lower())
    for key, name in _TEXT_CLASSES:
        if any(w == key or w == key + "s" or (len(key) > 4 and w.startswith(key)) for w in words):
            return name
    return ""


def garment_type(label: str) -> str:
    """A folder name or label as one of CLASSES ("T-Shirt", "Long sleeve", "Outerwear", "tank top" and plurals are
    the names other copies of the photo sets use), or the label in lower case when it names no type ("Other")."""
    key = label.strip().lower()
    joined = re.sub(r"[\s_]+", "-", key)
    for name in (key, joined):
        if name in CLASSES:
            return name
    return category_from_text(key) or category_from_text(joined) or key


def clean_caption(text: str, prompt: str = "") -> str:
    """A generated answer -> a short lower-case caption like the embedded captioner's ("navy striped t-shirt").

    The outfit model reads captions as product titles, so the prompt's echo, a second sentence, "a photo of",
    field names and punctuation are dropped and at most MAX_WORDS words are kept."""
    text = text.lower()
    if prompt and prompt.lower() in text:  # BLIP continues its prefix; a VLM may repeat the question
        text = text.split(prompt.lower(), 1)[1]
    text = _FIELD.sub(" ", text)
    text = next((line for line in text.splitlines() if line.strip()), "")
    text = re.split(r"(?<=[.!?;])\s", text.strip())[0]
    text = re.sub(r"(?<![a-z0-9])-|-(?![a-z0-9])|[^a-z0-9\s-]", " ", text.replace("'", ""))
    text = " ".join(text.split())
    while (shorter := _FILLER.sub("", text, count=1)) != text:
        text = shorter
    return " ".join(text.split()[:MAX_WORDS])


@dataclass(frozen=True)
class CaptionWord:
    """A pattern or material word ("printed", "denim") the embedded classifier adds to a caption when it shows.

    A logistic regression over the members' pooled stage features and the garment's `texture_statistics`,
    fitted on hand-labelled real photos (`python -m stylist train-caption-words`). It is written only for the
    garment types it was measured on and only from the probability at which cross-validation found it right
    at least 85% of the time: many garments that show it go unnamed, so that the word, when written, is true."""

    word: str
    kind: str  # "pattern" or "material": where `compose` puts it
    types: frozenset[str]
    stages: tuple[int, ...]
    mean: np.ndarray
    std: np.ndarray
    weight: np.ndarray
    bias: float
    threshold: float

    @classmethod
    def from_json(cls, data: dict) -> CaptionWord:
        return cls(data["word"], data["kind"], frozenset(data["types"]), tuple(data["stages"]),
                   *(np.asarray(data[k], dtype=np.float32) for k in ("mean", "std", "weight")),
                   float(data["bias"]), float(data["threshold"]))

    def to_json(self) -> dict:
        return {"word": self.word, "kind": self.kind, "types": sorted(self.types), "stages": list(self.stages),
                "texture_features": list(TEXTURE_FEATURES), "threshold": self.threshold, "bias": self.bias,
                **{k: [round(float(v), 6) for v in getattr(self, k)] for k in ("mean", "std", "weight")}}

    def probabilities(self, features: np.ndarray) -> np.ndarray:
        """P(the word is true) per row of `features` (pooled stages in `stages` order, then the texture)."""
        return 1.0 / (1.0 + np.exp(-(((features - self.mean) / self.std) @ self.weight + self.bias)))


def word_inputs(pooled: list[torch.Tensor], stages: tuple[int, ...], textures: np.ndarray) -> np.ndarray:
    """A `CaptionWord`'s inputs for some photos: their rows of the pooled `stages` (from
    `_Classifier.logits_and_stages`), then the `texture_statistics` of each garment (one row each)."""
    return np.concatenate([*(pooled[s].numpy() for s in stages), textures], 1)


class _Classifier:
    """An image-classification checkpoint (the embedded default or any HF classifier with these labels).

    `"ensemble": ["seed1", ...]` in its preprocessor_config.json names sub-folders holding more classifiers of
    the same architecture and preprocessing (trained with other seeds); their logits are summed. A
    `caption_words.json` beside it (`CaptionWord`s) adds those words to the captions of the photos that show them."""

    def __init__(self, path: str):
        import torch
        from transformers import AutoModelForImageClassification

        processor = _read_json(Path(path) / "preprocessor_config.json") if Path(path).is_dir() else {}
        members = [path, *(str(Path(path) / name) for name in processor.get("ensemble", []))]
        self.models = [_for_inference(AutoModelForImageClassification.from_pretrained(m).eval()) for m in members]
        self.model = self.models[0]
        size = processor.get("size", {"height": 224})
        self.size = int(size.get("height", size.get("shortest_edge", 224)))
        self.mean = torch.tensor(processor.get("image_mean", [0.5] * 3)).view(1, 3, 1, 1)
        self.std = torch.tensor(processor.get("image_std", [0.5] * 3)).view(1, 3, 1, 1)
        self.flip = bool(processor.get("flip_tta", False))
        self.classes = tuple(self.model.config.id2label[i] for i in range(self.model.config.num_labels))
        words = _read_json(Path(path) / CAPTION_WORDS) if Path(path).is_dir() else {}
        self.words = [CaptionWord.from_json(w) for w in words.get("words", [])]
        if self.words and not hasattr(self.model.config, "hidden_sizes"):
            raise StylistError(f"{Path(path) / CAPTION_WORDS}: caption words need a convolutional classifier's stages")
        if any(len(w.mean) != self.feature_size(w.stages) for w in self.words):
            raise StylistError(f"{Path(path) / CAPTION_WORDS} was fitted to another classifier's features: "
                               "run python -m stylist train-caption-words")

    def feature_size(self, stages: tuple[int, ...]) -> int:
        """Length of a `CaptionWord`'s input for these members: their pooled `stages`, then the texture."""
        widths = [[m.config.embedding_size, *m.config.hidden_sizes] for m in self.models]
        return sum(w[s] for w in widths for s in stages) + len(TEXTURE_FEATURES)

    def logits_and_stages(self, images: list[Image.Image], stages: bool) -> tuple[torch.Tensor, list[torch.Tensor]]:
        """Summed logits per photo and, when `stages`, each stage's globally averaged feature maps (members
        concatenated); both averaged over the photo and its mirror when the folder asks for that (`flip_tta`),
        the same test-time augmentation the training holdout used."""
        import torch

        x = torch.stack([torch.from_numpy(model_pixels(image, self.size)) for image in images])
        x = (x.permute(0, 3, 1, 2).float() / 255.0 - self.mean) / self.std
        if self.flip:
            x = torch.cat([x, x.flip(-1)])
        with torch.inference_mode():
            outputs = [model(pixel_values=x, output_hidden_states=stages) for model in self.models]
        views = 2 if self.flip else 1
        logits = sum(sum(o.logits for o in outputs).split(len(images)))
        pooled = [sum(torch.cat([o.hidden_states[s].mean((2, 3)) for o in outputs], -1).split(len(images))) / views
                  for s in range(len(outputs[0].hidden_states))] if stages else []
        return logits, pooled

    def __call__(self, images: list[Image.Image], thumbnails: list[np.ndarray], masks: list[np.ndarray]
                 ) -> list[tuple[str, float, str, dict]]:
        """(category, confidence, free text, {kind: word}) per image; a classifier has no free text. `thumbnails`
        and `masks`: each photo's `thumbnail` and its `garment_mask`, where the words' texture is measured."""
        logits, pooled = self.logits_and_stages(images, stages=bool(self.words))
        confidence, best = logits.softmax(-1).max(-1)
        categories = [self.classes[int(b)] for b in best]
        named: list[dict[str, tuple[float, str]]] = [{} for _ in images]  # kind -> (probability, word)
        textures: dict[int, np.ndarray] = {}  # a skirt is measured once for both its words
        for word in self.words:
            rows = [k for k, c in enumerate(categories) if c in word.types]
            if not rows:
                continue
            for k in rows:
                if k not in textures:
                    textures[k] = texture_statistics(thumbnails[k], masks[k])
            inputs = word_inputs([s[rows] for s in pooled], word.stages, np.stack([textures[k] for k in rows]))
            for k, p in zip(rows, word.probabilities(inputs)):
                if p >= word.threshold and p > named[k].get(word.kind, (0.0, ""))[0]:  # two patterns: the likelier
                    named[k][word.kind] = (float(p), word.word)
        return [(c, float(p), "", {kind: w for kind, (_, w) in n.items()})
                for c, p, n in zip(categories, confidence, named)]


def _for_inference(model: PreTrainedModel) -> PreTrainedModel:
    """An eval-mode ResNet classifier made faster on CPU, with the same logits up to float rounding.

    Each batch norm is folded into the convolution before it (a conv with a bias, an Identity norm): otherwise
    they cost a sixth of the forward pass. Weights go channels_last, which runs the stem's 7x7 convolution 2x
    and its max pool 12x faster on CPU. Other architectures are returned as they are."""
    import torch
    from torch.nn.utils.fusion import fuse_conv_bn_eval

    if model.config.model_type != "resnet":
        return model
    for layer in model.modules():  # ResNetConvLayer and ResNetShortCut
        conv, norm = getattr(layer, "convolution", None), getattr(layer, "normalization", None)
        if isinstance(conv, torch.nn.Conv2d) and isinstance(norm, torch.nn.BatchNorm2d):
            layer.convolution, layer.normalization = fuse_conv_bn_eval(conv, norm), torch.nn.Identity()
    return model.to(memory_format=torch.channels_last)


class _Generator:
    """A Hugging Face image-to-text / image-text-to-text model asked for a five-word caption.

    Each family gets the prompt it was trained on: chat VLMs (LLaVA, Idefics3/SmolVLM, Qwen2-VL...) the
    five-word instruction through their processor's chat template, Florence-2 its `<CAPTION>` task token, BLIP
    a prefix it continues (and echoes), a plain image-to-text model (ViT+GPT2) the image alone."""

    classes = TEXT_CLASSES

    def __init__(self, name: str):
        import torch
        from transformers import AutoImageProcessor, AutoModelForImageTextToText, AutoProcessor, AutoTokenizer

        self.model = AutoModelForImageTextToText.from_pretrained(name).eval()
        if torch.cuda.is_available():
            self.model.to("cuda")
        try:
            self.processor = AutoProcessor.from_pretrained(name)
        except (OSError, ValueError, TypeError):
            self.processor = None
        if self.processor is None or not hasattr(self.processor, "image_processor"):
            # e.g. a VisionEncoderDecoder folder: an image processor and a tokenizer, no joint processor
            self.image_processor = AutoImageProcessor.from_pretrained(name)
            self.tokenizer = AutoTokenizer.from_pretrained(name)
            self.processor, self.prompt = None, ""
        else:
            self.tokenizer = self.processor.tokenizer
            self.chat = bool(getattr(self.processor, "chat_template", None))
            florence = self.model.config.model_type == "florence2"
            self.prompt = PROMPT if self.chat else "<CAPTION>" if florence else "a photo of a"
        if not self.model.config.is_encoder_decoder:  # a batch of prompts is padded where generation cannot see
            self.tokenizer.padding_side = "left"

    def __call__(self, images: list[Image.Image], thumbnails: list[np.ndarray], masks: list[np.ndarray]
                 ) -> list[tuple[str, float, str, dict]]:
        """(category, confidence 0, the cleaned answer, no caption words: the answer has its own)."""
        import torch

        if self.processor is None:
            inputs = self.image_processor(images=images, return_tensors="pt")
        elif self.chat:
            chats = [[{"role": "user", "content": [{"type": "image", "image": image}, {"type": "text", "text": PROMPT}]}]
                     for image in images]
            inputs = self.processor.apply_chat_template(chats, add_generation_prompt=True, tokenize=True, return_dict=True,
                                                        return_tensors="pt", processor_kwargs={"padding": True})
        else:
            inputs = self.processor(images=images, text=[self.prompt] * len(images), padding=True, return_tensors="pt")
        inputs = inputs.to(self.model.device, dtype=self.model.dtype)  # dtype casts the pixels only
        with torch.inference_mode():
            out = self.model.generate(**inputs, max_new_tokens=20, do_sample=False)
        prompt = inputs.get("input_ids")
        if prompt is not None and out.shape[1] > prompt.shape[1] and torch.equal(out[:, :prompt.shape[1]], prompt):
            out = out[:, prompt.shape[1]:]  # decoder-only VLMs return the prompt before the answer
        texts = [clean_caption(t, self.prompt) for t in self.tokenizer.batch_decode(out, skip_special_tokens=True)]
        return [(category_from_text(text), 0.0, text, {}) for text in texts]


class Captioner:
    """Photos -> `Caption`s with one interface for the embedded classifier and any HF captioning model."""

    batch_size = 8  # photos per model call in `caption_images`

    def __init__(self, backend, name: str):
        self.backend = backend
        self.name = name

    @cached_property
    def identity(self) -> str:
        """A fingerprint of what this captioner writes (its models' weights and its caption words), so captions
        kept on disk are reused only by the same captioner, however it was loaded."""
        from stylist.models.embedder import weights_fingerprint

        models = getattr(self.backend, "models", None) or [self.backend.model]
        words = json.dumps([w.to_json() for w in getattr(self.backend, "words", [])])
        return weights_fingerprint(models[0], *(weights_fingerprint(m) for m in models[1:]), words)

    @property
    def classes(self) -> tuple[str, ...]:
        """The garment types this captioner can name: an evaluation on other types can only count them wrong."""
        return tuple(self.backend.classes)

    @classmethod
    def load(cls, name_or_path: str | os.PathLike | None = None) -> Captioner:
        """None/"default" -> the embedded checkpoint; otherwise a local folder or a Hugging Face model id."""
        name = str(name_or_path) if name_or_path not in (None, "", "default") else str(DEFAULT)
        try:
            from transformers import AutoConfig

            config = AutoConfig.from_pretrained(name)
            classifier = any(a.endswith("ForImageClassification") for a in (config.architectures or []))
            backend = _Classifier(name) if classifier else _Generator(name)
        except ImportError as exc:  # VLM processors import optional packages (torchvision, num2words...) lazily
            if mismatch := _torchvision_mismatch():
                raise StylistError(mismatch) from None
            package = _missing_package(exc)
            if not package:
                raise StylistError(f"cannot load captioner {name!r}: {_first_line(exc)}") from None
            raise StylistError(f"this captioner needs {package}: pip install {package}") from None
        except (OSError, ValueError, KeyError) as exc:
            raise StylistError(f"cannot load captioner {name!r}: {_first_line(exc)}") from None
        return cls(backend, name)

    def caption_image(self, image: Image.Image | str | os.PathLike | bytes, path: str | None = None) -> Caption:
        """Caption one photo (PIL image, path or bytes). Bad input raises StylistError naming the file."""
        if not isinstance(image, Image.Image):
            path = path or (str(image) if not isinstance(image, (bytes, bytearray)) else "uploaded image")
            image = load_image(image, name=path)
        return self._caption([(image.convert("RGB"), path or "")])[0]

    def caption_images(self, paths: list[str | os.PathLike]) -> list[Caption]:
        """Caption files in batches; a file that cannot be read gets a Caption with `error` set, the rest still work.

        With the embedded classifier, batches are captioned in worker threads, one per core, each running torch
        on one thread: its small convolutions barely gain from a second torch thread and stall when another job
        shares a core, whereas a batch per core also spreads the photo reading and the colour work. A generative
        captioner gets one batch at a time and torch's own threads."""
        import torch
        from tqdm import tqdm

        names = [str(p) for p in paths]
        batches = iter([names[i:i + self.batch_size] for i in range(0, len(names), self.batch_size)])
        threads = torch.get_num_threads()
        workers = len(os.sched_getaffinity(0)) if isinstance(self.backend, _Classifier) else 1
        captions: list[Caption] = []
        torch.set_num_threads(1 if workers > 1 else threads)  # process-wide until this returns: new threads start with it
        try:
            with tqdm(total=len(names), desc="captioning", disable=len(names) < 20) as progress, \
                    ThreadPoolExecutor(workers) as pool:
                # in order, with at most two batches per worker in flight (decoded photos take memory)
                running = deque(pool.submit(self._caption_files, b) for b in itertools.islice(batches, 2 * workers))
                while running:
                    done = running.popleft().result()
                    running.extend(pool.submit(self._caption_files, b) for b in itertools.islice(batches, 1))
                    captions += done
                    progress.update(len(done))
        finally:
            torch.set_num_threads(threads)
        return captions

    def _caption_files(self, names: list[str]) -> list[Caption]:
        """One batch of files; those that cannot be read get a Caption with `error` set."""
        read: list[tuple[Image.Image, str] | Caption] = []
        for name in names:
            try:
                read.append((load_image(name, name=name).convert("RGB"), name))
            except StylistError as exc:
                read.append(Caption(path=name, error=str(exc)))
        captions = iter(self._caption([r for r in read if not isinstance(r, Caption)]))
        return [r if isinstance(r, Caption) else next(captions) for r in read]

    def _caption(self, photos: list[tuple[Image.Image, str]]) -> list[Caption]:
        """One model call for the batch; the colours come from each garment's own pixels."""
        smalls = [thumbnail(image) for image, _ in photos]
        masks = [garment_mask(small) for small in smalls]  # the garment's own pixels, apart from the floor
        named = self.backend([image for image, _ in photos], smalls, masks) if photos else []
        captions = []
        for (image, path), small, mask, (category, confidence, text, words) in zip(photos, smalls, masks, named):
            colors = garment_colors(small, mask)
            pattern, material = words.get("pattern", ""), words.get("material", "")
            caption = text or compose(colors[0], pattern, material, category or "garment")
            captions.append(Caption(path=path, caption=caption, category=category, colors=colors, pattern=pattern,
                                    material=material, confidence=round(confidence, 4)))
        return captions


def _missing_package(exc: ImportError) -> str:
    """What to pip install for an ImportError: an optional extra its message names, else the missing module."""
    text = str(exc).lower()
    named = [package for module, package in EXTRAS.items() if module in text]
    module = (exc.name or "").split(".")[0]
    return named[0] if named else EXTRAS.get(module, module.replace("_", "-"))


def _torchvision_mismatch() -> str:
    """Why the installed torchvision cannot be imported, or "" when it can or is absent.

    PyPI's torchvision is a CUDA build: beside a CPU-only torch it fails to import with a RuntimeError, and then
    transformers cannot import any vision model (the embedded classifier too), so naming the package is not enough."""
    if importlib.util.find_spec("torchvision") is None:
        return ""
    try:
        import torchvision  # noqa: F401
    except (ImportError, RuntimeError, OSError) as exc:  # a build for another torch: RuntimeError, usually
        import torch

        return (f"torchvision {importlib.metadata.version('torchvision')} does not work with torch {torch.__version__} "
                f"({_first_line(exc)}): install the torchvision build made for this torch, or uninstall torchvision")
    return ""


def _first_line(exc: Exception) -> str:
    return str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__


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
