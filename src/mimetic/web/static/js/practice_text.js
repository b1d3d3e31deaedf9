// Practice text in the page's language (issue 17). The server sends every text for the person as a message key and
// values ({key, values}: mimetic.practice.results.Message); this module renders them from the page's catalogue
// (mimetic/web/locales/practice/<lang>.json). A key with plural forms has entries "key#one", "key#other" (the CLDR
// categories of the language, picked by Intl.PluralRules from the value `n`); Korean and Chinese have "#other" only.
import { t, boot, exprName } from "./common.js";

const lang = (boot.lang || document.documentElement.lang || "en");
const rules = new Intl.PluralRules(lang);
let exercises = {};

/** The exercise catalogue from /api/v1/practice/catalogue (English names: only a fallback for unknown ids). */
export function setExercises(catalogue) { exercises = (catalogue && catalogue.exercises) || {}; }

function has(key) { return boot.messages[key] !== undefined; }

/** t() with plural forms: `vars.n` picks "key#<category>" (falling back to "key#other", then "key"). */
export function tp(key, vars = {}) {
  if (typeof vars.n === "number") {
    const form = `${key}#${rules.select(vars.n)}`;
    if (has(form)) return t(form, vars);
    if (has(`${key}#other`)) return t(`${key}#other`, vars);
  }
  return t(key, vars);
}

/** An exercise's name in the page's language. */
export function exerciseName(id) {
  const key = `exercise.${id}.name`;
  if (has(key)) return t(key);
  return (exercises[id] && exercises[id].name) || id || "–";
}

/** An exercise's instruction in the page's language. */
export function exerciseInstruction(id) {
  const key = `exercise.${id}.instruction`;
  if (has(key)) return t(key);
  return (exercises[id] && exercises[id].instruction) || "";
}

/** "left" / "right" / "both" in the page's language. */
export function sideWord(side) { return has(`practice.side.${side}`) ? t(`practice.side.${side}`) : String(side || ""); }

/** A Message ({key, values}) in the page's language; a plain string (sessions stored before issue 17) as it is. */
export function renderMessage(m) {
  if (m === null || m === undefined) return "";
  if (typeof m === "string") return m;
  const v = { ...(m.values || {}) };
  if (m.key === "calibration.legacy") return String(v.text || "");
  if (v.exercise) { v.instruction = exerciseInstruction(v.exercise); v.exercise = exerciseName(v.exercise); }
  if (v.side) v.side = sideWord(v.side);
  if (v.measure) v.measure = has(`measure.${v.measure}`) ? t(`measure.${v.measure}`) : v.measure;
  if (v.expression) v.expression = exprName(v.expression);
  return tp(m.key, v);
}

/** "3 exercises", "1 repetition": a count with its plural form. */
export function count(key, n) { return tp(key, { n }); }

/** The Sunnybrook-shaped estimate: tested items only; untested ones say so; the sums only when complete. */
export function sunnybrookFacts(sb) {
  const notTested = t("practice.sb_not_tested");
  const incomplete = t("practice.sb_incomplete");
  const v = (x, max) => (typeof x === "number" ? `${x} / ${max}` : sb.complete ? "–" : incomplete);
  const items = (sb.items && sb.items.voluntary) || {};
  const names = Object.keys(items);
  return {
    resting: `${sb.resting_symmetry} / 20`,
    voluntary: v(sb.voluntary_movement, 100),
    synkinesis: v(sb.synkinesis, 15),
    composite: typeof sb.composite === "number" ? String(sb.composite) : incomplete,
    items: names.map((k) => [t(`practice.sb_item.${k}`), typeof items[k] === "number"
      ? t("practice.sb_grade", { grade: items[k] }) : notTested, k]),
  };
}

/** "Calibration: good" / "Calibration: poor (...)" with the reasons, in the page's language. */
export function calibrationLine(cal) {
  const warnings = (cal.warnings || []).map(renderMessage);
  const quality = cal.quality || (warnings.length ? "poor" : "good");
  const attempts = count("practice.n_attempts", cal.attempts || 1);
  return t("practice.cal_line", { quality: t(`practice.cal_quality.${quality}`), attempts })
    + (warnings.length ? " — " + warnings.join("; ") : "");
}
