// Labelling projects (issue 20): the project list, a project, the fast labelling page and the review page.
// One module for the four pages; boot.annotate.page says which. All calls go to /api/v1/projects.
import { $, API, apiError, boot, el, exprName, num, percent, setStatus, t } from "./common.js";

const A = boot.annotate || {};
const P = A.project || null;
const BASE = `${API}/projects`;
const headers = { "X-CSRF-Token": boot.csrf || "" };

async function call(method, path, body) {
  const init = { method, headers: { ...headers }, credentials: "same-origin" };
  if (body !== undefined) {
    init.headers["Content-Type"] = "application/json";
    init.body = JSON.stringify(body);
  }
  const r = await fetch(BASE + path, init);
  if (!r.ok) throw new Error(await apiError(r));
  return r.status === 204 ? null : r.json();
}

const labelName = (l) => (l === "not_a_face" ? t("annotate.not_a_face") : l === "unsure" ? t("annotate.unsure")
  : exprName(l));
const roleName = (r) => t("annotate.role_" + r);
const fmt = (v) => (typeof v === "number" ? num(v, 3) : "–");

// -- the project list -------------------------------------------------------------------------------------------
async function projectsPage() {
  const list = $("#ann-projects");
  $("#ann-labels").value = boot.expressions.join(", ");
  const { projects } = await call("GET", "");
  $("#ann-none").hidden = projects.length > 0;
  list.replaceChildren(...projects.map((p) => el("li", {}, [
    el("a", { href: `/annotate/${p.id}`, text: p.name }), " ",
    el("span", { class: "badge", text: roleName(p.role) }), " ",
    el("span", { class: "muted small", text: t("annotate.n_items", { n: p.items }) })])));
  $("#ann-create").addEventListener("submit", async (ev) => {
    ev.preventDefault();
    const f = ev.target;
    const status = $("#ann-create-status");
    try {
      const p = await call("POST", "", { name: f.name.value, labels: f.labels.value, aus: f.aus.value || null,
        blind: f.blind.checked });
      location.href = `/annotate/${p.id}`;
    } catch (e) { setStatus(status, e.message, "error"); }
  });
}

// -- one project --------------------------------------------------------------------------------------------------
async function projectPage() {
  const canEdit = P.role === "owner" || P.role === "reviewer";
  $("#ann-title").textContent = P.name;
  $("#ann-summary").textContent = t("annotate.summary", { n: P.items, role: roleName(P.role) });
  $("#ann-go-label").href = `/annotate/${P.id}/label`;
  $("#ann-go-review").href = `/annotate/${P.id}/review`;
  $("#ann-go-review").hidden = !canEdit;
  $("#ann-upload-card").hidden = !canEdit;
  $("#ann-export-card").hidden = !canEdit;
  $("#ann-danger").hidden = P.role !== "owner";
  $("#ann-member").hidden = P.role !== "owner";
  const showMembers = (members) => $("#ann-members").replaceChildren(...members.map((m) => el("li", {}, [
    m.name, " ", el("span", { class: "muted small", text: m.email }), " ",
    el("span", { class: "badge", text: roleName(m.role) })])));
  showMembers((await call("GET", `/${P.id}`)).members);
  $("#ann-exports").replaceChildren(...["folders", "csv", "votes", "labelstudio"].map((f) =>
    el("a", { class: "button", href: `${BASE}/${P.id}/export?format=${f}`, text: t("annotate.export_" + f) })));
  $("#ann-member").addEventListener("submit", async (ev) => {
    ev.preventDefault();
    try {
      showMembers((await call("POST", `/${P.id}/members`, { email: ev.target.email.value,
        role: ev.target.role.value })).members);
      setStatus($("#ann-member-status"), "");
    } catch (e) { setStatus($("#ann-member-status"), e.message, "error"); }
  });
  $("#ann-upload").addEventListener("submit", async (ev) => {
    ev.preventDefault();
    const f = ev.target;
    const file = f.file.files[0];
    const status = $("#ann-upload-status");
    if (!file) return;
    setStatus(status, t("annotate.uploading"), "busy");
    const body = new FormData();
    body.append("file", file);
    const q = `?fps=${encodeURIComponent(f.fps.value || 1)}&prelabel=${f.prelabel.checked}`;
    try {
      const r = await fetch(`${BASE}/${P.id}/images${q}`, { method: "POST", headers, body, credentials: "same-origin" });
      if (!r.ok) throw new Error(await apiError(r));
      const out = await r.json();
      const refused = out.refused.map((x) => `${x.name}: ${x.reason}`).join("; ");
      setStatus(status, t("annotate.uploaded", { added: out.added, duplicates: out.duplicates,
        refused: out.refused.length }) + (refused ? " — " + refused : ""), out.refused.length ? "error" : "");
      const p = await call("GET", `/${P.id}`);
      $("#ann-summary").textContent = t("annotate.summary", { n: p.items, role: roleName(p.role) });
    } catch (e) { setStatus(status, e.message, "error"); }
  });
  $("#ann-delete").addEventListener("click", async () => {
    if (!confirm(t("annotate.delete_confirm", { name: P.name }))) return;
    await call("DELETE", `/${P.id}`);
    location.href = "/annotate";
  });
}

// -- labelling ------------------------------------------------------------------------------------------------------
async function labelPage() {
  const ls = P.label_set;
  const answers = [...ls.labels, "not_a_face", "unsure"];
  $("#ann-back-project").href = $("#ann-done-link").href = `/annotate/${P.id}`;
  const { items } = await call("GET", `/${P.id}/queue`);
  let i = items.findIndex((it) => !it.mine);
  if (i < 0) i = items.length;
  const suggest = $("#ann-suggest");
  const blindHere = ls.blind && P.role === "annotator";
  $("#ann-suggest-toggle").hidden = blindHere;
  suggest.checked = false;  // blind by default: the suggestion is shown only on request
  const img = $("#ann-crop");
  const cache = new Map();
  const src = (it) => `${BASE}/${P.id}/items/${it.id}/crop`;
  const preload = (k) => {
    for (const it of items.slice(k, k + 3)) {
      if (!cache.has(it.id)) { const im = new Image(); im.src = src(it); cache.set(it.id, im); }
    }
  };
  const buttons = answers.map((a, k) => el("button", {
    type: "button", class: "button ann-choice", dataset: { label: a },
    text: (k < 9 && k < ls.labels.length ? `${k + 1} ` : a === "not_a_face" ? "N " : a === "unsure" ? "U " : "")
      + labelName(a),
    onclick: () => choose(a),
  }));
  $("#ann-choices").replaceChildren(...buttons);
  const auBox = $("#ann-aus");
  const auInputs = {};
  if (ls.aus.length) {
    auBox.hidden = false;
    auBox.replaceChildren(...ls.aus.map((au) => {
      const sel = el("select", { "aria-label": au }, ["", ...(ls.au_intensity ? "ABCDE" : "✓")].map((v) =>
        el("option", { value: v, text: v || "–" })));
      auInputs[au] = sel;
      return el("label", { class: "field ann-au" }, [au, sel]);
    }));
  }
  function show() {
    const done = items.filter((it) => it.mine).length;
    $("#ann-progress").textContent = t("annotate.progress", { done, total: items.length });
    $("#ann-done").hidden = i < items.length;
    $("#ann-label-app").classList.toggle("finished", i >= items.length);
    if (i >= items.length) return;
    const it = items[i];
    img.src = src(it);
    $("#ann-name").textContent = `${i + 1} / ${items.length} · ${it.name}`;
    for (const b of buttons) b.classList.toggle("chosen", b.dataset.label === it.mine);
    for (const s of Object.values(auInputs)) s.value = "";
    const pre = it.prelabel;
    const sug = $("#ann-suggestion");
    sug.hidden = !(suggest.checked && pre && pre.scores);
    if (!sug.hidden) {
      const top = Object.entries(pre.scores).sort((a, b) => b[1] - a[1]).slice(0, 3);
      const aus = Object.entries(pre.aus || {}).filter(([, v]) => v >= 1).map(([k, v]) => `${k} ${num(v, 1)}`);
      sug.replaceChildren(el("strong", { text: t("annotate.suggestion") }), " ",
        top.map(([k, v]) => `${labelName(k)} ${percent(v)}`).join(" · "), aus.length ? el("br") : null,
        aus.length ? aus.join(", ") : null);
    }
    preload(i + 1);
  }
  // votes still on their way to the server: the page says so (data-saving) and asks before it is left
  let saving = 0;
  const setSaving = (d) => { saving += d; document.body.dataset.saving = saving > 0 ? "1" : ""; };
  window.addEventListener("beforeunload", (ev) => { if (saving > 0) { ev.preventDefault(); ev.returnValue = ""; } });
  async function choose(label) {
    if (i >= items.length) return;
    const it = items[i];
    const aus = {};
    for (const [au, s] of Object.entries(auInputs)) if (s.value) aus[au] = ls.au_intensity ? s.value : "";
    const prev = it.mine;
    it.mine = label;
    i += 1;
    show();  // the next face at once; the vote is saved meanwhile
    setSaving(1);
    try { await call("PUT", `/${P.id}/items/${it.id}/vote`, { label, aus }); }
    catch (e) { it.mine = prev; alert(e.message); }
    finally { setSaving(-1); }
  }
  const skip = () => { if (i < items.length) { i += 1; show(); } };
  const back = () => { if (i > 0) { i -= 1; show(); } };
  $("#ann-skip").addEventListener("click", skip);
  $("#ann-prev").addEventListener("click", back);
  suggest.addEventListener("change", show);
  document.addEventListener("keydown", (ev) => {
    if (ev.target.closest && ev.target.closest("input, select, textarea")) return;
    if (ev.ctrlKey || ev.metaKey || ev.altKey) return;
    const n = Number(ev.key);
    if (n >= 1 && n <= Math.min(9, ls.labels.length)) choose(ls.labels[n - 1]);
    else if (ev.key === "n" || ev.key === "N") choose("not_a_face");
    else if (ev.key === "u" || ev.key === "U") choose("unsure");
    else if (ev.key === " ") skip();
    else if (ev.key === "Backspace") back();
    else return;
    ev.preventDefault();
  });
  show();
}

// -- agreement and review -------------------------------------------------------------------------------------------
async function reviewPage() {
  $("#ann-back-project").href = `/annotate/${P.id}`;
  const answers = [...P.label_set.labels, "not_a_face", "unsure"];
  let data = await call("GET", `/${P.id}/agreement`);
  function render() {
    const ag = data.agreement;
    const stat = (k, v) => [el("dt", { text: t(k) }), el("dd", { text: v })];
    $("#ann-stats").replaceChildren(...[
      ...stat("annotate.n_annotators", String(ag.annotators.length)),
      ...stat("annotate.items_voted", `${ag.items} (${ag.items_multi})`),
      ...stat("annotate.percent", percent(ag.percent)),
      ...stat("annotate.cohen", fmt(ag.cohen)),
      ...stat("annotate.fleiss", fmt(ag.fleiss)),
      ...stat("annotate.to_review", String(ag.disagreements)),
    ].flat());
    $("#ann-per-class").replaceChildren(
      el("tr", {}, [el("th", { text: "" }), el("th", { text: t("annotate.specific") }),
        el("th", { text: t("annotate.kappa") })]),
      ...ag.labels.filter((c) => ag.specific[c] !== null).map((c) => el("tr", {}, [el("th", { text: labelName(c) }),
        el("td", { text: fmt(ag.specific[c]) }), el("td", { text: fmt(ag.category_kappa[c]) })])));
    const m = data.model;
    $("#ann-confusion").replaceChildren(
      el("tr", {}, [el("th", { text: `${t("annotate.human")} \\ ${t("annotate.model")}` }),
        ...m.labels.map((c) => el("th", { text: labelName(c) }))]),
      ...m.labels.map((c, r) => el("tr", {}, [el("th", { text: labelName(c) }),
        ...m.matrix[r].map((v, k) => el("td", { class: v ? (k === r ? "hit" : "miss") : "", text: String(v) }))])));
    const only = $("#ann-only-conflicts").checked;
    const rows = data.items.filter((it) => !only || it.needs_review || it.review);
    $("#ann-items").replaceChildren(
      el("tr", {}, [el("th", { text: "" }), el("th", { text: t("annotate.votes") }),
        el("th", { text: t("annotate.model") }), el("th", { text: t("annotate.final") })]),
      ...rows.map((it) => {
        const sel = el("select", { "aria-label": t("annotate.final"), dataset: { item: it.id } },
          [el("option", { value: "", text: "–" }), ...answers.map((a) => el("option", { value: a, text: labelName(a) }))]);
        sel.value = it.review || "";
        sel.addEventListener("change", async () => {
          await call("PUT", `/${P.id}/items/${it.id}/review`, { label: sel.value || null });
          data = await call("GET", `/${P.id}/agreement`);
          render();
        });
        return el("tr", { class: it.needs_review ? "conflict" : "" }, [
          el("td", {}, el("img", { src: `${BASE}/${P.id}/items/${it.id}/crop`, alt: it.name, class: "ann-thumb",
            loading: "lazy" })),
          el("td", { text: Object.entries(it.votes).map(([w, l]) => `${w}: ${labelName(l)}`).join(", ") }),
          el("td", { text: it.model ? labelName(it.model) : "–" }),
          el("td", {}, [sel, it.final && !it.review ? el("span", { class: "muted small",
            text: " " + labelName(it.final) }) : null])]);
      }));
  }
  $("#ann-only-conflicts").addEventListener("change", render);
  render();
}

const PAGES = { projects: projectsPage, project: projectPage, label: labelPage, review: reviewPage };
(PAGES[A.page] || (() => {}))().catch((e) => {
  const main = document.querySelector("main");
  main.prepend(el("p", { class: "status error", role: "alert", text: e.message }));
});
