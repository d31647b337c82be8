// Live view of one openstackai-nb run (anywidget front end, plain ES module).
//
// Two channels, as anywidget recommends:
// - synced traits hold small state: `status` (one line), `state` (running|done);
// - everything that grows arrives as append-only custom messages, in order:
//   {kind: "delta", drop?, html?, text}  the answer. The kernel renders each finished markdown
//       block once (render.markdown): `drop` characters at the start of the unfinished text now
//       belong to finished blocks, `html` is those blocks, `text` is new unfinished text.
//   {kind: "reasoning", text}            reasoning text, appended (shown as text, collapsed).
// the tool table is a synced trait `tools` ({head, rows}: render.tools' very rows of the static
// copy), so a view created late still shows every row in its latest status. A row is redrawn only
// when its HTML changed.
//
// Approval: when the trait `approvals` is "buttons", a pending row (a tool call waiting for your
// decision) gets a reason field and Approve / Reject buttons, made here with DOM calls (never from
// kernel HTML). A click sends {kind: "approval", call_id, approve, reason} back to the kernel
// (`model.send`); the row stays pending, its buttons disabled, until the kernel's next row for that
// call (running, or rejected) replaces it.
//   Any of them may carry `status`, the status line, when it changed meanwhile (a message of its
//   own, a trait change, would cost ~0.5 KB of headers); the `status` trait holds it otherwise.
// Custom messages sent before any view exists are lost, so they are accumulated per MODEL in
// `initialize` (called once per model, before views); each view renders that buffer, then
// follows further messages.
//
// Safety: text is only ever set through Text nodes. HTML comes only from the kernel's `render`
// module, which escapes all model text; it is still parsed in an inert document (DOMParser: no
// script runs, nothing loads) and kept only within an allowlist of tags and attributes (links:
// http(s) only) before it joins the page. No innerHTML anywhere.
//
// anywidget hands `initialize` and each `render` a different proxy of the same model, so a view
// cannot look its model's buffer up by the object it is given. It finds it through the model's
// own event dispatch instead: Backbone runs a model's listeners synchronously in the order they
// were added, and `initialize`'s listener is always added before any view's. So while a message
// is dispatched, `dispatching` is the buffer of that very model when a view's listener runs.

const TAGS = new Set([
  "a", "b", "blockquote", "br", "code", "del", "details", "div", "em", "h1", "h2", "h3", "h4", "h5",
  "h6", "hr", "i", "li", "ol", "p", "pre", "s", "span", "strong", "summary", "table", "tbody", "td",
  "th", "thead", "tr", "ul",
]);
const ALIGN = /^(left|right|center)$/;
const ATTRS = {
  class: () => true,
  title: () => true,
  href: (tag, v) => tag === "a" && /^https?:\/\//i.test(v),
  target: (tag, v) => tag === "a" && v === "_blank",
  rel: (tag) => tag === "a",
  align: (tag, v) => (tag === "td" || tag === "th") && ALIGN.test(v),
  start: (tag, v) => tag === "ol" && /^\d{1,9}$/.test(v),
  "data-call-id": (tag) => tag === "tr",
};

function clean(node) {
  for (const child of [...node.childNodes]) {
    if (child.nodeType === Node.TEXT_NODE) continue;
    if (child.nodeType !== Node.ELEMENT_NODE) {
      child.remove();
      continue;
    }
    const tag = child.localName;
    if (!TAGS.has(tag)) {
      child.replaceWith(document.createTextNode(child.textContent || ""));
      continue;
    }
    for (const attr of [...child.attributes]) {
      const ok = ATTRS[attr.name];
      if (!ok || !ok(tag, attr.value)) child.removeAttribute(attr.name);
    }
    clean(child);
  }
  return node;
}

// Parse kernel HTML in an inert document; `wrap` gives the context rows need (a table).
function parse(html, wrap) {
  const doc = new DOMParser().parseFromString(`<!DOCTYPE html><body>${wrap[0]}${html}${wrap[1]}</body>`, "text/html");
  return clean(doc.body);
}

function fragment(html) {
  const body = parse(html, ["", ""]);
  const frag = document.createDocumentFragment();
  frag.append(...[...body.childNodes].map((n) => document.adoptNode(n)));
  return frag;
}

function tableRow(html, section) {
  const tr = parse(html, [`<table><${section}>`, `</${section}></table>`]).querySelector("tr");
  return tr ? document.adoptNode(tr) : null;
}

let dispatching = null;

function initialize({ model }) {
  const buf = { blocks: [], tail: "", reasoning: "", status: "", listeners: new Set() };
  const onMessage = (msg) => {
    if (!msg || typeof msg !== "object") return;
    dispatching = buf;
    if (typeof msg.status === "string") {
      buf.status = msg.status;
      for (const view of buf.listeners) view.status(msg.status);
    }
    if (msg.kind === "delta") {
      const drop = Number.isInteger(msg.drop) ? msg.drop : 0;
      const html = typeof msg.html === "string" ? msg.html : "";
      const text = typeof msg.text === "string" ? msg.text : "";
      buf.tail = buf.tail.slice(drop) + text;
      if (html) buf.blocks.push(html);
      for (const view of buf.listeners) view.answer(drop, html, text);
    } else if (msg.kind === "reasoning" && typeof msg.text === "string") {
      buf.reasoning += msg.text;
      for (const view of buf.listeners) view.reasoning(msg.text);
    }
  };
  model.on("msg:custom", onMessage);
  return () => model.off("msg:custom", onMessage);
}

function el(tag, className, text) {
  const node = document.createElement(tag);
  if (className) node.className = className;
  if (text !== undefined) node.textContent = text;
  return node;
}

function render({ model, el: root }) {
  let buf = null;
  // The same classes as the static copy (render.runs) inside JupyterLab's rendered-HTML class,
  // so the host styles both alike and nothing moves when the static copy replaces this view.
  const host = el("div", "jp-RenderedHTMLCommon osnb-live-host");
  const view = el("div", "osnb-live osnb-view");
  const status = el("div", "osnb-status osnb-live-status");
  const reasoning = el("details", "osnb-reasoning");
  const reasoningText = document.createTextNode("");
  const reasoningBox = el("div", "osnb-reasoning-text");
  reasoningBox.appendChild(reasoningText);
  reasoning.append(el("summary", "", "Reasoning"), reasoningBox);
  reasoning.style.display = "none";
  const answer = el("div", "osnb-output osnb-md osnb-live-text");
  const tail = el("div", "osnb-tail");
  const tailText = document.createTextNode("");
  tail.appendChild(tailText);
  answer.appendChild(tail);
  const table = el("table", "osnb-tools osnb-live-tools");
  const head = el("thead");
  const body = el("tbody");
  table.append(head, body);
  table.style.display = "none";
  view.append(status, reasoning, answer, table);
  host.appendChild(view);
  root.appendChild(host);

  const showStatus = (line) => {
    const cut = line.indexOf(" ");
    const state = cut < 0 ? line : line.slice(0, cut);
    const word = el("b", `osnb-state osnb-state-${state.replace(/[^A-Z]/g, "")}`, state);
    status.replaceChildren(word, el("span", "osnb-status-rest", cut < 0 ? "" : line.slice(cut)));
  };
  const drawStatus = () => showStatus(model.get("status") || "");
  const drawState = () => { view.dataset.state = model.get("state") || "running"; };
  const rowEls = new Map();
  const rowHtml = new Map();
  const addApproval = (tr) => {
    if (model.get("approvals") !== "buttons" || !tr.classList.contains("osnb-tool-pending")) return;
    const callId = tr.getAttribute("data-call-id");
    const cell = tr.querySelector(".osnb-tstatus");
    if (!callId || !cell) return;
    const box = el("div", "osnb-approve");
    box.setAttribute("data-lm-suppress-shortcuts", "true"); // typing a reason is not a notebook shortcut
    const reason = document.createElement("input");
    reason.type = "text";
    reason.className = "osnb-reason";
    reason.placeholder = "reason (optional)";
    reason.setAttribute("aria-label", "reason for the decision (optional)");
    reason.maxLength = 500;
    const yes = el("button", "osnb-approve-yes", "Approve");
    const no = el("button", "osnb-approve-no", "Reject");
    yes.type = no.type = "button";
    const decide = (approve) => {
      yes.disabled = no.disabled = reason.disabled = true;
      box.dataset.sent = approve ? "approve" : "reject";
      model.send({ kind: "approval", call_id: callId, approve, reason: reason.value });
    };
    yes.addEventListener("click", () => decide(true));
    no.addEventListener("click", () => decide(false));
    reason.addEventListener("keydown", (event) => event.stopPropagation());
    box.append(reason, yes, no);
    cell.appendChild(box);
  };
  const setRow = (id, html) => {
    if (rowHtml.get(id) === html) return; // unchanged: keep it as it is (an open row, a reason being typed)
    const tr = tableRow(html, "tbody");
    if (!tr) return;
    rowHtml.set(id, html);
    addApproval(tr);
    const old = rowEls.get(id);
    if (old) {
      // A row the reader opened stays open when it is updated.
      const was = [...old.querySelectorAll("details")].map((d) => d.open);
      tr.querySelectorAll("details").forEach((d, i) => { if (was[i]) d.open = true; });
      old.replaceWith(tr);
    } else {
      body.appendChild(tr);
    }
    rowEls.set(id, tr);
    table.style.display = "";
  };
  const setHead = (html) => {
    const tr = tableRow(html, "thead");
    if (tr) head.replaceChildren(tr);
  };
  const api = {
    answer: (drop, html, text) => {
      if (drop) tailText.deleteData(0, drop);
      if (html) answer.insertBefore(fragment(html), tail);
      if (text) tailText.appendData(text);
    },
    reasoning: (text) => {
      reasoningText.appendData(text);
      if (reasoningText.length) reasoning.style.display = "";
    },
    status: showStatus,
    reset: () => {
      if (buf.status) showStatus(buf.status);
      for (const node of [...answer.childNodes]) if (node !== tail) node.remove();
      for (const html of buf.blocks) answer.insertBefore(fragment(html), tail);
      tailText.data = buf.tail;
      reasoningText.data = buf.reasoning;
      reasoning.style.display = buf.reasoning ? "" : "none";
    },
  };
  // First message after this view appeared: adopt the model's buffer (everything so far, this
  // message included); `initialize`'s listener keeps the view up to date from then on.
  const adopt = () => {
    if (buf || !dispatching) return;
    buf = dispatching;
    buf.listeners.add(api);
    api.reset();
  };
  model.on("msg:custom", adopt);

  // The tool table is state (a synced trait), so a view made late still shows every row.
  const drawTools = () => {
    const tools = model.get("tools") || {};
    if (typeof tools.head === "string") setHead(tools.head);
    (Array.isArray(tools.rows) ? tools.rows : []).forEach((html, i) => setRow(String(i), String(html)));
  };

  drawStatus();
  drawState();
  drawTools();
  model.on("change:status", drawStatus);
  model.on("change:state", drawState);
  model.on("change:tools", drawTools);

  return () => {
    if (buf) buf.listeners.delete(api);
    model.off("msg:custom", adopt);
    model.off("change:status", drawStatus);
    model.off("change:state", drawState);
    model.off("change:tools", drawTools);
  };
}

export default { initialize, render };
