"""Pages, languages, static assets, the API docs, security headers; and that nothing comes from another site."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

import mimetic.web
from mimetic.schema import load_schema

WEB = Path(mimetic.web.__file__).resolve().parent


@pytest.mark.parametrize("page", ["photo", "video", "live"])
def test_pages_render_in_english(client, page):
    r = client.get(f"/{page}", headers={"Accept-Language": "en-US,en;q=0.9"})
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/html")
    assert '<html lang="en">' in r.text
    assert f'/static/js/{page}.js' in r.text and 'id="boot"' in r.text
    csp = r.headers["content-security-policy"]
    assert "default-src 'self'" in csp and "script-src 'self'" in csp
    assert r.headers["x-content-type-options"] == "nosniff"


def test_home_redirects_to_photo(client):
    r = client.get("/?lang=ko", follow_redirects=False)
    assert r.status_code == 307 and r.headers["location"] == "/photo?lang=ko"


@pytest.mark.parametrize("header,lang,title", [
    ("zh-TW,zh;q=0.9,en;q=0.5", "zh-Hant", "照片分析"),
    ("zh-HK", "zh-Hant", "照片分析"),
    ("zh-CN,zh;q=0.9", "zh-Hans", "照片分析"),
    ("ko-KR,ko;q=0.9", "ko", "사진 분석"),
    ("fr-FR,de;q=0.8", "en", "Photo analysis"),
    ("de;q=0.9,ko;q=0.5", "ko", "사진 분석"),
])
def test_language_follows_accept_language(client, header, lang, title):
    client.cookies.clear()
    r = client.get("/photo", headers={"Accept-Language": header})
    assert f'<html lang="{lang}">' in r.text and f"<h1>{title}</h1>" in r.text


def test_lang_parameter_sets_a_cookie(client):
    client.cookies.clear()
    r = client.get("/video?lang=zh-Hans", headers={"Accept-Language": "en"})
    assert "<h1>视频分析</h1>" in r.text and "mimetic_lang=zh-Hans" in r.headers["set-cookie"]
    r = client.get("/live", headers={"Accept-Language": "en"})
    assert "<h1>实时摄像头</h1>" in r.text
    r = client.get("/live?lang=zh-Hant")
    assert "<h1>即時網路攝影機</h1>" in r.text
    client.cookies.clear()


@pytest.mark.parametrize("folder", ["", *sorted(p.name for p in (WEB / "locales").iterdir() if p.is_dir())])
def test_every_language_has_every_key(folder):
    """The main catalogue and each feature's (locales/<feature>/<lang>.json)."""
    import json

    base = WEB / "locales" / folder
    en = json.loads((base / "en.json").read_text())
    # plural forms are "key#<CLDR category>": English has #one and #other; Korean and Chinese have #other only
    only_other = {k for k in en if k.endswith("#one")}
    for lang in ("zh-Hant", "zh-Hans", "ko"):
        other = json.loads((base / f"{lang}.json").read_text())
        assert set(en) - only_other <= set(other), (lang, set(en) - only_other - set(other))
        assert not {k for k in other if "#" in k and not k.endswith("#other")}, lang  # no category they lack
        for key, text in en.items():  # the same placeholders
            if key in other:
                assert set(re.findall(r"\{\w+\}", text)) == set(re.findall(r"\{\w+\}", other[key])), (lang, key)


def test_every_text_key_used_exists():
    from mimetic.web import i18n

    en = i18n.catalogue("en")  # the main catalogue and every feature's
    used = set()
    for f in list((WEB / "templates").rglob("*.html")) + list((WEB / "static" / "js").glob("*.js")):
        used |= set(re.findall(r"""\bt\(['"]([a-z_]+\.[a-z_]+)['"]""", f.read_text()))
    used = {k for k in used if not k.endswith("_")}  # prefixes of keys built in a template ('accounts.role_' ~ role)
    assert used and used <= set(en), used - set(en)


def test_static_assets_are_served(client):
    for path in ("/static/css/app.css", "/static/js/common.js", "/static/js/photo.js", "/static/js/video.js",
                 "/static/js/live.js", "/static/js/charts.js", "/static/img/logo.svg"):
        assert client.get(path).status_code == 200, path
    assert client.get("/static/../pyproject.toml").status_code == 404


def test_nothing_is_loaded_from_another_site(client):
    """Works offline: no page, template, script or style refers to another host."""
    external = re.compile(r"""(src|href)\s*=\s*["']?(https?:)?//|url\(\s*["']?(https?:)?//|import\s.*["'](https?:)?//""")
    for f in WEB.rglob("*"):
        if f.suffix in (".html", ".js", ".css"):
            assert not external.search(f.read_text()), f
    for page in ("/photo", "/video", "/live", "/docs"):
        text = client.get(page).text
        assert not re.search(r"""(src|href)=["']https?://""", text), page


def test_api_docs_work_offline(client):
    r = client.get("/docs")
    assert r.status_code == 200 and "/static/docs/swagger-ui-bundle.js" in r.text and "cdn" not in r.text.lower()
    assert client.get("/static/docs/swagger-ui-bundle.js").status_code == 200
    spec = client.get("/api/v1/openapi.json").json()
    paths = set(spec["paths"])
    for p in ("/api/v1/images", "/api/v1/images/{image_id}", "/api/v1/images/{image_id}/files/{name}",
              "/api/v1/jobs", "/api/v1/jobs/{job_id}", "/api/v1/jobs/{job_id}/events", "/api/v1/jobs/{job_id}/timeline",
              "/api/v1/jobs/{job_id}/files/{name}", "/api/v1/health", "/api/v1/info"):
        assert p in paths, p
    assert "multipart/form-data" in spec["paths"]["/api/v1/images"]["post"]["requestBody"]["content"]
    # a photo's result is the typed result document, described as result.schema.json describes it
    comps = spec["components"]["schemas"]
    assert {"$ref": "#/components/schemas/ResultDocument"} in comps["ImageAnalysis"]["properties"]["result"]["anyOf"]
    assert comps["FaceDocument"]["properties"]["aus"]["additionalProperties"] == {
        "$ref": "#/components/schemas/AUValue"}
    defs = load_schema()["$defs"]

    def fields(schema):  # a property's type and constraints (OpenAPI leaves out the defaults of output fields)
        return {k: {a: v for a, v in p.items() if a != "default"} for k, p in schema["properties"].items()}

    for name in ("ResultDocument", "FaceDocument", "AUValue", "Sided", "Symmetry", "SymmetryRegion",
                 "RegionMovement", "ContemptCheck", "Pose", "Expression"):
        as_openapi = json.loads(json.dumps(defs[name]).replace("#/$defs/", "#/components/schemas/"))
        assert fields(comps[name]) == fields(as_openapi), name


def test_health_and_info(client):
    h = client.get("/api/v1/health").json()
    assert h["status"] == "ok" and h["job_queue_size"] >= 1
    info = client.get("/api/v1/info").json()
    assert info["expressions"][1] == "happiness" and "AU12" in info["aus"]
    assert info["limits"]["max_image_bytes"] == 20 * 1024 * 1024 and info["limits"]["max_video_bytes"] == 200 * 1024 * 1024
    assert set(info["languages"]) == {"en", "zh-Hant", "zh-Hans", "ko"}


def test_unknown_routes_are_json_404(client):
    r = client.get("/api/v1/nothing")
    assert r.status_code == 404 and r.json()["error"]["code"] == "not_found"
    r = client.put("/api/v1/images")
    assert r.status_code == 405 and r.json()["error"]["status"] == 405
