"""The registry of landmark measures (mimetic.face.measures): one vocabulary for AUs, symmetry and practice.

- every registered measure has a unique name, landmarks, a reference, a known unit and a direction, and compute()
  returns exactly the registered names, sided ones per side;
- the three consumers (AU channels and catalogue, symmetry regions, practice measures) use registry names only, and a
  consumer's own key never reuses a registry name for another definition;
- the numbers did not change: AU intensities, symmetry regions and practice measures and scores on the fixture faces
  equal those recorded before the registry existed (tests/measures_regression.json).
"""

from __future__ import annotations

import inspect
import json
import re
from pathlib import Path

import numpy as np
import pytest

from test_facs import _load, _one
from mimetic.clinic import symmetry
from mimetic.face import measures as reg
from mimetic.facs import catalogue, estimate
from mimetic.facs.geometry import frontal_points
from mimetic.practice import measures as practice
from mimetic.practice.exercises import EXERCISES
from mimetic.practice.scoring import STILLNESS_MEASURES, Calibration, score_frame

GOLDEN = Path(__file__).with_name("measures_regression.json")
FACES = ("astronaut_nasa", "biden_portrait", "obama_portrait", "single_face", "multi_face", "two_people")
BASELINE = "biden_portrait"


# --- the registry -------------------------------------------------------------------------------------------------

def test_every_name_is_unique_and_fully_defined():
    names = [m.name for m in reg.ALL]
    assert len(names) == len(set(names)), [n for n in names if names.count(n) > 1]
    assert list(reg.REGISTRY) == names
    for m in reg.ALL:
        assert re.fullmatch(r"[a-z][a-z0-9_]*", m.name), m.name
        assert m.unit in reg.UNITS, (m.name, m.unit)
        assert m.direction.startswith("+ ") and len(m.direction) > 3, (m.name, m.direction)
        assert m.reference and m.description, m.name
        groups = m.landmarks if m.sided else (m.landmarks,)
        assert all(0 <= i < 478 for grp in groups for i in grp), m.name


def test_compute_returns_every_registered_measure_with_its_shape(analyzer):
    face = _one(analyzer, _load("biden_portrait"))
    values = reg.compute(frontal_points(face))
    assert set(values) == set(reg.REGISTRY)
    for name, v in values.items():
        if reg.REGISTRY[name].sided:
            assert np.shape(v) == (2,), name
        else:
            assert isinstance(v, float), name
        assert np.all(np.isfinite(v)), name


def test_directions_hold_on_a_real_face(analyzer):
    """A few signs that the registry's directions promise, on the neutral portrait."""
    m = reg.compute(frontal_points(_one(analyzer, _load("biden_portrait"))))
    assert np.all(m["brow_height"] > 0) and np.all(m["brow_mean"] > 0)  # brows above the pupils / canthi
    assert np.all(m["commissure_eye_height"] < -0.5)  # the mouth corners are well below the eye line
    assert np.all(m["half_mouth_width"] > 0.25) and m["mouth_width"] > 0.5
    assert np.all(m["eye_aperture"] > 0.15) and np.all(m["palpebral_fissure"] > 0)  # open eyes
    assert np.all(np.abs(m["commissure_pull"] - (m["half_mouth_width"] + m["commissure_eye_height"]) / np.sqrt(2))
                  < 1e-9)


# --- the consumers use registry names only ------------------------------------------------------------------------

def test_au_channels_and_catalogue_use_registry_names():
    used = set()
    for ch in estimate.CHANNELS:
        if ch.source == "geo":
            used |= {ch.name} if isinstance(ch.name, str) else set(ch.name)
        if ch.lateral is not None:
            used.add(ch.lateral[0])
        if ch.extra is not None:
            used.add(ch.extra[0])
    assert used and used <= set(reg.REGISTRY), used - set(reg.REGISTRY)
    listed = {m for au in catalogue.AUS for m in au.measures}
    assert listed <= set(reg.REGISTRY), listed - set(reg.REGISTRY)
    assert used <= listed, used - listed  # every measure an AU reads is listed in the catalogue


def test_symmetry_regions_are_registry_measures_with_their_unit():
    assert tuple(symmetry.REGION_MEASURES) == symmetry.REGIONS
    for region, name in symmetry.REGION_MEASURES.items():
        unit = reg.REGISTRY[name].unit
        assert unit in ("IOD", "degrees"), (region, unit)
        assert region == name + ("_deg" if unit == "degrees" else "_mm"), region  # the key is the registry name
    assert set(symmetry.CORNER_POSITION) <= set(reg.REGISTRY)


def test_practice_measures_are_scorings_of_registry_measures():
    for name, info in practice.MEASURES.items():
        assert info.measure in reg.REGISTRY, (name, info.measure)
        # a practice name that is also a registry name reads that very measure (a name means one thing)
        assert name not in reg.REGISTRY or info.measure == name, (name, info.measure)
    assert set(practice.RESTING) <= set(reg.REGISTRY)
    assert set(STILLNESS_MEASURES) <= set(practice.MEASURES)
    used = {k for e in EXERCISES.values() for k in e.measures} | {
        w.code for e in EXERCISES.values() for w in e.synkinesis if not w.code.startswith("AU")}
    assert used <= set(practice.MEASURES), used - set(practice.MEASURES)


@pytest.mark.parametrize("module", [estimate, symmetry, practice])
def test_consumers_compute_no_measure_of_their_own(module):
    """The consumers read frontal points only through the registry: no indexing of landmarks in their code."""
    src = inspect.getsource(module)
    assert "compute(" in src
    assert not re.search(r"\bf\[", src), module.__name__


# --- today's numbers did not change -------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def fixture_faces(analyzer):
    return {name: _one(analyzer, _load(name)) for name in FACES}


@pytest.fixture(scope="module")
def golden():
    return json.loads(GOLDEN.read_text(encoding="utf-8"))["faces"]


def _close(got: dict, want: dict, tol: float, what: str):
    assert set(got) == set(want), (what, set(got) ^ set(want))
    for k, v in want.items():
        assert np.allclose(got[k], v, rtol=0, atol=tol), (what, k, got[k], v)


@pytest.mark.parametrize("name", FACES)
def test_numbers_equal_those_before_the_registry(name, fixture_faces, golden):
    face, base = fixture_faces[name], fixture_faces[BASELINE]
    want = golden[name]
    aus = estimate.estimate_aus(face)
    _close({k: [v.left, v.right] for k, v in aus.items()}, want["aus"], 0.0015, "aus")
    # the geometric expression model's AU features (feature version 1) stay the hand-set values of before issue 24
    _close({k: [v.left, v.right] for k, v in estimate.knot_aus(face).items()}, want["aus_v1"], 0.0015, "aus v1")
    aus_b = estimate.estimate_aus(face, base)
    _close({k: [v.left, v.right] for k, v in aus_b.items()}, want["aus_baseline"], 0.0015, "aus with a baseline")
    sym = symmetry.face_symmetry(face, base)
    _close({k: [v.left, v.right] for k, v in sym.regions.items()}, want["symmetry"], 0.011, "symmetry")
    _close({k: [v.left, v.right] for k, v in sym.movement.items()}, want["symmetry_movement"], 0.011, "movement")
    _close(practice.measure(face), want["practice"], 1e-5, "practice measures")
    _close(practice.resting_measures(face), want["resting"], 1e-5, "resting measures")
    cal = Calibration.from_faces([base])
    _close({e: score_frame(e, cal, face).score for e in EXERCISES}, want["scores"], 0.011, "practice scores")


def test_docs_table_lists_every_measure_with_its_unit_and_direction():
    rows = {}
    for line in (Path(__file__).parents[1] / "docs" / "measures.md").read_text(encoding="utf-8").splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) == 7 and cells[0].startswith("`"):
            rows[cells[0].strip("`")] = cells
    assert list(rows) == list(reg.REGISTRY)
    for name, m in reg.REGISTRY.items():
        assert rows[name][3] == m.unit and rows[name][4] == m.direction, name
