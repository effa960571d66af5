"""Captioner: the embedded classifier path, any HF image-to-text model through the same interface, garment
colours from the garment's own pixels, batches with bad files, the CLI and the evaluation command."""

from __future__ import annotations

import importlib.util
import json
import os
import re
import shutil
from dataclasses import replace
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
import torch
from PIL import Image

from stylist.core.colors import PALETTE, garment_colors, garment_mask, name_color
from stylist.core.errors import StylistError
from stylist.core.paths import EXAMPLES
from stylist.core.vocabulary import GARMENT_TYPES, slot_of
from stylist.evaluation.captions import csv_photos, evaluate, labelled_photos
from stylist.models.captioner import (
    CAPTION_WORDS,
    CLASSES,
    DEFAULT,
    MAX_WORDS,
    PROMPT,
    Caption,
    Captioner,
    category_from_text,
    clean_caption,
    compose,
    garment_type,
    main,
)
from stylist.train.caption_words import WordConfig
from stylist.train.caption_words import train as train_word
from stylist.train.captioner import RENDER_CLASSES, CaptionerTrainConfig, ensemble, init_model, real_photos, train


def flat_lay(garment: str, surface: str, box=(0.2, 0.15, 0.8, 0.85), size=(120, 160), stripes: str | None = None):
    """A garment-coloured shape on a textured surface, like the shared photos (known colours)."""
    rng = np.random.default_rng(0)
    w, h = size
    array = np.clip(np.array(PALETTE[surface], float) + rng.normal(0, 6, (h, w, 3)), 0, 255)
    x0, y0, x1, y1 = int(box[0] * w), int(box[1] * h), int(box[2] * w), int(box[3] * h)
    shade = np.linspace(0.85, 1.1, x1 - x0)[None, :, None]  # light falls across the garment
    array[y0:y1, x0:x1] = np.clip(np.array(PALETTE[garment], float) * shade, 0, 255)
    if stripes:
        rows = (np.arange(y0, y1) // 6) % 2 == 0
        array[y0:y1][rows, x0:x1] = PALETTE[stripes]
    return Image.fromarray(array.astype(np.uint8))


def printed_lay(garment: str, surface: str, seed: int) -> Image.Image:
    """A flat lay with a print: blotches of other colours scattered over the garment."""
    rng = np.random.default_rng(seed)
    array = np.array(flat_lay(garment, surface))
    colours = [c for name, c in PALETTE.items() if name not in (garment, surface)]
    for _ in range(14):
        y, x = int(rng.integers(30, 125)), int(rng.integers(28, 90))
        array[y:y + 7, x:x + 7] = colours[int(rng.integers(len(colours)))]
    return Image.fromarray(array)


@pytest.fixture(scope="module")
def tiny_classifier(tmp_path_factory) -> Path:
    """A real (tiny) checkpoint written by the training script itself, from a handful of synthetic photos."""
    root = tmp_path_factory.mktemp("photos")
    for i, name in enumerate(CLASSES[:3]):
        (root / name).mkdir()
        for j in range(4):
            flat_lay(list(PALETTE)[i + j], "beige").save(root / name / f"{j}.jpg")
    extra = tmp_path_factory.mktemp("extra")  # an images.csv source as clothing-extra's, with a new type
    (extra / "polo").mkdir()
    rows = ["image,label,kids"]
    for j in range(8):
        flat_lay(list(PALETTE)[j], "white", stripes="black").save(extra / "polo" / f"{j}.jpg")
        rows.append(f"polo/{j}.jpg,polo,False")
    (extra / "images.csv").write_text("\n".join(rows) + "\n")
    out = root / "model"
    cfg = CaptionerTrainConfig(data=str(root), extra=str(extra / "images.csv"), out=str(out), cache=str(root / "cache_{size}.pt"), image_size=32,
                      widths=(8, 8, 8, 8), depths=(1, 1, 1, 1), epochs=1, batch_size=4, holdout=0.25)
    train(cfg)
    return out


def test_training_writes_a_from_pretrained_folder(tiny_classifier):
    from transformers import AutoModelForImageClassification

    model = AutoModelForImageClassification.from_pretrained(tiny_classifier)
    assert [model.config.id2label[i] for i in range(len(CLASSES))] == list(CLASSES)
    metrics = json.loads((tiny_classifier / "metrics.json").read_text())
    assert 0 <= metrics["holdout_accuracy"] <= 1 and (tiny_classifier / "train_log.txt").read_text()
    # 12 folder photos (3 held out) + the csv's 8 less its 2 test photos, never loaded (2 held out)
    assert (metrics["n_train"], metrics["n_holdout"]) == (9 + 4, 3 + 2)


def test_a_checkpoint_from_before_a_new_class_keeps_its_predictions(tmp_path):
    """`--init` on a model trained with one class fewer: the old classes' logits are unchanged, the new one
    starts below all of them, and every class the renders teach is one the captioner knows."""

    from transformers import ResNetConfig, ResNetForImageClassification

    old_classes = CLASSES[:-1]
    config = ResNetConfig(embedding_size=8, hidden_sizes=[8, 8, 8, 8], depths=[1, 1, 1, 1], layer_type="basic",
                          num_labels=len(old_classes), id2label=dict(enumerate(old_classes)))
    old = ResNetForImageClassification(config).eval()
    old.save_pretrained(tmp_path / "old")
    grown = init_model(str(tmp_path / "old")).eval()
    x = torch.randn(2, 3, 32, 32)
    with torch.no_grad():
        before, after = old(pixel_values=x).logits, grown(pixel_values=x).logits
    assert after.shape[1] == len(CLASSES) and grown.config.id2label[len(CLASSES) - 1] == CLASSES[-1]
    assert torch.allclose(before, after[:, :-1], atol=1e-5) and bool((after[:, -1] < before.max(1).values).all())
    assert set(RENDER_CLASSES.values()) <= set(CLASSES)


def test_ensemble_of_runs_is_judged_on_the_holdout_written_and_loaded_by_the_captioner(tiny_classifier, tmp_path):
    from transformers import ResNetForImageClassification

    from stylist.train.captioner import PRIOR_TAUS, training_log_prior

    cfg = json.loads((tiny_classifier / "metrics.json").read_text())["config"]
    cfg = CaptionerTrainConfig(**{**cfg, "widths": tuple(cfg["widths"]), "depths": tuple(cfg["depths"]), "out": str(tmp_path / "e")})
    report = ensemble(cfg, [str(tiny_classifier), str(tiny_classifier)])
    assert report["n_holdout"] == 3 + 2 and report["members"][str(tiny_classifier)] == report["ensemble"]
    parts = report["by_part"]  # the folder's holdout, the csv's, and its new type (polo) apart
    assert [parts[p]["n"] for p in ("data", "extra", "new_types")] == [3, 2, 2]
    assert parts["new_types"]["ensemble"] == parts["extra"]["ensemble"]  # all the csv's photos are polos
    assert not report["beats_members"] and set(report["by_prior_tau"]["data"]) == {"n", *map(str, PRIOR_TAUS)}
    photo = flat_lay("red", "beige")
    single, double = Captioner.load(tiny_classifier), Captioner.load(tmp_path / "e")  # a member in a sub-folder
    assert len(double.backend.models) == 2 and (tmp_path / "e" / "member1" / "config.json").exists()
    assert double.caption_image(photo).category == single.caption_image(photo).category
    # a logit adjustment is written into every member's output bias, half for each of the two mirrored views
    adjusted = ensemble(replace(cfg, out=str(tmp_path / "tau"), prior_tau=1.0), [str(tiny_classifier)] * 2)
    assert adjusted["prior_tau"] == 1.0
    _, labels, train_idx, _ = real_photos(cfg)
    shift = 0.5 * training_log_prior(cfg, labels[train_idx])
    bias = lambda folder: ResNetForImageClassification.from_pretrained(folder).classifier[-1].bias.detach()
    for member in ("", "member1"):
        assert torch.allclose(bias(tmp_path / "tau" / member), bias(tiny_classifier) - shift, atol=2e-3)  # fp16 weights
    # the written ensemble's folders join a new ensemble as they were trained: the adjustment is not applied twice
    again = ensemble(replace(cfg, out=str(tmp_path / "again")), [str(tmp_path / "tau"), str(tmp_path / "tau" / "member1")])
    assert again["by_prior_tau"] == report["by_prior_tau"]
    assert torch.allclose(bias(tmp_path / "again"), bias(tiny_classifier), atol=2e-3)


def test_ensemble_grows_a_member_from_before_a_new_class(tiny_classifier, tmp_path):
    """A member trained with one class fewer (the shipped captioner before "bag") joins an ensemble of the new
    classes: it is grown as `--init` grows it, so the holdout report and the written folder work."""
    from transformers import ResNetConfig, ResNetForImageClassification

    new = ResNetForImageClassification.from_pretrained(tiny_classifier)
    n = len(CLASSES) - 1
    config = ResNetConfig(**{**new.config.to_dict(), "num_labels": n, "id2label": dict(enumerate(CLASSES[:n])),
                             "label2id": {c: i for i, c in enumerate(CLASSES[:n])}})
    old = ResNetForImageClassification(config)
    old.load_state_dict({k: v[:n] if k.startswith("classifier.1.") else v for k, v in new.state_dict().items()})
    old.save_pretrained(tmp_path / "old")
    cfg = json.loads((tiny_classifier / "metrics.json").read_text())["config"]
    cfg = CaptionerTrainConfig(**{**cfg, "widths": tuple(cfg["widths"]), "depths": tuple(cfg["depths"]), "out": str(tmp_path / "e")})
    report = ensemble(cfg, [str(tmp_path / "old"), str(tiny_classifier)])
    assert report["n_holdout"] == 3 + 2 and set(report["members"]) == {str(tmp_path / "old"), str(tiny_classifier)}


def test_caption_from_classifier(tiny_classifier):
    caption = Captioner.load(tiny_classifier).caption_image(flat_lay("red", "beige"), path="red.jpg")
    assert isinstance(caption, Caption) and not caption.error
    assert caption.category in CLASSES and caption.colors[0] == "red"
    assert caption.caption.startswith("red ") and 0 < caption.confidence <= 1


def test_batch_with_bad_files_still_captions_the_rest(tiny_classifier, tmp_path):
    good = tmp_path / "good.png"
    flat_lay("navy", "white").save(good)
    (tmp_path / "empty.jpg").write_bytes(b"")
    (tmp_path / "text.jpg").write_bytes(b"not an image")
    paths = [good, tmp_path / "empty.jpg", tmp_path / "text.jpg", tmp_path / "missing.png", good]
    captions = Captioner.load(tiny_classifier).caption_images(paths)
    assert [bool(c.error) for c in captions] == [False, True, True, True, False]
    assert "empty.jpg" in captions[1].error and captions[0].colors[0] == "navy"


def test_caption_words_are_fitted_on_labelled_photos_and_written_only_where_they_hold(tiny_classifier, tmp_path):
    """`train-caption-words` on labelled photos (plain and printed flat lays) writes each word beside the classifier;
    captions then carry the pattern and the material word for a new printed photo and neither for a plain one, and
    words fitted to other features, or a damaged file, are refused in one line."""
    folder = tmp_path / "captioner"
    shutil.copytree(tiny_classifier, folder)
    garments, rows = ["red", "navy", "green", "black", "yellow", "blue"], []
    for i in range(24):
        photo = tmp_path / f"{i}.png"
        (printed_lay(garments[i % 6], "beige", i) if i % 2 else flat_lay(garments[i % 6], "beige")).save(photo)
        rows.append({"photo": str(photo), "type": CLASSES[i % len(CLASSES)], "pattern": "print" if i % 2 else "plain",
                     "split": "dev"})
    (tmp_path / "labels.json").write_text(json.dumps({"photos": rows}))
    for word, kind in (("printed", "pattern"), ("blotched", "material"), ("printed", "pattern")):  # a refit replaces
        config = WordConfig(word, kind, (str(tmp_path / "labels.json"),), "pattern", ("print",), min_written=4)
        assert train_word(config, folder)["cv_auc"] > 0.9
    words = json.loads((folder / CAPTION_WORDS).read_text())["words"]
    assert sorted(w["word"] for w in words) == ["blotched", "printed"]
    captioner = Captioner.load(folder)
    printed, plain = captioner.caption_image(printed_lay("purple", "beige", 99)), captioner.caption_image(
        flat_lay("purple", "beige"))
    assert (printed.pattern, printed.material) == ("printed", "blotched")
    assert printed.caption.startswith("purple printed blotched ")
    assert (plain.pattern, plain.material) == ("", "")
    assert "printed" not in plain.caption and "blotched" not in plain.caption
    printed_fit = next(w for w in words if w["word"] == "printed")
    for shift, expected in ((3.0, "dotty"), (-3.0, "printed")):  # two pattern words over their thresholds: the likelier
        rival = {**printed_fit, "word": "dotty", "bias": printed_fit["bias"] + shift, "threshold": 0.01}
        (folder / CAPTION_WORDS).write_text(json.dumps({"words": [*words, rival]}))
        assert Captioner.load(folder).caption_image(printed_lay("purple", "beige", 99)).pattern == expected
    (folder / CAPTION_WORDS).write_text(json.dumps({"words": [{**words[0], "mean": words[0]["mean"][1:]}]}))
    with pytest.raises(StylistError, match="fitted to another classifier's features"):
        Captioner.load(folder)
    (folder / CAPTION_WORDS).write_text("{not json")
    with pytest.raises(StylistError, match="cannot load captioner"):
        Captioner.load(folder)


def test_a_photo_folder_catalog_is_captioned_once_per_captioner(tiny_classifier, tmp_path, monkeypatch):
    """The captions of a photo-folder catalog are kept for the captioner that wrote them: the same one reads them
    back without captioning, another one (or the same retrained) captions the folder again."""
    from stylist.app.active_catalog import open_catalog

    (tmp_path / "photos" / "dress").mkdir(parents=True)
    (tmp_path / "data").mkdir()
    flat_lay("red", "beige").save(tmp_path / "photos" / "dress" / "a.png")
    tiny, embedded = Captioner.load(tiny_classifier), Captioner.load(None)
    assert tiny.identity == Captioner.load(tiny_classifier).identity != embedded.identity
    first = open_catalog(str(tmp_path / "photos"), tmp_path / "data", tiny)
    monkeypatch.setattr(Captioner, "caption_images", lambda self, paths: pytest.fail("captioned again"))
    again = open_catalog(str(tmp_path / "photos"), tmp_path / "data", Captioner.load(tiny_classifier))
    assert [i.title for i in again.items.values()] == [i.title for i in first.items.values()] != [""]
    monkeypatch.undo()
    open_catalog(str(tmp_path / "photos"), tmp_path / "data", embedded)
    assert len(list((tmp_path / "data").glob("catalog-captions-*.json"))) == 2


@pytest.mark.parametrize("layer_type", ["basic", "bottleneck"])
def test_batch_norms_are_folded_into_the_convolutions_with_the_same_logits(layer_type, tmp_path):
    """The loaded classifier has no batch norm left and gives the checkpoint's logits (its BN statistics made
    far from the identity first, so a wrong fold could not pass)."""

    from transformers import ResNetConfig, ResNetForImageClassification

    torch.manual_seed(0)
    config = ResNetConfig(embedding_size=8, hidden_sizes=[8, 16, 16, 24], depths=[1, 2, 1, 1], layer_type=layer_type,
                          num_labels=len(CLASSES), id2label=dict(enumerate(CLASSES)))
    model = ResNetForImageClassification(config).eval()
    norms = [m for m in model.modules() if isinstance(m, torch.nn.BatchNorm2d)]
    for norm in norms:
        norm.running_mean.normal_(0, 0.5)
        norm.running_var.uniform_(0.2, 3.0)
        norm.weight.data.uniform_(0.5, 1.5)
        norm.bias.data.normal_(0, 0.5)
    model.save_pretrained(tmp_path)
    backend = Captioner.load(tmp_path).backend
    assert not any(isinstance(m, torch.nn.BatchNorm2d) for m in backend.model.modules())
    assert sum(isinstance(m, torch.nn.Conv2d) and m.bias is not None for m in backend.model.modules()) == len(norms)
    x = torch.randn(4, 3, 64, 64)
    with torch.inference_mode():
        expected, got = model(pixel_values=x).logits, backend.model(pixel_values=x).logits
    assert expected.abs().max() > 0.1 and torch.allclose(got, expected, rtol=0, atol=1e-4)


def test_colour_distances_keep_numpys_sums():
    """`_squared_norms` adds channels in the order `.sum(1)` does, so masks and colours are the same to the bit."""
    from stylist.core.colors import _squared_norms

    rng = np.random.default_rng(0)
    for dtype in (np.float32, np.float64):
        rows = (rng.normal(0, 40, (20_000, 3)) + [50, 0, 0]).astype(dtype)
        assert np.array_equal(_squared_norms(rows), (rows * rows).sum(1))


def test_a_folder_in_worker_threads_is_captioned_as_photo_by_photo(tiny_classifier, tmp_path):
    """Batches in worker threads (two torch threads: two workers) give each photo its own caption, in order, and
    torch's thread count is back afterwards."""


    paths = []
    for i, (garment, surface) in enumerate([("red", "beige"), ("navy", "white"), ("green", "grey"), ("black", "beige")]
                                           * 6):
        paths.append(tmp_path / f"{i}.jpg")
        flat_lay(garment, surface, stripes="white" if i % 3 == 0 else None).save(paths[-1])
    paths.insert(5, tmp_path / "missing.jpg")
    captioner = Captioner.load(tiny_classifier)
    captioner.batch_size = 3
    threads = torch.get_num_threads()
    torch.set_num_threads(2)
    try:
        folder = captioner.caption_images(paths)
        assert torch.get_num_threads() == 2
    finally:
        torch.set_num_threads(threads)
    assert [c.path for c in folder] == [str(p) for p in paths] and folder[5].error and not folder[5].category
    for path, caption in zip(paths, folder):
        if caption is not folder[5]:
            alone = captioner.caption_image(path)
            assert (caption.caption, caption.colors, caption.pattern) == (alone.caption, alone.colors, alone.pattern)
            assert caption.confidence == pytest.approx(alone.confidence, abs=2e-4)


@pytest.mark.parametrize("garment, surface, box", [
    ("red", "beige", (0.2, 0.15, 0.8, 0.85)),
    ("navy", "white", (0.25, 0.2, 0.75, 0.8)),
    ("white", "brown", (0.3, 0.1, 0.7, 0.9)),
    ("black", "grey", (0.2, 0.2, 0.8, 0.8)),
    ("blue", "white", (0.35, 0.0, 0.65, 1.0)),  # trousers running off the top and bottom of the frame
    ("green", "beige", (0.1, 0.1, 0.9, 0.9)),  # a garment filling most of the frame
])
def test_colour_comes_from_the_garment_not_the_surface(garment, surface, box):
    image = flat_lay(garment, surface, box)
    assert garment_colors(image)[0] == garment
    mask = garment_mask(np.asarray(image.resize((48, 64))))
    assert 0.1 < mask.mean() < 0.95


def test_caption_text_helpers():
    assert compose("navy", "striped", "", "t-shirt") == "navy striped t-shirt"
    assert compose("black", "solid", "leather", "shoes") == "black leather shoes"
    assert category_from_text("a red cotton T-shirt on a bed") == "t-shirt"
    assert category_from_text("black ankle boots") == "shoes"
    assert category_from_text("a lovely sunset") == ""


# the tiny generators' vocabulary: every word of the chat prompt, so a prompt echo would decode as words
WORDS = list(dict.fromkeys(["<pad>", "<s>", "</s>", "<unk>", "a", "photo", "of", "navy", "red", "striped", "cotton",
                            "t-shirt", "dress", "user", "assistant", ":", ",", ".", *re.findall(r"\w+", PROMPT.lower())]))
CHAT_TEMPLATE = ("{% for m in messages %}{{ m['role'] }}: {% for c in m['content'] %}{% if c['type'] == 'image' %}"
                 "<image> {% else %}{{ c['text'] }}{% endif %}{% endfor %}<end_of_utterance>\n{% endfor %}"
                 "{% if add_generation_prompt %}assistant:{% endif %}")
VISION = {"image_size": 32, "patch_size": 8, "hidden_size": 16, "num_hidden_layers": 1, "num_attention_heads": 2,
          "intermediate_size": 32}


def word_tokenizer(special: dict[str, str] | None = None):
    """A word-level tokenizer over WORDS plus the model's named special tokens (image placeholders...)."""
    from tokenizers import Tokenizer, models, pre_tokenizers
    from transformers import PreTrainedTokenizerFast

    special = special or {}
    backend = Tokenizer(models.WordLevel({w: i for i, w in enumerate(WORDS + list(special.values()))}, unk_token="<unk>"))
    backend.pre_tokenizer = pre_tokenizers.Whitespace()
    return PreTrainedTokenizerFast(tokenizer_object=backend, pad_token="<pad>", bos_token="<s>", eos_token="</s>",
                                   unk_token="<unk>", extra_special_tokens=special)


def tiny_llama(vocab_size: int):
    from transformers import LlamaConfig

    return LlamaConfig(vocab_size=vocab_size, hidden_size=16, intermediate_size=32, num_hidden_layers=1,
                       num_attention_heads=2, num_key_value_heads=2, max_position_embeddings=256, pad_token_id=0,
                       bos_token_id=1, eos_token_id=2)


def tiny_blip():

    from transformers import (
        BertTokenizerFast,
        BlipConfig,
        BlipForConditionalGeneration,
        BlipImageProcessor,
        BlipProcessor,
    )

    tokenizer = BertTokenizerFast(vocab={w: i for i, w in enumerate(["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[DEC]", *WORDS[4:]])})
    tokenizer.add_special_tokens({"bos_token": "[DEC]"})
    text = {**VISION, "vocab_size": len(tokenizer), "max_position_embeddings": 64, "bos_token_id": 4, "pad_token_id": 0,
            "sep_token_id": 3, "eos_token_id": 3}
    text.pop("image_size"), text.pop("patch_size")
    model = BlipForConditionalGeneration(BlipConfig(text_config=text, vision_config=VISION, projection_dim=16))
    with torch.no_grad():  # BLIP's decoder generates with its own config: bias its output layer to "dress" instead
        model.text_decoder.cls.predictions.bias[tokenizer.convert_tokens_to_ids("dress")] = 100.0
    return model, BlipProcessor(BlipImageProcessor(size={"height": 32, "width": 32}), tokenizer), tokenizer


def tiny_vit_gpt2():
    from transformers import GPT2Config, VisionEncoderDecoderConfig, VisionEncoderDecoderModel, ViTConfig
    from transformers.models.vit.image_processing_pil_vit import ViTImageProcessorPil

    tokenizer = word_tokenizer()
    decoder = GPT2Config(vocab_size=len(tokenizer), n_positions=32, n_embd=16, n_layer=1, n_head=2)
    model = VisionEncoderDecoderModel(VisionEncoderDecoderConfig.from_encoder_decoder_configs(ViTConfig(**VISION), decoder))
    for c in (model.config, model.generation_config):
        c.decoder_start_token_id, c.pad_token_id, c.eos_token_id, c.bos_token_id = 1, 0, 2, 1
    return model, ViTImageProcessorPil(size={"height": 32, "width": 32}), tokenizer


def tiny_llava():
    from transformers import CLIPVisionConfig, LlavaConfig, LlavaForConditionalGeneration, LlavaProcessor
    from transformers.models.clip.image_processing_pil_clip import CLIPImageProcessorPil

    tokenizer = word_tokenizer({"image_token": "<image>"})
    images = CLIPImageProcessorPil(size={"shortest_edge": 32}, crop_size={"height": 32, "width": 32})
    processor = LlavaProcessor(images, tokenizer, patch_size=8, vision_feature_select_strategy="default",
                               num_additional_image_tokens=1, chat_template=CHAT_TEMPLATE)
    config = LlavaConfig(vision_config=CLIPVisionConfig(**VISION), text_config=tiny_llama(len(tokenizer)),
                         image_token_id=tokenizer.image_token_id, vision_feature_layer=-1)
    return LlavaForConditionalGeneration(config), processor, tokenizer


def tiny_idefics3():
    """The architecture of SmolVLM (whose own processor additionally needs num2words)."""
    from transformers import Idefics3Config, Idefics3ForConditionalGeneration, Idefics3Processor
    from transformers.models.idefics3.image_processing_pil_idefics3 import Idefics3ImageProcessorPil

    tokenizer = word_tokenizer({"image_token": "<image>", "fake_image_token": "<fake_token_around_image>",
                                "global_image_token": "<global-img>", "end_of_utterance_token": "<end_of_utterance>"})
    images = Idefics3ImageProcessorPil(do_image_splitting=False, size={"longest_edge": 32},
                                       max_image_size={"longest_edge": 32})
    processor = Idefics3Processor(images, tokenizer, image_seq_len=4, chat_template=CHAT_TEMPLATE)  # (32/8)^2 / 2^2
    config = Idefics3Config(vision_config=VISION, text_config=tiny_llama(len(tokenizer)), scale_factor=2,
                            image_token_id=tokenizer.image_token_id)
    return Idefics3ForConditionalGeneration(config), processor, tokenizer


def tiny_florence2():
    from transformers import BartConfig, Florence2Config, Florence2ForConditionalGeneration, Florence2Processor
    from transformers.models.clip.image_processing_pil_clip import CLIPImageProcessorPil

    tokenizer = word_tokenizer({"image_token": "<image>"})
    # a 32-pixel photo leaves 4x4 patches after strides 4 and 2, plus one pooled token
    images = CLIPImageProcessorPil(size={"height": 32, "width": 32}, do_center_crop=False, image_seq_length=17)
    vision = {"depths": [1, 1], "patch_size": [7, 3], "patch_stride": [4, 2], "patch_padding": [3, 1],
              "patch_prenorm": [False, True], "embed_dim": [8, 16], "num_heads": [2, 2], "num_groups": [2, 2],
              "window_size": 2, "projection_dim": 16, "max_position_embeddings": 8}
    text = BartConfig(vocab_size=len(tokenizer), d_model=16, encoder_layers=1, decoder_layers=1, encoder_attention_heads=2,
                      decoder_attention_heads=2, encoder_ffn_dim=32, decoder_ffn_dim=32, max_position_embeddings=64,
                      pad_token_id=0, bos_token_id=1, eos_token_id=2, decoder_start_token_id=2)
    config = Florence2Config(vision_config=vision, text_config=text, image_token_id=tokenizer.image_token_id)
    return Florence2ForConditionalGeneration(config), Florence2Processor(images, tokenizer), tokenizer


# family -> (tiny model builder, the prompt it must be given)
GENERATORS = {"blip": (tiny_blip, "a photo of a"), "vit-gpt2": (tiny_vit_gpt2, ""), "llava": (tiny_llava, PROMPT),
              "idefics3": (tiny_idefics3, PROMPT), "florence2": (tiny_florence2, "<CAPTION>")}


def save_generator(family: str, folder: Path) -> Path:
    """A tiny random model of the family saved as a from_pretrained folder. Its generation config biases every step
    to "dress", so a clean answer is exactly "dress" repeated, and any prompt echo left in would show."""


    torch.manual_seed(0)
    model, processor, tokenizer = GENERATORS[family][0]()
    model.generation_config.sequence_bias = [[[tokenizer.convert_tokens_to_ids("dress")], 100.0]]
    for part in (model, processor, tokenizer):
        part.save_pretrained(folder)
    return folder


@pytest.mark.parametrize("family", list(GENERATORS))
def test_generative_captioners_get_their_prompt_and_give_a_short_caption(family, tmp_path):
    for i, colour in enumerate(["red", "navy", "green"]):
        flat_lay(colour, "beige").save(tmp_path / f"{i}.png")
    captioner = Captioner.load(save_generator(family, tmp_path / "model"))
    captioner.batch_size = 2  # two batches, the second one short
    assert captioner.backend.prompt == GENERATORS[family][1]
    captions = captioner.caption_images([tmp_path / f"{i}.png" for i in range(3)] + [tmp_path / "missing.png"])
    assert [c.caption for c in captions[:3]] == [" ".join(["dress"] * MAX_WORDS)] * 3
    assert [c.category for c in captions[:3]] == ["dress"] * 3 and captions[1].colors[0] == "navy"
    assert captions[3].error and set(captioner.classes) >= set(GARMENT_TYPES) - {"bag"}
    assert captioner.caption_image(flat_lay("red", "beige")).caption == captions[0].caption


def tiny_qwen_vl(family: str = "qwen2-vl"):
    """Qwen2-VL or Qwen2.5-VL (same processor, other vision tower): 32-pixel photos, 8-pixel patches merged 2x2."""
    from transformers import (
        Qwen2_5_VLConfig,
        Qwen2_5_VLForConditionalGeneration,
        Qwen2_5_VLProcessor,
        Qwen2VLConfig,
        Qwen2VLForConditionalGeneration,
        Qwen2VLProcessor,
    )
    from transformers.models.qwen2_vl.image_processing_pil_qwen2_vl import Qwen2VLImageProcessorPil

    tokens = {"image_token": "<|image_pad|>", "video_token": "<|video_pad|>", "vision_start_token": "<|vision_start|>",
              "vision_end_token": "<|vision_end|>"}
    tokenizer = word_tokenizer(tokens)
    images = Qwen2VLImageProcessorPil(patch_size=8, merge_size=2, min_pixels=32 * 32, max_pixels=32 * 32)
    template = CHAT_TEMPLATE.replace("<image> ", "<|vision_start|><|image_pad|><|vision_end|> ")
    text = {"vocab_size": len(tokenizer), "hidden_size": 16, "intermediate_size": 32, "num_hidden_layers": 1,
            "num_attention_heads": 2, "num_key_value_heads": 2, "pad_token_id": 0, "bos_token_id": 1, "eos_token_id": 2,
            "rope_parameters": {"rope_type": "default", "rope_theta": 1e4, "mrope_section": [1, 1, 2]}}  # head_dim 8 / 2
    vision = {"depth": 1, "hidden_size": 16, "num_heads": 2, "patch_size": 8, "spatial_merge_size": 2}
    ids = {name.replace("_token", "_token_id"): tokenizer.convert_tokens_to_ids(token) for name, token in tokens.items()}
    if family == "qwen2.5-vl":
        vision |= {"intermediate_size": 32, "out_hidden_size": 16, "window_size": 16, "fullatt_block_indexes": [0]}
        config = Qwen2_5_VLConfig(text_config=text, vision_config=vision, **ids)
        model, processor = Qwen2_5_VLForConditionalGeneration(config), Qwen2_5_VLProcessor(images, tokenizer, None, template)
        return model, processor, tokenizer
    config = Qwen2VLConfig(text_config=text, vision_config={**vision, "embed_dim": 16}, **ids)
    return Qwen2VLForConditionalGeneration(config), Qwen2VLProcessor(images, tokenizer, None, template), tokenizer


def tiny_smolvlm():
    from transformers import SmolVLMConfig, SmolVLMForConditionalGeneration, SmolVLMProcessor
    from transformers.models.smolvlm.image_processing_pil_smolvlm import SmolVLMImageProcessorPil

    tokenizer = word_tokenizer({"image_token": "<image>", "fake_image_token": "<fake_token_around_image>",
                                "global_image_token": "<global-img>", "end_of_utterance_token": "<end_of_utterance>"})
    images = SmolVLMImageProcessorPil(do_image_splitting=False, size={"longest_edge": 32},
                                      max_image_size={"longest_edge": 32})
    video = SimpleNamespace(num_frames=64, fps=1)  # the two settings SmolVLM's chat template reads of its video half
    processor = SmolVLMProcessor(images, tokenizer, video, image_seq_len=4, chat_template=CHAT_TEMPLATE)
    config = SmolVLMConfig(vision_config=VISION, text_config=tiny_llama(len(tokenizer)), scale_factor=2,
                           image_token_id=tokenizer.image_token_id)
    return SmolVLMForConditionalGeneration(config), processor, tokenizer


# families whose processor also holds a video processor, the one part of them that needs torchvision
# -> (tiny model builder, image tokens of a 3:4 photo: Qwen's 32x16 pixels are 4x2 patches merged 2x2)
VIDEO_VLMS = {"qwen2-vl": (tiny_qwen_vl, 2), "qwen2.5-vl": (lambda: tiny_qwen_vl("qwen2.5-vl"), 2),
              "smolvlm": (tiny_smolvlm, 4)}


@pytest.fixture
def without_video_processor(monkeypatch):
    """Lets these processors be built without their video processor: PyPI has no torchvision build for a CPU-only
    torch, and a photo never reaches that part."""
    from transformers.processing_utils import ProcessorMixin

    check = ProcessorMixin.check_argument_for_proper_class
    monkeypatch.setattr(ProcessorMixin, "check_argument_for_proper_class",
                        lambda self, name, arg: None if name == "video_processor" else check(self, name, arg))


@pytest.mark.parametrize("family", list(VIDEO_VLMS))
def test_video_capable_vlms_caption_a_batch_of_photos_with_the_chat_prompt(family, tmp_path, monkeypatch,
                                                                           without_video_processor):
    """Qwen2-VL, Qwen2.5-VL and SmolVLM end to end but for the video processor: the model loads from its folder,
    the processor is handed over as AutoProcessor would build it there."""

    from transformers import AutoProcessor

    torch.manual_seed(0)
    builder, image_tokens = VIDEO_VLMS[family]
    model, processor, tokenizer = builder()
    model.generation_config.sequence_bias = [[[tokenizer.convert_tokens_to_ids("dress")], 100.0]]
    for part in (model, tokenizer):
        part.save_pretrained(tmp_path)
    assert sum(f.stat().st_size for f in tmp_path.iterdir()) < 2**20
    monkeypatch.setattr(AutoProcessor, "from_pretrained", lambda name, **kwargs: processor)
    captioner = Captioner.load(tmp_path)
    prompts = []
    generate = captioner.backend.model.generate
    monkeypatch.setattr(captioner.backend.model, "generate",
                        lambda **inputs: prompts.append(inputs["input_ids"]) or generate(**inputs))

    captions = captioner.caption_images([EXAMPLES / "dress-01.png", EXAMPLES / "jacket-01.png"])
    assert len(prompts) == 1 and prompts[0].shape[0] == 2  # one batch
    for prompt in tokenizer.batch_decode(prompts[0], skip_special_tokens=False):
        assert "five words : colour , pattern , material , type" in prompt and prompt.endswith("assistant :")
        assert prompt.count(processor.image_token) == image_tokens
    assert [c.caption for c in captions] == [" ".join(["dress"] * MAX_WORDS)] * 2
    assert [c.category for c in captions] == ["dress"] * 2 and captions[0].colors[0] == "red" and not captions[1].error


@pytest.mark.skipif(importlib.util.find_spec("torchvision") is not None, reason="torchvision is installed")
@pytest.mark.parametrize("family", ["qwen2-vl", "smolvlm"])
def test_a_vlm_folder_that_needs_torchvision_is_one_line_naming_it(family, tmp_path, monkeypatch,
                                                                    without_video_processor):
    """The folder as a user gets it, without torchvision: the video processor AutoProcessor loads with it fails."""
    model, processor, tokenizer = VIDEO_VLMS[family][0]()
    for part in (model, tokenizer, processor.image_processor):
        part.save_pretrained(tmp_path)
    (tmp_path / "processor_config.json").write_text(json.dumps({"processor_class": type(processor).__name__}))
    monkeypatch.undo()  # loading must meet the video processor as it is
    with pytest.raises(StylistError) as info:
        Captioner.load(tmp_path)
    assert str(info.value) == "this captioner needs torchvision: pip install torchvision"


def test_a_torchvision_built_for_another_torch_is_one_line(tmp_path):
    """PyPI's torchvision beside a CPU-only torch fails to import with a RuntimeError, and transformers then
    cannot import any vision model: even the embedded captioner must say which package to fix."""
    import subprocess
    import sys



    package, meta = tmp_path / "torchvision", tmp_path / "torchvision-0.28.0.dist-info"
    package.mkdir(), meta.mkdir()
    (package / "__init__.py").write_text('raise RuntimeError("operator torchvision::nms does not exist")\n')
    (meta / "METADATA").write_text("Metadata-Version: 2.1\nName: torchvision\nVersion: 0.28.0\n")
    run = subprocess.run([sys.executable, "-m", "stylist", "caption", str(EXAMPLES / "dress-01.png")], check=False,
                         env={**os.environ, "PYTHONPATH": str(tmp_path)}, capture_output=True, text=True, timeout=120)
    assert run.returncode == 2 and run.stderr.strip().splitlines()[-1] == (
        f"error: torchvision 0.28.0 does not work with torch {torch.__version__} (operator torchvision::nms does not "
        "exist): install the torchvision build made for this torch, or uninstall torchvision")


@pytest.mark.parametrize("raw, prompt, caption", [
    ("a photo of a navy striped cotton t-shirt", "a photo of a", "navy striped cotton t-shirt"),  # BLIP's echo
    ("arafed woman in a red dress", "a photo of a", "woman in a red dress"),
    ("Assistant: A navy striped cotton T-shirt.", PROMPT, "navy striped cotton t-shirt"),
    ("Colour: Navy\nPattern: Striped\nMaterial: Cotton\nType: T-shirt", PROMPT, "navy striped cotton t-shirt"),
    ("This is a red floral summer dress. It is lying on a wooden floor.", PROMPT, "red floral summer dress"),
    (f"User: {PROMPT}\nAssistant: Black leather ankle boots!", PROMPT, "black leather ankle boots"),
    ("An image of black, white & grey check wool coat with a belt and big buttons", "", "black white grey check wool coat with a"),
    ("\n\nThe image shows a pair of blue denim jeans", "", "blue denim jeans"),
    ("Navy, striped, cotton, t-shirt", PROMPT, "navy striped cotton t-shirt"),
    ('"White cotton tank top" - men\'s', PROMPT, "white cotton tank top mens"),
    ("a photo of", "a photo of a", ""),
])
def test_generated_text_is_cleaned_to_a_short_lower_case_caption(raw, prompt, caption):
    assert clean_caption(raw, prompt) == caption


@pytest.mark.parametrize("error, package", [
    (None, "torchvision"),  # the module itself is missing
    (ImportError("SmolVLMProcessor requires the num2words library. Install it with `pip install num2words`."), "num2words"),
])
def test_a_missing_optional_package_is_one_line_naming_it(error, package, tmp_path, monkeypatch):
    import sys

    from transformers import AutoProcessor

    def load_processor(*args, **kwargs):
        if error:
            raise error
        import torchvision  # noqa: F401

    folder = save_generator("blip", tmp_path)
    monkeypatch.setitem(sys.modules, "torchvision", None)  # `import torchvision` now fails
    monkeypatch.setattr(AutoProcessor, "from_pretrained", load_processor)
    with pytest.raises(StylistError) as info:
        Captioner.load(folder)
    assert str(info.value) == f"this captioner needs {package}: pip install {package}"


def test_unknown_captioner_is_one_line_error(tmp_path):
    with pytest.raises(StylistError, match="cannot load captioner") as info:
        Captioner.load(tmp_path / "no-such-model")
    assert "\n" not in str(info.value)


def test_cli_and_evaluation(tiny_classifier, tmp_path, capsys):
    for name in ("dress", "hat"):
        (tmp_path / "photos" / name).mkdir(parents=True)
        flat_lay("red", "white").save(tmp_path / "photos" / name / "a.jpg")
    photo = tmp_path / "photos" / "dress" / "a.jpg"
    assert main([str(photo), str(tmp_path / "missing.jpg"), "--json", "--captioner", str(tiny_classifier)]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert rows[0]["path"] == str(photo) and rows[0]["colors"][0] == "red" and rows[1]["error"]
    result = evaluate(Captioner.load(tiny_classifier), labelled_photos(tmp_path / "photos"))
    assert result["n"] == 2 and set(result["per_class"]) == {"dress", "hat"} and 0 <= result["accuracy"] <= 1


class FakeCaptioner:
    """Knows the ten shared classes only and calls every photo a t-shirt, except hoodies, which it calls longsleeve."""

    name, classes = "fake", CLASSES[:10]

    def caption_images(self, paths):
        return [Caption(path=str(p), category="longsleeve" if Path(p).parent.name == "hoodie" else "t-shirt")
                for p in paths]


def test_evaluation_on_types_the_captioner_does_not_know(tmp_path, monkeypatch, capsys):
    """A folder of any subset of the garment types, and the same photos through clothing-extra's images.csv."""
    rows = ["image,label,kids"]
    for label, count in (("t-shirt", 2), ("hoodie", 3), ("body", 1)):
        (tmp_path / label).mkdir()
        for j in range(count):
            flat_lay("red", "white").save(tmp_path / label / f"{j}.jpg")
            rows.append(f"{label}/{j}.jpg,{label},{j == 0 and label == 'hoodie'}")
    (tmp_path / "images.csv").write_text("\n".join(rows) + "\n")

    result = evaluate(FakeCaptioner(), labelled_photos(tmp_path))
    assert result["n"] == 6 and result["accuracy"] == round(2 / 6, 4)
    assert result["per_class"] == {"body": 0.0, "hoodie": 0.0, "t-shirt": 1.0}
    assert result["unknown_classes"] == ["body", "hoodie"] and result["accuracy_known"] == 1.0
    assert result["confusion_pairs"] == [{"true": "hoodie", "predicted": "longsleeve", "n": 3},
                                         {"true": "body", "predicted": "t-shirt", "n": 1}]

    from stylist.evaluation import captions

    monkeypatch.setattr(Captioner, "load", classmethod(lambda cls, name=None: FakeCaptioner()))
    assert captions.main(["captions", "--csv", str(tmp_path / "images.csv"), "--no-kids", "--json"]) == 0
    out = capsys.readouterr().out
    assert "does not know body, hoodie" in out and "hoodie -> longsleeve 2" in out
    assert json.loads(out.splitlines()[-1])["n_per_class"] == {"body": 1, "hoodie": 2, "t-shirt": 2}
    test = csv_photos(tmp_path / "images.csv", split="test")  # 30% of each type, rounded: 1 hoodie, 1 t-shirt
    train = csv_photos(tmp_path / "images.csv", split="train")
    assert sorted(label for _, label in test) == ["hoodie", "t-shirt"] and not set(test) & set(train)
    assert sorted(test + train) == sorted(csv_photos(tmp_path / "images.csv"))


def test_folder_names_are_read_as_garment_types_whatever_their_spelling(tmp_path):
    """Other copies of the photo sets spell the types otherwise ("T-Shirt", "Outerwear"): they must not all count
    as types the captioner does not know."""
    names = {"T-Shirt": "t-shirt", "Long sleeve": "longsleeve", "Outerwear": "outwear", "tank top": "undershirt",
             "Bodysuit": "body", "Trousers": "pants", "Dresses": "dress", "hoodie": "hoodie", "Other": "other"}
    for folder in names:
        (tmp_path / folder).mkdir()
        flat_lay("red", "white").save(tmp_path / folder / "a.jpg")
    assert sorted(label for _, label in labelled_photos(tmp_path)) == sorted(names.values())
    assert {garment_type(name) for name in CLASSES} == set(CLASSES)
    assert category_from_text("a navy outerwear piece") == "outwear"


def test_every_garment_type_has_an_outfit_slot():
    slots = {"dress": "dresses", "hat": "hats", "outwear": "outerwear", "pants": "bottoms", "shoes": "shoes",
             "shorts": "bottoms", "skirt": "bottoms", "blazer": "outerwear", "bag": "bags"}
    for name, category in GARMENT_TYPES.items():
        assert slot_of(category) == slots.get(name, "tops"), name
    assert set(GARMENT_TYPES) >= set(CLASSES) and len(GARMENT_TYPES) == 18  # the 17 photo types and "bag"
    assert all(category_from_text(category) == name for name, category in GARMENT_TYPES.items())


@pytest.mark.skipif(not (DEFAULT / "config.json").exists(), reason="embedded captioner not trained yet")
def test_embedded_default_is_small_and_loads():
    size = sum(f.stat().st_size for f in DEFAULT.rglob("*") if f.is_file())  # ensemble members included
    assert size < 20 * 2**20
    caption = Captioner.load(None).caption_image(flat_lay("navy", "beige"), path="navy.png")
    assert caption.category in CLASSES and caption.colors[0] == "navy"


@pytest.mark.skipif(not (DEFAULT / CAPTION_WORDS).exists(), reason="embedded captioner has no caption words yet")
def test_embedded_captioner_names_the_app_example_photos():
    """The example photos a visitor clicks first: type and colour right, "printed" on the floral dress and "striped"
    on the striped sweater and t-shirt only."""
    captions = Captioner.load(None).caption_images(sorted(EXAMPLES.glob("*.png")))
    assert {Path(c.path).stem: c.caption for c in captions} == {
        "dress-01": "red printed dress", "jacket-01": "light blue jacket", "jeans-02": "blue trousers",
        "shoulder-bag-01": "red bag", "skirt-02": "pink skirt", "sneakers-05": "red shoes",
        "sweater-07": "grey striped long-sleeve top", "t-shirt-11": "green striped t-shirt"}


@pytest.mark.parametrize("rgb, name", [
    ((30, 38, 60), "navy"),  # a navy jumper in a dim room: "black" with the palette anchors alone
    ((215, 180, 190), "pink"),  # a pale pink top: was "white"
    ((60, 90, 140), "blue"),  # faded denim blue: was "navy"
    ((170, 60, 70), "red"),  # a red in shade: was "burgundy"
    ((70, 70, 72), "black"),  # a dark grey has no hue: not a shaded brown
    ((128, 128, 130), "grey"),
])
def test_colour_names_hold_for_dim_and_pale_real_photo_colours(rgb, name):
    assert name_color(rgb) == name


def test_a_member_stopped_at_an_epoch_boundary_goes_on_as_if_never_stopped(tiny_classifier, tmp_path):
    """A STOP file ends a member after its epoch; `--resume` from the exact state gives the weights of an
    uninterrupted run, from the compact (committable) copy the same within fp16 rounding; a finished member keeps
    no compact state and refuses to be trained again."""
    from safetensors.torch import load_file

    from stylist.train.resumable import STOP_FILE

    cfg = json.loads((tiny_classifier / "metrics.json").read_text())["config"]
    base = CaptionerTrainConfig(**{**cfg, "widths": tuple(cfg["widths"]), "depths": tuple(cfg["depths"]),
                                   "epochs": 3, "member": 7, "device": "cpu"})
    whole = replace(base, candidates=str(tmp_path / "whole"), states=str(tmp_path / "whole-states"))
    assert train(whole)["finished"]
    weights = lambda folder: load_file(folder / "member-7" / "model.safetensors")
    for copy in ("exact", "compact"):
        run = replace(base, candidates=str(tmp_path / copy), states=str(tmp_path / f"{copy}-states"))
        (tmp_path / f"{copy}-states" / "member-7").mkdir(parents=True)
        (tmp_path / f"{copy}-states" / "member-7" / STOP_FILE).touch()
        first = train(run)
        assert (first["epoch"], first["finished"]) == (1, False)
        assert (tmp_path / copy / "member-7" / "resume" / "state.json").exists()
        with pytest.raises(StylistError, match="--resume"):
            train(run)
        if copy == "compact":  # another machine: only the committed folder travels
            shutil.rmtree(tmp_path / "compact-states")
        last = train(replace(run, resume=True))
        assert (last["epoch"], last["finished"], len(last["stretches"])) == (3, True, 2)
        assert not (tmp_path / copy / "member-7" / "resume").exists()
        tol = 0 if copy == "exact" else 2e-2
        for name, value in weights(tmp_path / "whole").items():
            assert torch.allclose(weights(tmp_path / copy)[name].float(), value.float(), atol=tol), (copy, name)
        with pytest.raises(StylistError, match="finished"):
            train(replace(run, resume=True))
