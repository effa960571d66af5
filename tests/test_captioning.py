"""Captioner: the embedded classifier path, any HF image-to-text model through the same interface, garment
colours from the garment's own pixels, batches with bad files, the CLI and the evaluation command."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from stylist.core.colors import PALETTE, garment_colors, garment_mask, garment_pattern, name_color
from stylist.core.errors import StylistError
from stylist.evaluation.captions import evaluate, labelled_photos
from stylist.models.captioner import CLASSES, DEFAULT, Caption, Captioner, category_from_text, compose, main
from stylist.train.captioner import RENDER_CLASSES, TrainConfig, ensemble, init_model, train


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


@pytest.fixture(scope="module")
def tiny_classifier(tmp_path_factory) -> Path:
    """A real (tiny) checkpoint written by the training script itself, from a handful of synthetic photos."""
    root = tmp_path_factory.mktemp("photos")
    for i, name in enumerate(CLASSES[:3]):
        (root / name).mkdir()
        for j in range(4):
            flat_lay(list(PALETTE)[i + j], "beige").save(root / name / f"{j}.jpg")
    out = root / "model"
    cfg = TrainConfig(data=str(root), out=str(out), cache=str(root / "cache_{size}.pt"), image_size=32,
                      widths=(8, 8, 8, 8), depths=(1, 1, 1, 1), epochs=1, batch_size=4, holdout=0.25)
    train(cfg)
    return out


def test_training_writes_a_from_pretrained_folder(tiny_classifier):
    from transformers import AutoModelForImageClassification

    model = AutoModelForImageClassification.from_pretrained(tiny_classifier)
    assert [model.config.id2label[i] for i in range(len(CLASSES))] == list(CLASSES)
    metrics = json.loads((tiny_classifier / "metrics.json").read_text())
    assert 0 <= metrics["holdout_accuracy"] <= 1 and (tiny_classifier / "train_log.txt").read_text()


def test_a_checkpoint_from_before_a_new_class_keeps_its_predictions(tmp_path):
    """`--init` on a model trained with one class fewer: the old classes' logits are unchanged, the new one
    starts below all of them, and every class the renders teach is one the captioner knows."""
    import torch
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


def test_ensemble_of_runs_is_chosen_on_the_holdout_and_loaded_by_the_captioner(tiny_classifier, tmp_path):
    import shutil

    cfg = json.loads((tiny_classifier / "metrics.json").read_text())["config"]
    cfg = TrainConfig(**{**cfg, "widths": tuple(cfg["widths"]), "depths": tuple(cfg["depths"]), "out": str(tmp_path / "e")})
    report = ensemble(cfg, [str(tiny_classifier), str(tiny_classifier)])
    assert report["n_holdout"] == 3 and report["members"][str(tiny_classifier)] == report["ensemble"]
    assert not report["written"] and not (tmp_path / "e").exists()  # no better than a member alone: not written
    pair = tmp_path / "pair"  # what a written ensemble looks like: a member in a sub-folder, named in the config
    shutil.copytree(tiny_classifier, pair)
    shutil.copytree(tiny_classifier, pair / "member1")
    processor = json.loads((pair / "preprocessor_config.json").read_text())
    (pair / "preprocessor_config.json").write_text(json.dumps({**processor, "ensemble": ["member1"]}))
    photo = flat_lay("red", "beige")
    single, double = Captioner.load(tiny_classifier), Captioner.load(pair)
    assert len(double.backend.models) == 2
    assert double.caption_image(photo).category == single.caption_image(photo).category


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
    cfg = TrainConfig(**{**cfg, "widths": tuple(cfg["widths"]), "depths": tuple(cfg["depths"]), "out": str(tmp_path / "e")})
    report = ensemble(cfg, [str(tmp_path / "old"), str(tiny_classifier)])
    assert report["n_holdout"] == 3 and set(report["members"]) == {str(tmp_path / "old"), str(tiny_classifier)}


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


def test_pattern_is_told_only_when_clear():
    assert garment_pattern(flat_lay("navy", "beige", stripes="white")) == "striped"
    assert garment_pattern(flat_lay("navy", "beige")) == ""


def test_caption_text_helpers():
    assert compose("navy", "striped", "", "t-shirt") == "navy striped t-shirt"
    assert compose("black", "solid", "leather", "shoes") == "black leather shoes"
    assert category_from_text("a red cotton T-shirt on a bed") == "t-shirt"
    assert category_from_text("black ankle boots") == "shoes"
    assert category_from_text("a lovely sunset") == ""


def test_hugging_face_image_to_text_model_goes_through_the_same_interface(tmp_path):
    """A tiny random ViT+GPT2 VisionEncoderDecoder with a locally built tokenizer stands in for any HF id."""
    from tokenizers import Tokenizer, models, pre_tokenizers
    from transformers import (
        GPT2Config,
        PreTrainedTokenizerFast,
        VisionEncoderDecoderConfig,
        VisionEncoderDecoderModel,
        ViTConfig,
    )
    from transformers.models.vit.image_processing_pil_vit import ViTImageProcessorPil

    words = ["<pad>", "<s>", "</s>", "<unk>", "navy", "red", "striped", "cotton", "t-shirt", "dress", "shoes"]
    tokenizer = Tokenizer(models.WordLevel({w: i for i, w in enumerate(words)}, unk_token="<unk>"))
    tokenizer.pre_tokenizer = pre_tokenizers.Whitespace()
    PreTrainedTokenizerFast(tokenizer_object=tokenizer, pad_token="<pad>", bos_token="<s>", eos_token="</s>",
                            unk_token="<unk>").save_pretrained(tmp_path)
    encoder = ViTConfig(image_size=32, patch_size=8, hidden_size=16, num_hidden_layers=1, num_attention_heads=2,
                        intermediate_size=32)
    decoder = GPT2Config(vocab_size=len(words), n_positions=32, n_embd=16, n_layer=1, n_head=2)
    config = VisionEncoderDecoderConfig.from_encoder_decoder_configs(encoder, decoder)
    model = VisionEncoderDecoderModel(config)
    for c in (model.config, model.generation_config):
        c.decoder_start_token_id, c.pad_token_id, c.eos_token_id, c.bos_token_id = 1, 0, 2, 1
    model.save_pretrained(tmp_path)
    ViTImageProcessorPil(size={"height": 32, "width": 32}).save_pretrained(tmp_path)

    captioner = Captioner.load(str(tmp_path))
    caption = captioner.caption_image(flat_lay("red", "beige"), path="red.png")
    assert isinstance(caption, Caption) and not caption.error and caption.caption
    assert caption.colors[0] == "red" and caption.category in ("", *CLASSES)


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


@pytest.mark.skipif(not (DEFAULT / "config.json").exists(), reason="embedded captioner not trained yet")
def test_embedded_default_is_small_and_loads():
    size = sum(f.stat().st_size for f in DEFAULT.rglob("*") if f.is_file())  # ensemble members included
    assert size < 20 * 2**20
    caption = Captioner.load(None).caption_image(flat_lay("navy", "beige"), path="navy.png")
    assert caption.category in CLASSES and caption.colors[0] == "navy"


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
