// Practice page: choose a routine, the webcam streams frames to the WebSocket /api/v1/practice through the shared
// frame socket (framesocket.js: one frame in flight at a time); the server calibrates the neutral face, then scores
// each exercise live (score, left/right movement, symmetry, hold time, synkinesis warnings). At the end the session
// is saved and summarised.
import { API, t, el, $, num, setStatus, apiError } from "./common.js";
import { FrameSocket, drawFace } from "./framesocket.js";

const MIN_INTERVAL = 100;  // ms between frames at most ~10 per second

const app = $("#practice-app");
const status = $("#status");
const startBtn = $("#start");
const stopBtn = $("#stop");
const skipBtn = $("#skip");
const routineSel = $("#routine");
const repsInput = $("#reps");
const picture = $("#exercise-picture");
picture.addEventListener("load", () => { picture.dataset.loaded = "1"; });

let catalogue = null;

const sock = new FrameSocket({
  path: "/practice",
  video: $("#video"),
  overlay: $("#overlay"),
  status,
  stageEmpty: $("#stage-empty"),
  interval: () => MIN_INTERVAL,
  paint: paintFace,
  onReady() {
    const reps = Math.max(1, Math.min(10, Math.round(Number(repsInput.value) || 3)));
    sock.send({ type: "start", routine: routineSel.value, reps, csrf: app.dataset.csrf || "", day: localDate() });
  },
  onReply: showFeedback,
  onMessage,
  onClose({ code, message }) {
    if (code === 4401) stop(t("practice.login_needed"), "error");
    else if (code === 4403) stop(t("practice.forbidden"), "error");
    else stop(message || t("live.closed", { code }), "error");
  },
});

/** An exercise's name / instruction in the page's language (the server's English text as the fallback). */
export function exerciseName(id) {
  const key = `exercise.${id}.name`;
  if (t(key) !== key) return t(key);
  return (catalogue && catalogue.exercises[id] && catalogue.exercises[id].name) || id || "–";
}

function exerciseInstruction(id) {
  const key = `exercise.${id}.instruction`;
  if (t(key) !== key) return t(key);
  return (catalogue && catalogue.exercises[id] && catalogue.exercises[id].instruction) || "";
}

function routineName(name) {
  const key = `routine.${name}`;
  return t(key) !== key ? t(key) : name;
}

function localDate(d = new Date()) {
  const p = (n) => String(n).padStart(2, "0");
  return `${d.getFullYear()}-${p(d.getMonth() + 1)}-${p(d.getDate())}`;
}

function sideName(side) {
  return side === "left" ? t("face.left") : side === "right" ? t("face.right") : t("practice.side_none");
}

async function loadCatalogue() {
  const r = await fetch(`${API}/practice/catalogue`, { headers: { Accept: "application/json" } });
  if (r.status === 401) { window.location.assign("/login?next=" + encodeURIComponent(location.pathname + location.search)); return; }
  if (!r.ok) { setStatus(status, await apiError(r), "error"); return; }
  catalogue = await r.json();
  routineSel.textContent = "";
  const routines = el("optgroup", { label: t("practice.routines") });
  for (const name of Object.keys(catalogue.routines)) routines.append(el("option", { value: name, text: routineName(name) }));
  const single = el("optgroup", { label: t("practice.single") });
  for (const id of Object.keys(catalogue.exercises)) single.append(el("option", { value: id, text: exerciseName(id) }));
  routineSel.append(routines, single);
  const params = new URLSearchParams(location.search);
  const wanted = params.get("routine");
  if (wanted && (catalogue.routines[wanted] || catalogue.exercises[wanted])) routineSel.value = wanted;
  const reps = Number(params.get("reps"));
  if (reps >= 1 && reps <= 10) repsInput.value = String(Math.round(reps));
  const side = catalogue.user && catalogue.user.affected_side;
  $("#affected").textContent = t("practice.affected", { side: sideName(side) });
  showRoutine();
  startBtn.disabled = false;
}

function routineIds() {
  const v = routineSel.value;
  if (!catalogue) return [];
  return catalogue.routines[v] ? catalogue.routines[v] : [v];
}

function showRoutine() {
  $("#routine-list").textContent = routineIds().map(exerciseName).join(" · ");
}

routineSel.addEventListener("change", showRoutine);
startBtn.addEventListener("click", start);
stopBtn.addEventListener("click", () => stop(t("practice.stopped")));
skipBtn.addEventListener("click", () => sock.send({ type: "skip" }));
$("#again").addEventListener("click", () => { $("#summary").hidden = true; window.scrollTo(0, 0); });
loadCatalogue().catch((e) => setStatus(status, String(e), "error"));

async function start() {
  if (sock.stream) return;
  $("#summary").hidden = true;
  if (!(await sock.open())) return;
  startBtn.disabled = true;
  routineSel.disabled = true;
  repsInput.disabled = true;
  stopBtn.disabled = false;
}

function onMessage(msg) {
  if (msg.type === "started") {
    skipBtn.disabled = false;
    setStatus(status, t("practice.started", { n: msg.exercises.length, reps: msg.reps }));
    $("#phase-bar").hidden = false;
    sock.sendFrames();
  } else if (msg.type === "skipped") {
    setStatus(status, t("practice.skipped", { name: exerciseName(msg.exercise) }));
  } else if (msg.type === "saved") {
    showSummary(msg.result || {}, msg.session_id);
    stop(t("practice.saved"));
  } else if (msg.type === "not_saved") {
    stop(t("practice.not_saved"), "warn");
  }
}

function stop(message, kind = "") {
  sock.stop();
  $("#phase-bar").hidden = true;
  startBtn.disabled = !catalogue;
  routineSel.disabled = false;
  repsInput.disabled = false;
  stopBtn.disabled = true;
  skipBtn.disabled = true;
  if (message) setStatus(status, message, kind);
}

const pct = (v) => (typeof v === "number" && isFinite(v) ? Math.round(100 * Math.max(0, Math.min(1, v))) : 0);

function setBar(node, v) { node.style.width = pct(v) + "%"; }

function scoreClass(score) {
  return score >= 70 ? "good" : score >= 40 ? "fair" : "low";
}

function showFeedback(msg) {
  const phase = msg.phase;
  document.body.dataset.phase = phase || "";
  $("#phase-label").textContent = phase === "calibrate" ? t("practice.calibrating") : phase === "exercise"
    ? t("practice.holding") : t("practice.done");
  setBar($("#progress"), msg.progress);
  $("#progress").dataset.progress = String(msg.progress ?? "");
  if (phase === "calibrate") {
    $("#exercise-name").textContent = t("practice.calibrate_title");
    $("#instruction").textContent = t("practice.calibrate_help");
    $("#exercise-rep").textContent = t("practice.calibrate_progress", { percent: pct(msg.progress) });
    picture.hidden = true;
  } else if (msg.exercise) {
    const info = catalogue && catalogue.exercises[msg.exercise];
    $("#exercise-name").textContent = exerciseName(msg.exercise);
    $("#exercise-name").dataset.exercise = msg.exercise;
    $("#instruction").textContent = exerciseInstruction(msg.exercise);
    $("#exercise-rep").textContent = t("practice.rep", { rep: msg.rep || 1, reps: msg.reps || 1 });
    if (info && info.picture) {
      if (picture.getAttribute("src") !== info.picture) picture.src = info.picture;
      picture.alt = exerciseName(msg.exercise);
      picture.hidden = false;
    }
  }
  const score = typeof msg.score === "number" ? Math.round(msg.score) : null;
  const big = $("#score");
  big.textContent = score === null || phase === "calibrate" ? "–" : String(score);
  big.dataset.score = score === null || phase === "calibrate" ? "" : String(score);
  big.className = "score-big" + (score !== null && phase === "exercise" ? " " + scoreClass(score) : "");
  const state = msg.state || "";
  const chip = $("#state");
  chip.dataset.state = state;
  chip.textContent = state ? t("practice.state_" + state) : "";
  setBar($("#bar-right"), msg.right);
  setBar($("#bar-left"), msg.left);
  $("#val-right").textContent = typeof msg.right === "number" ? pct(msg.right) + " %" : "–";
  $("#val-left").textContent = typeof msg.left === "number" ? pct(msg.left) + " %" : "–";
  $("#symmetry").textContent = typeof msg.symmetry === "number" ? pct(msg.symmetry) + " %" : "–";
  $("#hold").textContent = typeof msg.hold === "number" ? num(msg.hold, 1) + " s" : "–";
  const warnings = $("#warnings");
  warnings.textContent = "";
  for (const w of msg.warnings || []) warnings.append(el("li", { class: "warning", text: w }));
  const coach = $("#coach");
  coach.textContent = msg.message || (state ? t("practice.coach_" + state) : "");
  if (msg.rep_done) {
    const s = msg.rep_done.score;
    setStatus(status, t("practice.rep_done", { score: Math.round(s || 0) }));
  }
}

function showSummary(result, sessionId) {
  const box = $("#summary");
  box.hidden = false;
  box.dataset.sessionId = sessionId || "";
  const total = typeof result.score === "number" ? Math.round(result.score) : null;
  const big = $("#summary-score");
  big.textContent = total === null ? "–" : String(total);
  big.dataset.score = total === null ? "" : String(total);
  big.className = total === null ? "" : "score-mid " + scoreClass(total);
  const body = $("#summary-table tbody");
  body.textContent = "";
  for (const ex of result.exercises || []) {
    const cell = (text, cls = "num") => el("td", { class: cls, text });
    body.append(el("tr", { dataset: { exercise: ex.id, score: String(Math.round(ex.score || 0)) } }, [
      el("td", { text: exerciseName(ex.id) + (ex.skipped ? ` (${t("practice.skipped_short")})` : "") }),
      cell(ex.skipped ? "–" : String(Math.round(ex.score || 0))),
      cell(pct(ex.right) + " %"), cell(pct(ex.left) + " %"), cell(pct(ex.symmetry) + " %"),
      cell(num(ex.hold, 1) + " s"),
      el("td", { class: "small", text: (ex.synkinesis || []).join("; ") || "–" }),
    ]));
  }
  const sb = result.sunnybrook;
  $("#sunnybrook").hidden = !sb;
  if (sb) {
    $("#sb-resting").textContent = `${sb.resting_symmetry} / 20`;
    $("#sb-voluntary").textContent = `${sb.voluntary_movement} / 100`;
    $("#sb-synkinesis").textContent = `${sb.synkinesis} / 15`;
    $("#sb-composite").textContent = String(sb.composite);
  }
  box.scrollIntoView({ behavior: "smooth", block: "start" });
}

/** The face box (amber while a warning shows, grey while calibrating) and the mesh; returns the landmarks drawn. */
function paintFace(ctx, msg, r, scale) {
  if (!msg.face) return 0;
  const warn = (msg.warnings || []).length > 0;
  const color = warn ? "#d97706" : msg.phase === "calibrate" ? "#94a3b8" : "#4f46e5";
  return drawFace(ctx, msg.face, msg, r, { color, scale });
}
