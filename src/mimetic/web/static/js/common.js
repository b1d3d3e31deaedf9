// Shared helpers for the pages: the boot data (UI text, catalogues, limits), translation, DOM building,
// API errors, the language switch. Plain ES modules; no framework, nothing fetched from elsewhere.

const bootEl = document.getElementById("boot");
export const boot = bootEl ? JSON.parse(bootEl.textContent) : { messages: {}, expressions: [], aus: {}, api: "/api/v1" };
export const API = boot.api || "/api/v1";

/** The UI text for `key`, with {name} placeholders filled from `vars`. */
export function t(key, vars) {
  let s = boot.messages[key];
  if (s === undefined) s = key;
  if (vars) s = s.replace(/\{(\w+)\}/g, (m, k) => (vars[k] !== undefined ? String(vars[k]) : m));
  return s;
}

/** An expression class's name in the page's language (falls back to the class id). */
export function exprName(label) {
  if (!label) return "–";
  const key = "expr." + label;
  return boot.messages[key] || label;
}

/** An AU's name: the catalogue's translation if there is one, else the FACS name. */
export function auName(code) {
  return boot.messages["au." + code] || boot.aus[code] || "";
}

/** Build an element: el("div", {class: "x", text: "hi"}, [children]). */
export function el(tag, attrs = {}, children = []) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (v === null || v === undefined || v === false) continue;
    if (k === "class") node.className = v;
    else if (k === "text") node.textContent = v;
    else if (k === "dataset") Object.assign(node.dataset, v);
    else if (k.startsWith("on")) node.addEventListener(k.slice(2), v);
    else node.setAttribute(k, v === true ? "" : v);
  }
  for (const c of [].concat(children)) {
    if (c === null || c === undefined) continue;
    node.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
  return node;
}

export const $ = (sel, root = document) => root.querySelector(sel);

export function num(v, digits = 2) {
  if (typeof v !== "number" || !isFinite(v)) return "–";
  const s = v.toFixed(digits);
  return /^-0(\.0*)?$/.test(s) ? s.slice(1) : s;  // no "-0"
}

export function percent(v, digits = 0) {
  return typeof v === "number" && isFinite(v) ? (100 * v).toFixed(digits) + " %" : "–";
}

/** A horizontal bar row: name, bar, value. */
export function barRow(name, value, max = 1, { top = false, text } = {}) {
  const fill = el("div", { class: "fill" });
  const frac = Math.max(0, Math.min(1, (Number(value) || 0) / max));
  fill.style.width = (100 * frac).toFixed(1) + "%";
  return el("div", { class: "bar-row" + (top ? " top" : "") }, [
    el("span", { class: "name", text: name, title: name }),
    el("div", { class: "track" }, fill),
    el("span", { class: "val", text: text !== undefined ? text : num(value, 2) }),
  ]);
}

/** Two half-bars: the person's right (growing to the left) and left (growing to the right), 0..max. */
export function lrBar(right, left, max = 5) {
  const half = (cls, v) => {
    const s = el("span");
    s.style.width = (100 * Math.max(0, Math.min(1, (Number(v) || 0) / max))).toFixed(1) + "%";
    return el("div", { class: "half " + cls }, s);
  };
  return el("div", { class: "lr", title: `${t("face.right")} ${num(right, 1)} · ${t("face.left")} ${num(left, 1)}` },
    [half("r", right), half("l", left)]);
}

/** The message of an API error response (JSON {"error": {"message"}}), or a generic one. */
export async function apiError(response) {
  try {
    const body = await response.json();
    if (body && body.error && body.error.message) return body.error.message;
  } catch (e) { /* not JSON */ }
  return t("error.http", { status: response.status });
}

export function setStatus(node, text, kind = "") {
  node.textContent = text || "";
  node.className = "status" + (kind ? " " + kind : "");
}

/** Palette for the 8 expression classes (the contract's order). */
export const EXPR_COLORS = {
  neutral: "#94a3b8", happiness: "#f59e0b", surprise: "#06b6d4", sadness: "#3b82f6",
  anger: "#ef4444", disgust: "#84cc16", fear: "#a855f7", contempt: "#ec4899",
};

// The language switch: reload the page with ?lang=..., keeping the other query parameters (e.g. ?job=).
const langSelect = document.getElementById("lang-select");
if (langSelect) {
  langSelect.addEventListener("change", () => {
    const url = new URL(window.location.href);
    url.searchParams.set("lang", langSelect.value);
    window.location.assign(url.toString());
  });
}

/** Wire a drop zone and a file input to `onFile(file)`. */
export function dropZone(zone, input, onFile) {
  const stop = (e) => { e.preventDefault(); e.stopPropagation(); };
  ["dragenter", "dragover"].forEach((ev) => zone.addEventListener(ev, (e) => { stop(e); zone.classList.add("over"); }));
  ["dragleave", "drop"].forEach((ev) => zone.addEventListener(ev, (e) => { stop(e); zone.classList.remove("over"); }));
  zone.addEventListener("drop", (e) => {
    const f = e.dataTransfer && e.dataTransfer.files && e.dataTransfer.files[0];
    if (f) onFile(f);
  });
  zone.addEventListener("keydown", (e) => {
    if (e.key === "Enter" || e.key === " ") { e.preventDefault(); input.click(); }
  });
  input.addEventListener("change", () => {
    if (input.files && input.files[0]) onFile(input.files[0]);
    input.value = "";
  });
}
