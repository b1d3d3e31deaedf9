// Live page: the webcam (getUserMedia) streams JPEG frames to the WebSocket /api/v1/live, one frame in flight at
// a time; results are drawn over the video (landmarks, boxes, expression) with the AU bars beside it.
import { API, t, el, $, num, barRow, lrBar, setStatus, exprName, auName, EXPR_COLORS, grabFrame, openCamera } from "./common.js";

const LIVE_AUS = ["AU01", "AU02", "AU04", "AU05", "AU06", "AU07", "AU09", "AU10", "AU12", "AU15", "AU17", "AU20", "AU23", "AU25", "AU26", "AU43"];
const MAX_SIDE = 640;      // frames are scaled down to at most this many pixels wide/high before sending
const JPEG_QUALITY = 0.8;

const video = $("#video");
const overlay = $("#overlay");
const status = $("#status");
const startBtn = $("#start");
const stopBtn = $("#stop");
const snapBtn = $("#snapshot");
const grab = document.createElement("canvas");

let stream = null;
let ws = null;
let running = false;
let inflight = false;
let sentAt = 0;
let timer = null;
let last = null;
let arrivals = [];
let latencies = [];
let serverTimes = [];

const exprBars = {};
const auRows = {};
buildSide();

startBtn.addEventListener("click", start);
stopBtn.addEventListener("click", () => stop(t("live.stopped")));
snapBtn.addEventListener("click", snapshot);
$("#landmarks").addEventListener("change", sendConfig);
$("#interval").addEventListener("change", () => { if (running && !inflight) schedule(0); });

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
  if (running) return;
  stream = await openCamera(video, status);
  if (!stream) return;
  $("#stage-empty").hidden = true;
  startBtn.disabled = true;
  stopBtn.disabled = false;
  snapBtn.disabled = false;
  connect();
  requestAnimationFrame(draw);
}

function connect() {
  setStatus(status, t("live.connecting"), "busy");
  const proto = location.protocol === "https:" ? "wss" : "ws";
  ws = new WebSocket(`${proto}://${location.host}${API}/live`);
  ws.binaryType = "arraybuffer";
  ws.onmessage = (e) => onMessage(JSON.parse(e.data));
  ws.onclose = (e) => { if (running) stop(t("live.closed", { code: e.code })); };
  ws.onerror = () => setStatus(status, t("live.ws_error"), "error");
}

function sendConfig() {
  if (ws && ws.readyState === WebSocket.OPEN) ws.send(JSON.stringify({ type: "config", landmarks: $("#landmarks").value }));
}

function onMessage(msg) {
  if (msg.type === "ready") {
    running = true;
    sendConfig();
    setStatus(status, t("live.connected"));
    schedule(0);
  } else if (msg.type === "result") {
    const now = performance.now();
    inflight = false;
    last = msg;
    arrivals.push(now);
    latencies.push(now - sentAt);
    serverTimes.push(msg.server_ms || 0);
    if (serverTimes.length > 30) serverTimes.shift();
    while (arrivals.length && now - arrivals[0] > 2000) arrivals.shift();
    if (latencies.length > 30) latencies.shift();
    updateSide(msg);
    updateReadouts(msg);
    schedule(Math.max(0, intervalMs() - (now - sentAt)));
  } else if (msg.type === "error") {
    inflight = false;
    setStatus(status, msg.message || t("live.ws_error"), "error");
    if (msg.status === 503) { stop(msg.message); return; }
    schedule(intervalMs());
  }
}

function schedule(delay) {
  clearTimeout(timer);
  timer = setTimeout(sendFrame, delay);
}

function sendFrame() {
  if (!running || inflight || !ws || ws.readyState !== WebSocket.OPEN) return;
  inflight = true;
  const grabbed = grabFrame(video, grab, MAX_SIDE, JPEG_QUALITY, (blob) => {
    if (!blob || !running || !ws || ws.readyState !== WebSocket.OPEN) { inflight = false; return; }
    sentAt = performance.now();
    ws.send(blob);
  });
  if (!grabbed) { inflight = false; schedule(50); }
}

function stop(message) {
  running = false;
  inflight = false;
  clearTimeout(timer);
  if (ws) { try { ws.close(); } catch (e) { /* closed */ } ws = null; }
  if (stream) { stream.getTracks().forEach((tr) => tr.stop()); stream = null; }
  video.srcObject = null;
  last = null;
  $("#stage-empty").hidden = false;
  startBtn.disabled = false;
  stopBtn.disabled = true;
  snapBtn.disabled = true;
  clearOverlay();
  if (message) setStatus(status, message);
}

function updateReadouts(msg) {
  const fps = arrivals.length > 1 ? (1000 * (arrivals.length - 1)) / (arrivals[arrivals.length - 1] - arrivals[0]) : 0;
  const median = (xs) => xs.slice().sort((a, b) => a - b)[Math.floor(xs.length / 2)] || 0;
  const lat = median(latencies);
  $("#fps").textContent = fps ? fps.toFixed(1) : "–";
  $("#latency").textContent = Math.round(lat) + " ms";
  $("#server-ms").textContent = num(median(serverTimes), 0) + " ms";
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

function contentRect() {
  // Where the video's picture lies inside the stage (object-fit: contain).
  const W = overlay.clientWidth;
  const H = overlay.clientHeight;
  const vw = video.videoWidth || 4;
  const vh = video.videoHeight || 3;
  const k = Math.min(W / vw, H / vh);
  return { x: (W - vw * k) / 2, y: (H - vh * k) / 2, w: vw * k, h: vh * k };
}

function clearOverlay() {
  const ctx = overlay.getContext("2d");
  ctx.clearRect(0, 0, overlay.width, overlay.height);
  overlay.dataset.landmarks = "0";
}

function draw() {
  if (!running && !stream) return;
  const dpr = window.devicePixelRatio || 1;
  const W = overlay.clientWidth;
  const H = overlay.clientHeight;
  if (overlay.width !== Math.round(W * dpr) || overlay.height !== Math.round(H * dpr)) {
    overlay.width = Math.round(W * dpr);
    overlay.height = Math.round(H * dpr);
  }
  const ctx = overlay.getContext("2d");
  ctx.setTransform(dpr, 0, 0, dpr, 0, 0);
  ctx.clearRect(0, 0, W, H);
  const n = last ? paintFaces(ctx, last, contentRect(), 1) : 0;
  overlay.dataset.landmarks = String(n);
  requestAnimationFrame(draw);
}

/** Draw every face of a result into rect r; returns how many landmarks were drawn. */
function paintFaces(ctx, msg, r, scale) {
  let count = 0;
  const sx = r.w / (msg.width || 1);
  const sy = r.h / (msg.height || 1);
  for (const face of msg.faces || []) {
    const expr = face.expression;
    const color = expr ? (EXPR_COLORS[expr.label] || "#4f46e5") : "#4f46e5";
    const pts = face.landmarks || [];
    ctx.fillStyle = "rgba(125, 249, 255, 0.95)";
    const dot = (pts.length > 200 ? 1.7 : 3.0) * scale;
    for (let i = 0; i + 1 < pts.length; i += 2) {
      ctx.fillRect(r.x + pts[i] * r.w - dot / 2, r.y + pts[i + 1] * r.h - dot / 2, dot, dot);
    }
    count += pts.length / 2;
    const [bx, by, bw, bh] = face.box || [0, 0, 0, 0];
    ctx.strokeStyle = color;
    ctx.lineWidth = 2 * scale;
    ctx.strokeRect(r.x + bx * sx, r.y + by * sy, bw * sx, bh * sy);
    if (expr) {
      const text = `${exprName(expr.label)} ${num(expr.scores[expr.label], 2)}`;
      ctx.font = `600 ${Math.round(14 * scale)}px system-ui, sans-serif`;
      const tw = ctx.measureText(text).width;
      const ty = Math.max(r.y, r.y + by * sy - 24 * scale);
      ctx.fillStyle = "rgba(15, 23, 42, 0.75)";
      ctx.fillRect(r.x + bx * sx, ty, tw + 14 * scale, 22 * scale);
      ctx.fillStyle = "#fff";
      ctx.textBaseline = "middle";
      ctx.fillText(text, r.x + bx * sx + 7 * scale, ty + 11 * scale);
    }
  }
  return count;
}

function snapshot() {
  const vw = video.videoWidth;
  const vh = video.videoHeight;
  if (!vw || !vh) return;
  const c = document.createElement("canvas");
  c.width = vw;
  c.height = vh;
  const ctx = c.getContext("2d");
  ctx.drawImage(video, 0, 0, vw, vh);
  if (last) paintFaces(ctx, last, { x: 0, y: 0, w: vw, h: vh }, Math.max(1, vw / 640));
  c.toBlob((blob) => {
    const a = el("a", { href: URL.createObjectURL(blob), download: `mimetic-snapshot-${new Date().toISOString().replace(/[:.]/g, "-")}.png` });
    document.body.append(a);
    a.click();
    setTimeout(() => { URL.revokeObjectURL(a.href); a.remove(); }, 1000);
    setStatus(status, t("live.saved"));
  }, "image/png");
}
