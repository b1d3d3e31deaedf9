// Small line charts on <canvas>: time on x, one or more series on y, shaded time bands (events), a playhead,
// click to seek.

function niceStep(span, target) {
  const raw = span / Math.max(1, target);
  const pow = Math.pow(10, Math.floor(Math.log10(raw)));
  for (const m of [1, 2, 2.5, 5, 10]) if (m * pow >= raw) return m * pow;
  return 10 * pow;
}

function fmtTime(s) {
  if (s >= 60) {
    const m = Math.floor(s / 60);
    const r = Math.round(s - 60 * m);
    return `${m}:${String(r).padStart(2, "0")}`;
  }
  return (Math.round(s * 10) / 10).toString() + " s";
}

export class LineChart {
  constructor(canvas, { yMax = 1, yTicks = [0, 0.25, 0.5, 0.75, 1], yFormat = (v) => v.toFixed(2), onSeek = null } = {}) {
    this.canvas = canvas;
    this.ctx = canvas.getContext("2d");
    this.yMax = yMax;
    this.yTicks = yTicks;
    this.yFormat = yFormat;
    this.onSeek = onSeek;
    this.t = [];
    this.series = [];
    this.bands = [];
    this.playhead = null;
    this.hover = null;
    this.margin = { left: 44, right: 14, top: 10, bottom: 26 };
    canvas.addEventListener("click", (e) => {
      const time = this.timeAt(e);
      if (time !== null && this.onSeek) this.onSeek(time);
    });
    canvas.addEventListener("mousemove", (e) => { this.hover = this.timeAt(e); this.draw(); });
    canvas.addEventListener("mouseleave", () => { this.hover = null; this.draw(); });
    if (window.ResizeObserver) new ResizeObserver(() => this.draw()).observe(canvas);
  }

  setData(t, series) {
    this.t = t;
    this.series = series;
    const ts = t.filter((v) => v !== null);
    this.t0 = ts.length ? Math.min(...ts) : 0;
    this.t1 = ts.length ? Math.max(...ts) : 1;
    if (this.t1 <= this.t0) this.t1 = this.t0 + 1;
    this.draw();
  }

  /** Shaded intervals behind the series: [{t0, t1, color, mark}] (mark: a time drawn as a line, e.g. an apex). */
  setBands(bands) {
    this.bands = bands || [];
    this.draw();
  }

  setPlayhead(time) {
    this.playhead = time;
    this.draw();
  }

  timeAt(e) {
    const rect = this.canvas.getBoundingClientRect();
    const x = e.clientX - rect.left;
    const w = rect.width - this.margin.left - this.margin.right;
    if (w <= 0 || !this.t.length) return null;
    const f = Math.max(0, Math.min(1, (x - this.margin.left) / w));
    return this.t0 + f * (this.t1 - this.t0);
  }

  draw() {
    const c = this.canvas;
    const dpr = window.devicePixelRatio || 1;
    const cssW = c.clientWidth || 600;
    const cssH = c.clientHeight || 220;
    if (c.width !== Math.round(cssW * dpr) || c.height !== Math.round(cssH * dpr)) {
      c.width = Math.round(cssW * dpr);
      c.height = Math.round(cssH * dpr);
    }
    const ctx = this.ctx;
    ctx.setTransform(dpr, 0, 0, dpr, 0, 0);
    ctx.clearRect(0, 0, cssW, cssH);
    const m = this.margin;
    const W = cssW - m.left - m.right;
    const H = cssH - m.top - m.bottom;
    const x = (tv) => m.left + ((tv - this.t0) / (this.t1 - this.t0)) * W;
    const y = (v) => m.top + H - (Math.max(0, Math.min(this.yMax, v)) / this.yMax) * H;

    ctx.font = "11px system-ui, sans-serif";
    ctx.fillStyle = "#64748b";
    ctx.strokeStyle = "#e2e8f0";
    ctx.lineWidth = 1;
    ctx.textAlign = "right";
    ctx.textBaseline = "middle";
    for (const v of this.yTicks) {
      const yy = Math.round(y(v)) + 0.5;
      ctx.beginPath(); ctx.moveTo(m.left, yy); ctx.lineTo(m.left + W, yy); ctx.stroke();
      ctx.fillText(this.yFormat(v), m.left - 6, yy);
    }
    ctx.textAlign = "center";
    ctx.textBaseline = "top";
    const step = niceStep(this.t1 - this.t0, Math.max(2, Math.floor(W / 90)));
    for (let tv = Math.ceil(this.t0 / step) * step; tv <= this.t1 + 1e-9; tv += step) {
      const xx = Math.round(x(tv)) + 0.5;
      ctx.beginPath(); ctx.moveTo(xx, m.top + H); ctx.lineTo(xx, m.top + H + 4); ctx.stroke();
      ctx.fillText(fmtTime(tv), xx, m.top + H + 7);
    }
    ctx.strokeStyle = "#cbd5e1";
    ctx.beginPath(); ctx.moveTo(m.left, m.top + H + 0.5); ctx.lineTo(m.left + W, m.top + H + 0.5); ctx.stroke();

    const clampX = (tv) => x(Math.max(this.t0, Math.min(this.t1, tv)));
    for (const b of this.bands) {
      if (!isFinite(b.t0) || !isFinite(b.t1)) continue;
      const x0 = clampX(b.t0);
      const x1 = Math.max(x0 + 2, clampX(b.t1));
      ctx.globalAlpha = 0.13;
      ctx.fillStyle = b.color;
      ctx.fillRect(x0, m.top, x1 - x0, H);
      ctx.globalAlpha = 1;
      ctx.fillRect(x0, m.top, x1 - x0, 3);
      if (isFinite(b.mark)) {
        const xm = Math.round(clampX(b.mark)) + 0.5;
        ctx.strokeStyle = b.color;
        ctx.lineWidth = 1;
        ctx.setLineDash([3, 3]);
        ctx.beginPath(); ctx.moveTo(xm, m.top); ctx.lineTo(xm, m.top + H); ctx.stroke();
        ctx.setLineDash([]);
      }
    }

    ctx.lineJoin = "round";
    for (const s of this.series) {
      ctx.strokeStyle = s.color;
      ctx.lineWidth = s.width || 1.8;
      ctx.beginPath();
      let pen = false;
      for (let i = 0; i < this.t.length; i++) {
        const tv = this.t[i];
        const v = s.values[i];
        if (tv === null || v === null || v === undefined) { pen = false; continue; }
        if (pen) ctx.lineTo(x(tv), y(v)); else { ctx.moveTo(x(tv), y(v)); pen = true; }
      }
      ctx.stroke();
    }
    const marker = (tv, color, widthPx) => {
      if (tv === null || tv === undefined || !isFinite(tv)) return;
      const xx = Math.round(x(Math.max(this.t0, Math.min(this.t1, tv)))) + 0.5;
      ctx.strokeStyle = color;
      ctx.lineWidth = widthPx;
      ctx.beginPath(); ctx.moveTo(xx, m.top); ctx.lineTo(xx, m.top + H); ctx.stroke();
    };
    marker(this.hover, "rgba(100,116,139,.5)", 1);
    marker(this.playhead, "#0f172a", 1.5);
  }
}
