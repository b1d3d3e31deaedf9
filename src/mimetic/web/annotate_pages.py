"""Labelling projects in the browser (issue 20): the pages under ``/annotate`` and the JSON under
``/api/v1/projects`` (in the OpenAPI document, tag ``annotation``).

Every route needs a login. A project someone is not a member of answers 404, exactly like one that does not exist
(its images, votes, agreement and exports included); members whose role does not allow an action get 403. Anything
that changes state needs the login's CSRF token (header ``X-CSRF-Token``). Uploaded images are kept in the data
directory (``annotation/<project>/``) until the owner deletes the project: the pages say so.
"""

from __future__ import annotations

import shutil
import tempfile
import uuid
import zipfile
from pathlib import Path
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Body, Depends, Query, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import FileResponse, HTMLResponse, RedirectResponse, Response
from pydantic import BaseModel, Field
from starlette.background import BackgroundTask

from mimetic.web.auth import check_csrf, current_user, login_url
from mimetic.web.errors import ApiError

pages = APIRouter(include_in_schema=False)
api = APIRouter(prefix="/api/v1/projects", tags=["annotation"])

EXPORT_FORMATS = ("folders", "csv", "votes", "labelstudio")


# -- the store and who is asking ------------------------------------------------------------------------------------
def store(request: Request):
    """The app's :class:`~mimetic.store.annotation.AnnotationStore` (made on first use, on the jobs' database)."""
    st = getattr(request.app.state, "annotation_store", None)
    if st is None:
        from mimetic.store.annotation import AnnotationStore

        svc = request.app.state.services
        st = request.app.state.annotation_store = AnnotationStore(svc.store.engine,
                                                                  Path(svc.settings.data_dir).expanduser())
    return st


def _user(request: Request):
    user = current_user(request)
    if user is None:
        raise ApiError(401, "log in first", code="unauthenticated")
    return user


def _project(request: Request, project_id: str, *roles: str):
    """(user, project) when the user is a member (404 otherwise) with one of ``roles`` (403 otherwise)."""
    user = _user(request)
    try:
        uuid.UUID(project_id)
    except ValueError:
        raise ApiError(404, "no such project") from None
    p = store(request).get_project(user.id, project_id)
    if p is None:
        raise ApiError(404, "no such project")
    if roles and p.role not in roles:
        raise ApiError(403, f"this needs the role {' or '.join(roles)} in the project", code="forbidden")
    return user, p


def _found(value, what: str = "no such item"):
    if value is None or value is False:
        raise ApiError(404, what)
    return value


# -- JSON -----------------------------------------------------------------------------------------------------------
class NewProject(BaseModel):
    name: str = Field(min_length=1, max_length=100)
    labels: list[str] | str | None = Field(None, description="the labels (default: the 8 expressions)")
    aus: list[str] | str | None = Field(None, description="AU checkboxes, e.g. ['AU6', 'AU12'] or 'default'")
    au_intensity: bool = True
    blind: bool = Field(False, description="annotators never see the model's suggestion")


class Member(BaseModel):
    email: str = Field(max_length=254)
    role: Literal["reviewer", "annotator"] | None = Field(None, description="null removes the member")


class VoteIn(BaseModel):
    label: str = Field(max_length=40, description="a label of the set, not_a_face or unsure")
    aus: dict[str, str | None] = Field(default_factory=dict, description="AU -> intensity A-E")


class ReviewIn(BaseModel):
    label: str | None = Field(None, max_length=40, description="the final label; null clears the review")


@api.get("", summary="The projects I am a member of")
def list_projects(request: Request) -> dict[str, Any]:
    return {"projects": [p.to_dict() for p in store(request).projects(_user(request).id)]}


@api.post("", status_code=201, dependencies=[Depends(check_csrf)], summary="Create a project (I am its owner)")
def create_project(request: Request, body: NewProject) -> dict[str, Any]:
    from mimetic.annotate.labels import LabelSet

    try:
        ls = LabelSet.parse(body.labels, body.aus, body.au_intensity, body.blind)
        return store(request).create_project(_user(request).id, body.name, ls).to_dict()
    except ValueError as e:
        raise ApiError(422, str(e)) from None


@api.get("/{project_id}", summary="A project, its members and my role")
def get_project(request: Request, project_id: str) -> dict[str, Any]:
    user, p = _project(request, project_id)
    return {**p.to_dict(), "members": store(request).members(user.id, p.id)}


@api.delete("/{project_id}", status_code=204, dependencies=[Depends(check_csrf)],
            summary="Delete a project with all its images and labels (owner)")
def delete_project(request: Request, project_id: str) -> Response:
    user, p = _project(request, project_id, "owner")
    store(request).delete_project(user.id, p.id)
    return Response(status_code=204)


@api.post("/{project_id}/members", dependencies=[Depends(check_csrf)], summary="Add, change or remove a member (owner)")
def set_member(request: Request, project_id: str, body: Member) -> dict[str, Any]:
    user, p = _project(request, project_id, "owner")
    if not store(request).set_member(user.id, p.id, body.email, body.role):
        raise ApiError(404, "no account with that e-mail address (or it is the owner's)")
    return {"members": store(request).members(user.id, p.id)}


def _kind(path: Path) -> str:
    from mimetic.media.container import sniff_container

    if zipfile.is_zipfile(path):
        return ".zip"
    with open(path, "rb") as fh:
        head = fh.read(64)
    return ".mp4" if sniff_container(head) else ".jpg"


@api.post("/{project_id}/images", dependencies=[Depends(check_csrf)],
          summary="Add images: one image, a zip of images or a video (frames at ?fps=); they are kept")
async def upload(request: Request, project_id: str,
                 fps: Annotated[float, Query(gt=0, le=30, description="video: frames per second taken")] = 1.0,
                 prelabel: Annotated[bool, Query(description="analyse each image once for the suggestion")] = True,
                 ) -> dict[str, Any]:
    from mimetic.annotate.ingest import Incoming, members
    from mimetic.errors import InputError
    from mimetic.web.uploads import receive_upload

    user, p = _project(request, project_id, "owner", "reviewer")
    st, svc = store(request), request.app.state.services
    s = svc.settings
    spool_dir = st.root / ".uploads"
    spool_dir.mkdir(parents=True, exist_ok=True)
    spool = spool_dir / uuid.uuid4().hex
    ticket = svc.image_pool.admit()
    try:
        up = await receive_upload(request, limit=s.max_video_bytes, timeout=s.upload_timeout, what="upload",
                                  path=spool)
        named = spool.with_suffix(await run_in_threadpool(_kind, spool))
        spool.rename(named)
        spool = named
        display = up.filename or f"upload{named.suffix}"

        def work(analyzer) -> dict[str, Any]:
            from mimetic.annotate.prelabel import prelabel as run

            refused: list = []
            incoming = (members(named, refused, fps=fps) if named.suffix != ".jpg"  # one image keeps its name
                        else [Incoming(display, data=named.read_bytes(), source=display)])
            return st.ingest(user.id, p.id, incoming, prelabel=(lambda rgb: run(analyzer, rgb)) if prelabel else None,
                             refused=refused)

        try:
            out = await svc.image_pool.run(work, timeout=s.upload_timeout, ticket=ticket)
        except InputError as e:
            raise ApiError(422, str(e)) from None
    finally:
        if not ticket.handed:
            ticket.release()
        spool.unlink(missing_ok=True)
    if out is None:
        raise ApiError(404, "no such project")
    if not out["added"] and not out["duplicates"] and out["refused"]:
        raise ApiError(422, "no image could be used: " + "; ".join(f"{r['name']}: {r['reason']}"
                                                                   for r in out["refused"][:5]))
    return out


@api.get("/{project_id}/queue", summary="Every item in order, with my own vote and my progress")
def queue(request: Request, project_id: str) -> dict[str, Any]:
    user, p = _project(request, project_id)
    return _found(store(request).queue(user.id, p.id), "no such project")


@api.get("/{project_id}/items/{item_id}/{kind}", summary="An item's face crop or whole image",
         response_class=FileResponse)
def item_file(request: Request, project_id: str, item_id: str, kind: Literal["crop", "image"]) -> FileResponse:
    user, p = _project(request, project_id)
    path = _found(store(request).item_file(user.id, p.id, item_id, kind))
    return FileResponse(path, media_type="image/jpeg", headers={"Cache-Control": "private, max-age=3600"})


@api.put("/{project_id}/items/{item_id}/vote", dependencies=[Depends(check_csrf)], summary="My vote on an item")
def vote(request: Request, project_id: str, item_id: str, body: VoteIn) -> dict[str, Any]:
    user, p = _project(request, project_id)
    try:
        _found(store(request).vote(user.id, p.id, item_id, body.label, body.aus))
    except ValueError as e:
        raise ApiError(422, str(e)) from None
    return {"ok": True}


@api.delete("/{project_id}/items/{item_id}/vote", status_code=204, dependencies=[Depends(check_csrf)],
            summary="Withdraw my vote on an item")
def unvote(request: Request, project_id: str, item_id: str) -> Response:
    user, p = _project(request, project_id)
    _found(store(request).vote(user.id, p.id, item_id, None))
    return Response(status_code=204)


@api.put("/{project_id}/items/{item_id}/review", dependencies=[Depends(check_csrf)],
         summary="Set or clear an item's final label (reviewer, owner)")
def review(request: Request, project_id: str, item_id: str, body: ReviewIn = Body(...)) -> dict[str, Any]:
    user, p = _project(request, project_id, "owner", "reviewer")
    try:
        _found(store(request).review(user.id, p.id, item_id, body.label))
    except ValueError as e:
        raise ApiError(422, str(e)) from None
    return {"ok": True}


@api.get("/{project_id}/agreement", summary="Votes per item, Cohen's and Fleiss' kappa, per-class agreement, the "
         "model confusion (reviewer, owner)")
def agreement(request: Request, project_id: str) -> dict[str, Any]:
    from mimetic.annotate.agreement import agreement as measure
    from mimetic.annotate.agreement import model_confusion
    from mimetic.annotate.items import needs_review

    user, p = _project(request, project_id, "owner", "reviewer")
    items = store(request).items(user.id, p.id)
    return {"agreement": measure(items, p.label_set.answers).to_dict(),
            "model": model_confusion(items, p.label_set.labels),
            "items": [{"id": it.meta["id"], "name": it.name, "votes": {v.annotator: v.label for v in it.votes},
                       "review": it.review, "final": it.final, "needs_review": needs_review(it),
                       "model": it.predicted} for it in items]}


def _export(items, p, fmt: str, valid_fraction: float, tmp: Path) -> Path:
    import json

    from mimetic.annotate import exports

    if fmt == "labelstudio":
        path = tmp / "labelstudio.json"
        path.write_text(json.dumps(exports.to_labelstudio(items), indent=1), encoding="utf-8")
        return path
    root = tmp / "export"
    if fmt == "folders":
        exports.to_folders(items, root, valid_fraction=valid_fraction)
    elif fmt == "csv":
        exports.to_csv(items, root, valid_fraction=valid_fraction)
    else:
        exports.to_votes(items, p.label_set.labels, root, valid_fraction=valid_fraction)
    root.mkdir(exist_ok=True)
    return Path(shutil.make_archive(str(tmp / "project"), "zip", root))


@api.get("/{project_id}/export", response_class=FileResponse,
         summary="Download the labels: folders, csv or votes (a zip), or labelstudio (JSON) (reviewer, owner)")
async def export(request: Request, project_id: str,
                 fmt: Annotated[Literal["folders", "csv", "votes", "labelstudio"], Query(alias="format")] = "folders",
                 valid_fraction: Annotated[float, Query(ge=0, le=0.9)] = 0.2) -> FileResponse:
    user, p = _project(request, project_id, "owner", "reviewer")
    items = store(request).items(user.id, p.id)
    tmp = Path(tempfile.mkdtemp(prefix="mimetic-export-"))
    try:
        path = await run_in_threadpool(_export, items, p, fmt, valid_fraction, tmp)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    stem = "".join(c if c.isalnum() or c in "-_" else "_" for c in p.name)[:60] or "project"
    return FileResponse(path, filename=f"{stem}-{fmt}{path.suffix}",
                        media_type="application/json" if path.suffix == ".json" else "application/zip",
                        background=BackgroundTask(shutil.rmtree, tmp, ignore_errors=True))


# -- pages ----------------------------------------------------------------------------------------------------------
def _page(request: Request, page: str, project_id: str | None = None, *roles: str) -> Response:
    from mimetic.web.pages import render

    if current_user(request) is None:
        return RedirectResponse(login_url(request), status_code=303)
    boot: dict[str, Any] = {"annotate": {"page": page}}
    if project_id is not None:
        _, p = _project(request, project_id, *roles)
        boot["annotate"]["project"] = p.to_dict()
    return render(request, f"annotate_{page}", template=f"annotate_{page}.html", boot=boot)


@pages.get("/annotate", response_class=HTMLResponse)
def projects_page(request: Request) -> Response:
    return _page(request, "projects")


@pages.get("/annotate/{project_id}", response_class=HTMLResponse)
def project_page(request: Request, project_id: str) -> Response:
    return _page(request, "project", project_id)


@pages.get("/annotate/{project_id}/label", response_class=HTMLResponse)
def label_page(request: Request, project_id: str) -> Response:
    return _page(request, "label", project_id)


@pages.get("/annotate/{project_id}/review", response_class=HTMLResponse)
def review_page(request: Request, project_id: str) -> Response:
    return _page(request, "review", project_id, "owner", "reviewer")
