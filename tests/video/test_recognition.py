"""The micro-expression recogniser, end to end on a tiny synthetic CASME II-like dataset written by the test.

Four subjects (the four single-face fixture portraits), three classes made by warping the face (happiness: the
mouth corners rise; surprise: the brows rise; disgust: nose wings up and brows down and together), three samples
per class and subject with different amplitudes, nine frames each (onset, apex at the fifth frame, offset), saved
as CASME II saves them (``sub01/EP01_01/img101.jpg`` ...) with a coding table. Read back, turned into flow and
apex inputs, trained and scored leave-one-subject-out (UF1, UAR).
"""

from __future__ import annotations

import cv2
import pandas as pd
import pytest

torch = pytest.importorskip("torch")

from videosynth import HeadMotion, Planted, WarpedVideo, base_frame, load_rgb  # noqa: E402

from mimetic.video.recognition import evaluate_dataset, read_casme2, train_recognizer  # noqa: E402
from mimetic.video.recognition.features import FeatureConfig  # noqa: E402
from mimetic.video.recognition.model import Recognizer, RecognizerConfig, uar, uf1  # noqa: E402

SUBJECTS = ["single_face.jpg", "obama_portrait.jpg", "biden_portrait.jpg", "astronaut_nasa.jpg"]
CLASSES = {"happiness": ["mouth_corners"], "surprise": ["brows"], "disgust": ["nose", "frown"]}
AMPLITUDES = (3.0, 4.5, 6.0)
FIRST = 101  # frame numbers in file names, as in CASME II (img101.jpg, ...)
FEATURES = FeatureConfig(flow_size=32, apex_size=32, work=96)


@pytest.fixture(scope="module")
def dataset(analyzer, tmp_path_factory):
    root = tmp_path_factory.mktemp("casme2like")
    rows = []
    for s, image in enumerate(SUBJECTS, start=1):
        rgb = load_rgb(image)
        face = analyzer.analyze_array(rgb).faces[0]
        base = base_frame(rgb, face.box, size=(128, 128), face_width=100.0)
        lm = analyzer.analyze_array(cv2.resize(base, (256, 256))).faces[0].landmarks / 2.0
        k = 0
        for label, regions in CLASSES.items():
            for amp in AMPLITUDES:
                k += 1
                name = f"EP{k:02d}_{s:02d}"
                folder = root / f"sub{s:02d}" / name
                folder.mkdir(parents=True)
                events = [Planted(r, 0, 4, 8, amp) for r in regions]
                video = WarpedVideo(base, lm, 30.0, 9, events, HeadMotion(), noise=1.0, seed=s * 100 + k)
                for i, _, frame in video:
                    cv2.imwrite(str(folder / f"img{FIRST + i}.jpg"), cv2.cvtColor(frame, cv2.COLOR_RGB2BGR))
                rows.append({"Subject": s, "Filename": name, "OnsetFrame": FIRST, "ApexFrame": FIRST + 4,
                             "OffsetFrame": FIRST + 8, "Action Units": "", "Estimated Emotion": label})
    pd.DataFrame(rows).to_csv(root / "coding.csv", index=False)
    return root


def test_reader_finds_every_sample(dataset):
    samples = read_casme2(dataset, dataset / "coding.csv")
    assert len(samples) == len(SUBJECTS) * 9
    s = samples[0]
    assert (s.subject, s.name, s.onset, s.apex, s.offset, s.label) == ("1", "EP01_01", 101, 105, 109, "happiness")
    assert s.frame(105).name == "img105.jpg"
    only = read_casme2(dataset, dataset / "coding.csv", labels={"surprise": "surprise", "disgust": "negative"})
    assert {x.label for x in only} == {"surprise", "negative"} and len(only) == 24


def test_leave_one_subject_out_on_synthetic_micro_expressions(dataset, tmp_path):
    samples = read_casme2(dataset, dataset / "coding.csv")
    cfg = RecognizerConfig(epochs=15, width=8, seed=0, threads=1)  # small and quick: 36 samples
    folds = []
    result = evaluate_dataset(samples, config=cfg, features=FEATURES, on_fold=lambda s, a: folds.append(s))
    scores = result.scores()
    print(f"\nsynthetic CASME II-like, LOSO over {scores['folds']} subjects, {scores['n']} samples: "
          f"UF1 {scores['uf1']:.3f}, UAR {scores['uar']:.3f} (flow stream alone UF1 {scores['flow_uf1']:.3f}, "
          f"apex stream alone UF1 {scores['apex_uf1']:.3f})\nconfusion (rows: truth {result.classes}):\n"
          f"{result.confusion()}")
    assert sorted(folds) == ["1", "2", "3", "4"]
    assert scores["n"] == 36
    assert scores["uf1"] >= 0.8 and scores["uar"] >= 0.8
    # a model trained on everything saves, loads and predicts the same
    rec = train_recognizer(samples[:18] + samples[27:], config=RecognizerConfig(epochs=3, width=8, threads=1),
                           features=FEATURES)
    path = rec.save(tmp_path / "me.pt")
    again = Recognizer.load(path)
    from mimetic.video.recognition import dataset_inputs

    flow, apex = dataset_inputs(samples[:4], FEATURES)
    assert (rec.predict_proba(flow, apex) - again.predict_proba(flow, apex)).__abs__().max() < 1e-6
    assert set(again.predict(flow, apex)) <= set(rec.classes)


def test_unweighted_metrics():
    t = [0, 0, 0, 0, 1, 1, 2, 2]
    p = [0, 0, 0, 1, 1, 1, 2, 0]
    # per class recall 3/4, 2/2, 1/2 -> UAR 0.75; F1 0: 2*3/(6+1+1)=0.75, 1: 4/5=0.8, 2: 2/3
    assert uar(t, p, 3) == pytest.approx(0.75)
    assert uf1(t, p, 3) == pytest.approx((0.75 + 0.8 + 2 / 3) / 3)
