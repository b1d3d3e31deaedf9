"""Helpers for the store tests (imported by conftest.py and the test modules)."""

from __future__ import annotations


def cheap_hasher():
    """argon2id with tiny costs: the tests hash many passwords on a small machine."""
    from argon2 import PasswordHasher

    return PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1)


def make_result(score=70.0, exercises=(("open_mouth_smile", 70.0),), routine="smile", **extra):
    """A session result in the shape of docs/dev/practice-contract.md §3."""
    return {
        "routine": routine, "reps": 3, "affected_side": None, "calibration": {"neutral": {"mouth_width": [1.0, 1.0]}},
        "score": score,
        "exercises": [{"id": ex, "score": s, "left": 0.6, "right": 0.4, "symmetry": 0.8, "hold": 2.5,
                       "stability": 0.9, "synkinesis": [], "skipped": False,
                       "reps": [{"score": s, "left": 0.6, "right": 0.4, "symmetry": 0.8, "hold": 2.5,
                                 "stability": 0.9, "synkinesis": []}]} for ex, s in exercises],
        "sunnybrook": {"resting_symmetry": 5, "voluntary_movement": 80, "synkinesis": 2, "composite": 73,
                       "items": {}, "is_estimate": True, "note": "An estimate"},
        "scoring_version": 1, **extra,
    }
