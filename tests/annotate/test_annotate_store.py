"""The annotation store (issue 20): scoping per member, votes and reviews, files kept and deleted, imports."""

from __future__ import annotations

import io
import zipfile

import pytest
from testdata import IMAGES

from mimetic.annotate import LabelSet
from mimetic.annotate.agreement import agreement
from mimetic.annotate.exports import from_labelstudio, to_labelstudio
from mimetic.annotate.ingest import Refused, members, zip_members
from mimetic.errors import InputError
from mimetic.media.images import read_image


def _project(store, people, n=3):
    ana = people["ana"].id
    p = store.create_project(ana, "Clinic A", LabelSet.parse("neutral,happiness,sadness"))
    items = [store.add_image(ana, p.id, f.name, read_image(f)) for f in sorted(IMAGES.glob("*.jpg"))[:n]]
    return p, items


def test_members_only(store, people):
    p, items = _project(store, people)
    ana, bo, cy = people["ana"].id, people["bo"].id, people["cy"].id
    assert [x.id for x in store.projects(ana)] == [p.id] and store.projects(bo) == []
    assert store.get_project(bo, p.id) is None and store.items(bo, p.id) is None and store.queue(bo, p.id) is None
    assert store.item_file(bo, p.id, items[0]["id"]) is None
    assert not store.vote(bo, p.id, items[0]["id"], "neutral") and not store.delete_project(bo, p.id)
    assert store.add_image(bo, p.id, "x.jpg", read_image(IMAGES / "single_face.jpg")) is None
    assert store.set_member(ana, p.id, "bo@example.org", "annotator")
    assert not store.set_member(bo, p.id, "cy@example.org", "annotator")  # only the owner adds members
    assert store.get_project(bo, p.id).role == "annotator" and store.item_file(bo, p.id, items[0]["id"]).is_file()
    assert store.add_image(bo, p.id, "x.jpg", read_image(IMAGES / "single_face.jpg")) is None  # annotators don't
    assert store.role(cy, p.id) is None


def test_votes_agreement_and_review(store, people):
    p, items = _project(store, people)
    ana, bo, cy = people["ana"].id, people["bo"].id, people["cy"].id
    store.set_member(ana, p.id, "bo@example.org", "annotator")
    store.set_member(ana, p.id, "cy@example.org", "reviewer")
    i0, i1, i2 = (d["id"] for d in items)
    for who, labels in ((ana, ("happiness", "neutral", "sadness")), (bo, ("happiness", "sadness", "sadness"))):
        for i, lab in zip((i0, i1, i2), labels):
            assert store.vote(who, p.id, i, lab)
    with pytest.raises(ValueError):
        store.vote(bo, p.id, i0, "anger")  # not in this label set
    q = store.queue(bo, p.id)
    assert q["done"] == 3 and [d["mine"] for d in q["items"]] == ["happiness", "sadness", "sadness"]
    assert all(len(it.votes) == 1 for it in store.items(bo, p.id))  # an annotator sees only their own votes
    full = store.items(cy, p.id)
    assert [it.final for it in full] == ["happiness", None, "sadness"]
    ag = agreement(full, p.label_set.answers)
    assert ag.cohen == pytest.approx(0.5) and ag.disagreements == 1  # po 2/3, pe 1/3
    assert not store.review(bo, p.id, i1, "neutral")  # annotators do not review
    assert store.review(cy, p.id, i1, "neutral")
    assert [it.final for it in store.items(ana, p.id)][1] == "neutral"
    assert store.vote(bo, p.id, i1, None) and store.queue(bo, p.id)["done"] == 2  # back: the vote is withdrawn


def test_duplicate_names_and_pixels(store, people):
    p, items = _project(store, people, 1)
    ana = people["ana"].id
    f = sorted(IMAGES.glob("*.jpg"))[0]
    again = store.add_image(ana, p.id, f.name, read_image(f))
    assert again["duplicate"] and again["id"] == items[0]["id"]
    other = store.add_image(ana, p.id, f.name, read_image(IMAGES / "single_face.jpg"))
    assert other["name"] == f.stem + "_2.jpg"


def test_owner_deletes_everything(store, people, data_dir):
    p, items = _project(store, people)
    folder = store.folder(p.id)
    assert len(list(folder.iterdir())) == 6  # image + crop each
    assert store.delete_project(people["ana"].id, p.id)
    assert not folder.exists() and store.projects(people["ana"].id) == []


def test_user_deletion_takes_memberships(store, people, engine):
    from argon2 import PasswordHasher

    from mimetic.store.accounts import AccountStore

    p, items = _project(store, people, 1)
    store.set_member(people["ana"].id, p.id, "bo@example.org", "annotator")
    store.vote(people["bo"].id, p.id, items[0]["id"], "neutral")
    AccountStore(engine, hasher=PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1)).delete_user(
        people["bo"].id)
    assert store.items(people["ana"].id, p.id)[0].votes == []


def test_labelstudio_into_a_project_and_back(store, people, tmp_path):
    p, _ = _project(store, people)
    ana = people["ana"].id
    store.set_member(ana, p.id, "bo@example.org", "annotator")
    for d, lab in zip(store.queue(ana, p.id)["items"], ("neutral", "happiness", "not_a_face")):
        store.vote(ana, p.id, d["id"], lab)
        store.vote(people["bo"].id, p.id, d["id"], "neutral")
    tasks = to_labelstudio(store.items(ana, p.id))
    q = store.create_project(ana, "Copy", LabelSet.parse("neutral,happiness,sadness"))
    files = {f.name: f for f in IMAGES.glob("*.jpg")}
    n = store.import_items(ana, q.id, from_labelstudio(tasks), lambda it: read_image(files[it.name]))
    assert n == {"items": 3, "votes": 6, "skipped": 0}
    strip = [(it.name, it.votes, it.review) for it in store.items(ana, p.id)]
    assert [(it.name, it.votes, it.review) for it in store.items(ana, q.id)] == strip


def _zip(entries: dict[str, bytes]) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
        for k, v in entries.items():
            z.writestr(k, v)
    return buf.getvalue()


def test_bad_zips_are_refused(tmp_path):
    face = (IMAGES / "single_face.jpg").read_bytes()
    for entries, why in (({"../evil.jpg": face}, "outside"), ({"/abs.jpg": face}, "outside"),
                         ({"bomb.jpg": b"\0" * (50 << 20)}, "bomb")):
        z = tmp_path / "x.zip"
        z.write_bytes(_zip(entries))
        with pytest.raises(InputError, match=why):
            list(zip_members(z))
    z.write_bytes(_zip({"a/face.jpg": face, "notes.txt": b"hello", "__MACOSX/._face.jpg": b"x"}))
    refused: list[Refused] = []
    got = list(members(z, refused))
    assert [g.name for g in got] == ["face.jpg"] and [r.name for r in refused] == ["notes.txt"]
    (tmp_path / "y.zip").write_bytes(b"not a zip")
    with pytest.raises(InputError, match="not a readable zip"):
        list(members(tmp_path / "y.zip"))


def test_frames_of_a_video(store, people):
    from testdata import DATA

    from mimetic.annotate.ingest import video_frames

    p = store.create_project(people["ana"].id, "Video")
    out = store.ingest(people["ana"].id, p.id, video_frames(DATA / "videos" / "smile_pexels.mp4", 1.0, end=2.0))
    assert out["added"] == 2 and out["refused"] == []
    assert [d["name"] for d in store.queue(people["ana"].id, p.id)["items"]] == [
        "smile_pexels_00000.000.jpg", "smile_pexels_00001.001.jpg"]  # named by their timestamps
