"""Micro-expression recognition: what a spotted (or annotated) micro-expression was.

The shipped recogniser: :mod:`.runtime` (``MicroRecognizer``: onnxruntime, the flow image of :mod:`.features`) gives
each spotted micro event its type, negative / positive / surprise; :mod:`.flownet` trains it and evaluates it
leave-one-subject-out on the MEGC 2019 composite benchmark (``mimetic train micro``; needs torch).

The older two-stream recogniser, for datasets laid out like CASME II (:mod:`.dataset`): inputs from the onset and apex frames (:mod:`.features`:
optical flow onset -> apex and the apex crop), two small CNNs with softmax fusion, and leave-one-subject-out
evaluation with UF1 and UAR (:mod:`.model`, needs torch). Typical use::

    from mimetic.video.recognition import read_casme2, evaluate_dataset, MEGC_3_CLASSES

    samples = read_casme2("CASME2_RAW_selected", "CASME2-coding-20140508.xlsx", labels=MEGC_3_CLASSES)
    result = evaluate_dataset(samples)          # LOSO; result.scores() -> {"uf1": ..., "uar": ..., ...}
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from mimetic.video.recognition.dataset import CASME2_5_CLASSES, MEGC_3_CLASSES, MESample, frame_files, read_casme2
from mimetic.video.recognition.features import FeatureConfig, sample_inputs

__all__ = ["CASME2_5_CLASSES", "MEGC_3_CLASSES", "FeatureConfig", "MESample", "dataset_inputs", "evaluate_dataset",
           "frame_files", "read_casme2", "sample_inputs", "train_recognizer"]


def dataset_inputs(samples: Sequence[MESample], config: FeatureConfig | None = None,
                   analyzer=None) -> tuple[np.ndarray, np.ndarray]:
    """Stacked (flow, apex) inputs of ``samples``."""
    pairs = [sample_inputs(s, config, analyzer) for s in samples]
    return np.stack([p[0] for p in pairs]), np.stack([p[1] for p in pairs])


def evaluate_dataset(samples: Sequence[MESample], *, config=None, features: FeatureConfig | None = None,
                     analyzer=None, on_fold=None):
    """Leave-one-subject-out evaluation of the recogniser on ``samples`` (a :class:`LosoResult`)."""
    from mimetic.video.recognition.model import leave_one_subject_out

    flow, apex = dataset_inputs(samples, features, analyzer)
    return leave_one_subject_out(flow, apex, [s.label for s in samples], [s.subject for s in samples], config,
                                 on_fold=on_fold)


def train_recognizer(samples: Sequence[MESample], *, config=None, features: FeatureConfig | None = None,
                     analyzer=None):
    """Train a :class:`Recognizer` on every sample (for use on new data)."""
    from mimetic.video.recognition.model import Recognizer

    flow, apex = dataset_inputs(samples, features, analyzer)
    classes = tuple(sorted({s.label for s in samples}))
    return Recognizer(classes, config).fit(flow, apex, [classes.index(s.label) for s in samples])
