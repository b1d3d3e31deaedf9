"""Short human-readable text about a face: the CLI's per-face lines and ``--report``."""

from __future__ import annotations

from mimetic.types import Face


def face_summary(face: Face, number: int) -> str:
    """Three or four lines: where, pose, strongest blendshapes, AUs present, expression."""
    x, y, w, h = face.box
    p = face.pose
    top = sorted(((v, k) for k, v in face.blendshapes.items() if k != "_neutral"), reverse=True)[:4]
    lines = [f"  #{number}  box {x:.0f},{y:.0f} {w:.0f}x{h:.0f}  score {face.score:.2f}  "
             f"yaw {p.yaw:+.0f}  pitch {p.pitch:+.0f}  roll {p.roll:+.0f}",
             "      blendshapes: " + ", ".join(f"{k} {v:.2f}" for v, k in top)]
    present = [(k, v) for k, v in face.aus.items() if v.present]
    if present:
        lines.append("      AUs present: " + ", ".join(f"{k} {v.intensity:.1f}" for k, v in present))
    if face.expression is not None:
        lines.append(f"      expression: {face.expression.label} {face.expression.scores[face.expression.label]:.2f}")
    return "\n".join(lines)


def _bar(v: float, scale: float, width: int = 10) -> str:
    n = int(round(max(0.0, min(1.0, v / scale)) * width))
    return "#" * n + "." * (width - n)


def face_report(face: Face, number: int) -> str:
    """The ``--report`` text: AUs with left/right bars (the person's sides), nerve branches, symmetry flags."""
    out = [face_summary(face, number), "      AU    name                     right        left         R    L"]
    from mimetic.facs.catalogue import AU_BY_CODE

    for code, v in face.aus.items():
        if v.intensity < 0.5:
            continue
        out.append(f"      {code}  {(AU_BY_CODE[code].name if code in AU_BY_CODE else '')[:24]:<24} {_bar(v.right, 5)}   {_bar(v.left, 5)}"
                   f"  {v.right:.1f}  {v.left:.1f}{'  present' if v.present else ''}")
    if face.nerves:
        out.append("      nerve branch (activation right / left): " + ", ".join(
            f"{b} {s.right:.2f}/{s.left:.2f}" for b, s in face.nerves.items()))
    sym = face.symmetry
    if sym is None:
        return "\n".join(out)
    band = sym.normal_band
    out.append("      symmetry: " + ("asymmetric " + ", ".join(sym.flagged) if sym.flagged else "within normal limits")
               + f" (normal band {band[0]:.0%}-{band[1]:.0%})"
               + ("; relative to the neutral baseline" if sym.baseline else ""))
    if sym.contempt_check is not None and sym.contempt_check.flag:
        out.append("      note: a one-sided expression that may be facial asymmetry (e.g. palsy) rather than contempt")
    return "\n".join(out)
