"""The micro-expression recogniser: two small CNNs and a softmax fusion, trained and evaluated leave-one-subject-out.

- **flow stream** (:class:`FlowNet`): the onset -> apex optical flow (u, v, strain; 3 x 32 x 32) through three
  conv blocks (16-32-64 channels, batch norm, ReLU, max-pool), global average pooling, dropout, a linear layer;
- **apex stream** (:class:`ApexNet`): the apex grey crop (1 x 48 x 48) through the same kind of network;
- **fusion**: ``p = w * softmax(flow logits) + (1 - w) * softmax(apex logits)`` (``w`` = ``fusion``, default 0.6);
  the label is the argmax. The two streams are trained separately (cross-entropy with class weights inversely
  proportional to class frequency, Adam, horizontal-flip augmentation that also negates ``u``).

Evaluation (MEGC / composite-database protocol): leave one subject out, pool the predictions of all folds, then
**UF1** = mean over classes of the per-class F1 and **UAR** = mean over classes of the per-class recall.

Needs torch (the ``train`` extra); imported only here.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

__all__ = ["RecognizerConfig", "Recognizer", "LosoResult", "leave_one_subject_out", "uf1", "uar"]


@dataclass
class RecognizerConfig:
    epochs: int = 40
    batch: int = 32
    lr: float = 2e-3
    weight_decay: float = 1e-4
    dropout: float = 0.3
    fusion: float = 0.6  # weight of the flow stream in the fused probabilities
    flip: bool = True
    seed: int = 0
    threads: int = 1
    width: int = 16  # channels of the first conv block (then x2, x4)


def _torch():
    import torch

    return torch


def _net(in_ch: int, n_classes: int, width: int, dropout: float):
    torch = _torch()
    nn = torch.nn

    def block(a, b):
        return [nn.Conv2d(a, b, 3, padding=1, bias=False), nn.BatchNorm2d(b), nn.ReLU(inplace=True), nn.MaxPool2d(2)]

    return nn.Sequential(*block(in_ch, width), *block(width, 2 * width), *block(2 * width, 4 * width),
                         nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Dropout(dropout), nn.Linear(4 * width, n_classes))


def FlowNet(n_classes: int, width: int = 16, dropout: float = 0.3):  # noqa: N802 - a constructor
    """The flow stream: 3-channel input (u, v, strain)."""
    return _net(3, n_classes, width, dropout)


def ApexNet(n_classes: int, width: int = 16, dropout: float = 0.3):  # noqa: N802
    """The apex stream: 1-channel grey input."""
    return _net(1, n_classes, width, dropout)


def uf1(y_true: Sequence[int], y_pred: Sequence[int], n_classes: int) -> float:
    """Unweighted F1: the mean over classes (present in ``y_true``) of 2TP / (2TP + FP + FN)."""
    t, p = np.asarray(y_true), np.asarray(y_pred)
    scores = []
    for c in range(n_classes):
        if not (t == c).any():
            continue
        tp = int(((t == c) & (p == c)).sum())
        fp = int(((t != c) & (p == c)).sum())
        fn = int(((t == c) & (p != c)).sum())
        scores.append(2 * tp / (2 * tp + fp + fn) if tp + fp + fn else 0.0)
    return float(np.mean(scores)) if scores else 0.0


def uar(y_true: Sequence[int], y_pred: Sequence[int], n_classes: int) -> float:
    """Unweighted average recall: the mean over classes (present in ``y_true``) of TP / N_c."""
    t, p = np.asarray(y_true), np.asarray(y_pred)
    rec = [float(((t == c) & (p == c)).sum()) / int((t == c).sum()) for c in range(n_classes) if (t == c).any()]
    return float(np.mean(rec)) if rec else 0.0


class Recognizer:
    """Two-stream micro-expression classifier. ``fit(flow, apex, labels)``, ``predict_proba(flow, apex)``."""

    def __init__(self, classes: Sequence[str], config: RecognizerConfig | None = None):
        self.classes = tuple(classes)
        self.config = config or RecognizerConfig()
        self.flow_scale = np.ones(3, np.float32)
        self.flow_net = None
        self.apex_net = None

    def _fit_stream(self, net, x: np.ndarray, y: np.ndarray, flow: bool, seed: int) -> None:
        torch = _torch()
        cfg = self.config
        g = torch.Generator().manual_seed(seed)
        counts = np.bincount(y, minlength=len(self.classes)).astype(np.float64)
        w = np.where(counts > 0, counts.sum() / np.maximum(counts, 1) / len(self.classes), 0.0)
        loss_fn = torch.nn.CrossEntropyLoss(weight=torch.tensor(w, dtype=torch.float32))
        opt = torch.optim.Adam(net.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)
        sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=max(cfg.epochs, 1))
        xt = torch.from_numpy(x)
        yt = torch.from_numpy(y.astype(np.int64))
        net.train()
        for _ in range(cfg.epochs):
            order = torch.randperm(len(xt), generator=g)
            for i in range(0, len(xt), cfg.batch):
                idx = order[i:i + cfg.batch]
                if len(idx) < 2:
                    continue
                xb = xt[idx].clone()
                if cfg.flip:
                    flip = torch.rand(len(idx), generator=g) < 0.5
                    xb[flip] = torch.flip(xb[flip], dims=[3])
                    if flow:
                        xb[flip, 0] = -xb[flip, 0]
                opt.zero_grad()
                loss = loss_fn(net(xb), yt[idx])
                loss.backward()
                opt.step()
            sched.step()
        net.eval()

    def fit(self, flow: np.ndarray, apex: np.ndarray, labels: Sequence[int]) -> Recognizer:
        """Train both streams. ``flow`` (N, 3, S, S), ``apex`` (N, 1, A, A), ``labels`` class indices."""
        torch = _torch()
        cfg = self.config
        threads = torch.get_num_threads()
        torch.set_num_threads(max(1, cfg.threads))
        try:
            torch.manual_seed(cfg.seed)
            y = np.asarray(labels, dtype=np.int64)
            self.flow_scale = (np.sqrt((flow.astype(np.float64) ** 2).mean(axis=(0, 2, 3))) + 1e-6).astype(np.float32)
            self.flow_net = FlowNet(len(self.classes), cfg.width, cfg.dropout)
            self.apex_net = ApexNet(len(self.classes), cfg.width, cfg.dropout)
            self._fit_stream(self.flow_net, self._norm_flow(flow), y, True, cfg.seed)
            self._fit_stream(self.apex_net, self._norm_apex(apex), y, False, cfg.seed + 1)
        finally:
            torch.set_num_threads(threads)
        return self

    def _norm_flow(self, flow: np.ndarray) -> np.ndarray:
        return (np.asarray(flow, np.float32) / self.flow_scale[None, :, None, None]).astype(np.float32)

    @staticmethod
    def _norm_apex(apex: np.ndarray) -> np.ndarray:
        a = np.asarray(apex, np.float32)
        mean = a.mean(axis=(1, 2, 3), keepdims=True)
        std = a.std(axis=(1, 2, 3), keepdims=True) + 1e-6
        return ((a - mean) / std).astype(np.float32)

    def stream_proba(self, flow: np.ndarray, apex: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Softmax probabilities of each stream: ((N, C), (N, C))."""
        torch = _torch()
        if self.flow_net is None:
            raise RuntimeError("the recogniser is not trained (call fit or load)")
        with torch.no_grad():
            pf = torch.softmax(self.flow_net(torch.from_numpy(self._norm_flow(flow))), dim=1).numpy()
            pa = torch.softmax(self.apex_net(torch.from_numpy(self._norm_apex(apex))), dim=1).numpy()
        return pf, pa

    def predict_proba(self, flow: np.ndarray, apex: np.ndarray) -> np.ndarray:
        """Fused probabilities (N, C): ``fusion * flow + (1 - fusion) * apex``."""
        pf, pa = self.stream_proba(flow, apex)
        w = self.config.fusion
        return w * pf + (1.0 - w) * pa

    def predict(self, flow: np.ndarray, apex: np.ndarray) -> list[str]:
        return [self.classes[i] for i in self.predict_proba(flow, apex).argmax(axis=1)]

    # -- persistence ---------------------------------------------------------------------------------------------
    def save(self, path: str | os.PathLike) -> Path:
        torch = _torch()
        from mimetic.media.atomic import atomic_path

        path = Path(path)
        with atomic_path(path) as tmp:
            torch.save({"format": 1, "classes": list(self.classes), "config": asdict(self.config),
                        "flow_scale": self.flow_scale.tolist(), "flow": self.flow_net.state_dict(),
                        "apex": self.apex_net.state_dict()}, tmp)
        return path

    @classmethod
    def load(cls, path: str | os.PathLike) -> Recognizer:
        torch = _torch()
        d = torch.load(path, map_location="cpu", weights_only=False)
        r = cls(d["classes"], RecognizerConfig(**d["config"]))
        r.flow_scale = np.asarray(d["flow_scale"], np.float32)
        r.flow_net = FlowNet(len(r.classes), r.config.width, r.config.dropout)
        r.apex_net = ApexNet(len(r.classes), r.config.width, r.config.dropout)
        r.flow_net.load_state_dict(d["flow"])
        r.apex_net.load_state_dict(d["apex"])
        r.flow_net.eval()
        r.apex_net.eval()
        return r


@dataclass
class LosoResult:
    """Pooled leave-one-subject-out predictions and their scores (fused, and each stream alone)."""

    classes: tuple[str, ...]
    subjects: list[str]
    y_true: np.ndarray
    y_pred: np.ndarray
    y_pred_flow: np.ndarray
    y_pred_apex: np.ndarray
    per_subject: dict[str, float] = field(default_factory=dict)  # accuracy per held-out subject

    def scores(self) -> dict[str, Any]:
        c = len(self.classes)
        out = {"uf1": uf1(self.y_true, self.y_pred, c), "uar": uar(self.y_true, self.y_pred, c),
               "accuracy": float((self.y_true == self.y_pred).mean()) if len(self.y_true) else 0.0,
               "flow_uf1": uf1(self.y_true, self.y_pred_flow, c), "flow_uar": uar(self.y_true, self.y_pred_flow, c),
               "apex_uf1": uf1(self.y_true, self.y_pred_apex, c), "apex_uar": uar(self.y_true, self.y_pred_apex, c),
               "n": int(len(self.y_true)), "folds": len(self.per_subject)}
        return {k: round(v, 4) if isinstance(v, float) else v for k, v in out.items()}

    def confusion(self) -> np.ndarray:
        m = np.zeros((len(self.classes), len(self.classes)), dtype=np.int64)
        for t, p in zip(self.y_true, self.y_pred):
            m[t, p] += 1
        return m


def leave_one_subject_out(flow: np.ndarray, apex: np.ndarray, labels: Sequence[str], subjects: Sequence[str],
                          config: RecognizerConfig | None = None, classes: Sequence[str] | None = None,
                          on_fold=None) -> LosoResult:
    """Train on all subjects but one, predict that one, for every subject; pooled predictions (:class:`LosoResult`).
    ``on_fold(subject, accuracy)`` is called after each fold."""
    classes = tuple(classes) if classes is not None else tuple(sorted(set(labels)))
    index = {c: i for i, c in enumerate(classes)}
    y = np.array([index[lab] for lab in labels], dtype=np.int64)
    subj = np.asarray([str(s) for s in subjects])
    y_pred = np.full(len(y), -1)
    y_flow = np.full(len(y), -1)
    y_apex = np.full(len(y), -1)
    per = {}
    for s in sorted(set(subj)):
        test = subj == s
        train = ~test
        if len(set(y[train])) < 2:
            continue
        rec = Recognizer(classes, config).fit(flow[train], apex[train], y[train])
        pf, pa = rec.stream_proba(flow[test], apex[test])
        w = rec.config.fusion
        y_pred[test] = (w * pf + (1 - w) * pa).argmax(axis=1)
        y_flow[test] = pf.argmax(axis=1)
        y_apex[test] = pa.argmax(axis=1)
        per[s] = float((y_pred[test] == y[test]).mean())
        if on_fold is not None:
            on_fold(s, per[s])
    done = y_pred >= 0
    return LosoResult(classes, sorted(per), y[done], y_pred[done], y_flow[done], y_apex[done], per)
