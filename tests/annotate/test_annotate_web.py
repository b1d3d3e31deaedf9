"""The labelling pages and /api/v1/projects through FastAPI's TestClient (issue 20): create a project, upload a zip
and an image, vote as two annotators, review, export; outsiders get 404, annotators 403 where they may not go, bad
uploads and missing CSRF tokens are refused."""

from __future__ import annotations

import io
import json
import warnings
import zipfile

import pytest
from testdata import IMAGES

PASSWORD = "correct horse battery staple"


@pytest.fixture(scope="module")
def client(tmp_path_factory):
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=".*httpx2.*")
        from fastapi.testclient import TestClient

    from mimetic.web.app import create_app
    from mimetic.web.settings import Settings

    data = tmp_path_factory.mktemp("annotate-web")
    s = Settings(data_dir=data, database_url=f"sqlite:///{data / 'mimetic.db'}", image_workers=1, job_workers=1,
                 janitor_interval=3600, allowed_hosts="localhost,127.0.0.1,::1,testserver")
    with TestClient(create_app(s, warm=False)) as c:
        yield c


class Person:
    def __init__(self, client, email: str):
        svc = client.app.state.services
        self.id = svc.accounts.create_user(email, PASSWORD, role="clinician").id
        token, csrf = svc.accounts.start_login(self.id)
        self.email = email
        self.h = {"Cookie": f"mimetic_session={token}", "X-CSRF-Token": csrf}
        self.page = {"Cookie": f"mimetic_session={token}"}


@pytest.fixture(scope="module")
def people(client):
    return {n: Person(client, f"{n}@example.org") for n in ("ana", "bo", "cy")}


def _zip(names) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        for n in names:
            z.write(IMAGES / n, f"faces/{n}")
    return buf.getvalue()


def test_labelling_flow(client, people, tmp_path):
    ana, bo, cy = people["ana"], people["bo"], people["cy"]
    r = client.post("/api/v1/projects", json={"name": "Clinic", "labels": "neutral,happiness,sadness"}, headers=ana.h)
    assert r.status_code == 201, r.text
    pid = r.json()["id"]
    base = f"/api/v1/projects/{pid}"
    assert client.post("/api/v1/projects", json={"name": "x"}, headers=ana.page).status_code == 403  # no CSRF
    files = {"file": ("faces.zip", _zip(["biden_portrait.jpg", "obama_portrait.jpg", "two_people.jpg"]),
                      "application/zip")}
    r = client.post(f"{base}/images?prelabel=false", files=files, headers=ana.h)
    assert r.status_code == 200 and r.json()["added"] == 3, r.text
    one = {"file": ("me.jpg", (IMAGES / "single_face.jpg").read_bytes(), "image/jpeg")}
    r = client.post(f"{base}/images", files=one, headers=ana.h)  # pre-labelled by the photo worker's Analyzer
    assert r.status_code == 200 and r.json()["added"] == 1, r.text

    # outsiders: 404 everywhere, as for a project that does not exist
    q = client.get(f"{base}/queue", headers=ana.h).json()
    item = q["items"][0]["id"]
    assert q["total"] == 4 and q["items"][3]["name"] == "me.jpg" and q["items"][3]["prelabel"]["face"]
    for url in (base, f"{base}/queue", f"{base}/items/{item}/crop", f"{base}/agreement", f"{base}/export"):
        assert client.get(url, headers=bo.h).status_code == 404, url
    assert client.put(f"{base}/items/{item}/vote", json={"label": "neutral"}, headers=bo.h).status_code == 404
    assert client.get(f"/annotate/{pid}", headers=bo.page).status_code == 404
    assert client.get("/api/v1/projects", headers=bo.h).json()["projects"] == []

    r = client.post(f"{base}/members", json={"email": "bo@example.org", "role": "annotator"}, headers=ana.h)
    assert r.status_code == 200 and {m["role"] for m in r.json()["members"]} == {"owner", "annotator"}
    assert client.post(f"{base}/members", json={"email": "cy@example.org", "role": "reviewer"},
                       headers=bo.h).status_code == 403
    assert client.get(f"{base}/items/{item}/crop", headers=bo.h).headers["content-type"] == "image/jpeg"
    assert client.get(f"{base}/agreement", headers=bo.h).status_code == 403  # annotators label only
    assert client.get(f"{base}/export", headers=bo.h).status_code == 403

    ids = [d["id"] for d in q["items"]]
    for who, labels in ((ana, ["happiness", "neutral", "not_a_face", "happiness"]),
                        (bo, ["happiness", "sadness", "not_a_face", "happiness"])):
        for i, lab in zip(ids, labels):
            assert client.put(f"{base}/items/{i}/vote", json={"label": lab}, headers=who.h).status_code == 200
    assert client.put(f"{base}/items/{ids[0]}/vote", json={"label": "anger"}, headers=bo.h).status_code == 422
    assert client.get(f"{base}/queue", headers=bo.h).json()["done"] == 4
    ag = client.get(f"{base}/agreement", headers=ana.h).json()
    assert ag["agreement"]["cohen"] == pytest.approx(0.636, abs=1e-3)  # po 3/4, pe 5/16
    assert [it["needs_review"] for it in ag["items"]] == [False, True, False, False]
    assert client.put(f"{base}/items/{ids[1]}/review", json={"label": "sadness"}, headers=bo.h).status_code == 403
    assert client.put(f"{base}/items/{ids[1]}/review", json={"label": "sadness"}, headers=ana.h).status_code == 200

    r = client.get(f"{base}/export?format=folders&valid_fraction=0", headers=ana.h)
    assert r.status_code == 200 and r.headers["content-type"] == "application/zip"
    with zipfile.ZipFile(io.BytesIO(r.content)) as z:
        z.extractall(tmp_path / "folders")
    from mimetic.train.datasets import read_folder

    assert read_folder(tmp_path / "folders").counts() == {"neutral": 0, "happiness": 2, "sadness": 1, "surprise": 0,
                                                          "anger": 0, "disgust": 0, "fear": 0, "contempt": 0}
    tasks = client.get(f"{base}/export?format=labelstudio", headers=ana.h).json()
    assert len(tasks) == 4 and len(tasks[0]["annotations"]) == 2 and tasks[1]["annotations"][-1]["ground_truth"]

    for path in ("/annotate", f"/annotate/{pid}", f"/annotate/{pid}/label", f"/annotate/{pid}/review"):
        r = client.get(path, headers=ana.page)
        assert r.status_code == 200 and "/static/js/annotate.js" in r.text, path
    assert client.get(f"/annotate/{pid}/review", headers=bo.page).status_code == 403
    assert client.get("/annotate", follow_redirects=False).status_code == 303  # log in first
    assert client.get("/static/js/annotate.js").status_code == 200

    assert client.get(base, headers=cy.h).status_code == 404
    folder = client.app.state.annotation_store.folder(pid)
    assert folder.is_dir() and client.delete(base, headers=bo.h).status_code == 403
    assert client.delete(base, headers=ana.h).status_code == 204
    assert client.get(base, headers=ana.h).status_code == 404 and not folder.exists()


def test_bad_uploads(client, people):
    ana = people["ana"]
    pid = client.post("/api/v1/projects", json={"name": "Bad"}, headers=ana.h).json()["id"]
    url = f"/api/v1/projects/{pid}/images?prelabel=false"
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        z.writestr("../../evil.jpg", (IMAGES / "single_face.jpg").read_bytes())
    r = client.post(url, files={"file": ("evil.zip", buf.getvalue())}, headers=ana.h)
    assert r.status_code == 422 and "outside the archive" in r.json()["error"]["message"]
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        z.writestr("notes.txt", "hello")
    r = client.post(url, files={"file": ("notes.zip", buf.getvalue())}, headers=ana.h)
    assert r.status_code == 422 and "notes.txt: not an image" in r.json()["error"]["message"]
    r = client.post(url, files={"file": ("x.jpg", b"not an image at all")}, headers=ana.h)
    assert r.status_code == 422
    assert client.post("/api/v1/projects", json={"name": "x", "labels": "only"}, headers=ana.h).status_code == 422


def test_openapi_lists_the_project_routes(client):
    paths = client.get("/api/v1/openapi.json").json()["paths"]
    assert {"/api/v1/projects", "/api/v1/projects/{project_id}/items/{item_id}/vote",
            "/api/v1/projects/{project_id}/export"} <= set(paths)
    assert json.dumps(paths).count('"annotation"') >= 10
