"""Which face regions drove the expression CNN's prediction: a heatmap over the image.

Two methods, both computed on the aligned crop the network reads and mapped back onto the image with the inverse
of the crop's similarity transform (so the heatmap lies on the face, whatever its size, position and tilt):

- ``"occlusion"`` (onnxruntime, no torch): a patch filled with the crop's mean grey slides over the crop
  (side ``size``/5, stride ``size``/16: 196 occluded crops for the 64-pixel crop, ~0.4 s); a pixel's value is
  the mean drop of the target class probability over the patches that cover it (increases count as 0). This is
  what the shipped ONNX model allows.
- ``"gradcam"`` (torch): Grad-CAM (Selvaraju et al. 2017) on the last residual stage whose maps are at least
  8×8 — the gradient-weighted sum of its channels for the target class, rectified. It needs the training
  checkpoint (``best.pt``) of the shipped network, because the ONNX file cannot be differentiated: pass
  ``checkpoint=`` or set ``$MIMETIC_EXPRESSION_CHECKPOINT``.

``method="auto"`` takes Grad-CAM when torch is installed and a checkpoint is available, occlusion otherwise.
The target class is the face's expression label (the fused result when a fusion is shipped: the heatmap then
shows where the CNN saw evidence for it), or the CNN's own top class.

>>> heat = explain(rgb, face)                      # (H, W) float32, 0..1
>>> picture = render_explanation(rgb, face, heat)   # RGB uint8: the heatmap over the photo, "happiness 0.93"
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

METHODS = ("auto", "occlusion", "gradcam")


def _model(model=None):
    from mimetic.expression.model import ExpressionModel

    if model is None or isinstance(model, (str, os.PathLike)):
        return ExpressionModel(model)
    return model


def _checkpoint(checkpoint: str | os.PathLike | None) -> Path | None:
    p = checkpoint or os.environ.get("MIMETIC_EXPRESSION_CHECKPOINT")
    return Path(p) if p and Path(p).is_file() else None


def _torch_available() -> bool:
    import importlib.util

    return importlib.util.find_spec("torch") is not None


def resolve_method(method: str = "auto", checkpoint: str | os.PathLike | None = None) -> str:
    """``"occlusion"`` or ``"gradcam"`` for ``method`` (raises when Grad-CAM is asked for but impossible)."""
    if method not in METHODS:
        raise ValueError(f"method must be one of {', '.join(METHODS)}, not {method!r}")
    ckpt = _checkpoint(checkpoint)
    if method == "auto":
        return "gradcam" if ckpt is not None and _torch_available() else "occlusion"
    if method == "gradcam":
        if not _torch_available():
            raise RuntimeError("Grad-CAM needs torch: install the train extra (pip install -e '.[train]'), or use "
                               "--method occlusion")
        if ckpt is None:
            raise RuntimeError("Grad-CAM needs the network's training checkpoint (best.pt): pass checkpoint= / "
                               "--checkpoint or set MIMETIC_EXPRESSION_CHECKPOINT (the ONNX file cannot be "
                               "differentiated), or use --method occlusion")
    return method


def _target(face, classes, probs: np.ndarray, target: str | None) -> int:
    if target is None and getattr(face, "expression", None) is not None and face.expression.label in classes:
        target = face.expression.label
    if target is None:
        return int(np.argmax(probs))
    if target not in classes:
        raise ValueError(f"target class {target!r} is not one of the model's classes {list(classes)}")
    return list(classes).index(target)


def occlusion_map(predict, crop: np.ndarray, target: int, *, patch: int | None = None,
                  stride: int | None = None) -> np.ndarray:
    """Occlusion sensitivity on one crop: (S, S) float32 ≥ 0, the mean drop of ``predict``'s probability of class
    ``target`` when a mean-grey patch covers each pixel. ``predict``: (N, S, S) uint8 → (N, C)."""
    s = crop.shape[0]
    patch = patch or max(4, round(s / 5))
    stride = stride or max(1, round(s / 16))
    starts = list(range(0, s - patch + 1, stride))
    if starts[-1] != s - patch:
        starts.append(s - patch)
    fill = np.uint8(round(float(crop.mean())))
    batch = np.repeat(crop[None], len(starts) ** 2, axis=0)
    boxes = [(y, x) for y in starts for x in starts]
    for k, (y, x) in enumerate(boxes):
        batch[k, y:y + patch, x:x + patch] = fill
    p0 = float(predict(crop[None])[0, target])
    probs = np.concatenate([predict(batch[i:i + 256])[:, target] for i in range(0, len(batch), 256)])
    drop = np.maximum(p0 - probs, 0.0)
    heat = np.zeros((s, s), np.float64)
    cover = np.zeros((s, s), np.float64)
    for (y, x), d in zip(boxes, drop):
        heat[y:y + patch, x:x + patch] += d
        cover[y:y + patch, x:x + patch] += 1
    return (heat / np.maximum(cover, 1)).astype(np.float32)


def gradcam_map(checkpoint: str | os.PathLike, crop: np.ndarray, target: int | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Grad-CAM on one crop with the network of ``checkpoint``: ``((S, S) float32 ≥ 0, probabilities)``."""
    import torch
    import torch.nn.functional as F

    from mimetic.train.loop import model_from_checkpoint
    from mimetic.train.net import BasicBlock

    net, _ = model_from_checkpoint(checkpoint)
    s = crop.shape[0]
    acts: dict[int, torch.Tensor] = {}
    blocks = [m for m in net.features if isinstance(m, BasicBlock)]
    hooks = [b.register_forward_hook(lambda mod, i, o, k=k: acts.__setitem__(k, o)) for k, b in enumerate(blocks)]
    try:
        x = torch.from_numpy(np.ascontiguousarray(crop, dtype=np.float32))[None, None]
        logits = net(x)
    finally:
        for h in hooks:
            h.remove()
    probs = torch.softmax(logits, 1)[0].detach().numpy()
    t = int(np.argmax(probs)) if target is None else int(target)
    k = max(i for i, a in acts.items() if a.shape[-1] >= 8) if any(a.shape[-1] >= 8 for a in acts.values()) \
        else len(blocks) - 1
    a = acts[k]
    (g,) = torch.autograd.grad(logits[0, t], a)
    cam = torch.relu((g.mean(dim=(2, 3), keepdim=True) * a).sum(1, keepdim=True))
    cam = F.interpolate(cam, size=(s, s), mode="bilinear", align_corners=False)[0, 0]
    return cam.detach().numpy().astype(np.float32), probs


def crop_to_image(heat_crop: np.ndarray, face, shape: tuple[int, ...]) -> np.ndarray:
    """Map a crop-space map (S, S) onto the image (H, W) with the inverse of the crop's similarity transform
    (outside the crop: 0)."""
    import cv2

    from mimetic.expression.crop import alignment_matrix

    s = heat_crop.shape[0]
    m = alignment_matrix(np.asarray(face.landmarks)[:, :2], s)  # image → crop
    h, w = shape[:2]
    return cv2.warpAffine(np.ascontiguousarray(heat_crop, dtype=np.float32), m, (w, h),
                          flags=cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP, borderMode=cv2.BORDER_CONSTANT,
                          borderValue=0.0)


def explain(rgb: np.ndarray, face, *, method: str = "auto", model=None, checkpoint: str | os.PathLike | None = None,
            target: str | None = None, normalize: bool = True) -> np.ndarray:
    """A heatmap (H, W) float32 over ``rgb`` of the regions that drove the CNN's prediction for ``face``.

    ``method``: ``"auto"``, ``"occlusion"`` or ``"gradcam"`` (see the module docstring). ``model``: an
    ``ExpressionModel`` or a path (default: the shipped ``expression.onnx``). ``target``: the class to explain
    (default: ``face.expression.label``, else the CNN's top class). ``normalize``: scale the map to 0..1."""
    how = resolve_method(method, checkpoint)
    m = _model(model)
    crop = m.crop(rgb, face)
    if how == "gradcam":
        probs0 = m.predict(crop[None])[0]
        t = _target(face, m.classes, probs0, target)
        heat, _ = gradcam_map(_checkpoint(checkpoint), crop, t)
    else:
        probs0 = m.predict(crop[None])[0]
        t = _target(face, m.classes, probs0, target)
        heat = occlusion_map(m.predict, crop, t)
    if normalize and float(heat.max()) > 0:
        heat = heat / float(heat.max())
    return crop_to_image(heat, face, np.asarray(rgb).shape)


def render_explanation(rgb: np.ndarray, face, heat: np.ndarray, *, label: str | None = None,
                       score: float | None = None, alpha: float = 0.6) -> np.ndarray:
    """The heatmap over the photo (jet colours, opacity growing with the heat), the face box and its label with
    the score ("happiness 0.93", from ``face.expression`` unless given). RGB uint8, the size of ``rgb``."""
    import cv2

    img = np.asarray(rgb)
    if img.ndim == 2:
        img = np.repeat(img[:, :, None], 3, axis=2)
    img = img[:, :, :3].astype(np.float32)
    h = np.clip(np.nan_to_num(np.asarray(heat, dtype=np.float32)), 0, None)
    if h.shape != img.shape[:2]:
        raise ValueError(f"heat {h.shape} does not match the image {img.shape[:2]}")
    if float(h.max()) > 0:
        h = h / float(h.max())
    colour = cv2.applyColorMap((h * 255).astype(np.uint8), cv2.COLORMAP_JET)[:, :, ::-1].astype(np.float32)
    a = (alpha * np.sqrt(h))[:, :, None]
    out = np.clip(img * (1 - a) + colour * a, 0, 255).astype(np.uint8)
    x, y, w, hh = (int(round(float(v))) for v in face.box)
    side = max(img.shape[:2])
    thick = max(1, round(side / 400))
    cv2.rectangle(out, (x, y), (x + w, y + hh), (255, 255, 255), thick, cv2.LINE_AA)
    if label is None and getattr(face, "expression", None) is not None:
        label = face.expression.label
        if score is None:
            score = face.expression.scores.get(label)
    if label:
        text = f"{label} {float(score):.2f}" if score is not None else label
        scale = max(0.5, side / 900)
        (tw, th), base = cv2.getTextSize(text, cv2.FONT_HERSHEY_SIMPLEX, scale, thick)
        pad = max(2, round(4 * scale))
        by = y - th - base - 2 * pad if y - th - base - 2 * pad >= 0 else min(y + hh + thick, out.shape[0] - th - 2 * pad)
        bx = min(max(x, 0), max(out.shape[1] - tw - 2 * pad, 0))
        y0, y1 = max(by, 0), min(by + th + base + 2 * pad, out.shape[0])
        x1 = min(bx + tw + 2 * pad, out.shape[1])
        out[y0:y1, bx:x1] = (out[y0:y1, bx:x1].astype(np.uint16) * 2 // 7).astype(np.uint8)
        cv2.putText(out, text, (bx + pad, by + pad + th), cv2.FONT_HERSHEY_SIMPLEX, scale, (255, 255, 255), thick,
                    cv2.LINE_AA)
    return out
