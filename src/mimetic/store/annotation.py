"""Labelling projects (issue 20): the tables and :class:`AnnotationStore`.

A project has members with a role (``owner``, ``reviewer``, ``annotator``), a label set, and items: images kept in
the data directory (``<data>/annotation/<project id>/``; the one place the app keeps faces on purpose), each with
its pre-label (one Analyzer pass), the members' votes and at most one review. Every method takes the id of the user
acting: a project they are not a member of reads as "no such project" (None / False), exactly like a project that
does not exist. Deleting a project (its owner only) deletes its rows and its folder.

The tables are in :mod:`mimetic.store.models` (``Annotation*``); revision ``0003_annotation`` makes them.
"""

from __future__ import annotations

import hashlib
import shutil
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import numpy as np
from sqlalchemy import delete, func, select
from sqlalchemy.orm import sessionmaker

from mimetic.annotate.items import Item, Vote
from mimetic.annotate.labels import LabelSet
from mimetic.store.db import aware, engine_of, upgrade, utcnow
from mimetic.store.models import AnnotationItem, AnnotationMember, AnnotationProject, AnnotationVote, User

ROLES = ("owner", "reviewer", "annotator")


@dataclass(frozen=True)
class ProjectRecord:
    id: str
    name: str
    owner_id: str
    label_set: LabelSet
    role: str  # the asking user's role
    created_at: datetime
    items: int = 0

    def to_dict(self) -> dict[str, Any]:
        return {"id": self.id, "name": self.name, "role": self.role, "label_set": self.label_set.to_dict(),
                "items": self.items, "created_at": self.created_at.isoformat()}


class AnnotationStore:
    """Projects, members, items, votes and reviews; image files under ``data_dir/annotation``."""

    def __init__(self, url_or_engine, data_dir: str | Path, *, migrate: bool = False):
        self.engine, self._owns = engine_of(url_or_engine)
        if migrate:
            upgrade(self.engine)
        self._session = sessionmaker(self.engine, expire_on_commit=False)
        self.root = Path(data_dir) / "annotation"

    def close(self) -> None:
        if self._owns:
            self.engine.dispose()

    # -- projects and members -------------------------------------------------------------------------------------
    def folder(self, project_id: str) -> Path:
        return self.root / str(uuid.UUID(project_id))

    def create_project(self, owner_id: str, name: str, label_set: LabelSet | None = None) -> ProjectRecord:
        name = " ".join(str(name).split())[:100]
        if not name:
            raise ValueError("a project needs a name")
        ls = label_set or LabelSet()
        now = utcnow()
        p = AnnotationProject(id=str(uuid.uuid4()), name=name, owner_id=owner_id, label_set=ls.to_dict(),
                              created_at=now)
        with self._session.begin() as s:
            s.add(p)
            s.flush()
            s.add(AnnotationMember(id=str(uuid.uuid4()), project_id=p.id, user_id=owner_id, role="owner"))
        return ProjectRecord(p.id, p.name, owner_id, ls, "owner", now)

    def _role(self, s, user_id: str, project_id: str) -> str | None:
        return s.scalar(select(AnnotationMember.role).where(AnnotationMember.project_id == project_id,
                                                            AnnotationMember.user_id == user_id))

    def role(self, user_id: str, project_id: str) -> str | None:
        with self._session() as s:
            return self._role(s, user_id, project_id)

    def _record(self, s, p: AnnotationProject, role: str) -> ProjectRecord:
        n = s.scalar(select(func.count()).select_from(AnnotationItem).where(AnnotationItem.project_id == p.id))
        return ProjectRecord(p.id, p.name, p.owner_id, LabelSet.from_dict(p.label_set), role, aware(p.created_at),
                             int(n or 0))

    def lookup(self, ref: str) -> ProjectRecord | None:
        """A project by id or exact name, unscoped (for the local ``mimetic annotate`` commands, which run as the
        data directory's administrator and act as the project's owner). A name shared by several: None."""
        with self._session() as s:
            p = s.get(AnnotationProject, ref)
            if p is None:
                found = s.scalars(select(AnnotationProject).where(AnnotationProject.name == ref)).all()
                p = found[0] if len(found) == 1 else None
            return self._record(s, p, "owner") if p else None

    def user_id(self, email: str) -> str | None:
        with self._session() as s:
            return s.scalar(select(User.id).where(User.email == email.strip().lower()))

    def get_project(self, user_id: str, project_id: str) -> ProjectRecord | None:
        """The project if ``user_id`` is a member, else None."""
        with self._session() as s:
            role = self._role(s, user_id, project_id)
            p = s.get(AnnotationProject, project_id) if role else None
            return self._record(s, p, role) if p else None

    def projects(self, user_id: str) -> list[ProjectRecord]:
        with self._session() as s:
            rows = s.execute(select(AnnotationProject, AnnotationMember.role).join(
                AnnotationMember, AnnotationMember.project_id == AnnotationProject.id).where(
                AnnotationMember.user_id == user_id).order_by(AnnotationProject.created_at.desc())).all()
            return [self._record(s, p, role) for p, role in rows]

    def members(self, user_id: str, project_id: str) -> list[dict[str, str]] | None:
        with self._session() as s:
            if not self._role(s, user_id, project_id):
                return None
            rows = s.execute(select(User.id, User.email, User.display_name, AnnotationMember.role).join(
                AnnotationMember, AnnotationMember.user_id == User.id).where(
                AnnotationMember.project_id == project_id).order_by(User.email)).all()
            return [{"id": i, "email": e, "name": n or e, "role": r} for i, e, n, r in rows]

    def set_member(self, owner_id: str, project_id: str, email: str, role: str | None) -> bool:
        """The owner adds a user (by e-mail) with ``role``, changes their role, or removes them (``role=None``).
        False when the caller is not the owner, the user does not exist or the owner would remove themself."""
        if role is not None and role not in ("reviewer", "annotator"):
            raise ValueError(f"role must be reviewer or annotator, got {role!r}")
        with self._session.begin() as s:
            if self._role(s, owner_id, project_id) != "owner":
                return False
            uid = s.scalar(select(User.id).where(User.email == email.strip().lower()))
            if uid is None or uid == owner_id:
                return False
            m = s.scalar(select(AnnotationMember).where(AnnotationMember.project_id == project_id,
                                                        AnnotationMember.user_id == uid))
            if role is None:
                if m is not None:
                    s.delete(m)
                return True
            if m is None:
                s.add(AnnotationMember(id=str(uuid.uuid4()), project_id=project_id, user_id=uid, role=role))
            else:
                m.role = role
        return True

    def delete_project(self, user_id: str, project_id: str) -> bool:
        """The owner deletes the project, its rows and its image folder."""
        with self._session.begin() as s:
            if self._role(s, user_id, project_id) != "owner":
                return False
            item_ids = select(AnnotationItem.id).where(AnnotationItem.project_id == project_id)
            s.execute(delete(AnnotationVote).where(AnnotationVote.item_id.in_(item_ids)))
            s.execute(delete(AnnotationItem).where(AnnotationItem.project_id == project_id))
            s.execute(delete(AnnotationMember).where(AnnotationMember.project_id == project_id))
            s.execute(delete(AnnotationProject).where(AnnotationProject.id == project_id))
        shutil.rmtree(self.folder(project_id), ignore_errors=True)
        return True

    # -- items ----------------------------------------------------------------------------------------------------
    def add_image(self, user_id: str, project_id: str, name: str, rgb: np.ndarray, *,
                  prelabel: dict[str, Any] | None = None, source: str = "") -> dict[str, Any] | None:
        """Keep one decoded image (re-encoded as JPEG: no EXIF or other metadata) and its face crop. The owner
        and reviewers may add; None otherwise. A name already in the project gets a numbered suffix; the same
        pixels twice are stored once (the existing item is returned with ``"duplicate": True``)."""
        from mimetic.annotate.prelabel import crop
        from mimetic.media.files import fit_name
        from mimetic.media.images import write_image

        rgb = np.ascontiguousarray(rgb)
        digest = hashlib.sha256(rgb.tobytes() + repr(rgb.shape).encode()).hexdigest()
        with self._session.begin() as s:
            if self._role(s, user_id, project_id) not in ("owner", "reviewer"):
                return None
            same = s.scalar(select(AnnotationItem).where(AnnotationItem.project_id == project_id,
                                                         AnnotationItem.sha256 == digest))
            if same is not None:
                return {**self._item_dict(same), "duplicate": True}
            stem = Path(fit_name(Path(str(name).replace("\\", "/")).name or "image", 200)).stem or "image"
            names = set(s.scalars(select(AnnotationItem.name).where(AnnotationItem.project_id == project_id)))
            final, k = f"{stem}.jpg", 1
            while final in names:
                k += 1
                final = f"{stem}_{k}.jpg"
            pos = s.scalar(select(func.coalesce(func.max(AnnotationItem.position), 0)).where(
                AnnotationItem.project_id == project_id)) + 1
            it = AnnotationItem(id=str(uuid.uuid4()), project_id=project_id, position=pos, name=final,
                                source=str(source)[:255], sha256=digest, width=int(rgb.shape[1]),
                                height=int(rgb.shape[0]), prelabel=prelabel, created_at=utcnow())
            folder = self.folder(project_id)
            write_image(rgb, folder / f"{it.id}.jpg", quality=92)
            write_image(crop(rgb, (prelabel or {}).get("box")), folder / f"{it.id}_crop.jpg", quality=90)
            s.add(it)
        return {**self._item_dict(it), "duplicate": False}

    def ingest(self, user_id: str, project_id: str, incoming: Iterable[Any], *,
               prelabel: Callable[[np.ndarray], dict[str, Any]] | None = None,
               refused: list[Any] | None = None,
               progress: Callable[[int], None] | None = None) -> dict[str, Any] | None:
        """Decode, check, pre-label (``prelabel(rgb)``, e.g. :func:`mimetic.annotate.prelabel.prelabel` bound to an
        Analyzer) and keep each :class:`mimetic.annotate.ingest.Incoming`. Undecodable entries are added to
        ``refused`` with the reason. ``{"added", "duplicates", "refused": [{"name", "reason"}]}``; None when
        ``user_id`` may not add images."""
        from mimetic.annotate.ingest import Refused
        from mimetic.errors import InputError
        from mimetic.media.images import read_image

        if self.role(user_id, project_id) not in ("owner", "reviewer"):
            return None
        refused = refused if refused is not None else []
        added = dups = 0
        for n, inc in enumerate(incoming, start=1):
            try:
                rgb = inc.rgb if inc.rgb is not None else read_image(inc.data or b"", name=inc.name)
            except InputError as e:
                refused.append(Refused(inc.name, e.cause))
                continue
            d = self.add_image(user_id, project_id, inc.name, rgb, prelabel=prelabel(rgb) if prelabel else None,
                               source=inc.source)
            if d is None:
                return None
            dups += d["duplicate"]
            added += not d["duplicate"]
            if progress:
                progress(n)
        return {"added": added, "duplicates": dups, "refused": [{"name": r.name, "reason": r.reason} for r in refused]}

    @staticmethod
    def _item_dict(it: AnnotationItem) -> dict[str, Any]:
        return {"id": it.id, "name": it.name, "position": it.position, "source": it.source, "width": it.width,
                "height": it.height, "prelabel": it.prelabel, "review": it.review}

    def item_file(self, user_id: str, project_id: str, item_id: str, kind: str = "crop") -> Path | None:
        """The image (``kind="image"``) or its face crop of an item of a project ``user_id`` is a member of."""
        with self._session() as s:
            if not self._role(s, user_id, project_id):
                return None
            it = s.get(AnnotationItem, item_id)
            if it is None or it.project_id != project_id:
                return None
        p = self.folder(project_id) / (f"{item_id}.jpg" if kind == "image" else f"{item_id}_crop.jpg")
        return p if p.is_file() else None

    def queue(self, user_id: str, project_id: str) -> dict[str, Any] | None:
        """What the labelling page needs: every item in order with this user's own vote (never the others'),
        and the progress."""
        with self._session() as s:
            role = self._role(s, user_id, project_id)
            if not role:
                return None
            blind = role == "annotator" and bool((s.get(AnnotationProject, project_id).label_set or {}).get("blind"))
            items = s.scalars(select(AnnotationItem).where(AnnotationItem.project_id == project_id)
                              .order_by(AnnotationItem.position)).all()
            mine = dict(s.execute(select(AnnotationVote.item_id, AnnotationVote.label).join(
                AnnotationItem, AnnotationItem.id == AnnotationVote.item_id).where(
                AnnotationItem.project_id == project_id, AnnotationVote.user_id == user_id)).all())
        out = [{**self._item_dict(it), "mine": mine.get(it.id)} for it in items]
        for d in out:
            d.pop("review")
            if blind:
                d["prelabel"] = None
        return {"items": out, "done": sum(1 for d in out if d["mine"]), "total": len(out)}

    # -- votes and reviews ----------------------------------------------------------------------------------------
    def _item_of(self, s, user_id: str, project_id: str, item_id: str) -> tuple[str | None, AnnotationItem | None,
                                                                              AnnotationProject | None]:
        role = self._role(s, user_id, project_id)
        it = s.get(AnnotationItem, item_id) if role else None
        if it is None or it.project_id != project_id:
            return None, None, None
        return role, it, s.get(AnnotationProject, project_id)

    def vote(self, user_id: str, project_id: str, item_id: str, label: str | None,
             aus: dict[str, str] | None = None) -> bool:
        """Set (or with ``label=None`` withdraw) ``user_id``'s vote; False when not theirs to vote on.
        ValueError for a label or AU outside the project's set."""
        with self._session.begin() as s:
            role, it, p = self._item_of(s, user_id, project_id, item_id)
            if it is None:
                return False
            email = s.scalar(select(User.email).where(User.id == user_id))
            v = s.scalar(select(AnnotationVote).where(AnnotationVote.item_id == item_id,
                                                      AnnotationVote.user_id == user_id))
            if label is None:
                if v is not None:
                    s.delete(v)
                return True
            lab, au = LabelSet.from_dict(p.label_set).check_vote(label, aus)
            if v is None:
                s.add(AnnotationVote(id=str(uuid.uuid4()), item_id=item_id, user_id=user_id, annotator=email,
                                     label=lab, aus=au, created_at=utcnow()))
            else:
                v.label, v.aus = lab, au
        return True

    def review(self, user_id: str, project_id: str, item_id: str, label: str | None) -> bool:
        """A reviewer or the owner sets (or clears) the item's final label."""
        with self._session.begin() as s:
            role, it, p = self._item_of(s, user_id, project_id, item_id)
            if it is None or role not in ("owner", "reviewer"):
                return False
            if label is None:
                it.review, it.reviewer = None, None
                return True
            lab, _ = LabelSet.from_dict(p.label_set).check_vote(label)
            it.review, it.reviewer = lab, s.scalar(select(User.email).where(User.id == user_id))
        return True

    def items(self, user_id: str, project_id: str) -> list[Item] | None:
        """Every item with all votes, as :class:`mimetic.annotate.Item` (paths to the kept images), for the
        agreement and the exports. Annotators see only their own votes; the owner and reviewers see all."""
        with self._session() as s:
            role = self._role(s, user_id, project_id)
            if not role:
                return None
            rows = s.scalars(select(AnnotationItem).where(AnnotationItem.project_id == project_id)
                             .order_by(AnnotationItem.position)).all()
            q = select(AnnotationVote).join(AnnotationItem, AnnotationItem.id == AnnotationVote.item_id).where(
                AnnotationItem.project_id == project_id)
            if role == "annotator":
                q = q.where(AnnotationVote.user_id == user_id)
            votes: dict[str, list[Vote]] = {}
            for v in s.scalars(q.order_by(AnnotationVote.annotator)):
                votes.setdefault(v.item_id, []).append(Vote(v.annotator, v.label, dict(v.aus or {})))
        folder = self.folder(project_id)
        out = []
        for it in rows:
            pl = it.prelabel or {}
            out.append(Item(name=it.name, votes=votes.get(it.id, []), review=it.review, reviewer=it.reviewer,
                            path=str(folder / f"{it.id}.jpg"), prediction=pl.get("scores"),
                            prediction_aus=pl.get("aus"), meta={"id": it.id}))
        return out

    def import_items(self, user_id: str, project_id: str, items: Iterable[Item],
                     load: Callable[[Item], np.ndarray | None]) -> dict[str, int] | None:
        """Add items with their votes and review (e.g. from Label Studio): ``load(item)`` gives its pixels (None:
        skipped). Votes keep the annotator names they came with."""
        n = {"items": 0, "votes": 0, "skipped": 0}
        if self.role(user_id, project_id) != "owner":
            return None
        for it in items:
            rgb = load(it)
            if rgb is None:
                n["skipped"] += 1
                continue
            pre = {"face": True, "box": None, "scores": it.prediction, "label": it.predicted,
                   "aus": it.prediction_aus or {}} if it.prediction else None
            d = self.add_image(user_id, project_id, it.name, rgb, prelabel=pre, source="import")
            if d is None or d["duplicate"]:
                n["skipped"] += 1
                continue
            with self._session.begin() as s:
                p = s.get(AnnotationProject, project_id)
                ls = LabelSet.from_dict(p.label_set)
                row = s.get(AnnotationItem, d["id"])
                for v in it.votes:
                    lab, au = ls.check_vote(v.label, v.aus)
                    s.add(AnnotationVote(id=str(uuid.uuid4()), item_id=row.id, user_id=None,
                                           annotator=v.annotator[:254], label=lab, aus=au, created_at=utcnow()))
                    n["votes"] += 1
                if it.review:
                    row.review, row.reviewer = ls.check_vote(it.review)[0], it.reviewer
            n["items"] += 1
        return n
