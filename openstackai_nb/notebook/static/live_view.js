// Live view of one openstackai-nb run (anywidget front end, plain ES module).
//
// Two channels, as anywidget recommends:
// - synced traits hold small state: `status` (one line), `state` (running|done), `tools` (rows);
// - streamed text arrives as append-only custom messages {kind: "delta", text}.
// Custom messages sent before any view exists are lost, so the text is accumulated per MODEL in
// `initialize` (called once per model, before views); each view renders that buffer, then
// subscribes to further deltas. Model text is only ever set through textContent / Text nodes,
// never innerHTML: a `<script>` in an answer stays text.
//
// anywidget hands `initialize` and each `render` a different proxy of the same model, so a view
// cannot look its model's buffer up by the object it is given. It finds it through the model's
// own event dispatch instead: Backbone runs a model's listeners synchronously in the order they
// were added, and `initialize`'s listener is always added before any view's. So while a message
// is dispatched, `dispatching` is the buffer of that very model when a view's listener runs.

let dispatching = null;

function initialize({ model }) {
  const buf = { text: "", listeners: new Set() };
  const onMessage = (msg) => {
    if (!msg || typeof msg !== "object") return;
    dispatching = buf;
    if (msg.kind === "delta" && typeof msg.text === "string") {
      buf.text += msg.text;
      for (const view of buf.listeners) view.append(msg.text);
    } else if (msg.kind === "snapshot" && typeof msg.text === "string") {
      buf.text = msg.text;
      for (const view of buf.listeners) view.reset(msg.text);
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
  root.classList.add("osnb-live");

  const status = el("div", "osnb-live-status");
  const text = el("div", "osnb-live-text");
  const textNode = document.createTextNode("");
  text.appendChild(textNode);
  const table = el("table", "osnb-live-tools");
  const head = el("thead");
  const headRow = el("tr");
  for (const title of ["tool", "arguments", "result", "status", "time"]) headRow.appendChild(el("th", "", title));
  head.appendChild(headRow);
  const body = el("tbody");
  table.append(head, body);
  root.append(status, text, table);

  const atBottom = () => text.scrollHeight - text.scrollTop - text.clientHeight < 24;
  const follow = (change) => {
    const stick = atBottom();
    change();
    if (stick) text.scrollTop = text.scrollHeight;
  };
  const view = {
    append: (delta) => follow(() => textNode.appendData(delta)),
    reset: (all) => follow(() => { textNode.data = all; }),
  };
  // First message after this view appeared: adopt the model's buffer (all the text so far,
  // this message included); `initialize`'s listener keeps the view up to date from then on.
  const adopt = () => {
    if (buf || !dispatching) return;
    buf = dispatching;
    buf.listeners.add(view);
    view.reset(buf.text);
  };
  model.on("msg:custom", adopt);

  const drawStatus = () => {
    status.textContent = model.get("status") || "";
    root.dataset.state = model.get("state") || "running";
  };
  const drawTools = () => {
    const rows = model.get("tools") || [];
    table.style.display = rows.length ? "" : "none";
    const trs = [];
    for (const row of rows) {
      const tr = el("tr", `osnb-tool-${row.status || "pending"}`);
      const duration = typeof row.duration === "number" ? `${row.duration.toFixed(2)}s` : "";
      tr.append(
        el("td", "", String(row.name ?? "")),
        el("td", "osnb-prev", String(row.args ?? "")),
        el("td", "osnb-prev", String(row.result ?? "")),
        el("td", "osnb-tool-status", String(row.status ?? "")),
        el("td", "", duration),
      );
      trs.push(tr);
    }
    body.replaceChildren(...trs);
  };
  drawStatus();
  drawTools();
  model.on("change:status", drawStatus);
  model.on("change:state", drawStatus);
  model.on("change:tools", drawTools);

  return () => {
    if (buf) buf.listeners.delete(view);
    model.off("msg:custom", adopt);
    model.off("change:status", drawStatus);
    model.off("change:state", drawStatus);
    model.off("change:tools", drawTools);
  };
}

export default { initialize, render };
