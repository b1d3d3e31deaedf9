"""MEGC evaluation (IoU >= 0.5, pooled F1) and the CAS(ME)² / SAMM long-video annotation readers, on small
tables written by the tests in the datasets' layouts."""

from __future__ import annotations

import pandas as pd
import pytest

from mimetic.video.megc import Interval, evaluate, iou, match_intervals, read_casme2_lv, read_samm_lv


def test_iou_counts_frames_inclusively():
    assert iou((1, 10), (1, 10)) == 1.0
    assert iou((1, 10), (11, 20)) == 0.0
    assert iou((1, 10), (6, 15)) == pytest.approx(5 / 15)
    assert iou((0, 9), (0, 4)) == 0.5


def test_matching_is_one_to_one_and_greedy_by_iou():
    truth = [(10, 20), (50, 60)]
    spotted = [(11, 20), (12, 21), (52, 70), (100, 110)]
    m = match_intervals(truth, spotted)
    assert [(i, j) for i, j, _ in m] == [(0, 0)]  # (52, 70) has IoU 9/21 < 0.5; (12, 21) is a duplicate
    m = match_intervals(truth, [(50, 61)])
    assert m == [(1, 0, pytest.approx(11 / 12))]


def test_evaluate_pools_counts_and_splits_micro_and_macro():
    truth = [Interval("a", 10, 20, "micro"), Interval("a", 100, 160, "macro"), Interval("b", 5, 12, "micro")]
    spotted = [Interval("a", 11, 19, "micro"), Interval("a", 105, 150, "macro"), Interval("b", 40, 50, "micro"),
               Interval("b", 5, 11, "macro")]
    s = evaluate(truth, spotted)
    assert (s["overall"].tp, s["overall"].n_true, s["overall"].n_spotted) == (3, 3, 4)
    assert s["overall"].recall == 1.0 and s["overall"].precision == 0.75
    assert s["overall"].f1 == pytest.approx(2 * 0.75 / 1.75)
    # per kind, a micro truth is only matched by an interval spotted as micro
    assert (s["micro"].tp, s["micro"].n_true, s["micro"].n_spotted) == (1, 2, 2)
    assert (s["macro"].tp, s["macro"].n_true, s["macro"].n_spotted) == (1, 1, 2)
    assert s["micro"].to_dict()["f1"] == 0.5


def test_read_casme2_long_video_table(tmp_path):
    # CAS(ME)^2code_final's first sheet, exported to CSV: no header row; participant, clip, onset, apex, offset,
    # AUs, estimated emotion, type, self-reported emotion. An offset of 0 means "no clear offset".
    rows = [
        [15, "anger1_1", 557, 572, 608, "4+10+14+15", "negative", "macro-expression", "anger"],
        [15, "anger1_2", 2854, 2862, 2871, "38", "others", "micro-expression", "sadness"],
        [16, "happy1_1", 1021, 1047, 0, "12", "positive", "macro-expression", "happy"],
    ]
    path = tmp_path / "casme2.csv"
    pd.DataFrame(rows).to_csv(path, header=False, index=False)
    iv = read_casme2_lv(path)
    assert [(i.video, i.onset, i.apex, i.offset, i.kind) for i in iv] == [
        ("15_anger1", 557, 572, 608, "macro"), ("15_anger1", 2854, 2862, 2871, "micro"),
        ("16_happy1", 1021, 1047, 1047, "macro")]
    assert iv[0].subject == "15" and iv[0].aus == "4+10+14+15" and iv[1].emotion == "others"
    # with the workbook's naming rule (stimulus -> code of the long video's file name, e.g. 15_0401girlcrashing)
    iv2 = read_casme2_lv(path, naming={"anger1": "0401", "happy1": "0502"})
    assert [i.video for i in iv2] == ["15_0401", "15_0401", "16_0502"]
    # the same table with a header row, in another column order
    named = pd.DataFrame([{"Subject": 15, "Onset": 10, "Apex": 14, "Offset": 18, "Filename": "disgust1_3",
                           "Type": "micro-expression"}])
    (one,) = read_casme2_lv(named)
    assert (one.video, one.onset, one.offset, one.kind) == ("15_disgust1", 10, 18, "micro")


def test_read_samm_long_video_table(tmp_path):
    # SAMM_LongVideos_V3_Release: a few title rows, then the header.
    lines = [
        ["SAMM Long Videos", "", "", "", "", "", "", "", "", ""],
        ["", "", "", "", "", "", "", "", "", ""],
        ["Subject", "Filename", "Inducement Code", "Onset", "Apex", "Offset", "Duration", "Type", "Action Units",
         "Notes"],
        ["006", "006_1_1", 1, 566, 648, 743, 178, "Macro", "R12", ""],
        ["006", "006_1_2", 1, 3562, 3588, 3632, 71, "Micro - 1/2", "4", ""],
        ["011", "011_3_1", 3, 1200, -1, 1260, 61, "Micro - 1/2", "12", "apex unclear"],
    ]
    path = tmp_path / "samm.csv"
    pd.DataFrame(lines).to_csv(path, header=False, index=False)
    iv = read_samm_lv(path)
    assert [(i.video, i.subject, i.onset, i.apex, i.offset, i.kind) for i in iv] == [
        ("006_1", "006", 566, 648, 743, "macro"), ("006_1", "006", 3562, 3588, 3632, "micro"),
        ("011_3", "011", 1200, None, 1260, "micro")]
    assert iv[0].aus == "R12"
    # scoring a spotter's output against it
    spotted = [Interval("006_1", 3565, 3630, "micro"), Interval("011_3", 1195, 1250, "micro")]
    s = evaluate(iv, spotted)
    assert s["micro"].tp == 2 and s["overall"].recall == pytest.approx(2 / 3)
