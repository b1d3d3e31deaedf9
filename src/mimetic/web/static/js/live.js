// Live page: the webcam streams frames to the WebSocket /api/v1/live through the shared frame socket
// (framesocket.js: one frame in flight at a time); results are drawn over the video (landmarks, boxes, expression)
// with the AU bars beside it.
import { t, el, $, num, barRow, lrBar, setStatus, exprName, auName, EXPR_COLORS } from "./common.js";
import { FrameSocket, drawFace } from "./framesocket.js";

const LIVE_AUS = ["AU01", "AU02", "AU04", "AU05", "AU06", "AU07", "AU09", "AU10", "AU12", "AU15", "AU17", "AU20", "AU23", "AU25", "AU26", "AU43"];

const status = $("#status");
const startBtn = $("#start");
const stopBtn = $("#stop");
const snapBtn = $("#snapshot");

const sock = new FrameSocket({
  path: "/live",
  video: $("#video"),
  overlay: $("#overlay"),
  status,
  stageEmpty: $("#stage-empty"),
  interval: intervalMs,
  paint: paintFaces,
  onReady() {
    sendConfig();
    setStatus(status, t("live.connected"));
    sock.sendFrames();
  },
  onReply(msg) {
    updateSide(msg);
    updateReadouts(msg);
  },
  onClose({ code, message }) { stop(message || t("live.closed", { code })); },
});

const exprBars = {};
const auRows = {};
buildSide();

startBtn.addEventListener("click", start);
stopBtn.addEventListener("click", () => stop(t("live.stopped")));
snapBtn.addEventListener("click", () => sock.snapshot(() => setStatus(status, t("live.saved"))));
$("#landmarks").addEventListener("change", sendConfig);
$("#interval").addEventListener("change", () => sock.nudge());

function buildSide() {
  const bars = $("#expr-bars");
  for (const c of ["neutral", "happiness", "surprise", "sadness", "anger", "disgust", "fear", "contempt"]) {
    const row = barRow(exprName(c), 0, 1);
    exprBars[c] = row;
    bars.append(row);
  }
  const box = $("#au-bars");
  for (const code of LIVE_AUS) {
    const bar = lrBar(0, 0, 5);
    const val = el("span", { class: "val", text: "–" });
    const row = el("div", { class: "au-row", title: auName(code) }, [el("span", { class: "code", text: code }), bar, val]);
    auRows[code] = { bar, val };
    box.append(row);
  }
}

function intervalMs() {
  const v = Number($("#interval").value);
  return isFinite(v) && v >= 0 ? v : 400;
}

async function start() {
  if (sock.stream) return;
  if (!(await sock.open())) return;
  startBtn.disabled = true;
  stopBtn.disabled = false;
  snapBtn.disabled = false;
}

function sendConfig() {
  sock.send({ type: "config", landmarks: $("#landmarks").value });
}

function stop(message) {
  sock.stop();
  startBtn.disabled = false;
  stopBtn.disabled = true;
  snapBtn.disabled = true;
  if (message) setStatus(status, message);
}

function updateReadouts(msg) {
  const { fps, latency, server } = sock.stats();
  $("#fps").textContent = fps ? fps.toFixed(1) : "–";
  $("#latency").textContent = Math.round(latency) + " ms";
  $("#server-ms").textContent = num(server, 0) + " ms";
  $("#face-count").textContent = String((msg.faces || []).length);
}

function mainFace(msg) {
  const faces = (msg && msg.faces) || [];
  return faces.length ? faces[0] : null;
}

function updateSide(msg) {
  const face = mainFace(msg);
  const expr = face && face.expression;
  const big = $("#expression");
  big.textContent = expr ? exprName(expr.label) : (face ? "–" : t("live.no_face"));
  big.dataset.label = expr ? expr.label : "";
  for (const [c, row] of Object.entries(exprBars)) {
    const v = expr && expr.scores ? expr.scores[c] || 0 : 0;
    row.querySelector(".fill").style.width = (100 * v).toFixed(1) + "%";
    row.querySelector(".val").textContent = num(v, 2);
    row.classList.toggle("top", !!expr && expr.label === c);
  }
  for (const [code, { bar, val }] of Object.entries(auRows)) {
    const a = face && face.aus ? face.aus[code] : null;  // [intensity, left, right]
    const [right, left] = a ? [a[2], a[1]] : [0, 0];
    bar.querySelector(".half.r span").style.width = (100 * Math.min(1, right / 5)).toFixed(1) + "%";
    bar.querySelector(".half.l span").style.width = (100 * Math.min(1, left / 5)).toFixed(1) + "%";
    val.textContent = a ? num(a[0], 1) : "–";
  }
}

/** Draw every face of a result into rect r; returns how many landmarks were drawn. */
function paintFaces(ctx, msg, r, scale) {
  let count = 0;
  for (const face of msg.faces || []) {
    const expr = face.expression;
    const color = expr ? (EXPR_COLORS[expr.label] || "#4f46e5") : "#4f46e5";
    const label = expr ? `${exprName(expr.label)} ${num(expr.scores[expr.label], 2)}` : "";
    count += drawFace(ctx, face, msg, r, { color, label, scale });
  }
  return count;
}
