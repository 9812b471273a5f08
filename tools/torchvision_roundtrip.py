#!/usr/bin/env python3
"""seg checkpoints in PyTorch: load into torchvision, train with DDP, write back for seg.

Plain PyTorch + torchvision (numpy, Pillow); nothing from seg is imported.

  check    load a seg checkpoint into torchvision's DeepLabV3 (strict=True) and describe it
  train    train it (one process, or DistributedDataParallel under torchrun) on a dataset in
           VOC layout with seg's output heads, and write the result as a seg checkpoint
  compare  forward an input saved by seg and compare the logits with seg's (relative L2)
  logits   torchvision's logits of a seg checkpoint for inputs saved by seg: the classifier's
           output before the final upsampling, a sample and sums of the upsampled logits
           (seg's committed parity fixtures), and with --full the logits themselves
  keys     the state-dict names and shapes of torchvision's deeplabv3_resnet50/101

  python3 tools/torchvision_roundtrip.py check --checkpoint checkpoints/run
  torchrun --nproc_per_node=2 tools/torchvision_roundtrip.py train \\
      --checkpoint checkpoints/run --data VOC2012 --out checkpoints/run-ddp --iters 30000 --batch 4
  seg eval --miou --checkpoint checkpoints/run-ddp --data VOC2012

What torchvision can take: seg's resnet50 and resnet101 backbones at width 1 (torchvision's
`deeplabv3_resnet50/101(num_classes=K, aux_loss=False)`, or `aux_loss=True` for a checkpoint
whose model has "auxClassifier": true, seg's --aux-loss). Output stride 8 is torchvision's
own model; output stride 16 and multi-grid are the same modules and parameter names with
other conv strides and dilations (set on the modules, so the state dict is unchanged).
resnet18/34 (torchvision's BasicBlock refuses dilation) and widths other than 1 are refused.

The heads follow seg's table: with z the logits upsampled to the label size, t the one-hot
target, N the valid (label != 255) pixels of the global batch:
  softmax  loss = mean cross-entropy                   gradient (softmax(z) - t) / N
  egb      y = alpha * boost(z) + beta, loss = sum 0.5 (y - t)^2 / N, gradient (y - t) / N
           handed straight to z (NOT multiplied by boost'(z)); exp's argument is clamped
           to <= 30, pow3's to +-1e5 (bounds the value only)
  linear   y = z, same loss and gradient (plain MSE)
Under DDP each process scales its gradient by world_size / N_global, so DDP's average
over processes equals the gradient of one process holding the whole global batch.
With an aux classifier the loss is head(out) + W x head(aux), as torchvision's references
(W = --aux-loss, default the run's own or 0.5) and seg's --aux-loss train it.
"""
from __future__ import annotations

import argparse
import datetime
import decimal
import json
import math
import os
import shlex
import shutil
import struct
import sys
import time

import numpy as np
import torch
import torch.distributed as dist
import torch.nn.functional as F
import torchvision
from PIL import Image
from torchvision.models import resnet50, resnet101
from torchvision.models._utils import IntermediateLayerGetter
from torchvision.models.segmentation import deeplabv3_resnet50, deeplabv3_resnet101
from torchvision.models.segmentation.deeplabv3 import DeepLabHead, DeepLabV3
from torchvision.models.segmentation.fcn import FCNHead

CHECKPOINT_FORMAT = "seg-checkpoint"
CHECKPOINT_FORMAT_VERSION = 2  # format 2 nests seg's "training" settings by group; this script does not read them
CHECKPOINT_FILES = ("config.json", "model.safetensors", "optimizer.safetensors", "state.json")
VOID = 255
EXP_BOOST_MAX_LOGIT = 30.0
POW3_BOOST_MAX_ABS_LOGIT = 1e5
POW3_DEFAULT_ALPHA = 0.001
TRAIN_SCALES = (0.5, 0.75, 1.0, 1.25, 1.5, 1.75, 2.0)
MULTI_GRID = (1, 2, 4)
VOC_CLASSES = (
    "background", "aeroplane", "bicycle", "bird", "boat", "bottle", "bus", "car", "cat", "chair", "cow",
    "diningtable", "dog", "horse", "motorbike", "person", "pottedplant", "sheep", "sofa", "train", "tvmonitor",
)


class UserError(Exception):
    """A mistake in the inputs: printed as one line, exit code 2."""


# ---------------------------------------------------------------------------------------------
# safetensors (u64 LE header length | JSON header | data), without the safetensors package

_DTYPES = {
    "F32": torch.float32, "F16": torch.float16, "BF16": torch.bfloat16, "F64": torch.float64,
    "I64": torch.int64, "I32": torch.int32, "U8": torch.uint8,
}
_DTYPE_NAMES = {v: k for k, v in _DTYPES.items()}


def read_safetensors(path):
    """{name: tensor} and the metadata of a .safetensors file."""
    if sys.byteorder != "little":
        raise UserError("this script reads safetensors on little-endian machines only")
    with open(path, "rb") as f:
        raw = f.read()
    if len(raw) < 8:
        raise UserError(f"{path}: not a safetensors file (shorter than 8 bytes)")
    (n,) = struct.unpack("<Q", raw[:8])
    if n > len(raw) - 8 or n > 100_000_000:
        raise UserError(f"{path}: not a safetensors file (header length {n} past the end)")
    try:
        header = json.loads(raw[8 : 8 + n].decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as err:
        raise UserError(f"{path}: not a safetensors file (bad JSON header: {err})") from None
    data = memoryview(raw)[8 + n :]
    metadata = header.pop("__metadata__", {}) or {}
    tensors = {}
    for name, info in header.items():
        dtype = _DTYPES.get(info.get("dtype"))
        if dtype is None:
            raise UserError(f"{path}: tensor {name} has dtype {info.get('dtype')}, expected one of {', '.join(_DTYPES)}")
        begin, end = info["data_offsets"]
        shape = [int(s) for s in info["shape"]]
        count = math.prod(shape)
        if not (0 <= begin <= end <= len(data)) or end - begin != count * torch.empty((), dtype=dtype).element_size():
            raise UserError(f"{path}: tensor {name}: data_offsets [{begin}, {end}] do not fit shape {shape} (truncated or corrupt file)")
        t = torch.frombuffer(bytearray(data[begin:end]), dtype=dtype) if count > 0 else torch.empty(0, dtype=dtype)
        tensors[name] = t.reshape(shape)
    return tensors, metadata


def write_safetensors(path, tensors, metadata):
    """Write {name: tensor} (F32 / I64 / ...); the header is padded with spaces to 8 bytes."""
    header = {"__metadata__": dict(metadata)}
    blobs = []
    offset = 0
    for name in sorted(tensors):
        t = tensors[name].detach().cpu().contiguous()
        blob = t.numpy().tobytes()
        header[name] = {"dtype": _DTYPE_NAMES[t.dtype], "shape": list(t.shape), "data_offsets": [offset, offset + len(blob)]}
        blobs.append(blob)
        offset += len(blob)
    text = json.dumps(header, separators=(",", ":")).encode("utf-8")
    text += b" " * (-len(text) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(text)))
        f.write(text)
        for blob in blobs:
            f.write(blob)
        f.flush()
        os.fsync(f.fileno())


# ---------------------------------------------------------------------------------------------
# seg checkpoints

def resolve_checkpoint_dir(path):
    """A checkpoint directory, a run folder holding checkpoint/, or their `.previous` left by an interrupted save."""
    for candidate in (path, os.path.join(path, "checkpoint"), path + ".previous", os.path.join(path, "checkpoint.previous")):
        if os.path.isfile(os.path.join(candidate, "config.json")):
            return candidate
    raise UserError(f"{path}: not a seg checkpoint (no config.json in it or in {os.path.join(path, 'checkpoint')}); point to a run folder or a checkpoint written by seg train")


def read_checkpoint_config(ckpt_dir):
    file = os.path.join(ckpt_dir, "config.json")
    try:
        with open(file, encoding="utf-8") as f:
            config = json.load(f)
    except json.JSONDecodeError as err:
        raise UserError(f"{file}: not valid JSON ({err})") from None
    if not isinstance(config, dict) or config.get("format") != CHECKPOINT_FORMAT:
        raise UserError(f"{file}: format is {config.get('format') if isinstance(config, dict) else None!r}, expected {CHECKPOINT_FORMAT!r}")
    version = config.get("formatVersion")
    if not isinstance(version, int) or version > CHECKPOINT_FORMAT_VERSION:
        raise UserError(f"{file}: format version {version} is not supported (this script reads up to {CHECKPOINT_FORMAT_VERSION})")
    if config.get("weightLayout", "OIHW") != "OIHW":
        raise UserError(f"{file}: weightLayout {config.get('weightLayout')!r}, expected 'OIHW'")
    model = config.get("model")
    if not isinstance(model, dict) or not all(k in model for k in ("backbone", "outputStride", "width", "numClasses", "multiGrid")):
        raise UserError(f"{file}: missing or incomplete \"model\" (backbone, outputStride, width, numClasses, multiGrid)")
    if len(config.get("classNames", [])) != model["numClasses"]:
        raise UserError(f"{file}: {len(config.get('classNames', []))} class names for a {model['numClasses']}-class model")
    return config


def has_aux(model_config):
    return model_config.get("auxClassifier") is True


def describe(model_config):
    m = model_config
    grid = ", multi-grid" if m["multiGrid"] else ""
    aux = ", aux classifier" if has_aux(m) else ""
    return f"{m['backbone']}, output stride {m['outputStride']}, width {m['width']}{grid}, {m['numClasses']} classes{aux}"


def check_torchvision_can_take(model_config, where):
    m = model_config
    problems = []
    if m["backbone"] not in ("resnet50", "resnet101"):
        problems.append(f"backbone {m['backbone']} (torchvision's DeepLabV3 has resnet50 and resnet101; its BasicBlock, used by resnet18/34, refuses dilation)")
    if m["width"] != 1:
        problems.append(f"width {m['width']} (torchvision's ResNets are width 1)")
    if m["outputStride"] not in (8, 16):
        problems.append(f"output stride {m['outputStride']} (expected 8 or 16)")
    if m.get("decoder", "aspp") != "aspp":
        problems.append(f"decoder {m['decoder']} (torchvision's DeepLabV3 has ASPP only)")
    if problems:
        raise UserError(
            f"{where} holds a {describe(m)} model, which torchvision cannot take: {'; '.join(problems)}. "
            "torchvision takes seg's resnet50 or resnet101 at --width 1, output stride 8 or 16, with or without --multi-grid, with the aspp decoder; "
            "train such a model in seg, or keep training this one in seg."
        )


def _set_dilation(conv, dilation):
    conv.dilation = (dilation, dilation)
    conv.padding = (dilation, dilation)


def build_torchvision_model(model_config):
    """torchvision's DeepLabV3 for a seg model config (checked by check_torchvision_can_take)."""
    m = model_config
    k = int(m["numClasses"])
    aux = has_aux(m)
    if m["outputStride"] == 8:
        # Exactly torchvision's model: layer3 and layer4 dilated, ASPP rates 12/24/36 (FCNHead on layer3 with aux).
        build = deeplabv3_resnet50 if m["backbone"] == "resnet50" else deeplabv3_resnet101
        model = build(weights=None, weights_backbone=None, num_classes=k, aux_loss=aux)
        layer4_dilation = 4
    else:
        # Output stride 16: only layer4 dilated (torchvision's replace_stride_with_dilation), ASPP rates 6/12/18.
        resnet = (resnet50 if m["backbone"] == "resnet50" else resnet101)(weights=None, replace_stride_with_dilation=[False, False, True])
        return_layers = {"layer4": "out", "layer3": "aux"} if aux else {"layer4": "out"}
        backbone = IntermediateLayerGetter(resnet, return_layers=return_layers)
        model = DeepLabV3(backbone, DeepLabHead(2048, k), FCNHead(1024, k) if aux else None)
        for conv_branch, rate in zip(model.classifier[0].convs[1:4], (6, 12, 18)):
            _set_dilation(conv_branch[0], rate)
        layer4_dilation = 2
    if m["multiGrid"]:
        # DeepLab-v3 multi-grid: layer4's blocks at dilation rate * (1, 2, 4), the first block included.
        for j, block in enumerate(model.backbone["layer4"]):
            _set_dilation(block.conv2, MULTI_GRID[j % len(MULTI_GRID)] * layer4_dilation)
    return model


def load_seg_checkpoint(path):
    """(torchvision model with the checkpoint's weights, config, checkpoint dir)."""
    ckpt_dir = resolve_checkpoint_dir(path)
    config = read_checkpoint_config(ckpt_dir)
    check_torchvision_can_take(config["model"], ckpt_dir)
    model = build_torchvision_model(config["model"])
    state, _ = read_safetensors(os.path.join(ckpt_dir, "model.safetensors"))
    state = {name: (t if t.dtype == torch.int64 else t.to(torch.float32)) for name, t in state.items()}
    try:
        model.load_state_dict(state, strict=True)
    except RuntimeError as err:
        raise UserError(f"{ckpt_dir}/model.safetensors does not fit torchvision's {describe(config['model'])} model: {err}") from None
    return model, config, ckpt_dir


def js_number(x):
    """The text JavaScript's String(x) gives for a finite double (seg writes head specs that way)."""
    x = float(x)
    if x == int(x) and abs(x) < 1e21:
        return str(int(x))
    text = repr(x)
    mantissa, _, exp = text.partition("e")
    if not exp:
        return text
    e = int(exp)
    if -7 < e < 21:
        return format(decimal.Decimal(text), "f")
    return f"{mantissa}e{'+' if e > 0 else '-'}{abs(e)}"


def parse_head(text, num_classes):
    """seg's head spec text: softmax | linear | egb[:exp|:pow3][:alpha=A[,beta=B]]."""
    text = text.strip()
    if text in ("softmax", "linear"):
        return {"kind": text}
    parts = text.split(":")
    if parts[0] != "egb" or len(parts) > 3 or (len(parts) >= 2 and parts[1] not in ("exp", "pow3")):
        raise UserError(f"--head: got {text!r}, expected one of softmax, linear, egb, egb:exp, egb:pow3, egb:<exp|pow3>:alpha=A,beta=B")
    boost = parts[1] if len(parts) >= 2 else "exp"
    params = {}
    if len(parts) == 3:
        for item in parts[2].split(","):
            key, _, value = item.partition("=")
            key = key.strip()
            if key not in ("alpha", "beta") or key in params:
                raise UserError(f"--head: got {text!r}: expected alpha=NUMBER and/or beta=NUMBER, each once")
            try:
                params[key] = float(value)
            except ValueError:
                raise UserError(f"--head: got {text!r}: {key}={value!r} is not a number") from None
    alpha = params.get("alpha", 1.0 / num_classes if boost == "exp" else POW3_DEFAULT_ALPHA)
    beta = params.get("beta", 0.0)
    if not (math.isfinite(alpha) and alpha > 0) or not math.isfinite(beta):
        raise UserError(f"--head: got {text!r}: alpha must be finite and > 0, beta finite")
    return {"kind": "egb", "boost": boost, "alpha": alpha, "beta": beta}


def format_head(head):
    if head["kind"] != "egb":
        return head["kind"]
    return f"egb:{head['boost']}:alpha={js_number(head['alpha'])},beta={js_number(head['beta'])}"


def check_output_dir(out):
    """`out` may be new or a checkpoint-only directory (saving replaces it whole)."""
    out = os.path.abspath(out)
    if os.path.exists(out):
        if not os.path.isdir(out):
            raise UserError(f"{out} exists and is not a directory; choose another --out")
        foreign = [f for f in os.listdir(out) if f not in CHECKPOINT_FILES]
        if foreign:
            raise UserError(f"{out} holds files that are not part of a seg checkpoint ({', '.join(foreign[:5])}); choose an empty or checkpoint-only --out")


def save_seg_checkpoint(out, model, config):
    """Write model.safetensors + config.json into `out`, atomically (temp dir + rename)."""
    out = os.path.abspath(out)
    check_output_dir(out)
    os.makedirs(os.path.dirname(out), exist_ok=True)
    partial = f"{out}.partial-{os.getpid()}"
    shutil.rmtree(partial, ignore_errors=True)
    os.makedirs(partial)
    state = {name: t.float() if t.is_floating_point() else t for name, t in model.state_dict().items()}
    write_safetensors(os.path.join(partial, "model.safetensors"), state,
                      {"format": "pt", "producer": f"torchvision_roundtrip.py (torch {torch.__version__}, torchvision {torchvision.__version__})", "layout": "OIHW"})
    with open(os.path.join(partial, "config.json"), "w", encoding="utf-8") as f:
        json.dump(config, f, indent=2)
        f.write("\n")
    previous = out + ".previous"
    if os.path.exists(out):
        shutil.rmtree(previous, ignore_errors=True)
        os.rename(out, previous)
    os.rename(partial, out)
    shutil.rmtree(previous, ignore_errors=True)


# ---------------------------------------------------------------------------------------------
# Heads: the loss value seg reports, and seg's gradient handed straight to the logits

class HeadLoss(torch.autograd.Function):
    """forward(z [N,K,H,W], labels [N,H,W], head, scale) -> loss; backward: scale * grad rule (see module doc)."""

    @staticmethod
    def forward(ctx, z, labels, head, grad_scale, loss_scale):
        valid = labels != VOID
        target = F.one_hot(torch.where(valid, labels, torch.zeros_like(labels)), z.shape[1]).permute(0, 3, 1, 2).to(z.dtype)
        mask = valid.unsqueeze(1).to(z.dtype)
        if head["kind"] == "softmax":
            log_p = F.log_softmax(z, dim=1)
            loss = -(target * log_p * mask).sum() * loss_scale
            err = (log_p.exp() - target) * mask
        else:
            if head["kind"] == "egb":
                boosted = torch.exp(z.clamp(max=EXP_BOOST_MAX_LOGIT)) if head["boost"] == "exp" else z.clamp(-POW3_BOOST_MAX_ABS_LOGIT, POW3_BOOST_MAX_ABS_LOGIT) ** 3
                y = head["alpha"] * boosted + head["beta"]
            else:
                y = z
            err = (y - target) * mask
            # Scale before squaring so the sum stays finite for large errors.
            loss = 0.5 * (err * math.sqrt(loss_scale)).square().sum()
        ctx.save_for_backward(err * grad_scale)
        return loss

    @staticmethod
    def backward(ctx, dloss):
        (grad,) = ctx.saved_tensors
        return dloss * grad, None, None, None, None


def head_loss(logits, labels, head, world_size):
    """Loss over the global batch and this process's share of its gradient (DDP averages the shares)."""
    valid = (labels != VOID).sum().to(torch.float64)
    if world_size > 1:
        dist.all_reduce(valid)
    n = max(float(valid.item()), 1.0)
    # Each process's loss is its part of sum / N_global; DDP averages gradients, hence world_size / N.
    return HeadLoss.apply(logits, labels, head, world_size / n, 1.0 / n)


# ---------------------------------------------------------------------------------------------
# Data: VOC layout, seg's training augmentation

def resolve_dataset_root(root):
    for candidate in (root, os.path.join(root, "VOC2012"), os.path.join(root, "VOCdevkit", "VOC2012")):
        if os.path.isdir(os.path.join(candidate, "JPEGImages")) or os.path.isdir(os.path.join(candidate, "ImageSets", "Segmentation")):
            return candidate
    raise UserError(f"{root}: not a VOC-layout dataset: expected JPEGImages/ and ImageSets/Segmentation/ in it (or in VOC2012/ or VOCdevkit/VOC2012/ beneath it)")


def read_class_names(root):
    file = os.path.join(root, "classes.txt")
    if not os.path.exists(file):
        return list(VOC_CLASSES)
    with open(file, encoding="utf-8") as f:
        lines = f.read().replace("\r", "").split("\n")
    while lines and lines[-1].strip() == "":
        lines.pop()
    return [line.strip() for line in lines]


def read_ids(root, split):
    names = ("trainaug", "train_aug") if split == "trainaug" else (split,)
    files = [os.path.join(root, "ImageSets", "Segmentation", f"{name}.txt") for name in names]
    file = next((f for f in files if os.path.isfile(f)), None)
    if file is None:
        raise UserError(f"--split: {files[0]} not found")
    ids = []
    with open(file, encoding="utf-8") as f:
        for line in f:
            first = line.strip().split()[0] if line.strip() else ""
            if first:
                ids.append(os.path.splitext(os.path.basename(first))[0] if "/" in first else first)
    if not ids:
        raise UserError(f"{file}: the split list is empty; list one image id per line")
    return ids


def image_path(root, sample_id):
    for ext in (".jpg", ".jpeg", ".png"):
        p = os.path.join(root, "JPEGImages", sample_id + ext)
        if os.path.exists(p):
            return p
    raise UserError(f"{os.path.join(root, 'JPEGImages', sample_id + '.jpg')}: no such image (listed in the split)")


def label_path(root, sample_id):
    for d in ("SegmentationClass", "SegmentationClassAug"):
        p = os.path.join(root, d, sample_id + ".png")
        if os.path.exists(p):
            return p
    raise UserError(f"{os.path.join(root, 'SegmentationClass', sample_id + '.png')}: no such label (listed in the split)")


def load_label(path, num_classes):
    """Class indices as stored: palette indices (VOC) or gray values (SBD); never via RGB."""
    with Image.open(path) as im:
        if im.mode not in ("P", "L"):
            raise UserError(f"{path}: label PNG in mode {im.mode}; expected a palette (P) or 8-bit gray (L) PNG of class indices")
        label = np.array(im, dtype=np.uint8)
    bad = (label >= num_classes) & (label != VOID)
    if bad.any():
        raise UserError(f"{path}: label value {int(label[bad][0])} is not a class (0..{num_classes - 1}) nor void (255)")
    return label


def load_sample(root, sample_id, num_classes):
    with Image.open(image_path(root, sample_id)) as im:
        image = im.convert("RGB")
    label = load_label(label_path(root, sample_id), num_classes)
    if label.shape != (image.height, image.width):
        raise UserError(f"{label_path(root, sample_id)}: label is {label.shape[1]}x{label.shape[0]}, its image {image.width}x{image.height}")
    return image, label


class VocTrainSet(torch.utils.data.Dataset):
    """Random scale (0.5..2, step .25; image bilinear, label nearest), pad (mean pixel, 255), crop, flip, normalise."""

    def __init__(self, root, split, num_classes, crop, normalization, seed):
        self.root, self.ids, self.num_classes, self.crop, self.seed = root, read_ids(root, split), num_classes, crop, seed
        self.mean = np.array(normalization["mean"], dtype=np.float32)
        self.std = np.array(normalization["std"], dtype=np.float32)
        self.fill = tuple(int(round(m * 255)) for m in normalization["mean"])
        self.epoch = 0

    def __len__(self):
        return len(self.ids)

    def __getitem__(self, index):
        # One generator per (seed, epoch, sample): the same draws whatever the worker count.
        rng = np.random.default_rng([self.seed, self.epoch, index])
        image, label = load_sample(self.root, self.ids[index], self.num_classes)
        scale = TRAIN_SCALES[rng.integers(len(TRAIN_SCALES))]
        w, h = max(1, round(image.width * scale)), max(1, round(image.height * scale))
        image = np.asarray(image.resize((w, h), Image.BILINEAR), dtype=np.uint8)
        label = np.asarray(Image.fromarray(label).resize((w, h), Image.NEAREST), dtype=np.uint8)
        c = self.crop
        ph, pw = max(c, h), max(c, w)
        canvas = np.empty((ph, pw, 3), dtype=np.uint8)
        canvas[:] = self.fill
        canvas[:h, :w] = image
        labels = np.full((ph, pw), VOID, dtype=np.uint8)
        labels[:h, :w] = label
        top, left = rng.integers(ph - c + 1), rng.integers(pw - c + 1)
        canvas, labels = canvas[top : top + c, left : left + c], labels[top : top + c, left : left + c]
        if rng.random() < 0.5:
            canvas, labels = canvas[:, ::-1], labels[:, ::-1]
        x = (canvas.astype(np.float32) / 255.0 - self.mean) / self.std
        return torch.from_numpy(np.ascontiguousarray(x.transpose(2, 0, 1))), torch.from_numpy(np.ascontiguousarray(labels)).long()


def normalize(image, normalization):
    x = np.asarray(image, dtype=np.float32) / 255.0
    x = (x - np.array(normalization["mean"], dtype=np.float32)) / np.array(normalization["std"], dtype=np.float32)
    return torch.from_numpy(np.ascontiguousarray(x.transpose(2, 0, 1))).unsqueeze(0)


@torch.no_grad()
def evaluate_miou(model, root, split, num_classes, normalization, device):
    """mIoU over a split at the labels' resolution, 255 ignored; classes with an empty union are left out."""
    model.eval()
    conf = torch.zeros((num_classes, num_classes), dtype=torch.int64)
    for sample_id in read_ids(root, split):
        image, label = load_sample(root, sample_id, num_classes)
        pred = model(normalize(image, normalization).to(device))["out"].argmax(1)[0].cpu()
        t = torch.from_numpy(label.astype(np.int64))
        keep = t != VOID
        conf += torch.bincount(t[keep] * num_classes + pred[keep], minlength=num_classes * num_classes).reshape(num_classes, num_classes)
    inter = conf.diag().double()
    union = conf.sum(0).double() + conf.sum(1).double() - inter
    ious = inter[union > 0] / union[union > 0]
    return float(ious.mean()) if len(ious) else float("nan")


# ---------------------------------------------------------------------------------------------
# Commands

def command_check(args):
    model, config, ckpt_dir = load_seg_checkpoint(args.checkpoint)
    params = sum(p.numel() for p in model.parameters())
    print(f"{ckpt_dir}: {describe(config['model'])}, head {config['head']}, iteration {config['iteration']}")
    print(f"loaded into torchvision {torchvision.__version__} DeepLabV3 with strict=True: {params} parameters, {len(model.state_dict())} tensors")


def command_logits(args):
    """For every tensor NAME [N,H,W,3] (normalised, seg's NHWC) in --input: torchvision's logits."""
    model, config, _ = load_seg_checkpoint(args.checkpoint)
    model.eval()
    inputs, _ = read_safetensors(args.input)
    captured = {}
    # The classifier's output before DeepLabV3.forward upsamples it (bilinear, align_corners=False).
    model.classifier.register_forward_hook(lambda _m, _i, out: captured.__setitem__("coarse", out.detach()))
    tensors = {}
    metadata = {"producer": f"torchvision_roundtrip.py logits (torch {torch.__version__}, torchvision {torchvision.__version__})",
                "model": describe(config["model"])}
    with torch.no_grad():
        for name, x in sorted(inputs.items()):
            if x.dim() != 4 or x.shape[3] != 3:
                raise UserError(f"{args.input}: tensor {name} has shape {list(x.shape)}, expected [N, H, W, 3] (normalised RGB)")
            logits = model(x.float().permute(0, 3, 1, 2).contiguous())["out"]  # [N, K, H, W]
            flat = logits.reshape(-1)
            count = min(args.samples, flat.numel())
            index = (torch.arange(count, dtype=torch.int64) * flat.numel()) // count
            tensors[f"{name}.coarse"] = captured["coarse"]
            tensors[f"{name}.sampleIndex"] = index
            tensors[f"{name}.sample"] = flat[index]
            metadata[f"{name}.sum"] = repr(float(logits.double().sum()))
            metadata[f"{name}.sumSquares"] = repr(float(logits.double().square().sum()))
            if args.full:
                tensors[f"{name}.logits"] = logits.permute(0, 2, 3, 1)
    write_safetensors(args.out, tensors, metadata)
    print(json.dumps({n[: -len(".coarse")]: list(t.shape) for n, t in tensors.items() if n.endswith(".coarse")}))


def command_keys(args):
    """torchvision's state-dict names and shapes, and parameter counts, as JSON on stdout."""
    out = {}
    for backbone, build in (("resnet50", deeplabv3_resnet50), ("resnet101", deeplabv3_resnet101)):
        model = build(weights=None, weights_backbone=None, num_classes=args.classes, aux_loss=args.aux)
        out[backbone] = {
            "parameters": sum(p.numel() for p in model.parameters()),
            "stateDict": [[name, list(t.shape)] for name, t in model.state_dict().items()],
        }
    print(json.dumps({"torchvision": torchvision.__version__, "numClasses": args.classes, "auxLoss": args.aux, "models": out}))


def command_compare(args):
    """The reference file holds `input` (N,H,W,3 normalised, seg's NHWC) and `logits` (N,H,W,K) from seg, and `aux` (the aux classifier's) for an aux model."""
    model, config, _ = load_seg_checkpoint(args.checkpoint)
    model.eval()
    ref, _ = read_safetensors(args.reference)
    for key in ("input", "logits"):
        if key not in ref:
            raise UserError(f"{args.reference}: missing tensor {key!r} (expected input [N,H,W,3] and logits [N,H,W,K])")
    with torch.no_grad():
        out = model(ref["input"].float().permute(0, 3, 1, 2).contiguous())
    report = {}
    for key, name in (("out", "logits"), ("aux", "aux")):
        if name not in ref:
            continue
        if key not in out:
            raise UserError(f"{args.reference}: has {name!r}, but {describe(config['model'])} has no aux classifier")
        mine = out[key].permute(0, 2, 3, 1)
        seg_logits = ref[name].float()
        if mine.shape != seg_logits.shape:
            raise UserError(f"{args.reference}: {name} {list(seg_logits.shape)}, torchvision gives {list(mine.shape)}")
        rel = float((mine - seg_logits).norm() / seg_logits.norm().clamp_min(1e-30))
        suffix = "" if key == "out" else "Aux"
        report[f"relL2{suffix}"] = rel
        report[f"maxAbsDiff{suffix}"] = float((mine - seg_logits).abs().max())
        if key == "out":
            report["shape"] = list(mine.shape)
    print(json.dumps(report))
    worst = max(v for k, v in report.items() if k.startswith("relL2"))
    if worst > args.tolerance:
        raise UserError(f"logits differ: relative L2 {worst:.3g} > {args.tolerance}")


def setup_distributed(device_arg):
    world_size = int(os.environ.get("WORLD_SIZE", "1"))
    rank = int(os.environ.get("RANK", "0"))
    local_rank = int(os.environ.get("LOCAL_RANK", "0"))
    use_cuda = device_arg == "cuda" or (device_arg == "auto" and torch.cuda.is_available())
    if use_cuda:
        if not torch.cuda.is_available():
            raise UserError("--device cuda: no CUDA device is visible to torch")
        torch.cuda.set_device(local_rank)
        device = torch.device("cuda", local_rank)
    else:
        device = torch.device("cpu")
    if world_size > 1:
        dist.init_process_group(backend="nccl" if use_cuda else "gloo")
    return rank, world_size, local_rank, device


def log(rank, text):
    if rank == 0:
        print(text, flush=True)


def command_train(args):
    rank, world_size, local_rank, device = setup_distributed(args.device)
    try:
        train(args, rank, world_size, local_rank, device)
    finally:
        if world_size > 1:
            dist.destroy_process_group()


def train(args, rank, world_size, local_rank, device):
    torch.manual_seed(args.seed * 1000 + rank)  # dropout differs per process, as on separate GPUs
    check_output_dir(args.out)
    model, config, ckpt_dir = load_seg_checkpoint(args.checkpoint)
    num_classes = int(config["model"]["numClasses"])
    head = parse_head(args.head or config["head"], num_classes)
    aux = has_aux(config["model"])
    aux_weight = args.aux_loss if args.aux_loss is not None else float(config.get("training", {}).get("auxLoss", 0.5)) if aux else 0.0
    if not (math.isfinite(aux_weight) and aux_weight >= 0):
        raise UserError(f"--aux-loss: got {aux_weight}, expected a number >= 0")
    if aux_weight > 0 and not aux:
        raise UserError(f"--aux-loss {aux_weight}: {ckpt_dir} has no aux classifier; train one in seg with --aux-loss, or leave --aux-loss out")
    root = resolve_dataset_root(args.data)
    data_classes = read_class_names(root)
    if data_classes != list(config["classNames"]):
        raise UserError(f"{args.data}: classes {data_classes} differ from the checkpoint's {config['classNames']}")
    if args.batch * world_size < 2 and not args.freeze_bn:
        raise UserError("--batch: batch norm needs at least 2 images per process in training; raise --batch or use --freeze-bn")
    if args.batch < 2 and not args.freeze_bn:
        raise UserError("--batch 1: torchvision's ASPP pooling branch needs at least 2 images per process; use --batch 2 or --freeze-bn")
    model.to(device)
    if args.sync_bn:
        if device.type != "cuda":
            raise UserError("--sync-bn needs CUDA (torch's SyncBatchNorm runs on GPUs only)")
        model = torch.nn.SyncBatchNorm.convert_sync_batchnorm(model)
    model.train()
    if args.no_dropout:
        for m in model.modules():
            if isinstance(m, torch.nn.Dropout):
                m.eval()
    if args.freeze_bn:
        for m in model.modules():
            if isinstance(m, torch.nn.modules.batchnorm._BatchNorm):
                m.eval()
    # With --aux-loss 0 the aux classifier gets no gradient, which DDP must be told.
    net = torch.nn.parallel.DistributedDataParallel(model, device_ids=[local_rank] if device.type == "cuda" else None,
                                                    find_unused_parameters=aux and aux_weight == 0) if world_size > 1 else model

    dataset = VocTrainSet(root, args.split, num_classes, args.crop, config["normalization"], args.seed)
    if len(dataset) < args.batch * world_size:
        raise UserError(f"--batch {args.batch} x {world_size} processes needs at least {args.batch * world_size} images; {args.split} has {len(dataset)}")
    sampler = torch.utils.data.distributed.DistributedSampler(dataset, num_replicas=world_size, rank=rank, shuffle=True, seed=args.seed, drop_last=True)
    loader = torch.utils.data.DataLoader(dataset, batch_size=args.batch, sampler=sampler, num_workers=args.workers, drop_last=True,
                                         pin_memory=device.type == "cuda", persistent_workers=False)
    optimizer = torch.optim.SGD(net.parameters(), lr=args.lr, momentum=args.momentum, weight_decay=args.weight_decay)

    log(rank, f"{ckpt_dir}: {describe(config['model'])} -> torchvision {torchvision.__version__} (strict load ok)")
    log(rank, f"training with head {format_head(head)}{f' + {aux_weight} x aux' if aux_weight > 0 else ''} on {root} '{args.split}' ({len(dataset)} images): {args.iters} iteration(s), "
              f"{world_size} process(es) x batch {args.batch} = {args.batch * world_size}, crop {args.crop}, device {device.type}"
              + (f", backend {dist.get_backend()}" if world_size > 1 else ""))
    iteration, epoch, start = 0, 0, time.time()
    while iteration < args.iters:
        sampler.set_epoch(epoch)
        dataset.epoch = epoch
        for images, labels in loader:
            if iteration >= args.iters:
                break
            lr = args.lr * (1 - iteration / args.iters) ** args.poly_power
            for group in optimizer.param_groups:
                group["lr"] = lr
            images, labels = images.to(device, non_blocking=True), labels.to(device, non_blocking=True)
            out = net(images)  # logits upsampled to the crop (bilinear, align_corners=False)
            loss = head_loss(out["out"], labels, head, world_size)
            if aux_weight > 0:
                loss = loss + aux_weight * head_loss(out["aux"], labels, head, world_size)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            iteration += 1
            if iteration % args.log_every == 0 or iteration == args.iters:
                total = loss.detach().clone()
                if world_size > 1:
                    dist.all_reduce(total)
                value = float(total)
                if not math.isfinite(value):
                    raise UserError(f"iteration {iteration}: loss is {value}; lower --lr (or the egb alpha) and start again")
                elapsed = time.time() - start
                log(rank, f"train {iteration}/{args.iters} loss={value:.4f} lr={lr:.6f} {iteration / elapsed:.2f} it/s")
        epoch += 1
    seconds = time.time() - start
    log(rank, f"train done in {seconds:.1f}s")

    if rank == 0:
        metrics = None
        if args.eval_split:
            miou = evaluate_miou(model, root, args.eval_split, num_classes, config["normalization"], device)
            metrics = {"mIoU": miou, "split": args.eval_split}
            log(rank, f"{args.eval_split} mIoU {100 * miou:.2f}% (torchvision forward, PIL decoding)")
        plain = model.cpu()
        if args.sync_bn:
            plain = revert_sync_batchnorm(plain)
        out_config = {
            "format": CHECKPOINT_FORMAT,
            "formatVersion": CHECKPOINT_FORMAT_VERSION,
            "model": dict(config["model"]),
            "classNames": list(config["classNames"]),
            "head": format_head(head),
            "normalization": config["normalization"],
            "training": {
                "trainer": "tools/torchvision_roundtrip.py",
                "torch": torch.__version__,
                "torchvision": torchvision.__version__,
                "processes": world_size,
                "distributedBackend": dist.get_backend() if world_size > 1 else None,
                "device": device.type,
                "startCheckpoint": os.path.abspath(ckpt_dir),
                "startIteration": config["iteration"],
                "data": os.path.abspath(root),
                "split": args.split,
                "head": format_head(head),
                "backbone": config["model"]["backbone"],
                "outputStride": config["model"]["outputStride"],
                "width": config["model"]["width"],
                "multiGrid": config["model"]["multiGrid"],
                **({"auxLoss": aux_weight} if aux_weight > 0 else {}),
                "crop": args.crop,
                "batch": args.batch * world_size,
                "batchPerProcess": args.batch,
                "iters": args.iters,
                "lr": args.lr,
                "momentum": args.momentum,
                "weightDecay": args.weight_decay,
                "polyPower": args.poly_power,
                "freezeBn": args.freeze_bn,
                "syncBn": args.sync_bn,
                "dropout": not args.no_dropout,
                "seed": args.seed,
                "seconds": round(seconds, 3),
            },
            "iteration": int(config["iteration"]) + args.iters,
            "metrics": metrics,
            "packageVersion": config.get("packageVersion", "unknown"),
            "commandLine": " ".join(shlex.quote(a) for a in [sys.executable, *sys.argv])
                           + (f"  # under torchrun, {world_size} processes" if world_size > 1 else ""),
            "savedAt": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z"),
            "weightLayout": "OIHW",
        }
        save_seg_checkpoint(args.out, plain, out_config)
        log(rank, f"wrote {os.path.abspath(args.out)} (seg checkpoint: config.json + model.safetensors)")
    if world_size > 1:
        dist.barrier()


def revert_sync_batchnorm(module):
    """SyncBatchNorm back to BatchNorm2d (same state dict names)."""
    out = module
    if isinstance(module, torch.nn.SyncBatchNorm):
        out = torch.nn.BatchNorm2d(module.num_features, module.eps, module.momentum, module.affine, module.track_running_stats)
        out.load_state_dict(module.state_dict())
    for name, child in module.named_children():
        out.add_module(name, revert_sync_batchnorm(child))
    return out


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("check", help="load a seg checkpoint into torchvision's DeepLabV3 (strict) and describe it")
    p.add_argument("--checkpoint", required=True, help="seg run folder or checkpoint directory")
    p.set_defaults(run=command_check)

    p = sub.add_parser("compare", help="compare torchvision's logits with seg's on a saved input")
    p.add_argument("--checkpoint", required=True)
    p.add_argument("--reference", required=True,
                   help=".safetensors with input [N,H,W,3] (normalised) and logits [N,H,W,K] from seg (and aux [N,H,W,K] for an aux model)")
    p.add_argument("--tolerance", type=float, default=1e-4, help="largest relative L2 accepted (default 1e-4)")
    p.set_defaults(run=command_compare)

    p = sub.add_parser("logits", help="torchvision's logits of a seg checkpoint for inputs saved by seg (seg's parity fixtures)")
    p.add_argument("--checkpoint", required=True)
    p.add_argument("--input", required=True, help=".safetensors with tensors NAME [N,H,W,3] (normalised RGB, NHWC)")
    p.add_argument("--out", required=True, help=".safetensors to write: NAME.coarse, NAME.sampleIndex, NAME.sample (+ NAME.logits)")
    p.add_argument("--samples", type=int, default=4096, help="upsampled logits kept as a sample, evenly spaced (default 4096)")
    p.add_argument("--full", action="store_true", help="also write the upsampled logits NAME.logits [N,H,W,K]")
    p.set_defaults(run=command_logits)

    p = sub.add_parser("keys", help="state-dict names and shapes of torchvision's deeplabv3_resnet50/101, as JSON")
    p.add_argument("--classes", type=int, default=21)
    p.add_argument("--aux", action="store_true", help="aux_loss=True: with the FCNHead aux classifier")
    p.set_defaults(run=command_keys)

    p = sub.add_parser("train", help="train with seg's heads (DDP under torchrun) and write a seg checkpoint")
    p.add_argument("--checkpoint", required=True, help="seg run folder or checkpoint directory to start from")
    p.add_argument("--data", required=True, help="dataset root in VOC layout")
    p.add_argument("--out", required=True, help="checkpoint directory to write (seg eval --checkpoint OUT)")
    p.add_argument("--split", default="train")
    p.add_argument("--head", default=None, help="head spec (default: the checkpoint's), e.g. softmax, egb:exp:alpha=0.3, linear")
    p.add_argument("--iters", type=int, default=30000)
    p.add_argument("--batch", type=int, default=8, help="images per process per step (global batch = batch x processes)")
    p.add_argument("--crop", type=int, default=513)
    p.add_argument("--lr", type=float, default=0.007)
    p.add_argument("--momentum", type=float, default=0.9)
    p.add_argument("--weight-decay", type=float, default=1e-4)
    p.add_argument("--poly-power", type=float, default=0.9)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--workers", type=int, default=0, help="DataLoader worker processes per training process")
    p.add_argument("--freeze-bn", action="store_true", help="keep batch-norm running statistics fixed")
    p.add_argument("--no-dropout", action="store_true", help="turn off the ASPP dropout (for exact comparisons between runs)")
    p.add_argument("--sync-bn", action="store_true", help="synchronise batch-norm statistics across processes (CUDA only)")
    p.add_argument("--aux-loss", type=float, default=None,
                   help="weight of the aux classifier's loss (a checkpoint with one; default: the run's own, else 0.5)")
    p.add_argument("--device", choices=("auto", "cpu", "cuda"), default="auto")
    p.add_argument("--eval-split", default=None, help="after training, print mIoU on this split (rank 0)")
    p.add_argument("--log-every", type=int, default=10)
    p.set_defaults(run=command_train)
    args = parser.parse_args(argv)
    for key in ("iters", "batch", "crop", "log_every", "samples", "classes"):
        if key in args and getattr(args, key) < 1:
            parser.error(f"--{key.replace('_', '-')}: got {getattr(args, key)}, expected an integer >= 1")
    try:
        args.run(args)
    except UserError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
