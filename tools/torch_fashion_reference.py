#!/usr/bin/env python3
"""An independent PyTorch reimplementation of seg's softmax training, to cross-check its curves.

Plain PyTorch (numpy, Pillow); nothing from seg is imported. It trains DeepLab-v3 with a
ResNet-18 of any width (BasicBlocks that accept dilation, which torchvision's refuse) on a
dataset in VOC layout, the way `seg train --head softmax` does:
  - random scale from {0.5, 0.75, ..., 2.0} (image bilinear, label nearest), pad to the crop with
    the mean pixel and 255, random crop, horizontal flip with p 0.5, ImageNet normalisation;
  - batches drawn without replacement from a fresh permutation each epoch;
  - convs Kaiming-normal (fan_out), BN 1/0, final classifier N(0, 0.01) with bias 0;
  - ASPP rates 6/12/18 at output stride 16 (12/24/36 at 8), image pooling, project + dropout 0.5,
    a 3x3 conv + BN + ReLU, the 1x1 classifier, bilinear upsampling to the input;
  - cross-entropy over non-void pixels, SGD (momentum, weight decay on every parameter), poly lr;
  - val mIoU on whole val images, BN in eval mode.
Its random draws are its own (torch/numpy/random from --seed), not seg's: it is compared with
seg by its curve, not bit for bit.

  python3 tools/torch_fashion_reference.py --data runs/v2/data --iters 3000 --lr 0.05 \\
      --width 0.5 --output-stride 16 --eval-every 250 --out runs/v2/torch/s0.jsonl

Each evaluation prints a line and, with --out, appends {"iter", "miou", "iou", "wallS"} to it.
docs/REPRODUCTION.md (v2) reports what it gave next to seg.
"""
from __future__ import annotations

import argparse
import json
import os
import random
import time

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F
from PIL import Image

IMAGENET_MEAN = np.array([0.485, 0.456, 0.406], np.float32)
IMAGENET_STD = np.array([0.229, 0.224, 0.225], np.float32)
SCALES = [0.5, 0.75, 1.0, 1.25, 1.5, 1.75, 2.0]
VOID = 255


def parse_args() -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--data", required=True, help="dataset in VOC layout (seg data fashion --out ...)")
    p.add_argument("--iters", type=int, default=3000)
    p.add_argument("--lr", type=float, default=0.05)
    p.add_argument("--width", type=float, default=0.5)
    p.add_argument("--output-stride", type=int, choices=(8, 16), default=16)
    p.add_argument("--batch", type=int, default=8)
    p.add_argument("--crop", type=int, default=96)
    p.add_argument("--momentum", type=float, default=0.9)
    p.add_argument("--weight-decay", type=float, default=1e-4)
    p.add_argument("--poly-power", type=float, default=0.9)
    p.add_argument("--eval-every", type=int, default=250)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--out", help="JSON lines file the evaluations are appended to")
    return p.parse_args()


def load_split(data: str, split: str) -> tuple[np.ndarray, np.ndarray, int]:
    ids = open(os.path.join(data, "ImageSets", "Segmentation", f"{split}.txt")).read().split()
    images = np.stack([np.asarray(Image.open(os.path.join(data, "JPEGImages", f"{i}.jpg")).convert("RGB")) for i in ids])
    labels = np.stack([np.asarray(Image.open(os.path.join(data, "SegmentationClass", f"{i}.png"))) for i in ids])
    classes = len(open(os.path.join(data, "classes.txt")).read().split())
    return images, labels, classes


def normalize(images: torch.Tensor) -> torch.Tensor:
    """NCHW bytes (as float) -> ImageNet-normalised."""
    mean = torch.from_numpy(IMAGENET_MEAN)[:, None, None]
    std = torch.from_numpy(IMAGENET_STD)[:, None, None]
    return (images / 255 - mean) / std


def augment(image: np.ndarray, label: np.ndarray, crop: int) -> tuple[torch.Tensor, torch.Tensor]:
    scale = random.choice(SCALES)
    h, w = label.shape
    nh, nw = max(1, round(h * scale)), max(1, round(w * scale))
    img = F.interpolate(torch.from_numpy(image).permute(2, 0, 1)[None].float(), size=(nh, nw), mode="bilinear", align_corners=False)[0]
    lab = F.interpolate(torch.from_numpy(label)[None, None].float(), size=(nh, nw), mode="nearest")[0, 0].long()
    ph, pw = max(crop, nh), max(crop, nw)
    canvas = torch.from_numpy(IMAGENET_MEAN * 255)[:, None, None].repeat(1, ph, pw)
    canvas[:, :nh, :nw] = img
    label_canvas = torch.full((ph, pw), VOID, dtype=torch.long)
    label_canvas[:nh, :nw] = lab
    top, left = random.randint(0, ph - crop), random.randint(0, pw - crop)
    img = canvas[:, top : top + crop, left : left + crop]
    lab = label_canvas[top : top + crop, left : left + crop]
    if random.random() < 0.5:
        img, lab = img.flip(-1), lab.flip(-1)
    return normalize(img), lab


class BasicBlock(nn.Module):
    def __init__(self, cin: int, planes: int, stride: int, dilation: int, downsample: bool) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(cin, planes, 3, stride, dilation, dilation, bias=False)
        self.bn1 = nn.BatchNorm2d(planes)
        self.conv2 = nn.Conv2d(planes, planes, 3, 1, dilation, dilation, bias=False)
        self.bn2 = nn.BatchNorm2d(planes)
        self.downsample = nn.Sequential(nn.Conv2d(cin, planes, 1, stride, bias=False), nn.BatchNorm2d(planes)) if downsample else None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.bn2(self.conv2(F.relu(self.bn1(self.conv1(x)))))
        return F.relu(y + (x if self.downsample is None else self.downsample(x)))


def conv_bn_relu(cin: int, cout: int, kernel: int, dilation: int = 1) -> nn.Sequential:
    pad = dilation * (kernel // 2)
    return nn.Sequential(nn.Conv2d(cin, cout, kernel, padding=pad, dilation=dilation, bias=False), nn.BatchNorm2d(cout), nn.ReLU())


class DeepLabV3ResNet18(nn.Module):
    def __init__(self, classes: int, width: float, output_stride: int) -> None:
        super().__init__()
        ch = lambda n: max(1, round(n * width))  # noqa: E731 (seg's scaledChannels)
        self.conv1 = nn.Conv2d(3, ch(64), 7, 2, 3, bias=False)
        self.bn1 = nn.BatchNorm2d(ch(64))
        dilate = [False, False, True] if output_stride == 16 else [False, True, True]
        stages, cin, dilation = [], ch(64), 1
        for i, planes in enumerate(ch(p) for p in (64, 128, 256, 512)):
            stride, previous = (1 if i == 0 else 2), dilation
            if i > 0 and dilate[i - 1]:
                dilation, stride = dilation * stride, 1
            first = BasicBlock(cin, planes, stride, previous, stride != 1 or cin != planes)
            stages.append(nn.Sequential(first, BasicBlock(planes, planes, 1, dilation, False)))
            cin = planes
        self.stages = nn.ModuleList(stages)
        out = ch(256)
        rates = (6, 12, 18) if output_stride == 16 else (12, 24, 36)
        self.aspp = nn.ModuleList([conv_bn_relu(cin, out, 1)] + [conv_bn_relu(cin, out, 3, r) for r in rates])
        self.pooling = conv_bn_relu(cin, out, 1)
        self.project = nn.Sequential(*conv_bn_relu(5 * out, out, 1), nn.Dropout(0.5))
        self.decoder = conv_bn_relu(out, out, 3)
        self.classifier = nn.Conv2d(out, classes, 1)
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
        nn.init.normal_(self.classifier.weight, 0, 0.01)
        nn.init.zeros_(self.classifier.bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        size = x.shape[-2:]
        y = F.max_pool2d(F.relu(self.bn1(self.conv1(x))), 3, 2, 1)
        for stage in self.stages:
            y = stage(y)
        branches = [b(y) for b in self.aspp]
        pooled = self.pooling(F.adaptive_avg_pool2d(y, 1))
        branches.append(F.interpolate(pooled, size=y.shape[-2:], mode="bilinear", align_corners=False))
        logits = self.classifier(self.decoder(self.project(torch.cat(branches, 1))))
        return F.interpolate(logits, size=size, mode="bilinear", align_corners=False)


def evaluate(net: nn.Module, images: np.ndarray, labels: np.ndarray, classes: int) -> np.ndarray:
    net.eval()
    confusion = np.zeros((classes, classes), np.int64)
    with torch.no_grad():
        for i in range(0, len(images), 20):
            x = normalize(torch.from_numpy(images[i : i + 20]).float().permute(0, 3, 1, 2))
            pred = net(x).argmax(1).numpy().ravel()
            truth = labels[i : i + 20].ravel()
            valid = truth != VOID
            confusion += np.bincount(truth[valid].astype(np.int64) * classes + pred[valid], minlength=classes * classes).reshape(classes, classes)
    net.train()
    inter = np.diag(confusion)
    return inter / np.maximum(1, confusion.sum(0) + confusion.sum(1) - inter)


def main() -> None:
    a = parse_args()
    torch.set_num_threads(a.threads)
    torch.manual_seed(a.seed)
    random.seed(a.seed)
    np.random.seed(a.seed)
    train_images, train_labels, classes = load_split(a.data, "train")
    val_images, val_labels, _ = load_split(a.data, "val")
    net = DeepLabV3ResNet18(classes, a.width, a.output_stride)
    opt = torch.optim.SGD(net.parameters(), lr=a.lr, momentum=a.momentum, weight_decay=a.weight_decay)
    out = open(a.out, "a") if a.out else None
    order: list[int] = []
    start = time.time()
    for it in range(1, a.iters + 1):
        for group in opt.param_groups:
            group["lr"] = a.lr * max(0.0, 1 - (it - 1) / a.iters) ** a.poly_power
        if len(order) < a.batch:
            order = np.random.permutation(len(train_images)).tolist()
        batch, order = order[: a.batch], order[a.batch :]
        xs, ys = zip(*(augment(train_images[i], train_labels[i], a.crop) for i in batch))
        loss = F.cross_entropy(net(torch.stack(xs)), torch.stack(ys), ignore_index=VOID)
        opt.zero_grad()
        loss.backward()
        opt.step()
        if it % 50 == 0:
            print(f"iter {it}/{a.iters} loss {loss.item():.4f} {time.time() - start:.0f} s", flush=True)
        if it % a.eval_every == 0 or it == a.iters:
            iou = evaluate(net, val_images, val_labels, classes)
            wall = time.time() - start
            print(f"eval iter {it} mIoU {100 * iou.mean():.2f}% per class {np.round(100 * iou, 1).tolist()} {wall:.0f} s", flush=True)
            if out:
                out.write(json.dumps({"iter": it, "miou": float(iou.mean()), "iou": iou.tolist(), "wallS": round(wall, 1)}) + "\n")
                out.flush()


if __name__ == "__main__":
    main()
