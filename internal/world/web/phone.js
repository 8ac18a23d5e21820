// The web phone: feature phones that dial the service through the world
// simulator's JSON API (internal/world), and a panel for the world around
// them. Plain JavaScript, no build step; every value from the server is put
// on the page as text, never as HTML.
"use strict";

(() => {
  const PHONE_POLL_MS = 1000;
  const WORLD_POLL_MS = 2000;
  // What a handset shows for a code the network does not know.
  const INVALID_MMI = "Connection problem or invalid MMI code.";

  const $ = (sel, root = document) => root.querySelector(sel);
  const phones = new Map(); // E.164 number → phone state
  let config = null;
  let active = null; // the phone the keyboard types into

  // ---------- the API ----------

  class APIError extends Error {}

  // api calls one endpoint and returns its JSON; a non-2xx answer throws
  // with the server's {"error": "..."} text.
  async function api(method, path, body) {
    const init = { method, headers: {} };
    if (body !== undefined) {
      init.headers["Content-Type"] = "application/json";
      init.body = JSON.stringify(body);
    }
    const res = await fetch(path, init);
    let data = null;
    try {
      data = await res.json();
    } catch (_) {
      data = null;
    }
    if (!res.ok) {
      const text = data && data.error ? data.error : `${res.status} ${res.statusText}`;
      throw new APIError(text);
    }
    return data;
  }

  const phonePath = (phone) => `/api/phones/${encodeURIComponent(phone)}`;

  function setConn(text) {
    const el = $("#conn");
    el.textContent = text || "";
    el.hidden = !text;
  }

  // ---------- formatting ----------

  const fmtInt = (n) => (typeof n === "number" && Number.isFinite(n) ? Math.trunc(n).toLocaleString("en-US") : "–");

  function fmtTime(at) {
    const d = new Date(at);
    if (Number.isNaN(d.getTime())) return at || "";
    return d.toLocaleTimeString([], { hour: "2-digit", minute: "2-digit", second: "2-digit" });
  }

  function el(tag, cls, text) {
    const e = document.createElement(tag);
    if (cls) e.className = cls;
    if (text !== undefined) e.textContent = text;
    return e;
  }

  // ---------- a phone ----------

  // Screens: "idle" (nothing dialled), "open" (a CON screen awaits an
  // answer), "ended" (an END screen is shown until the next key).
  function makePhone(number) {
    const node = $("#phone-template").content.firstElementChild.cloneNode(true);
    node.dataset.phone = number;
    node.setAttribute("aria-label", `Phone ${number}`);
    $(".number", node).textContent = number;
    const p = {
      number,
      node,
      screen: $(".screen", node),
      entry: $(".entry", node),
      state: "idle",
      busy: false,
      sessionId: "",
      smsKey: "",
      mpesaKey: "",
      stkShown: "",
      stkDone: new Set(),
    };
    $(".keypad", node).addEventListener("click", (e) => {
      const b = e.target.closest("button[data-key]");
      if (b) press(p, b.dataset.key);
    });
    $(".send", node).addEventListener("click", () => send(p));
    $(".cancel", node).addEventListener("click", () => cancel(p));
    $(".dial", node).addEventListener("click", () => dial(p));
    $(".stk-buttons", node).addEventListener("click", (e) => {
      const b = e.target.closest("button[data-stk]");
      if (b) answerSTK(p, b.dataset.stk);
    });
    $(".text-service", node).addEventListener("click", () => textService(p));
    node.addEventListener("focusin", () => activate(p));
    node.addEventListener("pointerdown", () => activate(p));
    p.entry.addEventListener("input", () => {
      // Typing into an END screen starts afresh, as a handset would.
      if (p.state === "ended") idle(p, p.entry.value);
    });
    idle(p);
    return p;
  }

  function activate(p) {
    if (active === p) return;
    if (active) active.node.classList.remove("active");
    active = p;
    p.node.classList.add("active");
  }

  function note(p, text, isError) {
    const n = $(".note", p.node);
    n.textContent = text || "";
    n.classList.toggle("error", !!isError);
  }

  function softkeys(p, left, right) {
    $(".soft-left", p.node).textContent = left;
    $(".soft-right", p.node).textContent = right;
  }

  function show(p, state, text) {
    p.state = state;
    p.node.dataset.state = state;
    p.screen.textContent = text;
    p.screen.scrollTop = 0;
    if (state === "open") softkeys(p, "Send", "Cancel");
    else if (state === "ended") softkeys(p, "OK", "");
    else softkeys(p, "Dial", "Clear");
  }

  function idle(p, keep) {
    p.sessionId = "";
    p.entry.value = keep || "";
    show(p, "idle", `${config.serviceCode}\n\nPress Dial, or type the code and Send.`);
  }

  function setBusy(p, busy) {
    p.busy = busy;
    p.node.classList.toggle("busy", busy);
    p.entry.readOnly = busy;
  }

  // press types one key into the entry line. While a request is out the
  // keypad is dead, as a handset's is while "USSD code running…" shows.
  function press(p, key) {
    activate(p);
    if (p.busy) return;
    if (p.state === "ended") idle(p);
    p.entry.value += key;
    const b = $(`.keypad button[data-key="${key}"]`, p.node);
    if (b) {
      b.classList.add("pressed");
      setTimeout(() => b.classList.remove("pressed"), 120);
    }
  }

  function backspace(p) {
    if (p.busy) return;
    if (p.state === "ended") return idle(p);
    p.entry.value = p.entry.value.slice(0, -1);
  }

  // send answers the open screen, or dials when nothing is open: the next
  // key after an END starts a new session.
  function send(p) {
    activate(p);
    if (p.busy) return;
    if (p.state === "open") {
      const input = p.entry.value;
      p.entry.value = "";
      return hop(p, input);
    }
    const typed = p.entry.value.trim();
    if (p.state === "idle" && typed !== "" && typed !== config.serviceCode) {
      p.entry.value = "";
      show(p, "ended", INVALID_MMI);
      return;
    }
    return dial(p);
  }

  async function dial(p) {
    activate(p);
    if (p.busy) return;
    if (p.state === "open") await dropSession(p);
    p.entry.value = "";
    return hop(p, "");
  }

  async function hop(p, input) {
    setBusy(p, true);
    note(p, "");
    if (input === "") show(p, p.state, "USSD code running…");
    try {
      const r = await api("POST", "/api/ussd", { phone: p.number, input });
      p.sessionId = r.sessionId || "";
      show(p, r.end ? "ended" : "open", r.text);
      $(".ms", p.node).textContent = typeof r.ms === "number" ? `${r.ms} ms` : "";
    } catch (err) {
      show(p, "ended", INVALID_MMI);
      note(p, `USSD failed: ${err.message}`, true);
    } finally {
      setBusy(p, false);
    }
    if (p.state === "open" && document.activeElement !== p.entry && p.node.contains(document.activeElement)) {
      p.entry.focus();
    }
  }

  async function dropSession(p) {
    try {
      await api("POST", "/api/ussd/cancel", { phone: p.number });
    } catch (err) {
      note(p, `Cancel failed: ${err.message}`, true);
    }
  }

  // cancel ends an open session (the handset's Cancel), dismisses an END
  // screen, or clears what is typed.
  async function cancel(p) {
    activate(p);
    if (p.busy) return;
    if (p.state === "open") {
      setBusy(p, true);
      await dropSession(p);
      setBusy(p, false);
      idle(p);
      note(p, "Session cancelled.");
      return;
    }
    idle(p);
  }

  // ---------- SMS, M-Pesa and the STK prompt ----------

  async function poll(p) {
    try {
      const s = await api("GET", phonePath(p.number));
      setConn("");
      renderSMS(p, s.sms || []);
      renderMpesa(p, s.mpesa || []);
      renderSTK(p, s.stk || null);
    } catch (err) {
      if (err instanceof APIError) note(p, `Phone state: ${err.message}`, true);
      else setConn("The simulator does not answer; retrying…");
    } finally {
      setTimeout(() => poll(p), PHONE_POLL_MS);
    }
  }

  function renderSMS(p, list) {
    const key = JSON.stringify(list);
    if (key === p.smsKey) return;
    p.smsKey = key;
    const ol = $(".inbox", p.node);
    ol.replaceChildren();
    if (list.length === 0) ol.append(el("li", "empty muted", "No messages."));
    for (const m of list) {
      const li = el("li", "sms");
      li.dataset.id = m.id || "";
      const head = el("div", "msg-head");
      head.append(el("span", "sms-from", m.from || ""));
      const status = el("span", "sms-status", m.status || "");
      status.classList.add((m.status || "").toLowerCase());
      head.append(status, el("time", "sms-at", fmtTime(m.at)));
      li.append(head, el("div", "msg-text sms-text", m.text || ""));
      ol.append(li);
    }
    ol.scrollTop = ol.scrollHeight;
    // The badge counts the phone's messages. (Counting only those since
    // the page opened raced the page's first poll.)
    const count = list.length;
    const badge = $(".badge", p.node);
    badge.hidden = count <= 0;
    badge.textContent = count > 0 ? `✉ ${count}` : "";
    badge.setAttribute("aria-label", `${count} messages`);
  }

  function renderMpesa(p, list) {
    const key = JSON.stringify(list);
    if (key === p.mpesaKey) return;
    p.mpesaKey = key;
    const ol = $(".mpesa", p.node);
    ol.replaceChildren();
    if (list.length === 0) ol.append(el("li", "empty muted", "No M-Pesa messages."));
    for (const m of list) {
      const li = el("li", "mpesa-msg");
      const head = el("div", "msg-head");
      head.append(el("span", "", "MPESA"), el("time", "", fmtTime(m.at)));
      li.append(head, el("div", "msg-text", m.text || ""));
      ol.append(li);
    }
    ol.scrollTop = ol.scrollHeight;
  }

  function renderSTK(p, stk) {
    const box = $(".stk", p.node);
    if (!stk || p.stkDone.has(stk.id)) {
      box.hidden = true;
      p.stkShown = "";
      return;
    }
    if (p.stkShown === stk.id) return;
    p.stkShown = stk.id;
    box.dataset.id = stk.id;
    $(".stk-text", box).textContent = stk.text || `Enter M-Pesa PIN to pay KES ${fmtInt(stk.amountKES)} to ${stk.account || ""}`;
    box.hidden = false;
    // Take the focus only from this phone or from nowhere, never from a
    // box the user is typing in elsewhere.
    const f = document.activeElement;
    if (!f || f === document.body || p.node.contains(f)) $('button[data-stk="approve"]', box).focus();
  }

  async function answerSTK(p, action) {
    const box = $(".stk", p.node);
    const id = box.dataset.id;
    if (!id) return;
    // Answered once: hide it now, and never show this prompt again even if
    // a poll in flight still carries it.
    p.stkDone.add(id);
    box.hidden = true;
    p.stkShown = "";
    try {
      await api("POST", `/api/stk/${encodeURIComponent(id)}`, { action });
      note(p, `M-Pesa prompt: ${action === "wrongpin" ? "wrong PIN" : action}.`);
    } catch (err) {
      note(p, `M-Pesa prompt: ${err.message}`, true);
    }
  }

  async function textService(p, text) {
    const area = $(".compose textarea", p.node);
    const body = (text !== undefined ? text : area.value).trim();
    if (body === "") {
      note(p, "Type a message first.", true);
      return;
    }
    const btn = $(".text-service", p.node);
    btn.disabled = true;
    try {
      await api("POST", `${phonePath(p.number)}/sms`, { text: body });
      if (text === undefined) area.value = "";
      note(p, `SMS sent to ${config.serviceNumber}.`);
    } catch (err) {
      note(p, `SMS failed: ${err.message}`, true);
    } finally {
      btn.disabled = false;
    }
  }

  // ---------- the keyboard ----------

  // Keys go to the phone that holds the focus, else to the last one used;
  // text boxes outside the handset keep their keys.
  function onKey(e) {
    if (e.ctrlKey || e.metaKey || e.altKey || e.isComposing) return;
    const t = e.target;
    const inEntry = t.classList && t.classList.contains("entry");
    if (!inEntry && t.matches && t.matches("input, textarea, select")) return;
    const host = t.closest ? t.closest("[data-phone]") : null;
    const p = host ? phones.get(host.dataset.phone) : active;
    if (!p) return;
    if (!$(".stk", p.node).hidden) return; // the prompt has the phone's keys
    switch (e.key) {
      case "Enter":
        e.preventDefault();
        send(p);
        return;
      case "Escape":
        e.preventDefault();
        cancel(p);
        return;
    }
    if (inEntry) return; // the entry types for itself
    if (e.key === "Backspace") {
      e.preventDefault();
      backspace(p);
    } else if (e.key.length === 1 && e.key !== " ") {
      e.preventDefault();
      press(p, e.key);
    }
  }

  // ---------- the world ----------

  async function pollWorld() {
    try {
      renderWorld(await api("GET", "/api/world"));
      setConn("");
    } catch (err) {
      if (err instanceof APIError) $("#reconcile").textContent = `World: ${err.message}`;
      else setConn("The simulator does not answer; retrying…");
    } finally {
      setTimeout(pollWorld, WORLD_POLL_MS);
    }
  }

  function renderWorld(w) {
    const node = w.node || {};
    $("#world-alias").textContent = node.alias ? `(${node.alias})` : "";
    $("#world-balance").textContent = fmtInt(node.balanceSats);
    $("#world-channel").textContent = fmtInt(node.channelSats);
    $("#world-pubkey").textContent = node.pubkey || "–";

    const op = w.operator || {};
    const users = op.users || [];
    const rows = users.map((u) => {
      const tr = el("tr");
      tr.dataset.user = u.phone;
      tr.append(el("td", "", u.phone), el("td", "", u.status || ""), el("td", "num", fmtInt(u.balanceSats)));
      return tr;
    });
    if (rows.length === 0) {
      const tr = el("tr");
      const td = el("td", "muted", "No users yet.");
      td.colSpan = 3;
      tr.append(td);
      rows.push(tr);
    }
    $("#operator-users").replaceChildren(...rows);
    $("#operator-liabilities").textContent = fmtInt(op.liabilitiesSats);
    const sys = $("#operator-system");
    sys.replaceChildren();
    for (const [name, sats] of Object.entries(op.systemAccounts || {})) {
      sys.append(el("dt", "", name), el("dd", "", `${fmtInt(sats)} sats`));
    }
    const rec = $("#reconcile");
    const r = op.reconcile;
    if (r) {
      rec.textContent = `${r.ok ? "✔" : "✘"} ${r.text || ""}`;
      rec.classList.toggle("ok", !!r.ok);
      rec.classList.toggle("bad", !r.ok);
    }
    const recent = (w.recent || []).map((e) => {
      const li = el("li");
      li.append(el("time", "", fmtTime(e.at)), document.createTextNode(e.what || ""));
      return li;
    });
    if (recent.length === 0) recent.push(el("li", "muted", "Nothing yet."));
    $("#world-recent").replaceChildren(...recent);
    renderInvoiceState(w.invoices || []);
  }

  // renderInvoiceState says whether the invoice on show was paid: the
  // world node made it, and only it knows.
  function renderInvoiceState(invoices) {
    const shown = $("#world-invoice-out").dataset.invoice;
    const st = $("#world-invoice-state");
    if (!shown || !st) return;
    const inv = invoices.find((i) => i.invoice === shown);
    if (!inv) return;
    const paid = inv.state === "SETTLED";
    st.textContent = paid ? "Paid ✔" : inv.state === "CANCELED" ? "Cancelled" : "Waiting for payment…";
    st.classList.toggle("ok", paid);
  }

  function readSats(sel) {
    const v = $(sel).value.trim();
    if (!/^[0-9]+$/.test(v) || Number(v) <= 0 || !Number.isSafeInteger(Number(v))) return null;
    return Number(v);
  }

  async function makeInvoice() {
    const out = $("#world-invoice-out");
    const sats = readSats("#world-invoice-sats");
    if (sats === null) {
      out.hidden = false;
      delete out.dataset.invoice;
      out.replaceChildren(el("p", "result error", "Give a whole number of sats above zero."));
      return;
    }
    const btn = $("#world-make-invoice");
    btn.disabled = true;
    try {
      const r = await api("POST", "/api/world/invoice", { sats, memo: $("#world-invoice-memo").value.trim() });
      showInvoice(r.invoice, sats);
    } catch (err) {
      out.hidden = false;
      delete out.dataset.invoice;
      out.replaceChildren(el("p", "result error", `Invoice failed: ${err.message}`));
    } finally {
      btn.disabled = false;
    }
  }

  function showInvoice(invoice, sats) {
    const out = $("#world-invoice-out");
    const code = el("code", "invoice", invoice);
    code.id = "world-invoice-text";
    const actions = el("div", "actions");
    const copyBtn = el("button", "secondary", "Copy");
    copyBtn.type = "button";
    copyBtn.id = "world-invoice-copy";
    copyBtn.addEventListener("click", () => copy(invoice, copyBtn, code));
    actions.append(copyBtn);
    for (const number of phones.keys()) {
      const b = el("button", "text-invoice", `Text it to ${number}`);
      b.type = "button";
      b.dataset.from = number;
      b.setAttribute("aria-label", `Text "pay" with this invoice to the service from ${number}`);
      b.addEventListener("click", () => textService(phones.get(number), `pay ${invoice}`));
      actions.append(b);
    }
    const state = el("p", "invoice-state", "Waiting for payment…");
    state.id = "world-invoice-state";
    state.setAttribute("role", "status");
    out.dataset.invoice = invoice;
    out.replaceChildren(el("p", "muted", `Invoice for ${fmtInt(sats)} sats:`), code, actions, state);
    out.hidden = false;
  }

  async function copy(text, btn, from) {
    let ok = false;
    try {
      await navigator.clipboard.writeText(text);
      ok = true;
    } catch (_) {
      // No clipboard permission (a headless browser, an old one): select
      // the text so that Ctrl-C copies it.
      const range = document.createRange();
      range.selectNodeContents(from);
      const sel = window.getSelection();
      sel.removeAllRanges();
      sel.addRange(range);
    }
    const was = btn.textContent;
    btn.textContent = ok ? "Copied" : "Selected: press Ctrl-C";
    setTimeout(() => (btn.textContent = was), 1500);
  }

  async function pay() {
    const out = $("#world-pay-out");
    const target = $("#world-pay-input").value.trim();
    let body;
    if (target === "") {
      out.textContent = "Paste an invoice or a Lightning Address.";
      out.classList.add("error");
      return;
    }
    if (target.includes("@")) {
      const sats = readSats("#world-pay-sats");
      if (sats === null) {
        out.textContent = "Give a whole number of sats above zero.";
        out.classList.add("error");
        return;
      }
      body = { address: target, sats };
    } else {
      body = { invoice: target };
    }
    const btn = $("#world-pay");
    btn.disabled = true;
    out.classList.remove("error");
    out.textContent = "Paying…";
    try {
      const r = await api("POST", "/api/world/pay", body);
      out.textContent = `${r.status || "done"} · fee ${fmtInt(r.feeSats || 0)} sats`;
      out.classList.toggle("error", r.ok === false);
    } catch (err) {
      out.textContent = `Payment failed: ${err.message}`;
      out.classList.add("error");
    } finally {
      btn.disabled = false;
    }
  }

  // ---------- start ----------

  async function start() {
    try {
      config = await api("GET", "/api/config");
    } catch (err) {
      setConn(`Could not load the configuration: ${err.message}`);
      setTimeout(start, 2000);
      return;
    }
    setConn("");
    $("#service-code").textContent = config.serviceCode;
    $("#service-number").textContent = config.serviceNumber;
    $("#network").textContent = config.network || "";
    const holder = $("#phones");
    holder.replaceChildren();
    for (const number of config.phones || []) {
      const p = makePhone(number);
      phones.set(number, p);
      holder.append(p.node);
    }
    const first = phones.values().next().value;
    if (first) activate(first);
    document.addEventListener("keydown", onKey);
    $("#world-make-invoice").addEventListener("click", makeInvoice);
    $("#world-pay").addEventListener("click", pay);
    for (const p of phones.values()) poll(p);
    pollWorld();
    document.body.dataset.ready = "true";
  }

  start();
})();
