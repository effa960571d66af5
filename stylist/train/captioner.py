"""Train the embedded captioner's garment classifier from scratch on the shared real photos.

    nohup nice -n 5 python -m stylist train-captioner --out checkpoints/captioner --minutes 62 > runs/captioner.log 2>&1 &
    python -m stylist train-captioner --ensemble runs/a runs/b --out checkpoints/captioner   # combine two runs
    python -m stylist train-captioner --member 10 --epochs 100 --renders 4          # an ensemble member, resumable:
    touch runs/captioner-members/member-10/STOP       # (or kill -TERM) stops it at the next epoch boundary, then
    python -m stylist train-captioner --member 10 --epochs 100 --renders 4 --resume  # here or on another machine

No pretrained weights exist here, so the model is a small Hugging Face ResNet (`ResNetForImageClassification`
built from a config, ~1.5M parameters) trained with heavy augmentation, mixup/cutmix and an EMA of the weights.
Photos are decoded once into a uint8 cache under runs/, so an epoch is pure tensor work on one core.
10% of train (stratified, fixed seed) is held out; the best EMA checkpoint on that holdout (or, with
`--select last`, the latest) is saved with `save_pretrained` as it comes, so a usable model exists while training
runs. The shared validation folder is never looked at here. With `--minutes` the cosine LR schedule runs on wall-clock time,
so a run on a machine shared with other jobs still anneals fully and ends when planned. `--renders N` adds N
floor-photo renders of each demo-catalog item (the look of the app's example photos, and the only source of
the "bag" class) to training; 20% of the items are never rendered for training and are reported separately.
"""

from __future__ import annotations

import argparse
import copy
import json
import math
import shutil
import socket
import time
from dataclasses import asdict, dataclass, replace
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from tqdm import tqdm

from stylist.core.errors import StylistError
from stylist.core.images import load_image
from stylist.core.options import config_from, config_parser, option, summary
from stylist.core.paths import REPO, RUNS, shared_data
from stylist.data.splits import bucket
from stylist.evaluation.captions import csv_photos, labelled_photos
from stylist.models.captioner import CLASSES, model_pixels
from stylist.train import resumable


@dataclass
class CaptionerTrainConfig:
    data: str = option(str(shared_data() / "clothing-small" / "train"), "folder of <class>/ photo folders")
    extra: str = option(str(shared_data() / "clothing-extra" / "images.csv"),
                        "CSV of more photos; its training part is added ('' = none)")
    out: str = option(str(RUNS / "captioner"), "where the trained classifier is written")
    cache: str = option(str(RUNS / "captioner_cache_{size}.pt"), "decoded, resized photos, made once")
    image_size: int = option(112, "pixels of the square input")
    widths: tuple[int, ...] = option((32, 64, 128, 256), "channels of each ResNet stage")
    depths: tuple[int, ...] = option((1, 1, 2, 1), "blocks of each ResNet stage")
    epochs: int = option(120, "upper bound; with --minutes the schedule runs on wall-clock time instead")
    minutes: float = option(0.0, "> 0: anneal the LR over this many minutes and stop then (CPU shared with others)")
    batch_size: int = option(64, "photos per step")
    lr: float = option(2e-3, "peak AdamW learning rate")
    weight_decay: float = option(0.05, "AdamW weight decay")
    warmup_epochs: int = option(3, "epochs of linear warm-up")
    label_smoothing: float = option(0.1, "label smoothing of the cross-entropy")
    mix_prob: float = option(0.2, "share of batches that get mixup or cutmix")
    ema_decay: float = option(0.995, "decay of the weights' moving average, which is what is evaluated and saved")
    holdout: float = option(0.1, "share of each class held out from training, where choices are made")
    holdout_seed: int = option(0, "fixed apart from --seed, so models of several seeds share one holdout (an ensemble)")
    seed: int = option(0, "seed of the initialisation and the batches")
    select: str = option("best", "'best': the best holdout epoch; 'last': the final EMA (the holdout stays unbiased)",
                         choices=("best", "last"))
    threads: int = option(1, "torch threads")
    init: str = option("", "a checkpoint folder to continue from (a warm restart of the schedule) instead of scratch")
    renders: int = option(0, "floor-photo renders per demo-catalog item added to training (0 = real photos only)")
    member: int = option(0, "> 0: train ensemble member K (seed K, --select last, the schedule on --epochs) into "
                            "--candidates/member-K, resumable: state kept after every epoch, a stop honoured at the "
                            "next epoch boundary")
    resume: bool = option(False, "with --member: go on from the member's last epoch (its exact state under runs/, "
                                 "else the compact copy beside the member)")
    candidates: str = option(str(REPO / "checkpoints" / "captioner-candidates"), "where members are kept, each with "
                             "its config, log, holdout figures and, until finished, its compact resumable state")
    states: str = option(str(RUNS / "captioner-members"), "where each member's exact state is kept (this machine)")
    device: str = option("auto", "'auto': CUDA when there is one, else the CPU", choices=("auto", "cpu", "cuda"))
    prior_tau: float = option(0.0, "with --ensemble: subtract tau x log(class share in training) from the logits "
                                   "(logit adjustment: rare types are not out-voted by the prior), written into the "
                                   "output biases")


MEAN = (0.5, 0.5, 0.5)  # photos vary too much for dataset statistics to matter; symmetric range is enough
STD = (0.25, 0.25, 0.25)


def folder_files(data: Path) -> list[tuple[Path, int]]:
    """(photo, class index) for every image in the `<type>/` folders under `data` that name a class."""
    return [(f, CLASSES.index(label)) for f, label in labelled_photos(data) if label in CLASSES]


def build_cache(files: list[tuple[Path, int]], size: int, path: Path) -> dict:
    """Decode and resize every photo once; later runs load the tensor file in a second."""
    if path.exists():
        return torch.load(path)
    if not files:
        raise StylistError(f"no photos for {path.name}: classes {', '.join(CLASSES)}")
    images, labels, paths = [], [], []
    for file, label in tqdm(files, desc="decoding photos"):
        try:
            image = load_image(file, max_side=4 * size)
        except StylistError as exc:
            tqdm.write(f"skipped {exc}")
            continue
        images.append(torch.from_numpy(model_pixels(image, size)).permute(2, 0, 1))
        labels.append(label)
        paths.append(str(file))
    return _save_cache({"images": torch.stack(images), "labels": torch.tensor(labels), "paths": paths}, path)


def real_photos(cfg: CaptionerTrainConfig) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    """(images, labels, train indices, holdout indices) of the real photos: `data`'s folders, then the training
    part of `extra` (its test part is never loaded). Each source keeps `holdout` of every class apart with the
    same seed, so the `data` holdout of a model trained before `extra` existed is unchanged."""
    cache = build_cache(folder_files(Path(cfg.data)), cfg.image_size, Path(cfg.cache.format(size=cfg.image_size)))
    sources = [cache]
    if cfg.extra:
        photos = csv_photos(Path(cfg.extra), split="train")
        extra = [(path, CLASSES.index(label)) for path, label in photos if label in CLASSES]
        sources.append(build_cache(extra, cfg.image_size, Path(cfg.cache.format(size=f"{cfg.image_size}_extra"))))
    images, labels, train_idx, hold_idx, offset = [], [], [], [], 0
    for source in sources:
        train, hold = stratified_split(source["labels"], cfg.holdout, cfg.holdout_seed)
        images.append(source["images"])
        labels.append(source["labels"])
        train_idx.append(offset + train)
        hold_idx.append(offset + hold)
        offset += len(source["labels"])
    return torch.cat(images), torch.cat(labels), torch.cat(train_idx), torch.cat(hold_idx)


# demo-catalog category -> captioner class; scarves, belts and sunglasses have no class and are not rendered
RENDER_CLASSES = {
    "t-shirt": "t-shirt", "tank top": "undershirt", "shirt": "shirt", "blouse": "blouse", "sweater": "longsleeve",
    "hoodie": "hoodie", "jeans": "pants", "trousers": "pants", "track pants": "pants", "shorts": "shorts",
    "skirt": "skirt", "dress": "dress", "jacket": "outwear", "blazer": "blazer", "coat": "outwear",
    "puffer jacket": "outwear", "sneakers": "shoes", "ankle boots": "shoes", "heels": "shoes", "loafers": "shoes",
    "sandals": "shoes", "hat": "hat", "beanie": "hat", "shoulder bag": "bag", "clutch": "bag", "tote bag": "bag",
    "backpack": "bag",
}
RENDER_HOLDOUT_PERCENT = 20  # of the demo items (by sha1 of the id), never rendered for training


def render_holdout(item_id: str) -> bool:
    """Items kept out of render training: a fixed 20% and the app's example photos (so those are a fair check)."""
    return bucket(f"render:{item_id}") < RENDER_HOLDOUT_PERCENT or (REPO / "assets" / "examples" / f"{item_id}.png").exists()


def build_render_cache(seeds: int, size: int, path: Path) -> dict:
    """Floor-photo renders (`render.floor_photo`, the look of the app's example photos) of every demo item with
    a class, `seeds` poses each; `holdout` marks the items of `render_holdout`. Cached like the real photos."""
    if path.exists():
        return torch.load(path)
    from stylist.core.catalog import load_catalog
    from stylist.data.render import floor_photo, seed_of

    items = [i for i in load_catalog("demo").items.values() if i.category in RENDER_CLASSES]
    images, labels, holdout = [], [], []
    for item in tqdm(items, desc=f"rendering {seeds} photos per demo item"):
        for k in range(seeds):
            photo = floor_photo(item.category, item.colors, item.pattern, item.material, size=(300, 400),
                                seed=seed_of(7, "captioner", item.id, k))
            images.append(torch.from_numpy(model_pixels(photo.convert("RGB"), size)).permute(2, 0, 1))
            labels.append(CLASSES.index(RENDER_CLASSES[item.category]))
            holdout.append(render_holdout(item.id))
    return _save_cache({"images": torch.stack(images), "labels": torch.tensor(labels), "holdout": torch.tensor(holdout)}, path)


def _save_cache(cache: dict, path: Path) -> dict:
    """Write a decoded-photo cache (real photos or renders) where the next run loads it in a second."""
    path.parent.mkdir(parents=True, exist_ok=True)
    torch.save(cache, path)
    return cache


def stratified_split(labels: torch.Tensor, share: float, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Indices (train, holdout) with `share` of every class held out."""
    generator = torch.Generator().manual_seed(seed)
    train, hold = [], []
    for c in labels.unique():
        idx = torch.nonzero(labels == c).flatten()
        idx = idx[torch.randperm(len(idx), generator=generator)]
        n = max(1, round(share * len(idx)))
        hold.append(idx[:n])
        train.append(idx[n:])
    return torch.cat(train), torch.cat(hold)


def new_model(cfg: CaptionerTrainConfig):
    from transformers import ResNetConfig, ResNetForImageClassification

    config = ResNetConfig(num_channels=3, embedding_size=cfg.widths[0], hidden_sizes=list(cfg.widths),
                          depths=list(cfg.depths), layer_type="basic", num_labels=len(CLASSES),
                          id2label=dict(enumerate(CLASSES)), label2id={c: i for i, c in enumerate(CLASSES)})
    return ResNetForImageClassification(config)


def normalize(images: torch.Tensor) -> torch.Tensor:
    """uint8 (B,3,H,W) -> the float input the model saw in training."""
    mean = torch.tensor(MEAN).view(1, 3, 1, 1)
    std = torch.tensor(STD).view(1, 3, 1, 1)
    return (images.float() / 255.0 - mean) / std


def augment(images: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
    """Random resized crop + flip + small rotation (one affine warp) and colour jitter, on a uint8 batch.

    Colour is named from pixels, not by the classifier, so colour jitter (even greyscale) costs nothing.
    """
    b = images.shape[0]
    rand = lambda *shape: torch.rand(*shape, generator=generator)
    scale = (0.35 + 0.65 * rand(b)).sqrt()  # side of the crop as a share of the frame
    log_ratio = (rand(b) - 0.5) * 2 * math.log(4 / 3)
    sx, sy = scale * log_ratio.exp().sqrt(), scale / log_ratio.exp().sqrt()
    sx, sy = sx.clamp(max=1.0), sy.clamp(max=1.0)
    angle = (rand(b) - 0.5) * 2 * math.radians(12)
    flip = torch.where(rand(b) < 0.5, -1.0, 1.0)
    tx, ty = (rand(b) * 2 - 1) * (1 - sx), (rand(b) * 2 - 1) * (1 - sy)
    cos, sin = angle.cos(), angle.sin()
    theta = torch.stack([torch.stack([sx * cos * flip, -sy * sin, tx], 1),
                         torch.stack([sx * sin * flip, sy * cos, ty], 1)], 1)
    x = images.float() / 255.0
    grid = F.affine_grid(theta, list(x.shape), align_corners=False)
    x = F.grid_sample(x, grid, mode="bilinear", padding_mode="reflection", align_corners=False)
    grey = x.mean(1, keepdim=True)
    saturation = torch.where(rand(b) < 0.1, 0.0, 0.6 + 0.8 * rand(b)).view(b, 1, 1, 1)
    x = grey + saturation * (x - grey)
    contrast = (0.7 + 0.6 * rand(b)).view(b, 1, 1, 1)
    x = x.mean((1, 2, 3), keepdim=True) + contrast * (x - x.mean((1, 2, 3), keepdim=True))
    x = x * (0.7 + 0.6 * rand(b)).view(b, 1, 1, 1)
    return (x.clamp(0, 1) * 255).round().to(torch.uint8)


def mix(x: torch.Tensor, y: torch.Tensor, generator: torch.Generator) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, float]:
    """Mixup or cutmix (half each): returns images, both label sets and the weight of the first."""
    perm = torch.randperm(x.shape[0], generator=generator)
    lam = float(np.random.default_rng(int(torch.randint(1 << 30, (1,), generator=generator))).beta(1.0, 1.0))
    if torch.rand(1, generator=generator) < 0.5:
        return lam * x + (1 - lam) * x[perm], y, y[perm], lam
    h, w = x.shape[-2:]
    ch, cw = int(h * math.sqrt(1 - lam)), int(w * math.sqrt(1 - lam))
    cy, cx = int(torch.randint(h, (1,), generator=generator)), int(torch.randint(w, (1,), generator=generator))
    y0, y1, x0, x1 = max(cy - ch // 2, 0), min(cy + ch // 2, h), max(cx - cw // 2, 0), min(cx + cw // 2, w)
    x = x.clone()
    x[..., y0:y1, x0:x1] = x[perm][..., y0:y1, x0:x1]
    return x, y, y[perm], 1 - (y1 - y0) * (x1 - x0) / (h * w)


@torch.no_grad()
def predict(model, images: torch.Tensor, batch_size: int = 256) -> torch.Tensor:
    """Class probabilities, averaged over the image and its mirror (the same TTA the captioner uses)."""
    model.eval()
    probs = []
    for i in range(0, len(images), batch_size):
        x = normalize(images[i:i + batch_size]).to(next(model.parameters()).device)
        logits = model(pixel_values=x).logits + model(pixel_values=x.flip(-1)).logits
        probs.append(logits.softmax(-1).cpu())
    return torch.cat(probs)


def accuracy(probs: torch.Tensor, labels: torch.Tensor) -> float:
    """Share of rows whose most probable class is the label."""
    return float((probs.argmax(-1) == labels).float().mean())


def save(model, cfg: CaptionerTrainConfig, out: Path, metrics: dict) -> None:
    """A folder that `from_pretrained` and `Captioner.load` both read; preprocessing is stated in it. Weights are
    stored in fp16 (half the size; the config says float32, so they load as float32, accuracy unchanged)."""
    model.save_pretrained(out, state_dict={k: (v.half() if v.is_floating_point() else v).cpu()
                                           for k, v in model.state_dict().items()})
    processor = {"image_processor_type": "ViTImageProcessor", "do_resize": True, "resample": 2,
                 "size": {"height": cfg.image_size, "width": cfg.image_size}, "do_rescale": True,
                 "rescale_factor": 1 / 255, "do_normalize": True, "image_mean": list(MEAN), "image_std": list(STD),
                 "flip_tta": True}
    (out / "preprocessor_config.json").write_text(json.dumps(processor, indent=2) + "\n")
    (out / "metrics.json").write_text(json.dumps(metrics, indent=2) + "\n")


def member_config(cfg: CaptionerTrainConfig) -> CaptionerTrainConfig:
    """A member's settings: its seed is its number, its folder is under `candidates`, its schedule runs on epochs
    (a wall-clock schedule cannot be resumed) and it keeps its last epoch (the holdout stays unbiased for choosing
    the ensemble)."""
    if cfg.minutes > 0:
        raise StylistError("--member trains by --epochs so that it can be resumed: leave --minutes out")
    return replace(cfg, seed=cfg.member, select="last", out=str(Path(cfg.candidates) / f"member-{cfg.member}"))


def member_state(cfg: CaptionerTrainConfig) -> tuple[Path, Path]:
    """(exact state under runs/, compact state beside the member's checkpoint)."""
    return Path(cfg.states) / f"member-{cfg.member}" / resumable.STATE_FILE, Path(cfg.out) / "resume"


def pick_device(name: str) -> torch.device:
    return torch.device("cuda" if name == "auto" and torch.cuda.is_available() else "cpu" if name == "auto" else name)


def train(cfg: CaptionerTrainConfig) -> dict:
    """Train one model (or ensemble member) and save it as it goes; see the module docstring."""
    cfg = member_config(cfg) if cfg.member else cfg
    torch.set_num_threads(cfg.threads)
    torch.manual_seed(cfg.seed)
    device = pick_device(cfg.device)
    generator = torch.Generator().manual_seed(cfg.seed)
    out = Path(cfg.out)
    images, labels, train_idx, hold_idx = real_photos(cfg)
    renders = build_render_cache(cfg.renders, cfg.image_size, render_cache_path(cfg)) if cfg.renders else None
    if renders is not None:  # appended after the real photos; the real holdout stays exactly as it was
        offset = len(labels)
        images, labels = torch.cat([images, renders["images"]]), torch.cat([labels, renders["labels"]])
        train_idx = torch.cat([train_idx, offset + torch.nonzero(~renders["holdout"]).flatten()])
        render_idx = offset + torch.nonzero(renders["holdout"]).flatten()
    model = (init_model(cfg.init) if cfg.init else new_model(cfg)).to(device)
    ema = copy.deepcopy(model).eval()
    n_params = sum(p.numel() for p in model.parameters())
    optimizer = torch.optim.AdamW(model.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)
    steps_per_epoch = len(train_idx) // cfg.batch_size
    total, warmup = cfg.epochs * steps_per_epoch, cfg.warmup_epochs * steps_per_epoch
    start = time.time()

    def progress(step: int) -> float:
        """Share of training done: by steps, or by wall-clock time when a time budget is set."""
        by_time = (time.time() - start) / (60 * cfg.minutes) if cfg.minutes > 0 else 0.0
        return min(max(step / total, by_time), 1.0)

    schedule = lambda s: min(1.0, (s + 1) / warmup) * 0.5 * (1 + math.cos(math.pi * progress(s)))
    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, schedule)
    done = resumable.Progress()
    if cfg.member:
        exact, compact = member_state(cfg)
        if (out / "metrics.json").exists() and json.loads((out / "metrics.json").read_text()).get("finished"):
            raise StylistError(f"member {cfg.member} is finished ({out}): train another number")
        kept = resumable.saved_epoch(exact, compact)
        if kept and not cfg.resume:
            raise StylistError(f"member {cfg.member} has a state at epoch {kept}: add --resume to go on, or delete "
                               f"{exact.parent} and {compact} to start it over")
        if cfg.resume and not kept:
            raise StylistError(f"member {cfg.member} has no state to resume ({exact}, {compact}): leave --resume out")
        if kept:
            done = resumable.restore(exact, compact, model, ema, optimizer, scheduler, generator)
        stop = resumable.StopRequest(exact.parent)
        exact.parent.mkdir(parents=True, exist_ok=True)
        done.stretches.append({"from_epoch": done.epoch, "host": socket.gethostname(), "device": str(device),
                               "threads": cfg.threads, "started": time.strftime("%Y-%m-%d %H:%M")})
    out.mkdir(parents=True, exist_ok=True)
    log = (out / "train_log.txt").open("a" if done.epoch else "w")
    header = (f"{len(train_idx)} train / {len(hold_idx)} holdout photos, {n_params:,} parameters, "
              f"from epoch {done.epoch}, config {asdict(cfg)}")
    print(header, file=log, flush=True)
    tqdm.write(header)
    bar = tqdm(range(done.epoch, cfg.epochs), desc="epochs", mininterval=30, initial=done.epoch, total=cfg.epochs)
    for epoch in bar:
        model.train()
        order = train_idx[torch.randperm(len(train_idx), generator=generator)]
        losses = []
        for step in range(steps_per_epoch):
            batch = order[step * cfg.batch_size:(step + 1) * cfg.batch_size]
            x, y = normalize(augment(images[batch], generator)), labels[batch]
            if torch.rand(1, generator=generator) < cfg.mix_prob:
                x, y_a, y_b, lam = mix(x, y, generator)
                logits = model(pixel_values=x.to(device)).logits
                loss = lam * F.cross_entropy(logits, y_a.to(device), label_smoothing=cfg.label_smoothing) + \
                    (1 - lam) * F.cross_entropy(logits, y_b.to(device), label_smoothing=cfg.label_smoothing)
            else:
                loss = F.cross_entropy(model(pixel_values=x.to(device)).logits, y.to(device),
                                       label_smoothing=cfg.label_smoothing)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            scheduler.step()
            update_ema(ema, model, cfg.ema_decay)
            losses.append(loss.item())
        hold_acc = accuracy(predict(ema, images[hold_idx]), labels[hold_idx])
        render_acc = accuracy(predict(ema, images[render_idx]), labels[render_idx]) if renders else None
        line = (f"epoch {epoch + 1}/{cfg.epochs} loss {np.mean(losses):.4f} holdout_acc {hold_acc:.4f} "
                + (f"render_holdout_acc {render_acc:.4f} " if renders else "")
                + f"lr {scheduler.get_last_lr()[0]:.2e} minutes {(time.time() - start) / 60:.1f}")
        print(line, file=log, flush=True)
        tqdm.write(line)
        finished = progress((epoch + 1) * steps_per_epoch) >= 1.0
        if cfg.member:
            done.epoch = epoch + 1
            done.stretches[-1].update(to_epoch=epoch + 1, minutes=round((time.time() - start) / 60, 1))
        if cfg.select == "last" or hold_acc > done.best["holdout_accuracy"]:
            done.best = {"holdout_accuracy": hold_acc, "render_holdout_accuracy": render_acc, "epoch": epoch + 1,
                         "epochs": cfg.epochs, "n_train": len(train_idx), "n_holdout": len(hold_idx),
                         "parameters": n_params, "minutes": round((time.time() - start) / 60, 1), "config": asdict(cfg)}
            if cfg.member:
                done.best.update(finished=finished, stretches=done.stretches, holdout_by_part=holdout_parts(
                    cfg, hold_idx, labels[hold_idx], [predict(ema, images[hold_idx])], ["member"]))
            save(ema, cfg, out, done.best)
        if cfg.member:
            resumable.keep(exact, compact, model, ema, optimizer, scheduler, generator, done)
            if finished:  # a finished member is its checkpoint: the compact state is not kept beside it
                shutil.rmtree(compact)
            elif stop.requested:
                tqdm.write(f"stopped after epoch {epoch + 1}; go on with: python -m stylist train-captioner "
                           f"--member {cfg.member} --epochs {cfg.epochs} --resume")
                break
        if finished:
            break
    log.close()
    if cfg.member:
        stop.release()
    return done.best


def render_cache_path(cfg: CaptionerTrainConfig) -> Path:
    name = f"captioner_renders_{cfg.image_size}x{cfg.renders}_{len(CLASSES)}classes.pt"  # labels follow CLASSES
    return Path(cfg.cache.format(size=cfg.image_size)).with_name(name)


def init_model(path: str):
    """A trained checkpoint to continue from; one trained before a class was added gets the new output rows
    (zero weights, the lowest old bias: the old classes' logits are unchanged) and keeps everything else."""
    from transformers import ResNetConfig, ResNetForImageClassification

    old = ResNetForImageClassification.from_pretrained(path)
    if old.config.num_labels == len(CLASSES):
        return old
    config = ResNetConfig(**{**old.config.to_dict(), "num_labels": len(CLASSES), "id2label": dict(enumerate(CLASSES)),
                             "label2id": {c: i for i, c in enumerate(CLASSES)}})
    model = ResNetForImageClassification(config)
    state = old.state_dict()
    n = old.config.num_labels
    for key in ("classifier.1.weight", "classifier.1.bias"):
        grown = torch.zeros_like(model.state_dict()[key])
        grown[:n] = state[key]
        if key.endswith("bias"):
            grown[n:] = state[key].min()  # a new class starts as unlikely as the least likely old one
        state[key] = grown
    model.load_state_dict(state)
    return model


@torch.no_grad()
def update_ema(ema, model, decay: float) -> None:
    """Weights average with `decay`; BatchNorm statistics are copied (they are already running averages)."""
    for e, p in zip(ema.parameters(), model.parameters()):
        e.mul_(decay).add_(p.detach(), alpha=1 - decay)
    for e, b in zip(ema.buffers(), model.buffers()):
        e.copy_(b)


def holdout_parts(cfg: CaptionerTrainConfig, hold_idx: torch.Tensor, labels: torch.Tensor, scores: list[torch.Tensor],
                  names: list[str]) -> dict:
    """Holdout accuracy of each model by part: `data`'s photos, `extra`'s, and the classes the ten-type photo
    folder does not have (clothing-extra's new types), with each part's size: the parts have their own bars."""
    first = len(build_cache(folder_files(Path(cfg.data)), cfg.image_size,
                            Path(cfg.cache.format(size=cfg.image_size)))["labels"])
    parts = {"data": hold_idx < first, "extra": hold_idx >= first, "new_types": labels >= CLASSES.index("bag") + 1}
    return {part: {"n": int(rows.sum()), **{name: round(accuracy(score[rows], labels[rows]), 4) if rows.any() else None
                                            for name, score in zip(names, scores)}} for part, rows in parts.items()}


PRIOR_TAUS = (0.0, 0.25, 0.5, 0.75, 1.0)  # logit adjustments the ensemble report compares


def training_log_prior(cfg: CaptionerTrainConfig, labels: torch.Tensor) -> torch.Tensor:
    """log of each class's share of the training photos' `labels` and, when `cfg.renders`, the training renders',
    +1 smoothed."""
    seen = [labels]
    if cfg.renders:
        renders = build_render_cache(cfg.renders, cfg.image_size, render_cache_path(cfg))
        seen.append(renders["labels"][~renders["holdout"]])
    counts = torch.bincount(torch.cat(seen), minlength=len(CLASSES)).float() + 1
    return (counts / counts.sum()).log()


def ensemble(cfg: CaptionerTrainConfig, members: list[str]) -> dict:
    """Holdout accuracy of each trained folder alone and of all of them together (logits summed, as the
    captioner does), by part, and of the ensemble under each logit adjustment of `PRIOR_TAUS`. The ensemble,
    with `cfg.prior_tau`'s adjustment in its output biases, is written to `cfg.out`: the first member's folder
    with the others in sub-folders, named in its preprocessor_config.json; `beats_members` says whether it
    beats every member alone on the holdout."""
    torch.set_num_threads(cfg.threads)
    images, labels, train_idx, hold_idx = real_photos(cfg)
    log_prior = training_log_prior(cfg, labels[train_idx])
    images, labels = images[hold_idx], labels[hold_idx]
    models = [init_model(m) for m in members]  # a member trained before a class was added is grown (same predictions)
    with torch.no_grad():  # a member of an ensemble written before joins as it was trained
        for member, model in zip(members, models):
            model.classifier[-1].bias += written_tau(Path(member)) / 2 * log_prior
    probs = [predict(m, images) for m in models]
    adjusted = {tau: sum(p.log() for p in probs) - len(models) * tau * log_prior for tau in {*PRIOR_TAUS, cfg.prior_tau}}
    report = {"members": {m: round(accuracy(p, labels), 4) for m, p in zip(members, probs)}, "n_holdout": len(hold_idx),
              "ensemble": round(accuracy(adjusted[cfg.prior_tau], labels), 4), "prior_tau": cfg.prior_tau}
    report["by_part"] = holdout_parts(cfg, hold_idx, labels, [*probs, adjusted[cfg.prior_tau]], [*members, "ensemble"])
    report["by_prior_tau"] = holdout_parts(cfg, hold_idx, labels, [adjusted[t] for t in PRIOR_TAUS],
                                           [str(t) for t in PRIOR_TAUS])
    if cfg.renders:  # reported, not a criterion: the real photos decide
        renders = build_render_cache(cfg.renders, cfg.image_size, render_cache_path(cfg))
        r_images, r_labels = renders["images"][renders["holdout"]], renders["labels"][renders["holdout"]]
        r_probs = [predict(m, r_images) for m in models]
        report["render_holdout"] = {"members": {m: round(accuracy(p, r_labels), 4) for m, p in zip(members, r_probs)},
                                    "ensemble": round(accuracy(sum(p.log() for p in r_probs), r_labels), 4), "n": len(r_labels)}
    report["beats_members"] = report["ensemble"] > max(report["members"].values())
    out = Path(cfg.out)
    names = [f"member{k}" for k in range(1, len(members))]
    for folder, member, model in zip([out, *(out / n for n in names)], members, models):
        with torch.no_grad():  # the captioner sums both views' logits: half the shift on each
            model.classifier[-1].bias -= cfg.prior_tau / 2 * log_prior
        folder.mkdir(parents=True, exist_ok=True)
        log, metrics = (Path(member) / "train_log.txt", Path(member) / "metrics.json")
        save(model, cfg, folder, json.loads(metrics.read_text()) if metrics.exists() else {})
        (folder / "train_log.txt").write_text(log.read_text() if log.exists() else "")
    processor = json.loads((out / "preprocessor_config.json").read_text())
    (out / "preprocessor_config.json").write_text(json.dumps({**processor, "ensemble": names}, indent=2) + "\n")
    (out / "metrics.json").write_text(json.dumps({"holdout_accuracy": report["ensemble"], **report}, indent=2) + "\n")
    return report


def written_tau(folder: Path) -> float:
    """The logit adjustment `--ensemble` wrote into a folder's output biases (0 for a trained run): the top folder of
    a written ensemble and the members named in it carry the tau of the ensemble's metrics.json."""
    for top in (folder, folder.parent):
        processor, metrics = top / "preprocessor_config.json", top / "metrics.json"
        if processor.exists() and metrics.exists():
            names = json.loads(processor.read_text()).get("ensemble")
            if names is not None and (top == folder or folder.name in names):
                return float(json.loads(metrics.read_text()).get("prior_tau", 0.0))
    return 0.0


def _ensemble_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--ensemble", nargs="+", default=None, metavar="DIR",
                        help="no training: compare these trained folders and their ensemble on the holdout")


def main(argv: list[str] | None = None) -> int:
    parser = config_parser(CaptionerTrainConfig, "python -m stylist train-captioner", summary(__doc__),
                           more=_ensemble_option)
    args = parser.parse_args(argv)
    cfg = config_from(CaptionerTrainConfig, args)
    print(json.dumps(ensemble(cfg, args.ensemble) if args.ensemble else train(cfg)))
    return 0
