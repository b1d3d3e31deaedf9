"""Drawing results: face overlays (mesh, box, pose axes, labels); later the muscle map and plots.

``draw_faces`` is imported lazily so that ``import mimetic.render`` stays cheap.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from mimetic.render.overlay import draw_faces

__all__ = ["draw_faces"]


def __getattr__(name: str) -> Any:
    if name == "draw_faces":
        from mimetic.render.overlay import draw_faces

        return draw_faces
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
