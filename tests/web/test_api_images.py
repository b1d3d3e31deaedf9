"""POST /api/v1/images and its files: results, files, deletion, and every error."""

from __future__ import annotations

import io
import json
import time

import numpy as np
import pytest
from webtools import IMAGES
from PIL import Image

ASTRONAUT = (IMAGES / "astronaut_nasa.jpg").read_bytes()


def error_of(response, status: int) -> str:
    assert response.status_code == status, (response.status_code, response.text[:300])
    body = response.json()
    assert body["error"]["status"] == status and body["error"]["message"]
    return body["error"]["message"]


def test_multipart_photo_gives_one_happy_face_and_its_files(client):
    r = client.post("/api/v1/images", files={"file": ("astronaut.jpg", ASTRONAUT, "image/jpeg")})
    assert r.status_code == 200, r.text
    d = r.json()
    assert d["faces"] == 1 and d["width"] == 512 and d["source_name"] == "astronaut.jpg" and not d["kept"]
    face = d["result"]["faces"][0]
    assert face["expression"]["label"] == "happiness"
    assert len(face["landmarks"]) == 478 and face["aus"]["AU12"]["present"]
    assert d["result"]["schema_version"] == "1.0"
    overlay = client.get(d["overlay_url"])
    assert overlay.headers["content-type"] == "image/jpeg"
    assert Image.open(io.BytesIO(overlay.content)).size == (512, 512)
    muscle = client.get(d["muscle_map_urls"][0])
    assert muscle.status_code == 200 and Image.open(io.BytesIO(muscle.content)).width > 100
    csv = client.get(d["csv_url"])
    assert csv.headers["content-type"].startswith("text/csv")
    lines = csv.text.strip().splitlines()
    assert len(lines) == 2 and "AU12_r" in lines[0]
    doc = client.get(d["json_url"]).json()
    assert doc["faces"][0]["expression"]["label"] == "happiness"
    dl = client.get(d["csv_url"], params={"download": "true"})
    assert dl.headers["content-disposition"].startswith("attachment")
    again = client.get(f"/api/v1/images/{d['id']}").json()
    assert again["result"]["faces"][0]["box"] == face["box"] and again["files"] == d["files"]


def test_raw_body_and_no_landmarks(client):
    r = client.post("/api/v1/images", params={"landmarks": "false", "render": "false"}, content=ASTRONAUT,
                    headers={"content-type": "application/octet-stream"})
    assert r.status_code == 200, r.text
    d = r.json()
    face = d["result"]["faces"][0]
    assert "landmarks" not in face and face["expression"]["label"] == "happiness"
    assert d["overlay_url"] is None and set(d["files"]) == {"result.json", "result.csv"}


def test_photo_without_a_face(client):
    img = Image.fromarray(np.full((200, 300, 3), 90, np.uint8))
    buf = io.BytesIO()
    img.save(buf, format="PNG")
    d = client.post("/api/v1/images", files={"file": ("grey.png", buf.getvalue(), "image/png")}).json()
    assert d["faces"] == 0 and d["result"]["faces"] == [] and d["muscle_map_urls"] == []


def test_upload_is_deleted_unless_kept(client):
    folder = client.app.state.services.images.root
    d = client.post("/api/v1/images", files={"file": ("a.jpg", ASTRONAUT, "image/jpeg")}).json()
    stored = sorted(p.name for p in (folder / d["id"]).iterdir())
    assert not any(p.startswith("source") for p in stored), stored
    assert all(p.read_bytes() != ASTRONAUT for p in (folder / d["id"]).iterdir())
    kept = client.post("/api/v1/images", params={"keep": "true"},
                       files={"file": ("a.jpg", ASTRONAUT, "image/jpeg")}).json()
    assert kept["kept"] and "source.jpg" in kept["files"]
    assert client.get(kept["files"]["source.jpg"]).content == ASTRONAUT


def test_delete_removes_everything(client):
    d = client.post("/api/v1/images", files={"file": ("a.jpg", ASTRONAUT, "image/jpeg")}).json()
    folder = client.app.state.services.images.root / d["id"]
    assert folder.is_dir()
    assert client.delete(f"/api/v1/images/{d['id']}").status_code == 204
    assert not folder.exists()
    error_of(client.get(f"/api/v1/images/{d['id']}"), 404)
    error_of(client.get(d["overlay_url"]), 404)
    error_of(client.delete(f"/api/v1/images/{d['id']}"), 404)


@pytest.mark.parametrize("path", [
    "/api/v1/images/00000000-0000-4000-8000-000000000000",
    "/api/v1/images/not-a-uuid",
    "/api/v1/images/..%2F..%2Fetc/files/passwd",
    "/api/v1/images/00000000-0000-4000-8000-000000000000/files/overlay.jpg",
])
def test_unknown_ids_are_404(client, path):
    error_of(client.get(path), 404)


def test_file_names_are_only_keys(client):
    d = client.post("/api/v1/images", params={"render": "false"},
                    files={"file": ("a.jpg", ASTRONAUT, "image/jpeg")}).json()
    for name in ("meta.json", "..%2Fmimetic.db", "overlay.jpg", "%2Fetc%2Fpasswd"):
        r = client.get(f"/api/v1/images/{d['id']}/files/{name}")
        assert r.status_code == 404, name


def test_wrong_type_is_415(client):
    msg = error_of(client.post("/api/v1/images", files={"file": ("photo.jpg", b"%PDF-1.4 not an image" * 20,
                                                                  "image/jpeg")}), 415)
    assert "not an image" in msg and "photo.jpg" in msg
    # a video sent to the photo endpoint is not an image either
    video = (IMAGES.parent / "videos" / "single_face.mp4").read_bytes()
    error_of(client.post("/api/v1/images", content=video, headers={"content-type": "image/jpeg"}), 415)


def test_truncated_and_empty_are_422(client):
    msg = error_of(client.post("/api/v1/images", files={"file": ("cut.jpg", ASTRONAUT[: len(ASTRONAUT) // 2],
                                                                 "image/jpeg")}), 422)
    assert "truncated" in msg
    assert "empty" in error_of(client.post("/api/v1/images", content=b"",
                                           headers={"content-type": "image/jpeg"}), 422)
    assert "no file" in error_of(client.post("/api/v1/images", data={"other": "x"},
                                             files={"notfile": (None, b"abc")}), 422)


def test_bad_parameters_are_422(client):
    msg = error_of(client.post("/api/v1/images?min_face=-3", content=ASTRONAUT), 422)
    assert "min_face" in msg
    error_of(client.post("/api/v1/images?keep=maybe", content=ASTRONAUT), 422)


def test_oversize_is_413_while_streaming(client_factory):
    c = client_factory(max_image_bytes=50_000)
    # declared too large: refused before reading
    msg = error_of(c.post("/api/v1/images", files={"file": ("a.jpg", ASTRONAUT, "image/jpeg")}), 413)
    assert "0.0476837 MB" in msg or "limit" in msg

    # no Content-Length (chunked): refused once the limit is passed
    def chunks():
        for i in range(0, len(ASTRONAUT), 8192):
            yield ASTRONAUT[i:i + 8192]

    error_of(c.post("/api/v1/images", content=chunks(), headers={"content-type": "image/jpeg"}), 413)


def test_too_many_pixels_is_413(client_factory):
    c = client_factory(max_image_pixels=100_000)
    assert "megapixel" in error_of(c.post("/api/v1/images", content=ASTRONAUT), 413)


def test_time_limit_is_504(client_factory):
    c = client_factory(request_timeout=0.001)
    assert "time limit" in error_of(c.post("/api/v1/images", content=ASTRONAUT), 504)


def test_slow_upload_is_408(client_factory):
    c = client_factory(upload_timeout=0.3)

    def slow():
        yield ASTRONAUT[:1000]
        time.sleep(1.0)
        yield ASTRONAUT[1000:]

    assert "took longer" in error_of(c.post("/api/v1/images", content=slow(),
                                            headers={"content-type": "image/jpeg"}), 408)


def test_busy_is_503(client_factory):
    c = client_factory(max_pending_images=1)
    pool = c.app.state.services.image_pool
    pool._pending = pool.max_pending  # as if that many photos were waiting
    try:
        r = c.post("/api/v1/images", content=ASTRONAUT)
        error_of(r, 503)
        assert r.headers["retry-after"]
    finally:
        pool._pending = 0


def test_results_expire(client_factory):
    c = client_factory(image_ttl=0.5)
    d = c.post("/api/v1/images", params={"render": "false"}, content=ASTRONAUT).json()
    assert d["expires_at"]
    time.sleep(0.7)
    images = c.app.state.services.images
    assert images.expire() == 1
    assert not (images.root / d["id"]).exists()
    error_of(c.get(f"/api/v1/images/{d['id']}"), 404)


def test_meta_never_lists_a_path(client):
    d = client.post("/api/v1/images", params={"render": "false"},
                    files={"file": ("../../etc/passwd.jpg", ASTRONAUT, "image/jpeg")}).json()
    assert d["source_name"] == "passwd.jpg"
    raw = json.dumps(d)
    assert str(client.app.state.services.settings.data_dir) not in raw
