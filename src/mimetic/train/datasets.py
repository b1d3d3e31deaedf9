"""Readers for labelled expression data, each giving a :class:`Source`: images (not yet aligned), soft targets
over a chosen class set, and a train/valid/test split.

Formats:

- ``ferplus``: the FER+ npz (``../shared/datasets/ferplus.npz``): targets are the crowd-vote distribution over the
  chosen classes; rows whose majority vote is ``unknown`` / ``NF`` (or a class outside the set) are dropped.
  ``labels="fer2013"`` takes the original FER2013 7-class label from the same file instead.
- ``fer2013csv``: Kaggle's ``fer2013.csv`` (``emotion,pixels,Usage``; 0 angry, 1 disgust, 2 fear, 3 happy,
  4 sad, 5 surprise, 6 neutral; Usage Training / PublicTest / PrivateTest → train / valid / test).
- ``folder``: ``ROOT/<class>/*.jpg`` or ``ROOT/<split>/<class>/*.jpg`` (split folders ``train``, ``valid`` or
  ``val``/``validation``, ``test``); class folder names may be any alias in :data:`ALIASES`.
- ``csv``: a CSV with a header naming ``path`` and ``label`` columns (and optionally ``split``); relative paths
  are taken from the CSV's folder.
- ``npz``: any other npz with ``images`` (N, H, W) or (N, H, W, 3) uint8 and one label array (``emotion``,
  ``label``, ``labels`` or ``expression``; class names or aliases), optionally ``subject`` (kept in
  ``Source.extra`` for subject-wise splits) and ``split``. Images of 96 px or less count as tight face crops
  (enlarged with a margin before landmarking), as for FER. CK+48 (``ckplus48_dev.npz``) reads this way.

``label_map`` (every reader except FER+): extra names for the classes, e.g. numbered folders
(``{"1": "surprise", …}``: :data:`LABEL_MAPS` has RAF-DB's and AffectNet's numbering) or JAFFE's two-letter codes;
``names_from="jaffe"`` takes each image's label from its file name (``KA.AN1.39.tiff`` → anger) instead of its
folder.

Malformed input raises :class:`DatasetError` naming the file and the line (or entry).
"""

from __future__ import annotations

import csv
import hashlib
import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from mimetic.errors import MimeticError
from mimetic.types import EXPRESSIONS

#: FER2013's 7 classes, in the project's order (``EXPRESSIONS`` without contempt).
FER2013_CLASSES = tuple(c for c in EXPRESSIONS if c != "contempt")
#: FER2013 label id -> class name (Kaggle's order: 0 angry, 1 disgust, 2 fear, 3 happy, 4 sad, 5 surprise, 6 neutral).
FER2013_IDS = ("anger", "disgust", "fear", "happiness", "sadness", "surprise", "neutral")
#: The FER+ vote columns, in the npz's order.
FERPLUS_COLUMNS = EXPRESSIONS + ("unknown", "NF")

#: Names used for the classes by common exports (folder names, CSV labels), lower case.
ALIASES: dict[str, str] = {
    "neutral": "neutral", "neutrality": "neutral", "calm": "neutral",
    "happiness": "happiness", "happy": "happiness", "joy": "happiness",
    "surprise": "surprise", "surprised": "surprise",
    "sadness": "sadness", "sad": "sadness",
    "anger": "anger", "angry": "anger",
    "disgust": "disgust", "disgusted": "disgust",
    "fear": "fear", "fearful": "fear", "afraid": "fear",
    "contempt": "contempt",
}
#: Known numberings and codes of public sets, for ``label_map`` (``--label-map rafdb``).
LABEL_MAPS: dict[str, dict[str, str]] = {
    # RAF-DB basic: 1 Surprise, 2 Fear, 3 Disgust, 4 Happiness, 5 Sadness, 6 Anger, 7 Neutral
    "rafdb": {"1": "surprise", "2": "fear", "3": "disgust", "4": "happiness", "5": "sadness", "6": "anger",
              "7": "neutral"},
    # AffectNet: 0 Neutral, 1 Happy, 2 Sad, 3 Surprise, 4 Fear, 5 Disgust, 6 Anger, 7 Contempt
    "affectnet": {"0": "neutral", "1": "happiness", "2": "sadness", "3": "surprise", "4": "fear", "5": "disgust",
                  "6": "anger", "7": "contempt"},
    # JAFFE file-name codes (KA.AN1.39.tiff)
    "jaffe": {"an": "anger", "di": "disgust", "fe": "fear", "ha": "happiness", "ne": "neutral", "sa": "sadness",
              "su": "surprise"},
    # CK+ emotion ids (Emotion_labels: 0 neutral, 1 anger, 2 contempt, 3 disgust, 4 fear, 5 happy, 6 sadness,
    # 7 surprise)
    "ckplus": {"0": "neutral", "1": "anger", "2": "contempt", "3": "disgust", "4": "fear", "5": "happiness",
               "6": "sadness", "7": "surprise"},
}
#: Split folder / column names -> split.
SPLITS: dict[str, str] = {
    "train": "train", "training": "train",
    "valid": "valid", "val": "valid", "validation": "valid", "publictest": "valid",
    "test": "test", "privatetest": "test",
}
#: Named class sets for ``--classes``.
CLASS_SETS: dict[str, tuple[str, ...]] = {
    "8": EXPRESSIONS, "all": EXPRESSIONS, "ferplus": EXPRESSIONS,
    "7": FER2013_CLASSES, "fer2013": FER2013_CLASSES,
}


class DatasetError(MimeticError):
    """A dataset file or entry that cannot be used; the message names the file and the line."""

    def __init__(self, path: str | os.PathLike, cause: str, line: int | None = None):
        self.path = str(path)
        self.line = line
        where = f"{self.path}: line {line}" if line is not None else self.path
        super().__init__(f"{where}: {cause}")


def label_mapping(spec: str | dict[str, str] | None) -> dict[str, str]:
    """``label_map`` as a dict of lower-case names → classes: a preset name of :data:`LABEL_MAPS`, a dict, or
    ``"1=surprise,2=fear"``. Targets may be aliases; an unknown target is an error."""
    if spec is None:
        return {}
    if isinstance(spec, str):
        key = spec.strip().lower()
        if key in LABEL_MAPS:
            pairs = LABEL_MAPS[key]
        else:
            pairs = {}
            for part in (p.strip() for p in spec.split(",")):
                if not part:
                    continue
                if "=" not in part:
                    raise ValueError(f"label map entry {part!r} is not NAME=CLASS (or use a preset: "
                                     f"{', '.join(LABEL_MAPS)})")
                k, v = part.split("=", 1)
                pairs[k.strip()] = v.strip()
    else:
        pairs = dict(spec)
    out: dict[str, str] = {}
    for k, v in pairs.items():
        c = ALIASES.get(str(v).strip().lower())
        if c is None:
            raise ValueError(f"label map: {v!r} is not an expression class (known: {', '.join(EXPRESSIONS)})")
        out[str(k).strip().lower()] = c
    return out


def _class_of(name: str, mapping: dict[str, str]) -> str | None:
    key = str(name).strip().lower()
    return mapping.get(key) or ALIASES.get(key)


_JAFFE = __import__("re").compile(r"^[A-Za-z]+\.([A-Za-z]{2})\d*\.")


def class_from_file_name(name: str, scheme: str) -> str | None:
    """The class a file name encodes (``scheme="jaffe"``: ``KA.AN1.39.tiff`` → anger), or None."""
    if scheme != "jaffe":
        raise ValueError(f"unknown file-name scheme {scheme!r} (known: jaffe)")
    m = _JAFFE.match(Path(name).name)
    return LABEL_MAPS["jaffe"].get(m.group(1).lower()) if m else None


def resolve_classes(spec: str | Sequence[str] | None = None) -> tuple[str, ...]:
    """A class set from a name (``"8"``/``"ferplus"``, ``"7"``/``"fer2013"``), a comma-separated list
    (``"neutral,happiness,sadness"``; aliases such as ``happy`` accepted) or a sequence. Default: the 8 classes."""
    if spec is None:
        return EXPRESSIONS
    if isinstance(spec, str):
        key = spec.strip().lower()
        if key in CLASS_SETS:
            return CLASS_SETS[key]
        names = [s for s in (p.strip() for p in spec.split(",")) if s]
    else:
        names = list(spec)
    out: list[str] = []
    for n in names:
        c = ALIASES.get(str(n).strip().lower())
        if c is None:
            raise ValueError(f"unknown expression class {n!r}; known: {', '.join(EXPRESSIONS)} (or a set: "
                             f"{', '.join(CLASS_SETS)})")
        if c in out:
            raise ValueError(f"class {c!r} given twice in {spec!r}")
        out.append(c)
    if len(out) < 2:
        raise ValueError(f"a class set needs at least 2 classes, got {out}")
    return tuple(out)


@dataclass
class Source:
    """Labelled images before alignment.

    ``rows`` index the source's full image list (what the crop cache holds, whatever the class set); ``targets``
    (len(rows), C) are probability rows over ``classes``; ``split`` is ``train``/``valid``/``test`` per row.
    ``load(i)`` gives image ``i`` of the full list (grey or RGB uint8); ``small`` says the images are tight face
    crops (enlarged with a margin before landmarking).
    """

    kind: str
    path: Path
    classes: tuple[str, ...]
    rows: np.ndarray
    targets: np.ndarray
    split: np.ndarray
    n_images: int
    load: Callable[[int], np.ndarray]
    small: bool
    fingerprint: str
    names: Sequence[str] | None = None
    extra: dict[str, np.ndarray] = field(default_factory=dict)

    def __len__(self) -> int:
        return len(self.rows)

    @property
    def labels(self) -> np.ndarray:
        """Majority (hard) label per row, as an index into ``classes``."""
        return self.targets.argmax(1)

    def subset(self, mask: np.ndarray) -> "Source":
        """The rows where ``mask`` (len(self),) is true."""
        mask = np.asarray(mask, dtype=bool)
        return Source(self.kind, self.path, self.classes, self.rows[mask], self.targets[mask], self.split[mask],
                      self.n_images, self.load, self.small, self.fingerprint,
                      None if self.names is None else [n for n, m in zip(self.names, mask) if m],
                      {k: v[mask] for k, v in self.extra.items()})

    def counts(self, split: str | None = None) -> dict[str, int]:
        """Majority-label counts per class (in one split, or all)."""
        lab = self.labels if split is None else self.labels[self.split == split]
        return {c: int(n) for c, n in zip(self.classes, np.bincount(lab, minlength=len(self.classes)))}


def _file_fingerprint(path: Path) -> str:
    h = hashlib.blake2b(digest_size=8)
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 22), b""):
            h.update(block)
    return h.hexdigest()


def _one_hot(idx: np.ndarray, n: int) -> np.ndarray:
    t = np.zeros((len(idx), n), dtype=np.float32)
    t[np.arange(len(idx)), idx] = 1.0
    return t


# -- FER+ npz --------------------------------------------------------------------------------------------------
def read_ferplus(path: str | os.PathLike, classes: str | Sequence[str] | None = None, *,
                 labels: str = "ferplus") -> Source:
    """The FER+ npz. ``labels="ferplus"``: targets = the crowd votes over ``classes``, renormalised; a row is kept
    when its majority over all 10 vote columns (first on ties) is one of ``classes``. ``labels="fer2013"``: the
    original FER2013 label, one-hot (``classes`` must be FER2013 classes)."""
    path = Path(path)
    classes = resolve_classes(classes)
    try:
        data = np.load(path, allow_pickle=False)
    except (OSError, ValueError) as exc:
        raise DatasetError(path, f"not a readable npz file ({exc})") from None
    need = {"images", "votes", "split"}
    missing = need - set(data.files)
    if missing:
        raise DatasetError(path, f"missing arrays {sorted(missing)} (has {sorted(data.files)})")
    images = data["images"]
    votes = data["votes"].astype(np.float32)
    split = data["split"].astype(str)
    n = len(images)
    if images.ndim != 3 or images.dtype != np.uint8:
        raise DatasetError(path, f"images must be (N, H, W) uint8, got {images.shape} {images.dtype}")
    if votes.shape != (n, len(FERPLUS_COLUMNS)):
        raise DatasetError(path, f"votes must be ({n}, {len(FERPLUS_COLUMNS)}), got {votes.shape}")
    if split.shape != (n,):
        raise DatasetError(path, f"split must be ({n},), got {split.shape}")
    bad = ~np.isin(split, ("train", "valid", "test"))
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        raise DatasetError(path, f"split[{i}] is {split[i]!r}, expected train/valid/test")
    extra = {k: data[k] for k in ("fer2013_label", "fer2013_confident") if k in data.files}
    names = data["name"].astype(str) if "name" in data.files else None
    col = [FERPLUS_COLUMNS.index(c) for c in classes]
    if labels == "ferplus":
        zero = votes.sum(1) <= 0
        if zero.any():
            i = int(np.flatnonzero(zero)[0])
            raise DatasetError(path, f"votes[{i}] has no votes")
        majority = votes.argmax(1)
        keep = np.isin(majority, col)
        sub = votes[:, col]
        targets = sub / np.maximum(sub.sum(1, keepdims=True), 1e-9)
    elif labels == "fer2013":
        if "fer2013_label" not in extra:
            raise DatasetError(path, "labels='fer2013' needs the fer2013_label array")
        if "contempt" in classes:
            raise ValueError("FER2013 labels have no contempt class: use --classes 7 or a subset of it")
        lab = extra["fer2013_label"].astype(np.int64)
        names_of = np.array([FER2013_IDS[i] if 0 <= i < 7 else "" for i in lab])
        keep = np.isin(names_of, classes)
        idx = np.array([classes.index(c) if c in classes else 0 for c in names_of])
        targets = _one_hot(idx, len(classes))
    else:
        raise ValueError(f"labels must be 'ferplus' or 'fer2013', not {labels!r}")
    rows = np.flatnonzero(keep)
    return Source(
        kind="ferplus", path=path, classes=classes, rows=rows, targets=targets[rows].astype(np.float32),
        split=split[rows], n_images=n, load=lambda i: images[i], small=True,
        fingerprint=_file_fingerprint(path), names=None if names is None else names[rows],
        extra={k: v[rows] for k, v in extra.items()},
    )


# -- Kaggle fer2013.csv ----------------------------------------------------------------------------------------
def read_fer2013_csv(path: str | os.PathLike, classes: str | Sequence[str] | None = "7") -> Source:
    """Kaggle's ``fer2013.csv``: header ``emotion,pixels,Usage``; 2,304 space-separated grey values per row."""
    path = Path(path)
    classes = resolve_classes(classes)
    if "contempt" in classes:
        raise ValueError("fer2013.csv has no contempt class: use --classes 7 or a subset of it")
    images, labels, splits = [], [], []
    with _open_text(path) as fh:
        reader = csv.reader(fh)
        header = next(reader, None)
        if header is None:
            raise DatasetError(path, "empty file")
        cols = [h.strip().lower() for h in header]
        try:
            ie, ip = cols.index("emotion"), cols.index("pixels")
        except ValueError:
            raise DatasetError(path, f"header must name 'emotion' and 'pixels' columns, got {header}", 1) from None
        iu = cols.index("usage") if "usage" in cols else None
        for line, row in enumerate(reader, start=2):
            if not row or all(not c.strip() for c in row):
                continue
            if len(row) != len(cols):
                raise DatasetError(path, f"expected {len(cols)} fields, got {len(row)}", line)
            try:
                label = int(row[ie])
            except ValueError:
                raise DatasetError(path, f"emotion {row[ie]!r} is not an integer", line) from None
            if not 0 <= label <= 6:
                raise DatasetError(path, f"emotion {label} is not one of 0..6", line)
            try:
                px = np.array(row[ip].split(), dtype=np.int64)
            except ValueError:
                raise DatasetError(path, "pixels must be space-separated integers", line) from None
            if px.size != 48 * 48:
                raise DatasetError(path, f"expected 2304 pixel values (48x48), got {px.size}", line)
            if px.min() < 0 or px.max() > 255:
                raise DatasetError(path, "pixel values must be 0..255", line)
            usage = "train"
            if iu is not None:
                u = SPLITS.get(row[iu].strip().lower())
                if u is None:
                    raise DatasetError(path, f"Usage {row[iu]!r} is not Training, PublicTest or PrivateTest", line)
                usage = u
            images.append(px.astype(np.uint8).reshape(48, 48))
            labels.append(label)
            splits.append(usage)
    if not images:
        raise DatasetError(path, "no data rows")
    imgs = np.stack(images)
    names_of = np.array([FER2013_IDS[i] for i in labels])
    keep = np.isin(names_of, classes)
    rows = np.flatnonzero(keep)
    idx = np.array([classes.index(c) for c in names_of[rows]], dtype=np.int64)
    return Source(kind="fer2013csv", path=path, classes=classes, rows=rows, targets=_one_hot(idx, len(classes)),
                  split=np.array(splits)[rows], n_images=len(imgs), load=lambda i: imgs[i], small=True,
                  fingerprint=_file_fingerprint(path))


# -- class-per-folder ------------------------------------------------------------------------------------------
def _image_files(folder: Path) -> list[Path]:
    from mimetic.media.images import is_image_path

    return sorted(p for p in folder.rglob("*") if p.is_file() and is_image_path(p))


def read_folder(root: str | os.PathLike, classes: str | Sequence[str] | None = None, *,
                label_map: str | dict[str, str] | None = None, names_from: str | None = None) -> Source:
    """``ROOT/<class>/…`` or ``ROOT/<split>/<class>/…``. Folders of classes outside ``classes`` are skipped;
    a folder name that is no known class (see :data:`ALIASES` and ``label_map``) is an error.
    ``names_from="jaffe"``: every image under ``ROOT`` (or its split folders) takes its class from its file name;
    images whose name encodes no class are skipped."""
    root = Path(root)
    classes = resolve_classes(classes)
    mapping = label_mapping(label_map)
    if not root.is_dir():
        raise DatasetError(root, "not a folder")
    subdirs = sorted(p for p in root.iterdir() if p.is_dir() and not p.name.startswith("."))
    paths: list[Path] = []
    cls: list[int] = []
    splits: list[str] = []
    if names_from is not None:
        split_dirs = [(SPLITS[d.name.lower()], d) for d in subdirs if d.name.lower() in SPLITS]
        for split, d in split_dirs or [("train", root)]:
            for f in _image_files(d):
                c = class_from_file_name(f.name, names_from)
                if c is None or c not in classes:
                    continue
                paths.append(f)
                cls.append(classes.index(c))
                splits.append(split)
        if not paths:
            raise DatasetError(root, f"no image names in the {names_from} scheme of the classes {', '.join(classes)}")
        return _path_source("folder", root, classes, paths, np.array(cls), np.array(splits))
    if not subdirs:
        raise DatasetError(root, "no class folders inside")
    if all(d.name.lower() in SPLITS for d in subdirs):
        layout = [(SPLITS[d.name.lower()], c) for d in subdirs
                  for c in sorted(p for p in d.iterdir() if p.is_dir() and not p.name.startswith("."))]
    else:
        layout = [("train", d) for d in subdirs]
    for split, d in layout:
        c = _class_of(d.name, mapping)
        if c is None:
            raise DatasetError(d, f"folder name {d.name!r} is not an expression class "
                                  f"(known: {', '.join(sorted(ALIASES))}; numbered folders need --label-map, "
                                  f"e.g. {', '.join(LABEL_MAPS)})")
        if c not in classes:
            continue
        files = _image_files(d)
        paths += files
        cls += [classes.index(c)] * len(files)
        splits += [split] * len(files)
    if not paths:
        raise DatasetError(root, f"no images of the classes {', '.join(classes)}")
    return _path_source("folder", root, classes, paths, np.array(cls), np.array(splits))


# -- CSV of path,label[,split] ---------------------------------------------------------------------------------
def read_csv(path: str | os.PathLike, classes: str | Sequence[str] | None = None, *,
             label_map: str | dict[str, str] | None = None) -> Source:
    """A CSV with a header naming ``path`` and ``label`` (and optionally ``split``). Labels may be any alias;
    rows of classes outside ``classes`` are skipped; a label that is no known class is an error."""
    path = Path(path)
    classes = resolve_classes(classes)
    mapping = label_mapping(label_map)
    paths: list[Path] = []
    cls: list[int] = []
    splits: list[str] = []
    with _open_text(path) as fh:
        reader = csv.reader(fh)
        header = next(reader, None)
        if header is None:
            raise DatasetError(path, "empty file")
        cols = [h.strip().lower() for h in header]
        if "path" not in cols or "label" not in cols:
            raise DatasetError(path, f"header must name 'path' and 'label' columns, got {header}", 1)
        ip, il = cols.index("path"), cols.index("label")
        isp = cols.index("split") if "split" in cols else None
        for line, row in enumerate(reader, start=2):
            if not row or all(not c.strip() for c in row):
                continue
            if len(row) != len(cols):
                raise DatasetError(path, f"expected {len(cols)} fields, got {len(row)}", line)
            p, lab = row[ip].strip(), row[il].strip()
            if not p:
                raise DatasetError(path, "empty path", line)
            c = _class_of(lab, mapping)
            if c is None:
                raise DatasetError(path, f"label {lab!r} is not an expression class (a numbered label needs "
                                         f"--label-map)", line)
            split = "train"
            if isp is not None:
                split = SPLITS.get(row[isp].strip().lower(), "")
                if not split:
                    raise DatasetError(path, f"split {row[isp]!r} is not train, valid or test", line)
            f = Path(p) if Path(p).is_absolute() else path.parent / p
            if not f.is_file():
                raise DatasetError(path, f"image {p!r} not found", line)
            if c not in classes:
                continue
            paths.append(f)
            cls.append(classes.index(c))
            splits.append(split)
    if not paths:
        raise DatasetError(path, f"no rows of the classes {', '.join(classes)}")
    return _path_source("csv", path, classes, paths, np.array(cls), np.array(splits))


def _open_text(path: Path):
    try:
        return open(path, newline="", encoding="utf-8-sig")
    except OSError as exc:
        raise DatasetError(path, f"cannot open ({exc.strerror or exc})") from None


def _path_source(kind: str, path: Path, classes, paths: list[Path], cls: np.ndarray, splits: np.ndarray) -> Source:
    from mimetic.media.images import read_image

    h = hashlib.blake2b(digest_size=8)
    for p in paths:
        st = p.stat()
        h.update(f"{p.resolve()}\0{st.st_size}\0{st.st_mtime_ns}\n".encode())

    def load(i: int) -> np.ndarray:
        return read_image(paths[i])

    return Source(kind=kind, path=path, classes=classes, rows=np.arange(len(paths)),
                  targets=_one_hot(cls, len(classes)), split=splits, n_images=len(paths), load=load,
                  small=False, fingerprint=h.hexdigest(), names=[str(p) for p in paths])


# -- labelled npz (CK+48 and the like) -------------------------------------------------------------------------
LABEL_KEYS = ("emotion", "label", "labels", "expression")
#: Images this small (the longer side, px) are tight face crops (enlarged with a margin before landmarking).
SMALL_SIDE = 96


def read_labelled_npz(path: str | os.PathLike, classes: str | Sequence[str] | None = None, *,
                      label_map: str | dict[str, str] | None = None) -> Source:
    """An npz with ``images`` and a label array (see the module docstring). Rows of classes outside ``classes``
    are skipped; a label that is no class is an error. Without ``split`` every row is ``train`` (as for
    folders); ``subject`` (and ``facs_code``) are kept in ``extra``."""
    path = Path(path)
    classes = resolve_classes(classes)
    mapping = label_mapping(label_map)
    try:
        data = np.load(path, allow_pickle=False)
    except (OSError, ValueError) as exc:
        raise DatasetError(path, f"not a readable npz file ({exc})") from None
    key = next((k for k in LABEL_KEYS if k in data.files), None)
    if "images" not in data.files or key is None:
        raise DatasetError(path, f"needs 'images' and a label array ({', '.join(LABEL_KEYS)}); has "
                                 f"{sorted(data.files)}")
    images = data["images"]
    if images.dtype != np.uint8 or images.ndim not in (3, 4) or (images.ndim == 4 and images.shape[-1] != 3):
        raise DatasetError(path, f"images must be (N, H, W) or (N, H, W, 3) uint8, got {images.shape} {images.dtype}")
    n = len(images)
    raw = data[key].astype(str)
    if raw.shape != (n,):
        raise DatasetError(path, f"{key} must be ({n},), got {raw.shape}")
    names = np.array([_class_of(v, mapping) or "" for v in raw])
    bad = names == ""
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        raise DatasetError(path, f"{key}[{i}] is {str(raw[i])!r}, not an expression class (use --label-map)")
    split = data["split"].astype(str) if "split" in data.files else np.full(n, "train")
    split = np.array([SPLITS.get(v.lower(), "") for v in split])
    if (split == "").any():
        i = int(np.flatnonzero(split == "")[0])
        raise DatasetError(path, f"split[{i}] is not train, valid or test")
    keep = np.isin(names, classes)
    rows = np.flatnonzero(keep)
    if not len(rows):
        raise DatasetError(path, f"no rows of the classes {', '.join(classes)}")
    idx = np.array([classes.index(c) for c in names[rows]], dtype=np.int64)
    extra = {k: data[k].astype(str)[rows] for k in ("subject", "sequence", "facs_code") if k in data.files}
    return Source(kind="npz", path=path, classes=classes, rows=rows, targets=_one_hot(idx, len(classes)),
                  split=split[rows], n_images=n, load=lambda i: images[i], small=max(images.shape[1:3]) <= SMALL_SIDE,
                  fingerprint=_file_fingerprint(path), names=None, extra=extra)


def subject_folds(subjects: np.ndarray, folds: int, seed: int = 0) -> np.ndarray:
    """A fold number (0 … folds−1) per row, whole subjects per fold (subjects shuffled with ``seed``, then dealt
    round-robin): the split for subject-wise cross-validation."""
    subjects = np.asarray(subjects).astype(str)
    uniq = np.unique(subjects)
    order = np.random.default_rng(seed).permutation(len(uniq))
    fold_of = {uniq[j]: k % folds for k, j in enumerate(order)}
    return np.array([fold_of[s] for s in subjects], dtype=np.int64)


# -- dispatch --------------------------------------------------------------------------------------------------
def detect_format(path: str | os.PathLike) -> str:
    """``ferplus`` (an .npz with ``votes``), ``npz`` (any other .npz), ``fer2013csv`` (a .csv whose header has
    ``pixels``), ``csv`` or ``folder``."""
    p = Path(path)
    if p.is_dir():
        return "folder"
    if p.suffix.lower() == ".npz":
        try:
            with np.load(p, allow_pickle=False) as z:
                return "ferplus" if "votes" in z.files else "npz"
        except (OSError, ValueError) as exc:
            raise DatasetError(p, f"not a readable npz file ({exc})") from None
    if p.suffix.lower() == ".csv":
        with _open_text(p) as fh:
            head = fh.readline().lower()
        return "fer2013csv" if "pixels" in head else "csv"
    raise DatasetError(p, "unknown dataset format (expected a .npz, a .csv or a folder)")


def read_dataset(path: str | os.PathLike, classes: str | Sequence[str] | None = None, *,
                 fmt: str | None = None, labels: str = "ferplus", label_map: str | dict[str, str] | None = None,
                 names_from: str | None = None) -> Source:
    """Read any supported dataset (format from the path unless ``fmt`` is given)."""
    if not Path(path).exists():
        raise DatasetError(path, "not found")
    fmt = fmt or detect_format(path)
    if fmt == "ferplus":
        return read_ferplus(path, classes, labels=labels)
    if fmt == "npz":
        return read_labelled_npz(path, classes, label_map=label_map)
    if fmt == "fer2013csv":
        return read_fer2013_csv(path, classes if classes is not None else "7")
    if fmt == "folder":
        return read_folder(path, classes, label_map=label_map, names_from=names_from)
    if fmt == "csv":
        return read_csv(path, classes, label_map=label_map)
    raise ValueError(f"unknown dataset format {fmt!r}")
