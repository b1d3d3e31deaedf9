// Photo page: upload (drag and drop or choose), then the annotated picture and one card per face.
import { API, boot, t, el, $, num, percent, barRow, lrBar, apiError, setStatus, dropZone, exprName, auName } from "./common.js";

// Box colours of the overlay (mimetic.render.overlay.PALETTE), so card numbers match the picture.
const PALETTE = ["rgb(255,196,0)", "rgb(0,200,255)", "rgb(255,90,160)", "rgb(120,230,90)", "rgb(190,130,255)", "rgb(255,140,60)"];
const AU_SHOWN = 0.1; // AUs below this intensity are folded away until "show all"

const drop = $("#drop");
const input = $("#file");
const status = $("#status");
const results = $("#results");
let current = null;

dropZone(drop, input, analyse);

$("#delete").addEventListener("click", async () => {
  if (!current) return;
  const r = await fetch(`${API}/images/${current.id}`, { method: "DELETE" });
  if (r.ok || r.status === 404) {
    results.hidden = true;
    current = null;
    setStatus(status, t("photo.deleted"));
  } else {
    setStatus(status, await apiError(r), "error");
  }
});

async function analyse(file) {
  const limit = boot.limits.max_image_mb * 1024 * 1024;
  if (file.size > limit) {
    setStatus(status, t("error.too_large", { mb: boot.limits.max_image_mb }), "error");
    return;
  }
  setStatus(status, t("photo.analysing", { name: file.name }), "busy");
  const form = new FormData();
  form.append("file", file, file.name);
  const keep = $("#keep").checked ? "true" : "false";
  let response;
  try {
    response = await fetch(`${API}/images?keep=${keep}`, { method: "POST", body: form });
  } catch (e) {
    setStatus(status, t("error.network"), "error");
    return;
  }
  if (!response.ok) {
    setStatus(status, await apiError(response), "error");
    return;
  }
  current = await response.json();
  show(current);
  setStatus(status, "");
}

function show(data) {
  const faces = (data.result && data.result.faces) || [];
  const overlay = $("#overlay");
  overlay.src = data.overlay_url || "";
  $("#caption").textContent = t("photo.caption", { w: data.width, h: data.height });
  $("#summary-title").textContent = faces.length === 0 ? t("photo.faces_none")
    : faces.length === 1 ? t("photo.faces_one") : t("photo.faces_many", { n: faces.length });
  const facts = $("#summary");
  facts.replaceChildren();
  const fact = (k, v) => facts.append(el("dt", { text: k }), el("dd", { text: v }));
  if (data.source_name) fact(t("photo.file"), data.source_name);
  fact(t("photo.size"), `${data.width} × ${data.height}`);
  fact(t("photo.faces"), String(faces.length));
  if (data.timings_ms) fact(t("photo.time"), `${Math.round((data.timings_ms.decode || 0) + (data.timings_ms.analysis || 0))} ms`);
  if (data.expires_at) fact(t("photo.expires"), new Date(data.expires_at).toLocaleString(boot.lang));
  const link = (id, url) => {
    const a = $(id);
    a.hidden = !url;
    if (url) a.href = url + "?download=true";
  };
  link("#dl-json", data.json_url);
  link("#dl-csv", data.csv_url);
  link("#dl-overlay", data.overlay_url);

  const list = $("#faces");
  list.replaceChildren();
  if (faces.length === 0) {
    list.append(el("div", { class: "card empty", text: t("photo.no_face") }));
  }
  faces.forEach((face, i) => list.append(faceCard(face, i + 1, (data.muscle_map_urls || [])[i])));
  results.hidden = false;
}

function faceCard(face, n, mapUrl) {
  const expr = face.expression;
  const badge = el("span", { class: "face-num", text: String(n) });
  badge.style.background = PALETTE[(n - 1) % PALETTE.length];
  const head = el("div", { class: "face-head" }, [
    badge,
    el("h2", { text: t("face.title", { n }) }),
    expr ? el("span", { class: "chip expression-label", dataset: { label: expr.label } },
      `${exprName(expr.label)} ${num((expr.scores || {})[expr.label], 2)}`) : null,
    face.pose ? el("span", { class: "pose", text: t("face.pose", {
      yaw: num(face.pose.yaw, 0), pitch: num(face.pose.pitch, 0), roll: num(face.pose.roll, 0) }) }) : null,
  ]);

  const exprSection = el("section", {}, [el("h3", { text: t("face.expression") })]);
  if (expr && expr.scores) {
    const bars = el("div", { class: "bars" });
    const entries = Object.entries(expr.scores).sort((a, b) => b[1] - a[1]);
    entries.forEach(([label, score]) => bars.append(barRow(exprName(label), score, 1, { top: label === expr.label })));
    exprSection.append(bars);
  } else {
    exprSection.append(el("p", { class: "muted", text: t("face.not_available") }));
  }
  if (typeof face.score === "number") {
    exprSection.append(el("p", { class: "muted small", text: t("face.score", { score: num(face.score, 2) }) }));
  }

  const auSection = el("section", {}, [el("h3", { text: t("face.aus") })]);
  auSection.append(auTable(face.aus || {}));

  const mapSection = el("section", {}, [el("h3", { text: t("face.muscles") })]);
  if (mapUrl) {
    mapSection.append(el("img", { class: "muscle-map", src: mapUrl, alt: t("face.muscles_alt", { n }), loading: "lazy" }));
  } else {
    mapSection.append(el("p", { class: "muted", text: t("face.not_available") }));
  }
  const nerves = face.nerves || {};
  if (Object.keys(nerves).length) {
    mapSection.append(el("h3", { text: t("face.nerves"), class: "spaced" }));
    mapSection.append(lrLegend());
    const box = el("div", { class: "nerve-bars" });
    for (const [branch, v] of Object.entries(nerves)) {
      const label = t("nerve." + branch);
      box.append(el("div", { class: "nerve-row" }, [
        el("span", { class: "name", text: label === "nerve." + branch ? branch.replace(/_/g, " ") : label }),
        lrBar(v.right, v.left, 1),
      ]));
    }
    mapSection.append(box);
  }

  const card = el("article", { class: "card face-card", dataset: { face: String(n) } }, [
    head,
    el("div", { class: "face-body" }, [exprSection, auSection, mapSection]),
  ]);
  const sym = symmetry(face.symmetry);
  if (sym) card.append(el("div", { class: "face-foot" }, sym));
  return card;
}

function lrLegend() {
  return el("div", { class: "lr-legend" }, [
    el("span", {}, [el("span", { class: "dot r" }), t("face.right")]),
    el("span", {}, [el("span", { class: "dot l" }), t("face.left")]),
  ]);
}

function auTable(aus) {
  const codes = Object.keys(aus).sort((a, b) => parseInt(a.slice(2), 10) - parseInt(b.slice(2), 10));
  if (!codes.length) return el("p", { class: "muted", text: t("face.not_available") });
  const wrap = el("div");
  wrap.append(lrLegend());
  const table = el("table", { class: "au-table" });
  table.append(el("thead", {}, el("tr", {}, [
    el("th", { text: "AU" }), el("th", { text: t("face.au_name") }),
    el("th", { text: t("face.right_left") }), el("th", { class: "num", text: t("face.intensity") }),
  ])));
  const body = el("tbody");
  let hidden = 0;
  for (const code of codes) {
    const v = aus[code] || {};
    const intensity = Number(v.intensity) || 0;
    const row = el("tr", { class: (v.present ? "present" : "") + (intensity < AU_SHOWN ? " dim" : "") }, [
      el("td", { class: "code", text: code }),
      el("td", { class: "au-name", text: auName(code) }),
      el("td", {}, lrBar(v.right, v.left, 5)),
      el("td", { class: "num", text: `${num(v.right, 1)} / ${num(v.left, 1)}` }),
    ]);
    if (intensity < AU_SHOWN) { row.hidden = true; hidden += 1; }
    body.append(row);
  }
  table.append(body);
  wrap.append(table);
  if (hidden) {
    const toggle = el("button", { type: "button", class: "linkish", text: t("face.show_all", { n: codes.length }) });
    toggle.addEventListener("click", () => {
      const show = toggle.dataset.open !== "1";
      toggle.dataset.open = show ? "1" : "0";
      body.querySelectorAll("tr.dim").forEach((r) => { r.hidden = !show; });
      toggle.textContent = show ? t("face.show_active") : t("face.show_all", { n: codes.length });
    });
    wrap.append(toggle);
  }
  wrap.append(el("p", { class: "muted small", text: t("face.au_scale") }));
  return wrap;
}

function unitOf(key) {
  if (key.endsWith("_mm")) return " mm";
  if (key.endsWith("_deg")) return "°";
  return "";
}

function symmetry(sym) {
  if (!sym || !sym.regions || !Object.keys(sym.regions).length) return null;
  const out = [el("h3", { text: t("face.symmetry") })];
  const flagged = sym.flagged || [];
  out.push(el("p", { class: flagged.length ? "flag" : "okay", text: flagged.length
    ? t("face.sym_flagged", { regions: flagged.map(regionName).join(", ") }) : t("face.sym_ok") }));
  const table = el("table", { class: "table symmetry" });
  table.append(el("thead", {}, el("tr", {}, [
    el("th", { text: t("face.measure") }), el("th", { class: "num", text: t("face.right") }),
    el("th", { class: "num", text: t("face.left") }), el("th", { class: "num", text: t("face.asymmetry") }),
    el("th", { text: "" }),
  ])));
  const body = el("tbody");
  for (const [key, r] of Object.entries(sym.regions)) {
    const unit = unitOf(key);
    body.append(el("tr", {}, [
      el("td", { text: regionName(key) }),
      el("td", { class: "num", text: num(r.right, 1) + unit }),
      el("td", { class: "num", text: num(r.left, 1) + unit }),
      el("td", { class: "num", text: percent(r.asymmetry, 0) }),
      el("td", { class: r.flag ? "flag" : "", text: r.flag ? t("face.flag") : "" }),
    ]));
  }
  table.append(body);
  out.push(table);
  const band = sym.normal_band;
  if (Array.isArray(band)) out.push(el("p", { class: "muted small", text: t("face.sym_band", { hi: percent(band[1], 0) }) }));
  if (sym.contempt_check && sym.contempt_check.flag) out.push(el("p", { class: "note", text: t("face.contempt_note") }));
  return out;
}

function regionName(key) {
  const label = t("sym." + key);
  return label === "sym." + key ? key.replace(/_(mm|deg)$/, "").replace(/_/g, " ") : label;
}
