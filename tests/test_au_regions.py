"""The AU region networks: what they read, and that their training command makes a working file."""
from __future__ import annotations

import json

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from test_train import cache_dir, tiny_npz  # noqa: E402,F401 (module fixtures shared with the training tests)

from mimetic.facs.texture import (  # noqa: E402
    CELL, LEARNED_SIZE, REGION_NET_PATH, WINDOWS, learned_features, region_box, region_patches, texture_size,
)


def test_region_patches_read_only_the_regions_cells():
    rng = np.random.default_rng(0)
    crops = rng.integers(0, 256, (3, 64, 64)).astype(np.uint8)
    for region, cells in WINDOWS.items():
        own = np.zeros((64, 64), bool)
        for r, c in cells:
            own[r * CELL:(r + 1) * CELL, c * CELL:(c + 1) * CELL] = True
        other = crops.copy()
        other[:, ~own] = 255 - other[:, ~own]  # every pixel outside the region changed
        assert np.array_equal(region_patches(crops, region), region_patches(other, region)), region
        edited = crops.copy()
        r, c = cells[0]
        edited[:, r * CELL, c * CELL] ^= 0x55  # one pixel inside it
        assert not np.array_equal(region_patches(crops, region), region_patches(edited, region)), region
        rows, cols, mask = region_box(region)
        assert region_patches(crops, region).shape == (3, rows.stop - rows.start, cols.stop - cols.start)
        assert mask.sum() == len(cells) * CELL * CELL
        assert texture_size(region) == len(cells) * 9 + LEARNED_SIZE


def test_shipped_region_networks_give_finite_features_per_region():
    assert REGION_NET_PATH.is_file()
    crops = np.random.default_rng(1).integers(0, 256, (4, 64, 64)).astype(np.uint8)
    feats = learned_features(crops)
    assert set(feats) == set(WINDOWS)
    for f in feats.values():
        assert f.shape == (4, LEARNED_SIZE) and np.isfinite(f).all()
        assert np.allclose(np.exp(f[:, :8]).sum(1), 1, atol=1e-4)  # the first 8 are log-probabilities


def test_train_au_regions_writes_a_file_that_matches_the_networks(tiny_npz, cache_dir, tmp_path):  # noqa: F811
    import onnx

    from mimetic.train.au_regions import RegionTrainConfig, train_au_regions

    out = tmp_path / "au_regions.onnx"
    report = train_au_regions(tiny_npz, out, cache_dir=cache_dir, config=RegionTrainConfig(epochs=1, batch=32),
                              log=lambda s: None)  # the export is checked against the networks inside
    assert out.is_file() and set(report["regions"]) == set(WINDOWS)
    for r in WINDOWS:
        assert 0.0 <= report["regions"][r]["valid_agreement"] <= 1.0
    import onnxruntime as ort  # the written file runs through the same reader as the shipped one

    crops = np.random.default_rng(2).integers(0, 256, (3, 64, 64)).astype(np.uint8)
    got = learned_features(crops, session=ort.InferenceSession(str(out), providers=["CPUExecutionProvider"]))
    for f in got.values():
        assert f.shape == (3, LEARNED_SIZE) and np.allclose(np.exp(f[:, :8]).sum(1), 1, atol=1e-4)
    meta = {p.key: p.value for p in onnx.load(str(out)).metadata_props}
    assert json.loads(meta["regions"]) == list(WINDOWS) and "expression.onnx" in meta["teacher"]
    assert json.loads(out.with_name(out.name + ".json").read_text())["config"]["epochs"] == 1
