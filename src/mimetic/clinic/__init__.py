"""Clinical measures: regional left/right symmetry in mm against a normal band (``mimetic.clinic.symmetry``)."""

from mimetic.clinic.symmetry import NORMAL_BAND, REGIONS, face_symmetry

__all__ = ["NORMAL_BAND", "REGIONS", "face_symmetry"]
