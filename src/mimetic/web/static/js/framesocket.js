// The browser side of the frame-socket protocol (docs/web.md "Frame sockets"), shared by the live and practice
// pages: the webcam is played in a <video>, JPEG frames (at most 640 px) go to the WebSocket one at a time (the next
// frame leaves when the previous one is answered and the page's interval has passed), and the last reply is drawn
// over the video on a <canvas> every animation frame.
import { API, t, el, $, setStatus } from "./common.js";

const MAX_SIDE = 640;      // frames are scaled down to at most this many pixels wide/high before sending
const JPEG_QUALITY = 0.8;
const RETRY_MS = 50;       // the video has no picture yet: try again this soon

/**
 * One page's camera -> socket -> overlay loop. Options:
 * - path: the socket's path under /api/v1 ("/live", "/practice");
 * - video, overlay, status, stageEmpty: the page's elements;
 * - interval(): the least time in ms between two frames' sending;
 * - paint(ctx, reply, rect, scale): draw a reply into rect {x, y, w, h}; returns how many landmarks it drew;
 * - onReady(msg), onReply(msg), onFrameError(msg), onMessage(msg): the server's messages (ready; a frame's reply;
 *   an error answering a frame; anything else, errors without a seq included);
 * - onClose({code, message}): the server closed the socket (message: the error sent just before, if any).
 * Call sendFrames() when the session takes frames (after ready, or after the page's own start message).
 */
export class FrameSocket {
  constructor(options) {
    this.o = { interval: () => 0, onReady() {}, onReply() {}, onFrameError() {}, onMessage() {}, onClose() {}, ...options };
    this.grab = document.createElement("canvas");
    this.stream = null;
    this.ws = null;
    this.sending = false;
    this.inflight = false;
    this.sentAt = 0;
    this.timer = null;
    this.last = null;          // the last reply (what the overlay shows)
    this.lastError = null;
    this.arrivals = [];
    this.latencies = [];
    this.serverTimes = [];
  }

  /** Turn the camera on and connect; false (with the reason in the status line) when there is no camera. */
  async open() {
    if (this.stream) return true;
    this.stream = await openCamera(this.o.video, this.o.status);
    if (!this.stream) return false;
    if (this.o.stageEmpty) this.o.stageEmpty.hidden = true;
    this.connect();
    requestAnimationFrame(() => this.draw());
    return true;
  }

  connect() {
    setStatus(this.o.status, t("live.connecting"), "busy");
    const proto = location.protocol === "https:" ? "wss" : "ws";
    const ws = new WebSocket(`${proto}://${location.host}${API}${this.o.path}`);
    ws.binaryType = "arraybuffer";
    ws.onmessage = (e) => this.receive(JSON.parse(e.data));
    ws.onclose = (e) => {
      if (this.ws !== ws) return;
      this.ws = null;
      this.o.onClose({ code: e.code, message: this.lastError && this.lastError.message });
    };
    ws.onerror = () => setStatus(this.o.status, t("live.ws_error"), "error");
    this.ws = ws;
  }

  get isOpen() { return !!this.ws && this.ws.readyState === WebSocket.OPEN; }

  /** Send a JSON text message (the page's own types). */
  send(message) {
    if (this.isOpen) this.ws.send(JSON.stringify(message));
  }

  /** Start (or keep) sending frames. */
  sendFrames() {
    this.sending = true;
    if (!this.inflight) this.schedule(0);
  }

  /** The interval changed: send the next frame now unless one is on its way. */
  nudge() {
    if (this.sending && !this.inflight) this.schedule(0);
  }

  receive(msg) {
    if (typeof msg.seq === "number") {  // the answer to the frame in flight
      const now = performance.now();
      this.inflight = false;
      if (msg.type === "error") {
        this.lastError = msg;
        setStatus(this.o.status, msg.message || t("live.ws_error"), "error");
        this.o.onFrameError(msg);
        this.schedule(this.o.interval());
        return;
      }
      this.last = msg;
      this.arrivals.push(now);
      this.latencies.push(now - this.sentAt);
      this.serverTimes.push(msg.server_ms || 0);
      while (this.arrivals.length && now - this.arrivals[0] > 2000) this.arrivals.shift();
      if (this.latencies.length > 30) this.latencies.shift();
      if (this.serverTimes.length > 30) this.serverTimes.shift();
      this.o.onReply(msg);
      this.schedule(Math.max(0, this.o.interval() - (now - this.sentAt)));
    } else if (msg.type === "ready") {
      this.o.onReady(msg);
    } else {
      if (msg.type === "error") {
        this.lastError = msg;
        setStatus(this.o.status, msg.message || t("live.ws_error"), "error");
      }
      this.o.onMessage(msg);
    }
  }

  schedule(delay) {
    clearTimeout(this.timer);
    this.timer = setTimeout(() => this.sendFrame(), delay);
  }

  sendFrame() {
    if (!this.sending || this.inflight || !this.isOpen) return;
    this.inflight = true;
    const grabbed = grabFrame(this.o.video, this.grab, MAX_SIDE, JPEG_QUALITY, (blob) => {
      if (!blob || !this.sending || !this.isOpen) { this.inflight = false; return; }
      this.sentAt = performance.now();
      this.ws.send(blob);
    });
    if (!grabbed) { this.inflight = false; this.schedule(RETRY_MS); }
  }

  /** Frames per second (last 2 s), median round trip and median server time (ms) of the recent replies. */
  stats() {
    const a = this.arrivals;
    const median = (xs) => xs.slice().sort((x, y) => x - y)[Math.floor(xs.length / 2)] || 0;
    return {
      fps: a.length > 1 ? (1000 * (a.length - 1)) / (a[a.length - 1] - a[0]) : 0,
      latency: median(this.latencies),
      server: median(this.serverTimes),
    };
  }

  /** Close the socket (the server's close is not reported), turn the camera off, clear the overlay. */
  stop() {
    this.sending = false;
    this.inflight = false;
    clearTimeout(this.timer);
    if (this.ws) { const ws = this.ws; this.ws = null; try { ws.close(); } catch (e) { /* closed */ } }
    if (this.stream) { this.stream.getTracks().forEach((tr) => tr.stop()); this.stream = null; }
    this.o.video.srcObject = null;
    this.last = null;
    this.lastError = null;
    this.arrivals = [];
    this.latencies = [];
    this.serverTimes = [];
    if (this.o.stageEmpty) this.o.stageEmpty.hidden = false;
    const overlay = this.o.overlay;
    overlay.getContext("2d").clearRect(0, 0, overlay.width, overlay.height);
    overlay.dataset.landmarks = "0";
  }

  /** Where the video's picture lies inside the stage (object-fit: contain). */
  contentRect() {
    const W = this.o.overlay.clientWidth;
    const H = this.o.overlay.clientHeight;
    const vw = this.o.video.videoWidth || 4;
    const vh = this.o.video.videoHeight || 3;
    const k = Math.min(W / vw, H / vh);
    return { x: (W - vw * k) / 2, y: (H - vh * k) / 2, w: vw * k, h: vh * k };
  }

  draw() {
    if (!this.stream) return;
    const overlay = this.o.overlay;
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
    const n = this.last ? this.o.paint(ctx, this.last, this.contentRect(), 1) : 0;
    overlay.dataset.landmarks = String(n);
    requestAnimationFrame(() => this.draw());
  }

  /** Download the camera picture with the overlay as a PNG; ``done()`` once the file is offered. */
  snapshot(done) {
    const vw = this.o.video.videoWidth;
    const vh = this.o.video.videoHeight;
    if (!vw || !vh) return;
    const c = document.createElement("canvas");
    c.width = vw;
    c.height = vh;
    const ctx = c.getContext("2d");
    ctx.drawImage(this.o.video, 0, 0, vw, vh);
    if (this.last) this.o.paint(ctx, this.last, { x: 0, y: 0, w: vw, h: vh }, Math.max(1, vw / 640));
    c.toBlob((blob) => {
      const a = el("a", { href: URL.createObjectURL(blob), download: `mimetic-snapshot-${new Date().toISOString().replace(/[:.]/g, "-")}.png` });
      document.body.append(a);
      a.click();
      setTimeout(() => { URL.revokeObjectURL(a.href); a.remove(); }, 1000);
      if (done) done();
    }, "image/png");
  }
}

/**
 * Draw one face of a reply (``box`` in the reply's pixels, ``landmarks`` normalised 0..1) into rect r: the
 * landmarks as dots, the box in ``color`` and, when given, ``label`` above the box. Returns the landmarks drawn.
 */
export function drawFace(ctx, face, reply, r, { color = "#4f46e5", label = "", scale = 1 } = {}) {
  const pts = face.landmarks || [];
  ctx.fillStyle = "rgba(125, 249, 255, 0.95)";
  const dot = (pts.length > 200 ? 1.7 : 3.0) * scale;
  for (let i = 0; i + 1 < pts.length; i += 2) {
    ctx.fillRect(r.x + pts[i] * r.w - dot / 2, r.y + pts[i + 1] * r.h - dot / 2, dot, dot);
  }
  const sx = r.w / (reply.width || 1);
  const sy = r.h / (reply.height || 1);
  const [bx, by, bw, bh] = face.box || [0, 0, 0, 0];
  ctx.strokeStyle = color;
  ctx.lineWidth = 2 * scale;
  ctx.strokeRect(r.x + bx * sx, r.y + by * sy, bw * sx, bh * sy);
  if (label) {
    ctx.font = `600 ${Math.round(14 * scale)}px system-ui, sans-serif`;
    const tw = ctx.measureText(label).width;
    const ty = Math.max(r.y, r.y + by * sy - 24 * scale);
    ctx.fillStyle = "rgba(15, 23, 42, 0.75)";
    ctx.fillRect(r.x + bx * sx, ty, tw + 14 * scale, 22 * scale);
    ctx.fillStyle = "#fff";
    ctx.textBaseline = "middle";
    ctx.fillText(label, r.x + bx * sx + 7 * scale, ty + 11 * scale);
  }
  return pts.length / 2;
}

// One webcam frame as a JPEG blob: ``video`` drawn onto ``canvas`` with its longer side at most ``maxSide``.
// Returns false (and calls nothing) while the video has no frame yet.
function grabFrame(video, canvas, maxSide, quality, done) {
  const vw = video.videoWidth;
  const vh = video.videoHeight;
  if (!vw || !vh) return false;
  const k = Math.min(1, maxSide / Math.max(vw, vh));
  canvas.width = Math.round(vw * k);
  canvas.height = Math.round(vh * k);
  canvas.getContext("2d").drawImage(video, 0, 0, canvas.width, canvas.height);
  canvas.toBlob(done, "image/jpeg", quality);
  return true;
}

// Ask for the webcam and play it in ``video`` (the ``#stage`` box takes the camera's aspect ratio). Returns the
// MediaStream, or null after putting the reason in ``status``.
async function openCamera(video, status) {
  if (!navigator.mediaDevices || !navigator.mediaDevices.getUserMedia) {
    setStatus(status, t("live.no_camera_api"), "error");
    return null;
  }
  setStatus(status, t("live.asking"), "busy");
  let stream;
  try {
    stream = await navigator.mediaDevices.getUserMedia({ video: { width: { ideal: 640 }, height: { ideal: 480 } }, audio: false });
  } catch (e) {
    setStatus(status, t("live.denied", { reason: e.name || String(e) }), "error");
    return null;
  }
  video.srcObject = stream;
  video.addEventListener("loadedmetadata", () => {
    if (video.videoWidth && video.videoHeight) $("#stage").style.aspectRatio = `${video.videoWidth} / ${video.videoHeight}`;
  }, { once: true });
  try { await video.play(); } catch (e) { /* autoplay policies: muted video plays */ }
  return stream;
}
