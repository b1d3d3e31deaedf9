"""The expression CNN: a small ResNet for grey face crops, sized for CPU training and inference.

Input: (N, 1, S, S) float32 grey values 0..255 (S = 64 by default; any size works: the head pools globally).
Each image is standardised inside the network (zero mean, unit variance), so inference feeds raw pixels.
Output: (N, C) logits; :class:`WithSoftmax` wraps it for export.

Default layout (``widths=(32, 64, 128, 176)``, ``blocks=(1, 2, 2, 1)``): a 3×3 stem at full resolution, a
stride-2 3×3 conv to S/2, then four stages of basic residual blocks at S/2, S/4, S/8, S/16 — 1.19 M parameters,
a 4.8 MB ONNX file, ~1.8 ms per crop on onnxruntime with one thread.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, replace

import torch
from torch import nn


@dataclass(frozen=True)
class NetConfig:
    classes: tuple[str, ...]
    size: int = 64
    widths: tuple[int, ...] = (32, 64, 128, 176)
    blocks: tuple[int, ...] = (1, 2, 2, 1)
    stem: int = 24
    dropout: float = 0.3
    #: finest detail in the training crops (48 for FER2013), passed to align_crop at inference; None: no limit
    detail: int | None = None
    #: a second head on the same features, trained on another label set (the original FER2013 7-class labels of
    #: the same images); empty: none
    aux_classes: tuple[str, ...] = ()

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict) -> "NetConfig":
        d = dict(d)
        for k in ("classes", "widths", "blocks", "aux_classes"):
            if k in d:
                d[k] = tuple(d[k])
        return cls(**d)


def _conv_bn(cin: int, cout: int, stride: int = 1, relu: bool = True) -> nn.Sequential:
    layers: list[nn.Module] = [nn.Conv2d(cin, cout, 3, stride, 1, bias=False), nn.BatchNorm2d(cout)]
    if relu:
        layers.append(nn.ReLU(inplace=True))
    return nn.Sequential(*layers)


class BasicBlock(nn.Module):
    def __init__(self, cin: int, cout: int, stride: int):
        super().__init__()
        self.conv1 = _conv_bn(cin, cout, stride)
        self.conv2 = _conv_bn(cout, cout, relu=False)
        self.short = nn.Identity() if (cin == cout and stride == 1) else nn.Sequential(
            nn.Conv2d(cin, cout, 1, stride, bias=False), nn.BatchNorm2d(cout))
        self.act = nn.ReLU(inplace=True)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.act(self.conv2(self.conv1(x)) + self.short(x))


def standardise(x: torch.Tensor) -> torch.Tensor:
    """Each image of ``x`` (N, 1, H, W) to zero mean and unit variance (+1 in the variance: flat crops stay
    finite): what the networks do first, so inference feeds raw pixels."""
    mean = x.mean(dim=(1, 2, 3), keepdim=True)
    return (x - mean) / ((x - mean) ** 2).mean(dim=(1, 2, 3), keepdim=True).add(1.0).sqrt()


class ExpressionNet(nn.Module):
    def __init__(self, config: NetConfig):
        super().__init__()
        self.config = config
        c = config.widths[0]
        layers: list[nn.Module] = [_conv_bn(1, config.stem), _conv_bn(config.stem, c, stride=2)]
        for k, (w, n) in enumerate(zip(config.widths, config.blocks)):
            for j in range(n):
                layers.append(BasicBlock(c, w, 2 if (j == 0 and k > 0) else 1))
                c = w
        self.features = nn.Sequential(*layers)
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.drop = nn.Dropout(config.dropout)
        self.fc = nn.Linear(c, len(config.classes))
        self.fc_aux = nn.Linear(c, len(config.aux_classes)) if config.aux_classes else None
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
            elif isinstance(m, BasicBlock):  # start each residual branch near zero: steadier early training
                nn.init.zeros_(m.conv2[1].weight)

    def embed(self, x: torch.Tensor) -> torch.Tensor:
        """The pooled features both heads read."""
        return self.drop(self.pool(self.features(standardise(x))).flatten(1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Logits of the main head."""
        return self.fc(self.embed(x))

    def forward_all(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor | None]:
        """(main logits, auxiliary logits or None) from one pass."""
        z = self.embed(x)
        return self.fc(z), (self.fc_aux(z) if self.fc_aux is not None else None)


class Ensemble(nn.Module):
    """Several trained networks with the same classes and crop as one: the mean of their probabilities.

    The main head averages every member; the auxiliary head averages the members that have one (they must agree on
    its classes), so a network trained without the auxiliary head can still strengthen the main one.
    ``forward_all`` returns the log of the averaged probabilities, so :class:`WithSoftmax` on top gives exactly the
    average; exported as one ONNX file like a single network."""

    def __init__(self, members: list[nn.Module]):
        super().__init__()
        if not members:
            raise ValueError("an ensemble needs at least one network")
        first = members[0].config
        for m in members[1:]:
            c = m.config
            if (c.classes, c.size, c.detail) != (first.classes, first.size, first.detail):
                raise ValueError("ensemble members must share classes, crop size and detail")
        aux = {m.config.aux_classes for m in members if m.config.aux_classes}
        if len(aux) > 1:
            raise ValueError("ensemble members with an auxiliary head must share its classes")
        self.members = nn.ModuleList(members)
        self.config = replace(first, aux_classes=next(iter(aux)) if aux else ())

    @staticmethod
    def _mean_log(logits: list[torch.Tensor]) -> torch.Tensor:
        return torch.stack([torch.softmax(z, dim=1) for z in logits]).mean(0).clamp_min(1e-12).log()

    def forward_all(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor | None]:
        outs = [m.forward_all(x) for m in self.members]
        main = self._mean_log([o[0] for o in outs])
        aux_logits = [o[1] for o in outs if o[1] is not None]
        return main, (self._mean_log(aux_logits) if aux_logits else None)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.forward_all(x)[0]


class WithSoftmax(nn.Module):
    """The network with softmax on top: what the ONNX file computes (probabilities; with an auxiliary head, a
    second output with its probabilities).

    ``mirror=True`` runs every crop together with its mirror image (one batch of 2N) and averages the two
    probabilities: slightly more accurate, and left/right symmetric by construction."""

    def __init__(self, net: nn.Module, mirror: bool = False):
        super().__init__()
        self.net = net
        self.mirror = bool(mirror)

    def forward(self, x: torch.Tensor):
        if self.mirror:
            x = torch.cat([x, torch.flip(x, dims=[3])])
        main, aux = self.net.forward_all(x)
        outs = [torch.softmax(main, dim=1)] + ([torch.softmax(aux, dim=1)] if aux is not None else [])
        if self.mirror:
            outs = [o.reshape(2, -1, o.shape[1]).mean(0) for o in outs]  # (2N, C) → (N, C)
        return outs[0] if len(outs) == 1 else tuple(outs)


def build(config: NetConfig) -> ExpressionNet:
    return ExpressionNet(config)


def count_parameters(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())
