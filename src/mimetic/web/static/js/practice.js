// Practice page: choose a routine, the webcam streams frames to the WebSocket /api/v1/practice through the shared
// frame socket (framesocket.js: one frame in flight at a time); the server calibrates the neutral face, then scores
// each exercise live (score, left/right movement, symmetry, hold time, synkinesis warnings). At the end the session
// is saved and summarised.
import { API, t, el, $, num, setStatus, apiError } from "./common.js";
import { FrameSocket, drawFace } from "./framesocket.js";
import { calibrationLine, count, exerciseInstruction, exerciseName, renderMessage, setExercises, sunnybrookFacts }
  from "./practice_text.js";

export { exerciseName };

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
let ending = false;       // "Stop" was pressed: the server saves what was finished, then closes
let started = false;      // the server answered "started"
let repShown = null;      // the last finished repetition {score, rep}, shown until the next movement starts

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
    if (ending || code === 1000) { if (ending && started) stop(); return; }
    if (code === 4401) stop(t("practice.login_needed"), "error");
    else if (code === 4403) stop(t("practice.forbidden"), "error");
    else stop(message || t("live.closed", { code }), "error");
  },
});

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
  setExercises(catalogue);
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
stopBtn.addEventListener("click", () => {
  if (started && !ending) {  // the server saves the finished exercises as a partial session, then closes
    ending = true;
    stopBtn.disabled = true;
    skipBtn.disabled = true;
    sock.send({ type: "stop" });
  } else {
    stop(t("practice.stopped"));
  }
});
skipBtn.addEventListener("click", () => { skipBtn.disabled = true; sock.send({ type: "skip" }); });
$("#again").addEventListener("click", () => { $("#summary").hidden = true; window.scrollTo(0, 0); });
loadCatalogue().catch((e) => setStatus(status, String(e), "error"));

async function start() {
  if (sock.stream) return;
  ending = false;
  started = false;
  repShown = null;
  showCalibration(null);
  $("#summary").hidden = true;
  if (!(await sock.open())) return;
  startBtn.disabled = true;
  routineSel.disabled = true;
  repsInput.disabled = true;
  stopBtn.disabled = false;
}

function onMessage(msg) {
  if (msg.type === "started") {
    started = true;
    skipBtn.disabled = true;  // enabled by the feedback's can_skip (not while calibrating)
    setStatus(status, t("practice.started", { exercises: count("practice.n_exercises", msg.exercises.length),
      repetitions: count("practice.n_reps", msg.reps) }));
    $("#phase-bar").hidden = false;
    sock.sendFrames();
  } else if (msg.type === "skipped") {
    setStatus(status, t("practice.skipped", { name: exerciseName(msg.exercise) }));
  } else if (msg.type === "saved") {
    const partial = !!(msg.result && msg.result.partial);
    showSummary(msg.result || {}, msg.session_id);
    stop(t(partial ? "practice.saved_partial" : "practice.saved"));
  } else if (msg.type === "not_saved") {
    stop(t(msg.reason === "nothing_finished" ? "practice.stopped_nothing" : "practice.not_saved"), "warn");
  }
}

function stop(message, kind = "") {
  sock.stop();
  started = false;
  ending = false;
  const big = $("#score");  // the live panel's number ends with the session: the summary has the score
  big.textContent = "–";
  big.dataset.score = "";
  big.className = "score-big";
  $("#score-label").textContent = "";
  $("#state").textContent = "";
  $("#state").dataset.state = "";
  $("#coach").textContent = "";
  $("#warnings").textContent = "";
  delete document.body.dataset.phase;  // the phone layout of a running session ends
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

/** The calibration's reasons (refused, or accepted with warnings), kept on screen until the next calibration. */
function showCalibration(msg) {
  const box = $("#cal-warnings");
  const list = $("#cal-warning-list");
  list.textContent = "";
  if (!msg || !(msg.warnings || []).length) { box.hidden = true; box.dataset.state = ""; return; }
  box.hidden = false;
  box.dataset.state = msg.refused ? "refused" : "accepted";
  $("#cal-warning-title").textContent = t(msg.refused ? "practice.cal_refused" : "practice.cal_poor");
  for (const w of msg.warnings) list.append(el("li", { class: "warning", text: renderMessage(w), dataset: { key: w.key || "" } }));
}

function showFeedback(msg) {
  const phase = msg.phase;
  document.body.dataset.phase = phase || "";
  $("#phase-label").textContent = phase === "calibrate" ? t("practice.calibrating") : phase === "exercise"
    ? t("practice.holding") : t("practice.done");
  setBar($("#progress"), msg.progress);
  $("#progress").dataset.progress = String(msg.progress ?? "");
  skipBtn.disabled = !msg.can_skip || ending;
  if (msg.next) { setStatus(status, ""); repShown = null; }  // a new step: the previous exercise's points go
  if (phase === "calibrate") {
    $("#exercise-name").textContent = t("practice.calibrate_title");
    $("#instruction").textContent = t("practice.calibrate_help");
    $("#exercise-rep").textContent = t("practice.calibrate_progress", { percent: pct(msg.progress) });
    picture.hidden = true;
    if (msg.refused || msg.next) showCalibration(msg);
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
  const state = msg.state || "";
  // one score per phase: the live frame score while moving and holding; the finished repetition's score from its
  // end until the next movement starts (during "Relax"); nothing while calibrating or when done
  if (msg.rep_done) repShown = { score: msg.rep_done.score, rep: msg.rep };
  if (state === "move" || state === "hold") repShown = null;
  let score = null;
  let label = "";
  if (phase === "exercise" && repShown) {
    score = Math.round(repShown.score || 0);
    label = t("practice.score_rep", { rep: repShown.rep });
  } else if (phase === "exercise" && typeof msg.score === "number") {
    score = Math.round(msg.score);
    label = t("practice.score_now");
  }
  const big = $("#score");
  big.textContent = score === null ? "–" : String(score);
  big.dataset.score = score === null ? "" : String(score);
  big.dataset.kind = repShown ? "rep" : score === null ? "" : "live";
  big.className = "score-big" + (score !== null ? " " + scoreClass(score) : "");
  $("#score-label").textContent = label;
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
  if (phase !== "calibrate") {
    for (const w of msg.warnings || []) warnings.append(el("li", { class: "warning", text: renderMessage(w), dataset: { key: w.key || "" } }));
  }
  const coach = $("#coach");
  coach.textContent = msg.message ? renderMessage(msg.message) : (state ? t("practice.coach_" + state) : "");
  if (msg.rep_done) {
    setStatus(status, t("practice.rep_done", { score: Math.round(msg.rep_done.score || 0) }));
  }
}

function showSummary(result, sessionId) {
  const box = $("#summary");
  box.hidden = false;
  box.dataset.sessionId = sessionId || "";
  box.dataset.partial = result.partial ? "1" : "";
  $("#summary-partial").hidden = !result.partial;
  const total = typeof result.score === "number" ? Math.round(result.score) : null;
  const big = $("#summary-score");
  big.textContent = total === null ? "–" : String(total);
  big.dataset.score = total === null ? "" : String(total);
  big.className = total === null ? "" : "score-mid " + scoreClass(total);
  const body = $("#summary-table tbody");
  body.textContent = "";
  for (const ex of result.exercises || []) {
    const cell = (text, cls = "num") => el("td", { class: cls, text });
    const none = !(ex.reps || []).length;
    body.append(el("tr", { dataset: { exercise: ex.id, score: String(Math.round(ex.score || 0)) } }, [
      el("td", { text: exerciseName(ex.id) + (ex.skipped ? ` (${t("practice.skipped_short")})` : "") }),
      cell(none ? "–" : String(Math.round(ex.score || 0))),
      cell(none ? "–" : pct(ex.right) + " %"), cell(none ? "–" : pct(ex.left) + " %"),
      cell(none ? "–" : pct(ex.symmetry) + " %"), cell(none ? "–" : num(ex.hold, 1) + " s"),
      el("td", { class: "small", text: (ex.synkinesis || []).map(renderMessage).join("; ") || "–" }),
    ]));
  }
  const cal = result.calibration;
  $("#summary-calibration").textContent = cal ? calibrationLine(cal) : "";
  const sb = result.sunnybrook;
  $("#sunnybrook").hidden = !sb;
  if (sb) {
    const f = sunnybrookFacts(sb);
    $("#sb-resting").textContent = f.resting;
    $("#sb-voluntary").textContent = f.voluntary;
    $("#sb-synkinesis").textContent = f.synkinesis;
    $("#sb-composite").textContent = f.composite;
    const list = $("#sb-items");
    list.textContent = "";
    for (const [name, value, key] of f.items) list.append(el("li", { dataset: { item: key }, text: `${name}: ${value}` }));
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
