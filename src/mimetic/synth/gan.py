"""A class-conditional GAN of expression face crops, sized to train on a CPU (``mimetic synth train``).

Architecture (numbers in docs/synthetic.md):

- **Generator** (0.8 M parameters at the default widths): a DCGAN — ``z`` (128) → linear → ``w[0]``@6×6 → three transposed 4×4 convolutions (×2 each) to
  48×48 → 3×3 convolution → tanh. Every batch norm is *class-conditional* (one gain and bias per expression), which
  is how the class reaches every scale.
- **Discriminator**: the SNGAN/"SN-DCGAN" layout (spectral normalisation on every layer, leaky ReLU, 3×3 and 4×4
  stride-2 convolutions down to 6×6, sum pooling) with a **projection** head (Miyato & Koyama 2018): the score is
  ``linear(h) + <embed(class), h>``, so the discriminator judges "a real face *of this class*".
- **Loss**: hinge. **Augmentation inside the loss** (DiffAugment, Zhao et al. 2020: the same random translation,
  brightness/contrast and cutout on real and generated batches before the discriminator) keeps the discriminator
  from memorising the few hundred contempt and disgust faces.
- **EMA**: the shipped generator is an exponential moving average of the trained one (decay 0.999, warmed up over
  the first steps), which gives cleaner faces at no training cost.
- **Two time-scale updates**: the discriminator's learning rate is 4× the generator's (Adam, β = (0, 0.9)).
- Real batches are drawn with square-root class balancing, so rare classes are seen more than their share.

The generator works at 48×48 (FER2013's own detail) in the expression crop's geometry (:mod:`mimetic.expression.crop`);
:func:`to_crops` enlarges its output to the 64-px crop exactly as :func:`mimetic.expression.crop.align_crop` does
for a sharp photo (bilinear from the 48-px detail), so the crops can go straight into training.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F
from torch.nn.utils import spectral_norm

from mimetic.synth.crops import GAN_SIZE


@dataclass(frozen=True)
class GanConfig:
    classes: tuple[str, ...]
    z_dim: int = 128
    #: generator widths at 6, 12, 24 and 48 px
    g_widths: tuple[int, ...] = (128, 64, 32, 16)
    #: discriminator widths at 48, 24, 12 and 6 px
    d_widths: tuple[int, ...] = (16, 32, 64, 128)
    size: int = GAN_SIZE

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict) -> "GanConfig":
        d = dict(d)
        for k in ("classes", "g_widths", "d_widths"):
            if k in d:
                d[k] = tuple(d[k])
        return cls(**d)


class CondBatchNorm(nn.Module):
    """Batch norm without its own affine part, then a gain and bias chosen by the class."""

    def __init__(self, channels: int, n_classes: int):
        super().__init__()
        self.bn = nn.BatchNorm2d(channels, affine=False)
        self.gain = nn.Embedding(n_classes, channels)
        self.bias = nn.Embedding(n_classes, channels)
        nn.init.ones_(self.gain.weight)
        nn.init.zeros_(self.bias.weight)

    def forward(self, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        return self.bn(x) * self.gain(y)[:, :, None, None] + self.bias(y)[:, :, None, None]


class Generator(nn.Module):
    def __init__(self, cfg: GanConfig):
        super().__init__()
        w = cfg.g_widths
        n = len(cfg.classes)
        self.cfg = cfg
        self.base = cfg.size // 2 ** (len(w) - 1)
        self.fc = nn.Linear(cfg.z_dim, w[0] * self.base * self.base)
        self.ups = nn.ModuleList(nn.ConvTranspose2d(a, b, 4, 2, 1, bias=False) for a, b in zip(w[:-1], w[1:]))
        self.norms = nn.ModuleList(CondBatchNorm(c, n) for c in w)
        self.out = nn.Conv2d(w[-1], 1, 3, 1, 1)

    def forward(self, z: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        h = self.fc(z).view(z.shape[0], -1, self.base, self.base)
        for norm, up in zip(self.norms[:-1], self.ups):
            h = up(F.relu(norm(h, y)))
        return torch.tanh(self.out(F.relu(self.norms[-1](h, y))))


class Discriminator(nn.Module):
    def __init__(self, cfg: GanConfig):
        super().__init__()
        w = cfg.d_widths
        layers: list[nn.Module] = [spectral_norm(nn.Conv2d(1, w[0], 3, 1, 1))]
        for a, b in zip(w[:-1], w[1:]):
            layers += [spectral_norm(nn.Conv2d(a, b, 4, 2, 1)), spectral_norm(nn.Conv2d(b, b, 3, 1, 1))]
        self.convs = nn.ModuleList(layers)
        self.linear = spectral_norm(nn.Linear(w[-1], 1))
        self.embed = spectral_norm(nn.Embedding(len(cfg.classes), w[-1]))

    def forward(self, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        h = x
        for conv in self.convs:
            h = F.leaky_relu(conv(h), 0.1)
        h = h.sum(dim=(2, 3))
        return self.linear(h).squeeze(1) + (self.embed(y) * h).sum(1)


@torch.no_grad()
def standing_stats(gen: Generator, *, batches: int = 32, batch_size: int = 64, seed: int = 0) -> Generator:
    """Set ``gen``'s batch-norm statistics to its own average over ``batches`` random batches (every class alike;
    BigGAN's "standing statistics"), then leave it in eval mode. The moving-average weights need this: the running
    statistics tracked during training belong to the trained generator, not to its average."""
    g = torch.Generator().manual_seed(seed)
    n = len(gen.cfg.classes)
    for m in gen.modules():
        if isinstance(m, nn.BatchNorm2d):
            m.reset_running_stats()
            m.momentum = None  # cumulative average
    gen.train()
    for _ in range(batches):
        gen(torch.randn(batch_size, gen.cfg.z_dim, generator=g), torch.randint(0, n, (batch_size,), generator=g))
    for m in gen.modules():
        if isinstance(m, nn.BatchNorm2d):
            m.momentum = 0.1
    return gen.eval()


def diff_augment(x: torch.Tensor, g: torch.Generator) -> torch.Tensor:
    """DiffAugment's colour, translation and cutout policies on a batch in [-1, 1] (differentiable in ``x``)."""
    n, _, h, w = x.shape
    x = x + (torch.rand(n, 1, 1, 1, generator=g) - 0.5) * 0.5                              # brightness
    m = x.mean(dim=(1, 2, 3), keepdim=True)
    x = (x - m) * (torch.rand(n, 1, 1, 1, generator=g) + 0.5) + m                          # contrast
    s = max(1, int(h * 0.125 + 0.5))                                                       # translation ±1/8
    dx = torch.randint(-s, s + 1, (n,), generator=g)
    dy = torch.randint(-s, s + 1, (n,), generator=g)
    pad = F.pad(x, (s, s, s, s))
    iy = (torch.arange(h)[None, :] + s - dy[:, None]).clamp(0, h + 2 * s - 1)
    ix = (torch.arange(w)[None, :] + s - dx[:, None]).clamp(0, w + 2 * s - 1)
    x = pad[torch.arange(n)[:, None, None], 0, iy[:, :, None], ix[:, None, :]].unsqueeze(1)
    c = h // 2                                                                             # cutout: half the side
    cy = torch.randint(0, h + 1 - c % 2, (n,), generator=g)
    cx = torch.randint(0, w + 1 - c % 2, (n,), generator=g)
    yy = torch.arange(h)[None, :, None]
    xx = torch.arange(w)[None, None, :]
    keep = ~(((yy - cy[:, None, None]).abs() < c // 2) & ((xx - cx[:, None, None]).abs() < c // 2))
    return x * keep.unsqueeze(1).to(x.dtype)


def to_unit(crops: np.ndarray) -> torch.Tensor:
    """uint8 crops (N, S, S) → float tensor (N, 1, S, S) in [-1, 1]."""
    return torch.from_numpy(np.asarray(crops, np.float32) / 127.5 - 1.0).unsqueeze(1)


@dataclass
class GanTrainConfig:
    out_dir: str
    steps: int = 12000
    batch_size: int = 64
    lr_g: float = 1e-4            # two time-scale update rule: the discriminator learns 4× faster
    lr_d: float = 4e-4
    betas: tuple[float, float] = (0.0, 0.9)
    ema: float = 0.999
    threads: int = 1
    seed: int = 0
    balance: float = 0.5          # real batches drawn with class weight count**-balance (0: as the data, 1: equal)
    checkpoint_minutes: float = 5.0
    sample_every: int = 1000

    def to_dict(self) -> dict:
        return asdict(self)
