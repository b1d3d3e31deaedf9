// Video page: upload with progress, a background job followed by server-sent events (and kept in the URL, so a
// reload picks it up again), then the annotated video, timeline charts (with the spotted events), the change log
// and the micro-expression table (click a row to seek), statistics, the HTML report and downloads.
import { API, boot, t, el, $, num, percent, barRow, apiError, setStatus, dropZone, exprName, auName, EXPR_COLORS } from "./common.js";
import { LineChart } from "./charts.js";

const AU_COLORS = ["#4f46e5", "#f59e0b", "#10b981", "#ef4444", "#06b6d4", "#a855f7", "#ec4899", "#84cc16", "#64748b", "#0ea5e9"];
const DEFAULT_AUS = ["AU01", "AU04", "AU06", "AU12", "AU15", "AU25"];
const RECENT_KEY = "mimetic.recentJobs";
const KIND_COLORS = { micro: "#dc2626", macro: "#ea580c" };  // as the annotated video's event markers
const DOWNLOADS = {
  "frames.csv": "download.csv", "frames.jsonl": "download.jsonl", "annotated.mp4": "download.video",
  "timeline.json": "download.timeline", "timeline.csv": "download.timeline_csv", "windows.csv": "download.windows",
  "changes.csv": "download.changes", "events.csv": "download.events", "report.html": "download.report",
};

const drop = $("#drop");
const input = $("#file");
const status = $("#status");
const uploadCard = $("#upload-card");
const progressCard = $("#progress-card");
const fill = $("#progress-fill");
const stateBadge = $("#job-state");
const results = $("#results");
const player = $("#player");
let source = null;      // the EventSource of the job being followed
let currentJob = null;
let charts = [];
let offset = 0;         // timeline time of the annotated video's first frame
let changeRows = [];    // [{row, start, end}] of the change log, to mark the one playing

dropZone(drop, input, upload);
$("#new-video").addEventListener("click", () => reset(true));
$("#delete").addEventListener("click", deleteJob);
renderRecent();

const initial = new URL(window.location.href).searchParams.get("job");
if (initial) resume(initial);

function reset(clearUrl) {
  if (source) { source.close(); source = null; }
  currentJob = null;
  uploadCard.hidden = false;
  progressCard.hidden = true;
  results.hidden = true;
  player.removeAttribute("src");
  if (clearUrl) {
    const url = new URL(window.location.href);
    url.searchParams.delete("job");
    history.replaceState(null, "", url.toString());
  }
  renderRecent();
}

function setProgress(fraction, indeterminate = false) {
  fill.classList.toggle("indeterminate", indeterminate);
  fill.style.width = (100 * Math.max(0, Math.min(1, fraction))).toFixed(1) + "%";
  $("#progressbar").setAttribute("aria-valuenow", String(Math.round(100 * fraction)));
}

function upload(file) {
  const limit = boot.limits.max_video_mb * 1024 * 1024;
  if (file.size > limit) {
    progressCard.hidden = false;
    setStatus(status, t("error.too_large", { mb: boot.limits.max_video_mb }), "error");
    return;
  }
  const q = new URLSearchParams();
  if ($("#fps").value) q.set("fps", $("#fps").value);
  q.set("annotate", $("#annotate").checked ? "true" : "false");
  q.set("keep", $("#keep").checked ? "true" : "false");
  const form = new FormData();
  form.append("file", file, file.name);
  const xhr = new XMLHttpRequest();
  xhr.open("POST", `${API}/jobs?${q}`);
  uploadCard.hidden = true;
  progressCard.hidden = false;
  results.hidden = true;
  $("#job-name").textContent = file.name;
  badge("uploading");
  setStatus(status, t("video.uploading", { pct: 0 }), "busy");
  setProgress(0);
  xhr.upload.onprogress = (e) => {
    if (!e.lengthComputable) return;
    const pct = Math.round((100 * e.loaded) / e.total);
    setProgress(e.loaded / e.total);
    setStatus(status, t("video.uploading", { pct }), "busy");
  };
  xhr.onerror = () => { failed(t("error.network")); };
  xhr.onload = () => {
    let body = null;
    try { body = JSON.parse(xhr.responseText); } catch (e) { /* not JSON */ }
    if (xhr.status !== 202 || !body) {
      failed((body && body.error && body.error.message) || t("error.http", { status: xhr.status }));
      $("#new-video").hidden = false;
      return;
    }
    remember(body);
    const url = new URL(window.location.href);
    url.searchParams.set("job", body.id);
    history.replaceState(null, "", url.toString());
    follow(body);
  };
  xhr.send(form);
}

function failed(message) {
  badge("failed");
  setStatus(status, message, "error");
  setProgress(0);
}

function badge(state) {
  stateBadge.className = "badge " + state;
  stateBadge.textContent = t("state." + state);
}

async function resume(id) {
  uploadCard.hidden = true;
  progressCard.hidden = false;
  setStatus(status, t("video.loading"), "busy");
  let r;
  try { r = await fetch(`${API}/jobs/${encodeURIComponent(id)}`); } catch (e) { failed(t("error.network")); return; }
  if (!r.ok) {
    forget(id);
    failed(await apiError(r));
    $("#new-video").hidden = false;
    return;
  }
  follow(await r.json());
}

function follow(job) {
  currentJob = job;
  show(job);
  if (job.status === "done" || job.status === "failed") return;
  if (source) source.close();
  source = new EventSource(job.urls.events);
  source.addEventListener("job", (e) => {
    const j = JSON.parse(e.data);
    currentJob = j;
    show(j);
    if (j.status === "done" || j.status === "failed") { source.close(); source = null; }
  });
  source.addEventListener("gone", () => { source.close(); source = null; failed(t("video.gone")); });
}

function show(job) {
  $("#job-name").textContent = job.source_name || t("video.untitled");
  badge(job.status);
  $("#delete").hidden = false;
  $("#new-video").hidden = !(job.status === "done" || job.status === "failed");
  if (job.status === "queued") {
    setProgress(0, true);
    setStatus(status, t("video.queued"), "busy");
  } else if (job.status === "running") {
    const total = job.frames_total;
    setProgress(job.progress || 0, !total);
    setStatus(status, total ? t("video.running", { frames: job.frames, total, pct: Math.round(100 * (job.progress || 0)) })
      : t("video.running_unknown", { frames: job.frames }), "busy");
  } else if (job.status === "done") {
    setProgress(1);
    setStatus(status, t("video.done", { frames: job.frames }));
    remember(job);
    showResults(job);
  } else if (job.status === "failed") {
    setProgress(0);
    setStatus(status, t("video.failed", { reason: job.error || "" }), "error");
    remember(job);
  }
}

async function showResults(job) {
  if (!results.hidden && results.dataset.job === job.id) return;
  results.dataset.job = job.id;
  results.hidden = false;
  const files = job.files || {};
  if (files["annotated.mp4"]) {
    player.src = files["annotated.mp4"];
    player.hidden = false;
    $("#no-video").hidden = true;
  } else {
    player.hidden = true;
    $("#no-video").hidden = false;
  }
  showStats(job.stats || {});
  const report = $("#open-report");
  report.hidden = !files["report.html"];
  if (files["report.html"]) report.href = files["report.html"];
  const dl = $("#downloads");
  dl.replaceChildren();
  const order = Object.keys(DOWNLOADS);
  const rank = (name) => (order.includes(name) ? order.indexOf(name) : order.length);
  for (const [name, url] of Object.entries(files).sort((a, b) => rank(a[0]) - rank(b[0]))) {
    dl.append(el("a", { class: "button", href: url + "?download=true", download: name, title: name,
      dataset: { file: name }, text: DOWNLOADS[name] ? t(DOWNLOADS[name]) : name }));
  }
  if (files["timeline.json"]) {
    const r = await fetch(job.urls.timeline);
    if (r.ok) drawTimeline(await r.json());
  } else {
    $("#timeline").hidden = true;
    showChanges(null);
    showEvents(null);
  }
}

/** Jump the annotated video to a time of the timeline (seconds in the source video). */
function seek(time) {
  if (player.hidden || !player.src || typeof time !== "number" || !isFinite(time)) return;
  player.currentTime = Math.max(0, time - offset);
}

/** m:ss.ss */
function clock(s) {
  if (typeof s !== "number" || !isFinite(s)) return "–";
  const m = Math.floor(s / 60);
  return `${m}:${(s - 60 * m).toFixed(2).padStart(5, "0")}`;
}

function seconds(s) {
  return typeof s === "number" && isFinite(s) ? `${num(s, 2)} s` : "–";
}

/** A table row that seeks the video to `time` when clicked (or Enter / Space). */
function seekRow(time, cells, label) {
  const row = el("tr", { tabindex: "0", title: t("video.seek_row"), "aria-label": label, dataset: { time: String(time) } }, cells);
  const go = () => seek(time);
  row.addEventListener("click", go);
  row.addEventListener("keydown", (e) => {
    if (e.key === "Enter" || e.key === " ") { e.preventDefault(); go(); }
  });
  return row;
}

/** The UI text for `key`, or `fallback` when the catalogue has none (values from the server, e.g. region names). */
function known(key, fallback) {
  return boot.messages[key] !== undefined ? t(key) : fallback;
}

function several(list) {
  return new Set(list.map((x) => x.track)).size > 1;
}

function pairLayout() {
  const both = !$("#changes-card").hidden && !$("#events-card").hidden;
  $("#results-pair").classList.toggle("single", !both);
}

function showChanges(changes) {
  const card = $("#changes-card");
  const table = $("#changes");
  table.replaceChildren();
  changeRows = [];
  card.hidden = !Array.isArray(changes);
  pairLayout();
  if (card.hidden) return;
  const tracks = several(changes);
  table.append(el("thead", {}, el("tr", {}, [
    tracks ? el("th", { text: t("video.col_track") }) : null,
    el("th", { text: t("video.col_time") }), el("th", { text: t("video.col_expression") }),
    el("th", { class: "num", text: t("video.col_duration") }),
  ])));
  const body = el("tbody");
  if (!changes.length) {
    body.append(el("tr", {}, el("td", { class: "empty-row", colspan: tracks ? "4" : "3", text: t("video.no_changes") })));
  }
  for (const c of changes) {
    const chip = el("span", { class: "chip" });
    chip.style.background = EXPR_COLORS[c.label] || "#64748b";
    const row = seekRow(c.start, [
      tracks ? el("td", { text: String(c.track ?? "–") }) : null,
      el("td", { text: clock(c.start) }),
      el("td", { dataset: { label: c.label } }, [chip, exprName(c.label)]),
      el("td", { class: "num", text: seconds(c.duration) }),
    ], `${clock(c.start)} ${exprName(c.label)}`);
    changeRows.push({ row, start: c.start, end: c.end ?? c.start + (c.duration || 0) });
    body.append(row);
  }
  table.append(body);
}

function showEvents(events) {
  const card = $("#events-card");
  const table = $("#events");
  table.replaceChildren();
  card.hidden = !Array.isArray(events);
  pairLayout();
  if (card.hidden) return;
  const tracks = several(events);
  table.append(el("thead", {}, el("tr", {}, [
    tracks ? el("th", { text: t("video.col_track") }) : null,
    el("th", { text: t("video.col_kind") }), el("th", { text: t("video.col_onset") }),
    el("th", { text: t("video.col_apex") }), el("th", { text: t("video.col_offset") }),
    el("th", { class: "num", text: t("video.col_duration") }), el("th", { text: t("video.col_regions") }),
    el("th", { text: t("video.col_type") }),
  ])));
  const body = el("tbody");
  if (!events.length) {
    body.append(el("tr", {}, el("td", { class: "empty-row", colspan: tracks ? "8" : "7", text: t("video.no_events") })));
  }
  const at = (time, frame) => el("td", { title: t("video.frame_n", { n: frame ?? "–" }), text: clock(time) });
  for (const e of events) {
    const regions = (e.regions || []).map((r) => known("region." + r, r));
    const aus = (e.aus || []).map((code) => el("span", { class: "au", title: auName(code), text: code }));
    const tags = el("td", { class: "tags" }, [regions.join(", ") || "–"]);
    if (aus.length) { tags.append(el("br")); aus.forEach((a, i) => { if (i) tags.append(" "); tags.append(a); }); }
    body.append(seekRow(e.onset, [
      tracks ? el("td", { text: String(e.track ?? "–") }) : null,
      el("td", {}, el("span", { class: "kind " + e.kind, text: known("video.kind_" + e.kind, e.kind) })),
      at(e.onset, e.onset_frame), at(e.apex, e.apex_frame), at(e.offset, e.offset_frame),
      el("td", { class: "num", text: seconds(e.duration) }),
      tags,
      microType(e),
    ], `${e.kind} ${clock(e.onset)}`));
  }
  table.append(body);
}

/** A micro-expression's type (negative / positive / surprise) with its probability, or why it has none. */
function microType(e) {
  if (e.label) {
    const p = e.probabilities ? e.probabilities[e.label] : null;
    return el("td", { text: known("video.micro_" + e.label, e.label) + (typeof p === "number" ? ` (${percent(p, 0)})` : "") });
  }
  return el("td", { title: e.label_note || "", text: "–" });
}

/** Mark the change-log row whose expression is showing at `time`. */
function markCurrent(time) {
  for (const c of changeRows) c.row.classList.toggle("current", time >= c.start - 1e-3 && time < c.end - 1e-3);
}

function showStats(s) {
  const facts = $("#stats");
  facts.replaceChildren();
  const fact = (k, v) => facts.append(el("dt", { text: k }), el("dd", { text: v }));
  fact(t("video.frames"), String(s.frames ?? "–"));
  fact(t("video.with_face"), s.frames ? `${s.frames_with_face} (${percent(s.face_rate, 0)})` : "–");
  fact(t("video.duration"), typeof s.duration_s === "number" ? `${num(s.duration_s, 1)} s` : "–");
  fact(t("video.max_faces"), String(s.max_faces ?? "–"));
  fact(t("video.dominant"), s.dominant_expression ? exprName(s.dominant_expression) : "–");
  if (typeof s.changes === "number") fact(t("video.changes_count"), String(s.changes));
  if (s.events) fact(t("video.events_count"), t("video.events_value", { micro: s.events.micro ?? 0, macro: s.events.macro ?? 0 }));
  if (s.events && s.events.micro_classes && Object.keys(s.events.micro_classes).length) {
    fact(t("video.micro_types"), Object.entries(s.events.micro_classes)
      .map(([k, v]) => `${known("video.micro_" + k, k)} ${v}`).join(" · "));
  }
  const share = $("#share");
  share.replaceChildren();
  if (s.expression_share) {
    share.append(el("h3", { text: t("video.expression_share") }));
    const top = Object.entries(s.expression_share).sort((a, b) => b[1] - a[1]);
    top.forEach(([label, v], i) => share.append(barRow(exprName(label), v, 1, { top: i === 0, text: percent(v, 0) })));
  }
  const table = $("#au-stats");
  table.replaceChildren();
  const aus = s.aus || {};
  const codes = Object.keys(aus).sort((a, b) => (aus[b].mean - aus[a].mean));
  if (!codes.length) {
    table.append(el("tr", {}, el("td", { class: "muted", text: t("face.not_available") })));
    return;
  }
  table.append(el("thead", {}, el("tr", {}, [
    el("th", { text: "AU" }), el("th", { text: t("face.au_name") }), el("th", { class: "num", text: t("video.mean") }),
    el("th", { class: "num", text: t("video.max") }), el("th", { class: "num", text: t("video.present") }),
  ])));
  const body = el("tbody");
  let quiet = 0;
  for (const code of codes) {
    const a = aus[code];
    const still = !(a.max > 0);
    if (still) quiet += 1;
    body.append(el("tr", { class: still ? "still" : "", hidden: still }, [
      el("td", { text: code }), el("td", { text: auName(code) }), el("td", { class: "num", text: num(a.mean, 2) }),
      el("td", { class: "num", text: num(a.max, 2) }), el("td", { class: "num", text: percent(a.present_share, 0) }),
    ]));
  }
  table.append(body);
  if (quiet) {
    const toggle = el("button", { type: "button", class: "linkish", text: t("video.show_still", { n: quiet }) });
    toggle.addEventListener("click", () => {
      body.querySelectorAll("tr.still").forEach((r) => { r.hidden = false; });
      toggle.remove();
    });
    table.after(toggle);
  }
}

function drawTimeline(tl) {
  $("#timeline").hidden = false;
  const ts = tl.t || [];
  offset = ts.find((v) => v !== null) || 0;
  const exprChart = new LineChart($("#expr-chart"), { yMax: 1, onSeek: seek });
  const classes = (tl.expression && tl.expression.classes) || [];
  const legend = $("#expr-legend");
  legend.replaceChildren();
  const exprSeries = classes.map((c) => {
    const sw = el("span", { class: "swatch" });
    sw.style.background = EXPR_COLORS[c] || "#64748b";
    legend.append(el("span", { class: "key" }, [sw, exprName(c)]));
    return { key: c, color: EXPR_COLORS[c] || "#64748b", values: tl.expression.scores[c] };
  });
  exprChart.setData(ts, exprSeries);
  const events = Array.isArray(tl.events) ? tl.events : [];
  exprChart.setBands(events.map((e) => ({ t0: e.onset, t1: e.offset, mark: e.apex, color: KIND_COLORS[e.kind] || KIND_COLORS.macro })));
  const eventLegend = $("#event-legend");
  eventLegend.replaceChildren();
  for (const kind of ["micro", "macro"]) {
    if (!events.some((e) => e.kind === kind)) continue;
    const sw = el("span", { class: "swatch band" });
    sw.style.background = KIND_COLORS[kind];
    eventLegend.append(el("span", { class: "key" }, [sw, known("video.kind_" + kind, kind)]));
  }
  showChanges(Array.isArray(tl.changes) ? tl.changes : null);
  showEvents(Array.isArray(tl.events) ? tl.events : null);

  const auChart = new LineChart($("#au-chart"), { yMax: 5, yTicks: [0, 1, 2, 3, 4, 5],
    yFormat: (v) => (v === 0 ? "0" : "ABCDE"[v - 1] || String(v)), onSeek: seek });
  const picker = $("#au-picker");
  picker.replaceChildren();
  const codes = Object.keys(tl.aus || {});
  // Each chosen AU gets its own colour from the palette while it is chosen.
  const colours = new Map();
  const take = (code) => {
    const used = new Set(colours.values());
    colours.set(code, AU_COLORS.find((c) => !used.has(c)) || AU_COLORS[colours.size % AU_COLORS.length]);
  };
  DEFAULT_AUS.filter((c) => codes.includes(c)).forEach(take);
  const labels = {};
  const paint = () => {
    for (const code of codes) {
      labels[code].classList.toggle("on", colours.has(code));
      labels[code].style.color = colours.get(code) || "";
    }
  };
  const redrawAus = () => {
    paint();
    auChart.setData(ts, [...colours.keys()].map((c) => ({ key: c, color: colours.get(c), values: tl.aus[c] })));
  };
  for (const code of codes) {
    const box = el("input", { type: "checkbox", value: code });
    box.checked = colours.has(code);
    const label = el("label", { class: "key", title: auName(code) }, [box, code]);
    labels[code] = label;
    box.addEventListener("change", () => {
      if (box.checked) take(code); else colours.delete(code);
      redrawAus();
    });
    picker.append(label);
  }
  redrawAus();
  charts = [exprChart, auChart];
  const tick = () => {
    charts.forEach((c) => c.setPlayhead(player.currentTime + offset));
    markCurrent(player.currentTime + offset);
    if (!player.paused) requestAnimationFrame(tick);
  };
  player.addEventListener("timeupdate", tick);
  player.addEventListener("play", () => requestAnimationFrame(tick));
  player.addEventListener("seeked", tick);
  tick();
}

async function deleteJob() {
  if (!currentJob) return;
  const id = currentJob.id;
  const r = await fetch(`${API}/jobs/${id}`, { method: "DELETE" });
  if (r.ok || r.status === 404) {
    forget(id);
    reset(true);
    setStatus(status, t("video.deleted"));
  } else {
    setStatus(status, await apiError(r), "error");
  }
}

// -- jobs started in this browser (kept in localStorage; the server has no job list) --------------------------
function recent() {
  try { return JSON.parse(localStorage.getItem(RECENT_KEY) || "[]"); } catch (e) { return []; }
}
function remember(job) {
  const list = recent().filter((j) => j.id !== job.id);
  list.unshift({ id: job.id, name: job.source_name || "", created: job.created_at, status: job.status });
  localStorage.setItem(RECENT_KEY, JSON.stringify(list.slice(0, 10)));
}
function forget(id) {
  localStorage.setItem(RECENT_KEY, JSON.stringify(recent().filter((j) => j.id !== id)));
}
function renderRecent() {
  const list = recent();
  const box = $("#recent");
  box.hidden = list.length === 0;
  const ul = $("#recent-list");
  ul.replaceChildren();
  for (const j of list) {
    ul.append(el("li", {}, [
      el("a", { href: `/video?job=${encodeURIComponent(j.id)}`, text: j.name || j.id.slice(0, 8) }),
      el("span", { class: "muted", text: `${t("state." + (j.status || "queued"))} · ${j.created ? new Date(j.created).toLocaleString(boot.lang) : ""}` }),
    ]));
  }
}
