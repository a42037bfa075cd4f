"""A CIFAR-style ResNet (He, Zhang, Ren, Sun 2016, "Deep Residual Learning for Image
Recognition", section 4.2), with or without batch normalisation, small enough to train on a
laptop's CPU.

    depth = 6n + 2 layers: a 3x3 convolution, three stages of n basic blocks (two 3x3
    convolutions each) with widths w1, w2, w3 (the paper's 16, 32, 64; here 8, 16, 32 by
    default), the first block of stages 2 and 3 halving the resolution with stride 2, global
    average pooling and a linear layer to the classes.

Shortcuts where the shape changes: option "A" (the paper's CIFAR choice: the identity on every
second pixel, zero-padded with new channels; no parameters) or "B" (a 1x1 convolution with
stride 2, followed by BN when BN is on).

Input [N, C, H, W]: Fashion-MNIST's [N, 1, 28, 28] (28 -> 14 -> 7) or CIFAR-10's [N, 3, 32, 32].
Output: logits [N, num_classes]. Every module is TorchScript-compatible (torch.jit.script).
Without BN the convolutions get biases and the last convolution of every residual branch starts
at zero (the block starts as the identity, as Fixup, Zhang et al. 2019, does for networks
without normalisation), so that plain SGD at the example's learning rate does not diverge.
"""

from __future__ import annotations

from typing import List

import torch
import torch.nn.functional as F
from torch import nn


def norm(channels: int, bn: bool) -> nn.Module:
    """BatchNorm2d(channels) with BN, else the identity."""
    return nn.BatchNorm2d(channels) if bn else nn.Identity()


class ShortcutA(nn.Module):
    """Option A: x[:, :, ::stride, ::stride] zero-padded from in_ch to out_ch channels."""

    def __init__(self, in_ch: int, out_ch: int, stride: int):
        super().__init__()
        self.stride = stride
        self.pad = out_ch - in_ch

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x[:, :, :: self.stride, :: self.stride]
        # F.pad's list runs from the last dimension: (W left, W right, H top, H bottom, C front, C back).
        return F.pad(x, [0, 0, 0, 0, self.pad // 2, self.pad - self.pad // 2])


class BasicBlock(nn.Module):
    """relu(F(x) + shortcut(x)), F = conv3x3 -> [BN] -> relu -> conv3x3 -> [BN]."""

    def __init__(self, in_ch: int, out_ch: int, stride: int, bn: bool, shortcut: str):
        super().__init__()
        self.conv1 = nn.Conv2d(in_ch, out_ch, 3, stride=stride, padding=1, bias=not bn)
        self.bn1 = norm(out_ch, bn)
        self.conv2 = nn.Conv2d(out_ch, out_ch, 3, stride=1, padding=1, bias=not bn)
        self.bn2 = norm(out_ch, bn)
        if stride == 1 and in_ch == out_ch:
            self.shortcut: nn.Module = nn.Identity()
        elif shortcut == "A":
            self.shortcut = ShortcutA(in_ch, out_ch, stride)
        else:
            self.shortcut = nn.Sequential(nn.Conv2d(in_ch, out_ch, 1, stride=stride, bias=not bn), norm(out_ch, bn))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = F.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        return F.relu(out + self.shortcut(x))


class ResNet(nn.Module):
    """He et al.'s CIFAR ResNet of depth 6n + 2: images [N, C, H, W] -> logits [N, num_classes]."""

    def __init__(self, depth: int = 20, widths: List[int] = (8, 16, 32), in_channels: int = 1,
                 num_classes: int = 10, bn: bool = True, shortcut: str = "A"):
        super().__init__()
        if depth < 8 or (depth - 2) % 6 != 0:
            raise ValueError(f"depth: expected 6n + 2 >= 8 (8, 14, 20, 32, ...), got {depth}")
        if len(widths) != 3:
            raise ValueError(f"widths: expected three stage widths, got {list(widths)}")
        if shortcut not in ("A", "B"):
            raise ValueError(f"shortcut: expected 'A' or 'B', got {shortcut!r}")
        n = (depth - 2) // 6
        self.conv1 = nn.Conv2d(in_channels, widths[0], 3, padding=1, bias=not bn)
        self.bn1 = norm(widths[0], bn)
        blocks: List[nn.Module] = []
        stages = []
        in_ch = widths[0]
        for s, w in enumerate(widths):
            blocks = []
            for b in range(n):
                stride = 2 if s > 0 and b == 0 else 1
                blocks.append(BasicBlock(in_ch, w, stride, bn, shortcut))
                in_ch = w
            stages.append(nn.Sequential(*blocks))
        self.layer1, self.layer2, self.layer3 = stages
        self.fc = nn.Linear(in_ch, num_classes)
        self._init(bn)

    def _init(self, bn: bool) -> None:
        """He (Kaiming) normal initialisation of the convolutions (He et al. 2015), as the
        paper; without BN each residual branch's last convolution starts at zero."""
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
                if m.bias is not None:
                    nn.init.zeros_(m.bias)
        if not bn:
            for m in self.modules():
                if isinstance(m, BasicBlock):
                    nn.init.zeros_(m.conv2.weight)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = F.relu(self.bn1(self.conv1(x)))
        out = self.layer3(self.layer2(self.layer1(out)))
        out = torch.flatten(F.adaptive_avg_pool2d(out, 1), 1)
        return self.fc(out)
