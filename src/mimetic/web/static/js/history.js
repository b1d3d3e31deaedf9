// History page (the user's own, or a linked patient's for a clinician): a month calendar with the day's score on
// a colour scale, the sessions of a clicked day, statistics (streaks, best, weekly averages) and trend charts per
// exercise and side. Charts are drawn on <canvas> here; data from /api/v1/me/... or /api/v1/patients/{id}/....
import { API, t, el, $, num, setStatus, apiError, boot } from "./common.js";
import { calibrationLine, exerciseName, setExercises, sideWord, sunnybrookFacts, tp } from "./practice_text.js";

const app = $("#history-app");
const base = app.dataset.api;
const calendar = $("#calendar");
let catalogue = null;
const today = new Date();
let month = new Date(today.getFullYear(), today.getMonth(), 1);
let selected = null;

const COLORS = { score: "#111827", right: "#2563eb", left: "#ea580c", symmetry: "#059669" };  // score: near-black, so it never reads as the right side's blue

function iso(d) {
  const p = (n) => String(n).padStart(2, "0");
  return `${d.getFullYear()}-${p(d.getMonth() + 1)}-${p(d.getDate())}`;
}

function parseIso(s) {
  const [y, m, d] = String(s).slice(0, 10).split("-").map(Number);
  return new Date(y, m - 1, d);
}

/** Red (0) → amber (50) → green (100). */
export function scoreColor(score) {
  const v = Math.max(0, Math.min(100, Number(score) || 0));
  const hue = 1.2 * v;  // 0 red .. 120 green
  return `hsl(${hue.toFixed(0)}, 70%, ${(88 - 0.2 * v).toFixed(0)}%)`;
}

function routineName(name) {
  const key = `routine.${name}`;
  return t(key) !== key ? t(key) : (name || "–");
}

async function getJSON(path) {
  const r = await fetch(base + path, { headers: { Accept: "application/json" } });
  if (r.status === 401) {
    window.location.assign("/login?next=" + encodeURIComponent(location.pathname));
    throw new Error("login required");
  }
  if (!r.ok) throw new Error(await apiError(r));
  return r.json();
}

const pct = (v) => (typeof v === "number" && isFinite(v) ? Math.round(100 * v) + " %" : "–");
const round = (v) => (typeof v === "number" && isFinite(v) ? String(Math.round(v)) : "–");

// --- calendar ----------------------------------------------------------------------------------------------------

const locale = boot.lang || "en";

function weekdayNames() {
  const fmt = new Intl.DateTimeFormat(locale, { weekday: "short" });
  return Array.from({ length: 7 }, (_, i) => fmt.format(new Date(2024, 0, 1 + i)));
}

async function showMonth() {
  const first = new Date(month.getFullYear(), month.getMonth(), 1);
  const last = new Date(month.getFullYear(), month.getMonth() + 1, 0);
  $("#month-title").textContent = new Intl.DateTimeFormat(locale, { year: "numeric", month: "long" }).format(first);
  let days = {};
  try {
    const data = await getJSON(`/days?start=${iso(first)}&end=${iso(last)}`);
    for (const d of data.days || []) days[d.date] = d;
  } catch (e) {
    days = {};
  }
  calendar.textContent = "";
  for (const name of weekdayNames()) calendar.append(el("div", { class: "weekday", text: name }));
  const lead = (first.getDay() + 6) % 7;  // Monday first
  for (let i = 0; i < lead; i++) calendar.append(el("div", { class: "day pad" }));
  const todayIso = iso(today);
  for (let n = 1; n <= last.getDate(); n++) {
    const date = iso(new Date(month.getFullYear(), month.getMonth(), n));
    const info = days[date];
    const cell = el("button", {
      type: "button", class: "day" + (info ? " has" : "") + (date === todayIso ? " today" : "") + (date === selected ? " selected" : ""),
      dataset: { date, score: info ? String(Math.round(info.score)) : "" },
      "aria-label": info ? tp("history.day_label", { date, score: Math.round(info.score), n: info.sessions }) : date,
      onclick: () => showDay(date),
    }, [el("span", { class: "num", text: String(n) }), info ? el("span", { class: "day-score", text: String(Math.round(info.score)) }) : null,
      info && info.sessions > 1 ? el("span", { class: "day-count", text: "×" + info.sessions }) : null]);
    if (info) cell.style.background = scoreColor(info.score);
    calendar.append(cell);
  }
}

async function showDay(date) {
  selected = date;
  for (const c of calendar.querySelectorAll(".day")) c.classList.toggle("selected", c.dataset.date === date);
  const title = new Intl.DateTimeFormat(locale, { weekday: "long", year: "numeric", month: "long", day: "numeric" }).format(parseIso(date));
  $("#day-title").textContent = title;
  const box = $("#day-sessions");
  box.textContent = "";
  box.dataset.date = date;
  let data;
  try {
    data = await getJSON(`/days/${date}`);
  } catch (e) {
    box.append(el("p", { class: "status error", text: String(e.message || e) }));
    return;
  }
  const sessions = data.sessions || [];
  if (!sessions.length) { box.append(el("p", { class: "muted", text: t("history.no_sessions") })); return; }
  for (const s of sessions) box.append(sessionCard(s));
}

function timeOf(s) {
  const when = s.started_at || s.finished_at;
  if (!when) return "";
  const d = new Date(when);
  return isNaN(d) ? "" : new Intl.DateTimeFormat(locale, { hour: "2-digit", minute: "2-digit" }).format(d);
}

function sessionCard(s) {
  const exercises = s.exercises || (s.result && s.result.exercises) || [];
  const rows = exercises.map((ex) => {
    const id = ex.exercise || ex.id;
    return el("tr", { dataset: { exercise: id } }, [
      el("td", { text: exerciseName(id) + (ex.skipped ? ` (${t("practice.skipped_short")})` : "") }),
      el("td", { class: "num", text: ex.skipped && !ex.score ? "–" : round(ex.score) }),  // a stopped exercise keeps its reps' score
      el("td", { class: "num", text: pct(ex.right) }), el("td", { class: "num", text: pct(ex.left) }),
      el("td", { class: "num", text: pct(ex.symmetry) }),
    ]);
  });
  const sb = s.sunnybrook || (s.result && s.result.sunnybrook);
  const score = typeof s.score === "number" ? s.score : s.result && s.result.score;
  const partial = s.partial || (s.result && s.result.partial);
  const head = el("div", { class: "session-head" }, [
    el("b", { text: timeOf(s) }), el("span", { text: routineName(s.routine || (s.result && s.result.routine)) }),
    partial ? el("span", { class: "tag partial", text: t("practice.partial_short") }) : null,
    el("span", { class: "score-pill", text: round(score), dataset: { score: round(score) } }),
  ]);
  const pill = head.querySelector(".score-pill");
  if (typeof score === "number") pill.style.background = scoreColor(score);
  const table = el("table", { class: "table" }, [
    el("thead", {}, el("tr", {}, [el("th", { text: t("practice.exercise") }), el("th", { class: "num", text: t("practice.score") }),
      el("th", { class: "num", text: t("face.right") }), el("th", { class: "num", text: t("face.left") }),
      el("th", { class: "num", text: t("practice.symmetry") })])),
    el("tbody", {}, rows),
  ]);
  const parts = [head, el("div", { class: "table-scroll" }, table)];
  const cal = s.calibration || (s.result && s.result.calibration);
  if (cal && (cal.quality || cal.warnings)) {
    parts.push(el("p", { class: "muted small cal-line", dataset: { quality: cal.quality || "" }, text: calibrationLine(cal) }));
  }
  if (sb) {  // the estimate: tested items only, the sums only when all five expressions were tested
    const f = sunnybrookFacts(sb);
    parts.push(el("p", { class: "muted small sb-line", dataset: { complete: sb.complete ? "1" : "" }, text: t("history.sb_line", {
      composite: f.composite, resting: f.resting, voluntary: f.voluntary, synkinesis: f.synkinesis }) }));
    parts.push(el("p", { class: "muted small sb-items", text: f.items.map(([name, value]) => `${name}: ${value}`).join(" · ") }));
  }
  return el("div", { class: "session", dataset: { sessionId: s.id || s.session_id || "" } }, parts);
}

// --- statistics --------------------------------------------------------------------------------------------------

function stat(label, value, key, sub = "") {
  return el("div", { class: "stat", dataset: { stat: key } }, [el("span", { class: "stat-value", text: value }),
    el("span", { class: "stat-label", text: label }), sub ? el("span", { class: "stat-sub", text: sub }) : null]);
}

function shortDate(s) {
  return s ? new Intl.DateTimeFormat(locale, { year: "numeric", month: "short", day: "numeric" }).format(parseIso(s)) : "";
}

async function showStats() {
  const box = $("#stats");
  box.textContent = "";
  let s;
  try { s = await getJSON(`/stats?today=${iso(today)}`); } catch (e) { box.append(el("p", { class: "status error", text: String(e.message || e) })); return; }
  const best = s.best_day || {};
  box.append(
    stat(t("history.current_streak"), String(s.current_streak ?? 0), "current_streak"),
    stat(t("history.longest_streak"), String(s.longest_streak ?? 0), "longest_streak"),
    stat(t("history.best_day"), best.score !== undefined ? round(best.score) : "–", "best_day", shortDate(best.date || best.day)),
    stat(t("history.sessions"), String(s.total_sessions ?? s.sessions ?? 0), "sessions"),
    stat(t("history.days_practised"), String(s.days_practised ?? s.total_days ?? s.days ?? 0), "days"),
  );
  const bestPer = s.best_per_exercise || s.best_exercise || {};
  const entries = Array.isArray(bestPer) ? bestPer.map((b) => [b.exercise || b.id, b.score]) : Object.entries(bestPer).map(([k, v]) => [k, typeof v === "object" && v ? v.score : v]);
  if (entries.length) {
    box.append(el("div", { class: "best-list" }, [el("h3", { text: t("history.best_per_exercise") }),
      el("ul", {}, entries.map(([id, v]) => el("li", {}, [el("span", { text: exerciseName(id) }), el("b", { text: round(v) })])))]));
  }
  const weekly = (s.weekly_averages || s.weekly || []).map((w) => ({ label: w.week || w.week_start || w.start || "", value: w.score ?? w.average ?? 0 }));
  drawBars($("#weekly-chart"), weekly);
}

function setupCanvas(c, height) {
  const dpr = window.devicePixelRatio || 1;
  const W = c.clientWidth || 600;
  const H = c.clientHeight || height;
  c.width = Math.round(W * dpr);
  c.height = Math.round(H * dpr);
  const ctx = c.getContext("2d");
  ctx.setTransform(dpr, 0, 0, dpr, 0, 0);
  ctx.clearRect(0, 0, W, H);
  ctx.font = "11px system-ui, sans-serif";
  return { ctx, W, H };
}

function yAxis(ctx, m, W, H, y) {
  ctx.strokeStyle = "#e2e8f0";
  ctx.fillStyle = "#64748b";
  ctx.textAlign = "right";
  ctx.textBaseline = "middle";
  for (const v of [0, 25, 50, 75, 100]) {
    const yy = Math.round(y(v)) + 0.5;
    ctx.beginPath(); ctx.moveTo(m.left, yy); ctx.lineTo(W - m.right, yy); ctx.stroke();
    ctx.fillText(String(v), m.left - 6, yy);
  }
}

function drawBars(c, bars) {
  const { ctx, W, H } = setupCanvas(c, 160);
  c.dataset.points = String(bars.length);
  const m = { left: 36, right: 10, top: 8, bottom: 22 };
  const y = (v) => m.top + (H - m.top - m.bottom) * (1 - Math.max(0, Math.min(100, v)) / 100);
  yAxis(ctx, m, W, H, y);
  if (!bars.length) return;
  const shown = bars.slice(-12);
  const slot = Math.min(90, (W - m.left - m.right) / shown.length);
  ctx.textAlign = "center";
  ctx.textBaseline = "top";
  shown.forEach((b, i) => {
    const x = m.left + i * slot + slot * 0.15;
    ctx.fillStyle = scoreColor(b.value);
    ctx.fillRect(x, y(b.value), slot * 0.7, y(0) - y(b.value));
    ctx.strokeStyle = "rgba(15,23,42,.25)";
    ctx.strokeRect(x + 0.5, y(b.value) + 0.5, slot * 0.7 - 1, y(0) - y(b.value) - 1);
    ctx.fillStyle = "#64748b";
    ctx.fillText(String(b.label).slice(5, 10), x + slot * 0.35, H - m.bottom + 6);
  });
}

// --- trends ------------------------------------------------------------------------------------------------------

function legend() {
  const box = $("#trend-legend");
  box.textContent = "";
  for (const [k, label] of [["score", t("practice.score")], ["right", t("face.right")], ["left", t("face.left")], ["symmetry", t("practice.symmetry")]]) {
    const sw = el("span", { class: "swatch" });
    sw.style.background = COLORS[k];
    box.append(el("span", { class: "key" }, [sw, label]));
  }
}

async function showTrends() {
  const ex = $("#trend-exercise").value;
  let data;
  try { data = await getJSON(`/trends?exercise=${encodeURIComponent(ex)}`); } catch (e) { data = { points: [] }; }
  const points = (data.points || []).filter((p) => !p.skipped);
  $("#trend-empty").hidden = points.length > 0;
  drawTrend($("#trend-chart"), points);
}

function drawTrend(c, points) {
  const { ctx, W, H } = setupCanvas(c, 220);
  c.dataset.points = String(points.length);
  const m = { left: 36, right: 12, top: 10, bottom: 24 };
  const y = (v) => m.top + (H - m.top - m.bottom) * (1 - Math.max(0, Math.min(100, v)) / 100);
  yAxis(ctx, m, W, H, y);
  if (!points.length) return;
  const when = (p) => {
    const d = p.started_at ? new Date(p.started_at) : parseIso(p.day || p.date);
    return isNaN(d) ? parseIso(p.day || p.date).getTime() : d.getTime();
  };
  const ts = points.map(when);
  let t0 = Math.min(...ts);
  let t1 = Math.max(...ts);
  const minSpan = 7 * 86400e3;  // at least a week wide, the points centred
  if (t1 - t0 < minSpan) { const mid = (t0 + t1) / 2; t0 = mid - minSpan / 2; t1 = mid + minSpan / 2; }
  const x = (tv) => m.left + (W - m.left - m.right) * (tv - t0) / (t1 - t0);
  ctx.textAlign = "center";
  ctx.textBaseline = "top";
  ctx.fillStyle = "#64748b";
  const fmt = new Intl.DateTimeFormat(locale, { month: "short", day: "numeric" });
  const ticks = Math.max(2, Math.min(6, Math.floor((W - m.left - m.right) / 90)));
  let previous = "";
  for (let i = 0; i <= ticks; i++) {
    const tv = t0 + (t1 - t0) * i / ticks;
    const label = fmt.format(new Date(tv));
    if (label !== previous) ctx.fillText(label, Math.min(W - m.right - 20, Math.max(m.left + 20, x(tv))), H - m.bottom + 6);
    previous = label;
  }
  const series = [["score", (p) => p.score], ["right", (p) => 100 * p.right], ["left", (p) => 100 * p.left], ["symmetry", (p) => 100 * p.symmetry]];
  for (const [k, f] of series) {
    ctx.strokeStyle = COLORS[k];
    ctx.fillStyle = COLORS[k];
    ctx.lineWidth = k === "score" ? 2.4 : 1.6;
    ctx.beginPath();
    let pen = false;
    points.forEach((p, i) => {
      const v = f(p);
      if (typeof v !== "number" || !isFinite(v)) { pen = false; return; }
      if (pen) ctx.lineTo(x(ts[i]), y(v)); else { ctx.moveTo(x(ts[i]), y(v)); pen = true; }
    });
    ctx.stroke();
    points.forEach((p, i) => {
      const v = f(p);
      if (typeof v === "number" && isFinite(v)) ctx.fillRect(x(ts[i]) - 2.5, y(v) - 2.5, 5, 5);
    });
  }
}

// --- start -------------------------------------------------------------------------------------------------------

async function init() {
  const scale = $("#scale-bar");
  scale.style.background = `linear-gradient(90deg, ${[0, 25, 50, 75, 100].map(scoreColor).join(", ")})`;
  $("#prev-month").addEventListener("click", () => { month = new Date(month.getFullYear(), month.getMonth() - 1, 1); showMonth(); });
  $("#next-month").addEventListener("click", () => { month = new Date(month.getFullYear(), month.getMonth() + 1, 1); showMonth(); });
  $("#this-month").addEventListener("click", () => { month = new Date(today.getFullYear(), today.getMonth(), 1); showMonth().then(() => showDay(iso(today))); });
  legend();
  try {
    const r = await fetch(`${API}/practice/catalogue`, { headers: { Accept: "application/json" } });
    if (r.ok) { catalogue = await r.json(); setExercises(catalogue); }
  } catch (e) { /* names fall back to ids */ }
  const sel = $("#trend-exercise");
  sel.append(el("option", { value: "", text: t("history.all_exercises") }));
  for (const id of Object.keys((catalogue && catalogue.exercises) || {})) sel.append(el("option", { value: id, text: exerciseName(id) }));
  sel.addEventListener("change", showTrends);
  if (base.startsWith(API + "/patients/")) {
    try {
      const r = await fetch(base, { headers: { Accept: "application/json" } });
      if (r.ok) {
        const p = await r.json();
        $("#patient-name").textContent = t("patient.lead", { name: p.display_name || p.id });
        const side = $("#patient-side");
        side.textContent = t("history.affected", { side: p.affected_side ? sideWord(p.affected_side) : t("practice.side_none") });
        side.dataset.side = p.affected_side || "";
      }
    } catch (e) { /* the heading stays generic */ }
  }
  await Promise.all([showMonth(), showStats(), showTrends()]);
  app.dataset.ready = "1";
}

let resizeTimer = null;
window.addEventListener("resize", () => { clearTimeout(resizeTimer); resizeTimer = setTimeout(() => { showTrends(); showStats(); }, 200); });
init().catch((e) => { const s = $("#trend-empty"); s.hidden = false; setStatus(s, String(e.message || e), "error"); });
