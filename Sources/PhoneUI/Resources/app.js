// The softphone's window. Everything it shows comes from the phone's local API; every control
// appears only while the capability table allows it (state.capabilities, call.capabilities).
"use strict";

const token = new URLSearchParams(location.search).get("token") || sessionStorage.getItem("holdfast-token") || "";
sessionStorage.setItem("holdfast-token", token);
const $ = (id) => document.getElementById(id);
let state = null;
let selected = null; // the contact a right-click menu is for

async function api(method, path, body) {
  const response = await fetch("/api/" + path, {
    method, headers: { "Authorization": "Bearer " + token, ...(body ? { "Content-Type": "application/json" } : {}) },
    body: body ? JSON.stringify(body) : undefined,
  });
  const text = await response.text();
  const json = text ? JSON.parse(text) : null;
  if (!response.ok) {
    const error = new Error(json && json.message ? json.message : response.status + "");
    error.json = json;
    throw error;
  }
  return json;
}

function can(id, call) { return !!((call ? call.capabilities : state && state.capabilities) || {})[id]; }
function show(element, visible) { element.hidden = !visible; }
function say(id, error) { $(id).textContent = error ? (error.json && error.json.error === "capability_unavailable" ? "Not available now: " + error.json.message : error.message) : ""; }
function button(label, onClick, attributes = {}) {
  const b = document.createElement("button");
  b.type = "button";
  b.textContent = label;
  for (const [k, v] of Object.entries(attributes)) b.setAttribute(k, v);
  b.addEventListener("click", onClick);
  return b;
}

// ---- State from /api/events --------------------------------------------------------------

function connectEvents() {
  const ws = new WebSocket((location.protocol === "https:" ? "wss://" : "ws://") + location.host + "/api/events?token=" + encodeURIComponent(token));
  ws.onmessage = (message) => { state = JSON.parse(message.data); render(); };
  ws.onclose = () => setTimeout(connectEvents, 500);
}

function render() {
  if (!state) return;
  $("who").textContent = (state.name || "") + " " + state.user;
  const registration = state.registration || {};
  $("registration").textContent = registration.state === "registered" ? "registered (" + registration.server + ")" : "not registered";
  $("mode").textContent = state.server.mode === "online" ? "online" : "limited functionality since " + new Date(state.server.since).toLocaleTimeString();
  const loggedIn = !state.session || state.session.loggedIn;
  show($("login"), !loggedIn);
  document.querySelector("main").hidden = !loggedIn;
  $("login-user").value = state.user;
  show($("logout-header"), loggedIn && can("session.logout"));
  $("presence-set").disabled = !can("presence.set");
  $("notice").textContent = (state.notices || []).slice(-1)[0] || "";
  show($("banner"), !!state.banner && loggedIn);
  $("banner-text").textContent = state.banner || "";
  show($("try-now"), can("server.reconnect"));
  // Idle display.
  loadDevices();
  show($("from-device"), can("call.make.fromDevice") && $("from-device").options.length > 1);
  $("call").disabled = !can("call.make");
  $("sending-device").textContent = (state.sendingCallsTo && state.sendingCallsTo.device) || "all my devices";
  show($("sending-readonly"), !!(state.sendingCallsTo && state.sendingCallsTo.readOnly));
  renderAgent();
  renderConsole();
  renderVoicemail();
  renderCalls();
  renderSettingsLock();
  refreshLists();
}

// ---- Calls ---------------------------------------------------------------------------------

const timers = {};
function renderCalls() {
  const live = (state.calls || []).filter((c) => c.state !== "ended");
  const notifications = $("notifications");
  notifications.replaceChildren();
  for (const call of live.filter((c) => c.state === "ringing" && c.notification && c.notification.shown)) {
    const box = document.createElement("div");
    box.className = "call notification";
    box.setAttribute("role", "dialog");
    box.setAttribute("aria-label", "Incoming call from " + (call.remote.name || call.remote.number));
    box.innerHTML = "<strong></strong> is calling";
    box.querySelector("strong").textContent = (call.remote.name ? call.remote.name + " " : "") + call.remote.number;
    if (call.recall) box.prepend(recallLine(call.recall));
    const actions = document.createElement("div");
    actions.className = "actions";
    if (can("call.answer", call)) actions.append(button("Answer", () => act(call, "answer"), { "data-action": "answer" }));
    if (can("call.redirect", call)) actions.append(button("Redirect", () => act(call, "redirect", { to: prompt("Redirect to") }), { "data-action": "redirect" }));
    if (can("call.end", call)) actions.append(button("Decline", () => act(call, "end"), { "data-action": "decline" }));
    box.append(actions);
    if (call.acd) box.append(acdFields(call.acd));
    notifications.append(box);
  }
  const calls = $("calls");
  calls.replaceChildren();
  for (const call of live) {
    const box = document.createElement("div");
    box.className = "call";
    box.setAttribute("role", "region");
    box.setAttribute("aria-label", "Call with " + (call.remote.name || call.remote.number));
    box.dataset.call = call.id;
    const title = document.createElement("div");
    title.innerHTML = "<strong class='remote'></strong> <span class='state'></span> <span class='timer'></span>";
    title.querySelector(".remote").textContent = (call.remote.name ? call.remote.name + " " : "") + call.remote.number;
    title.querySelector(".state").textContent = call.state + (call.heldByFarEnd ? ", held by the far end" : "") + (call.muted ? ", muted" : "") + (call.recording ? ", recording" : "");
    const since = call.answeredAt ? new Date(call.answeredAt) : null;
    timers[call.id] = since;
    const actions = document.createElement("div");
    actions.className = "actions";
    const add = (id, label, action, body) => { if (can(id, call)) actions.append(button(label, () => act(call, action, body && body()), { "data-action": action })); };
    add("call.answer", "Answer", "answer");
    add("call.hold", "Hold", "hold");
    add("call.retrieve", "Retrieve", "retrieve");
    if (can("call.mute", call)) actions.append(button(call.muted ? "Unmute" : "Mute", () => act(call, call.muted ? "unmute" : "mute"), { "data-action": call.muted ? "unmute" : "mute" }));
    add("call.transfer", "Transfer", "transfer", () => ({ to: prompt("Transfer to") }));
    add("call.consult", "Consult", "consult", () => ({ to: prompt("Consult") }));
    add("call.trade", "Trade", "trade", () => ({ with: (live.find((c) => c.id !== call.id) || {}).id }));
    add("call.conference", "Conference", "conference");
    if (can("call.record", call)) actions.append(button(call.recording ? "Stop recording" : "Record", () => act(call, "record", call.recording ? { stop: true } : undefined), { "data-action": "record" }));
    add("call.callback", "Callback", "callback");
    add("call.end", "End", "end");
    box.append(title, actions);
    if (call.recall) box.append(recallLine(call.recall));
    if (call.acd) box.append(acdFields(call.acd));
    if (call.conference) box.append(conferenceList(call.conference));
    if (can("call.volume", call)) {
      const volume = document.createElement("input");
      volume.type = "range"; volume.min = 0; volume.max = 2; volume.step = 0.1; volume.value = call.volume;
      volume.setAttribute("aria-label", "Speaker volume");
      volume.addEventListener("change", () => act(call, "volume", { level: Number(volume.value) }));
      box.append(volume);
    }
    if (can("call.dtmf", call)) {
      const keypad = document.createElement("div");
      keypad.className = "keypad";
      keypad.setAttribute("aria-label", "Keypad");
      for (const digit of "123456789*0#") keypad.append(button(digit, () => act(call, "dtmf", { digits: digit })));
      box.append(keypad);
    }
    const media = document.createElement("div");
    media.className = "note";
    media.textContent = "RTP sent " + call.media.packetsSent + ", received " + call.media.packetsReceived + ", lost " + call.media.packetsLost;
    box.append(media);
    calls.append(box);
  }
  tick();
}

// The four fields of an ACD call: agent ID, path, call status, ACD status; greyed when stale.
const agentLabels = { available: "Available", makeBusy: "Make busy", offered: "Ringing", onACDCall: "On ACD call", onOtherCall: "On other call", wrapUp: "Wrap-up", loggedOut: "Logged out" };
// A call that came back: why, in words (never a colour or an icon alone).
function recallLine(recall) {
  const line = document.createElement("p");
  line.className = "recall";
  line.textContent = recall.reason === "hold" ? "Recall: you held this call too long"
    : recall.reason === "transfer" ? "Recall: " + recall.from + " did not answer your transfer"
    : "Recall: parked on " + recall.from;
  return line;
}

function acdFields(acd) {
  const list = document.createElement("dl");
  list.className = "acd";
  list.setAttribute("aria-disabled", acd.stale ? "true" : "false");
  const path = acd.path ? acd.path.name + " (" + acd.path.number + ")" : "—";
  for (const [label, value] of [["Agent ID", acd.agent || "—"], ["Path", path], ["Call status", acd.callStatus || "—"], ["ACD status", agentLabels[acd.acdStatus] || acd.acdStatus || "—"]]) {
    const dt = document.createElement("dt"); dt.textContent = label;
    const dd = document.createElement("dd"); dd.textContent = value;
    list.append(dt, dd);
  }
  if (acd.stale) list.title = "Not updated while the server is offline";
  return list;
}

// Who is in a conference call's room, the talkers marked; greyed when stale (offline).
function conferenceList(conference) {
  const list = document.createElement("ul");
  list.className = "conference";
  list.setAttribute("aria-label", "Conference " + (conference.name || conference.room) + ": " + conference.participants.length + " in the room");
  list.setAttribute("aria-disabled", conference.stale ? "true" : "false");
  for (const p of conference.participants) {
    const item = document.createElement("li");
    item.textContent = (p.name ? p.name + " (" + p.number + ")" : p.number) + (p.muted ? " · muted" : "");
    if (p.talking) item.className = "talking";
    list.append(item);
  }
  if (conference.stale) list.title = "Not updated while the server is offline";
  return list;
}

// ---- The desktop console ---------------------------------------------------------------------

const lampLabels = { idle: "idle", ringing: "ringing", busy: "busy", dnd: "do not disturb", unregistered: "not registered", parked: "parked" };
const reasonLabels = { direct: "dialed the attendant", forwardNoAnswer: "not answered", forwardBusy: "was busy", forwardAlways: "forwarded" };

function renderConsole() {
  const duty = state.console;
  const active = !!(duty && duty.active);
  show($("console"), active || can("desktopConsole.select"));
  $("console").classList.toggle("offline", !!(duty && duty.stale));
  $("console-toggle").textContent = active ? "Go off duty" : "Go on duty as the console";
  $("console-toggle").disabled = !can("desktopConsole.select");
  $("console-toggle").title = can("desktopConsole.select") ? "" : "Needs the server: the console stays on duty meanwhile";
  $("console-duty").textContent = active ? "On duty for the attendant " + (duty.attendant || "") + (duty.stale ? " (server offline: calls still arrive)" : "") : "";
  show($("console-panel"), active);
  if (!active) return;
  $("console-queue").replaceChildren(...duty.queue.map((entry) => {
    const item = document.createElement("li");
    item.dataset.call = entry.call;
    const who = document.createElement("span");
    who.textContent = (entry.callerName ? entry.callerName + " " : "") + entry.caller + ", " + (reasonLabels[entry.reason] || entry.reason) + ", waiting " + entry.waitingSeconds + " s ";
    item.append(who, button("Answer", () => consoleRequest("POST", "console/answer", { call: entry.call }), { "data-action": "console-answer" }));
    return item;
  }));
  $("console-answer-next").disabled = duty.queue.length === 0;
  $("console-lamps").replaceChildren(...(duty.lamps || []).map((lamp) => {
    const item = document.createElement("li");
    item.className = "lamp " + lamp.state;
    item.dataset.number = lamp.number;
    item.dataset.state = lamp.state;
    item.textContent = lamp.number + ": " + (lampLabels[lamp.state] || lamp.state) + (lamp.remote ? " (" + lamp.remote + ")" : "");
    return item;
  }));
}

async function consoleRequest(method, path, body) {
  try {
    await api(method, path, body);
    say("console-error", null);
  } catch (error) {
    say("console-error", error);
  }
}
$("console-toggle").addEventListener("click", () => consoleRequest("PUT", "console", { active: !(state.console && state.console.active) }));
$("console-answer-next").addEventListener("click", () => consoleRequest("POST", "console/answer"));

// ---- The agent panel -------------------------------------------------------------------------

function renderAgent() {
  const acd = state.acd;
  const loggedIn = !!(acd && acd.loggedIn);
  show($("agent"), loggedIn || can("acd.login"));
  $("agent").classList.toggle("offline", !!(acd && acd.stale));
  show($("agent-login"), !loggedIn);
  $("agent-login-button").disabled = !can("acd.login");
  show($("agent-panel"), loggedIn);
  if (!loggedIn) return;
  $("agent-number").textContent = "Agent " + acd.agent;
  $("agent-status").textContent = agentLabels[acd.status] || acd.status;
  $("agent-status").className = "agent-state " + acd.status;
  $("agent-reason").textContent = acd.reason ? "(" + acd.reason + ")" : "";
  $("agent-paths").textContent = "Paths: " + (acd.paths || []).map((p) => p.name + " " + p.number).join(", ");
  const reasons = $("agent-reasons");
  const wanted = (acd.reasons || []).join("|");
  if (reasons.dataset.reasons !== wanted) {
    reasons.replaceChildren(...(acd.reasons || []).map((r) => { const o = document.createElement("option"); o.value = r; o.textContent = r; return o; }));
    reasons.dataset.reasons = wanted;
  }
  const online = !acd.stale;
  $("agent-available").disabled = !online || !can("acd.login") || acd.status === "available";
  $("agent-busy").disabled = !online || !can("acd.login") || (acd.reasons || []).length === 0;
  reasons.disabled = $("agent-busy").disabled;
  show($("agent-end-wrap"), acd.status === "wrapUp");
  $("agent-end-wrap").disabled = !online;
  $("agent-logout").disabled = !can("acd.logout");
  $("agent-logout").title = can("acd.logout") ? "" : "Logging out needs the server: exit the phone to stop taking calls";
  show($("agent-stale"), !!acd.stale);
  $("agent-stale").textContent = acd.stale ? "Server offline: agent state as of " + (acd.updatedAt ? new Date(acd.updatedAt).toLocaleTimeString() : "—") + ", not updated; ACD calls still ring." : "";
  tickAgent();
}

function tickAgent() {
  const acd = state && state.acd;
  const element = $("agent-wrap");
  if (!acd || acd.status !== "wrapUp" || !acd.wrapUpEndsAt) { element.textContent = ""; return; }
  const left = Math.max(0, Math.ceil((new Date(acd.wrapUpEndsAt).getTime() - Date.now()) / 1000));
  element.textContent = "wrap-up ends in " + left + " s";
}
setInterval(tickAgent, 1000);

async function agentRequest(method, path, body) {
  try {
    await api(method, path, body);
    say("agent-error", null);
  } catch (error) {
    say("agent-error", error);
  }
}
$("agent-login").addEventListener("submit", (event) => { event.preventDefault(); agentRequest("POST", "acd/login", { agent: $("agent-id").value.trim() }); });
$("agent-available").addEventListener("click", () => agentRequest("PUT", "acd/state", { state: "available" }));
$("agent-busy").addEventListener("click", () => agentRequest("PUT", "acd/state", { state: "makeBusy", reason: $("agent-reasons").value }));
$("agent-end-wrap").addEventListener("click", () => agentRequest("POST", "acd/wrap-up/end"));
$("agent-logout").addEventListener("click", () => agentRequest("POST", "acd/logout"));

function tick() {
  for (const box of document.querySelectorAll(".call[data-call]")) {
    const since = timers[box.dataset.call];
    const element = box.querySelector(".timer");
    if (!element) continue;
    if (!since) { element.textContent = ""; continue; }
    const seconds = Math.max(0, Math.floor((Date.now() - since.getTime()) / 1000));
    element.textContent = Math.floor(seconds / 60) + ":" + String(seconds % 60).padStart(2, "0");
  }
}
setInterval(tick, 1000);

async function act(call, action, body) {
  try {
    await api("POST", "calls/" + encodeURIComponent(call.id) + "/" + action, body);
    say("dial-error", null);
  } catch (error) {
    say("dial-error", error);
  }
}

async function dial(number) {
  if (!number) return;
  const device = $("from-device").hidden ? null : ($("from-device").value || null);
  try {
    await api("POST", "calls", device ? { to: number, fromDevice: device } : { to: number });
    say("dial-error", null);
  } catch (error) {
    say("dial-error", error);
  }
}

$("dial").addEventListener("submit", (event) => { event.preventDefault(); dial($("number").value.trim()); });
document.addEventListener("keydown", (event) => {
  if (event.key !== "Escape" || !state) return;
  const call = (state.calls || []).find((c) => c.state === "connected" || c.state === "dialing") || (state.calls || []).find((c) => c.state === "ringing");
  if (call) act(call, "end");
});
$("try-now").addEventListener("click", async () => { try { await api("POST", "server/reconnect"); } catch (error) { say("dial-error", error); } });
for (const id of ["logout", "logout-header"]) {
  $(id).addEventListener("click", async () => { try { await api("POST", "logout"); } catch (error) { say("dial-error", error); } });
}

// ---- Contacts, presence, history, chat -------------------------------------------------------

let refreshing = false;
async function refreshLists() {
  if (refreshing) return;
  refreshing = true;
  try {
    const [directory, contacts, presence, history] = await Promise.all([
      api("GET", "directory?q=" + encodeURIComponent($("search").value)), api("GET", "contacts"), api("GET", "presence"), api("GET", "history"),
    ]);
    const byUser = Object.fromEntries((presence.users || []).map((p) => [p.user, p]));
    show($("presence-stale"), presence.stale);
    $("presence-stale").textContent = presence.stale ? "Presence may be out of date: last updated " + (presence.updatedAt ? new Date(presence.updatedAt).toLocaleTimeString() : "never") : "";
    const list = $("contact-list");
    list.replaceChildren();
    const query = $("search").value.trim().toLowerCase();
    const personal = contacts.filter((c) => !query || c.name.toLowerCase().includes(query) || c.number.replace(/\D/g, "").startsWith(query.replace(/\D/g, "") || "-"));
    for (const entry of [...directory, ...personal.map((c) => ({ name: c.name, number: c.number, kind: "contact" }))]) {
      const item = document.createElement("li");
      item.dataset.number = entry.number;
      const p = byUser[entry.number];
      const dot = document.createElement("span");
      const status = p ? (p.onThePhone ? "onThePhone" : p.state) : "unknown";
      dot.className = "presence " + status + (presence.stale ? " stale" : "");
      dot.setAttribute("role", "img");
      dot.setAttribute("aria-label", status + (presence.stale ? " (may be out of date)" : ""));
      const label = document.createElement("span");
      label.textContent = entry.name + " " + entry.number + (p && p.note ? " — " + p.note : "");
      if (presence.stale) label.className = "stale";
      const call = button("Call", () => dial(entry.number), { "aria-label": "Call " + entry.name, "data-action": "call-contact" });
      item.append(dot, label, " ", call);
      item.addEventListener("dblclick", () => { if (state.settings && state.settings.callOnDoubleClick) dial(entry.number); });
      item.addEventListener("contextmenu", (event) => {
        event.preventDefault();
        selected = entry.number;
        const menu = $("context-menu");
        menu.style.left = event.clientX + "px";
        menu.style.top = event.clientY + "px";
        show(menu, true);
        $("context-call").focus();
      });
      list.append(item);
    }
    const historyList = $("history-list");
    historyList.replaceChildren();
    for (const entry of history) {
      const item = document.createElement("li");
      item.textContent = entry.kind + " " + (entry.remoteName ? entry.remoteName + " " : "") + entry.remote + " at " + new Date(entry.startedAt).toLocaleString();
      historyList.append(item);
    }
  } catch (error) {
    say("contacts-error", error);
  } finally {
    refreshing = false;
  }
}

$("search").addEventListener("input", refreshLists);
$("context-call").addEventListener("click", () => { show($("context-menu"), false); dial(selected); });
$("context-call").addEventListener("keydown", (event) => { if (event.key === "Enter") { show($("context-menu"), false); dial(selected); } });
document.addEventListener("click", (event) => { if (!$("context-menu").contains(event.target)) show($("context-menu"), false); });
$("add-contact").addEventListener("submit", async (event) => {
  event.preventDefault();
  try {
    await api("POST", "contacts", { name: $("contact-name").value, number: $("contact-number").value });
    say("contacts-error", null);
    refreshLists();
  } catch (error) {
    say("contacts-error", error);
  }
});
$("chat-form").addEventListener("submit", async (event) => {
  event.preventDefault();
  try {
    await api("POST", "chat", { to: $("chat-with").value, text: $("chat-text").value });
    $("chat-text").value = "";
    say("chat-error", null);
    loadChat();
  } catch (error) {
    say("chat-error", error);
  }
});
async function loadChat() {
  if (!$("chat-with").value) return;
  try {
    const messages = await api("GET", "chat?with=" + encodeURIComponent($("chat-with").value));
    const list = $("chat-messages");
    list.replaceChildren();
    for (const m of [...messages].reverse()) {
      const item = document.createElement("li");
      item.textContent = m.from + ": " + m.text + (m.readAt ? " ✓✓" : m.deliveredAt ? " ✓" : "");
      list.append(item);
    }
  } catch (error) {
    say("chat-error", error);
  }
}
$("chat-with").addEventListener("change", loadChat);

// ---- Settings -----------------------------------------------------------------------------------

function renderSettingsLock() {
  const online = state.server.mode === "online";
  for (const id of ["dnd", "forwardAlways", "forwardBusy", "forwardNoAnswer"]) $(id).disabled = !can(id === "dnd" ? "dnd.toggle" : "forwarding.change");
  $("selectedDevice").disabled = !can("sendingCallsTo.change");
  $("settings-save").disabled = !online;
  $("notify-add").disabled = !can("loginNotify");
  $("autoAnswer").disabled = !can("autoAnswer.change");
  $("settings-save").title = online ? "" : "Settings cannot be changed while the server is out of service; they stay in force";
}

async function loadSettings() {
  try {
    const s = await api("GET", "settings");
    $("dnd").checked = !!s.doNotDisturb;
    for (const id of ["forwardAlways", "forwardBusy", "forwardNoAnswer", "selectedDevice"]) $(id).value = s[id] || "";
    $("autoAnswer").checked = !!s.autoAnswer;
    $("showPopup").checked = !!s.showCallPopup;
    $("recordingPolicy").value = s.recordingPolicy || "";
    $("doubleClick").checked = !!s.callOnDoubleClick;
    if (can("loginNotify")) $("notify-list").textContent = "watching: " + ((await api("GET", "login-notify")).watching || []).join(", ");
  } catch (error) {
    say("settings-error", error);
  }
}
$("settings-form").addEventListener("submit", async (event) => {
  event.preventDefault();
  const value = (id) => $(id).value.trim() || null;
  try {
    await api("PUT", "settings", { doNotDisturb: $("dnd").checked, forwardAlways: value("forwardAlways"), forwardBusy: value("forwardBusy"),
                                   forwardNoAnswer: value("forwardNoAnswer") });
    say("settings-error", null);
  } catch (error) {
    say("settings-error", error);
  }
});

$("phone-settings-form").addEventListener("submit", async (event) => {
  event.preventDefault();
  const body = { showCallPopup: $("showPopup").checked, callOnDoubleClick: $("doubleClick").checked, recordingPolicy: $("recordingPolicy").value };
  if (!$("autoAnswer").disabled) body.autoAnswer = $("autoAnswer").checked;
  try { await api("PUT", "phone-settings", body); say("settings-error", null); } catch (error) { say("settings-error", error); }
});

$("presence-set").addEventListener("change", async () => {
  try { await api("PUT", "presence", { state: $("presence-set").value }); say("dial-error", null); } catch (error) { say("dial-error", error); }
});

$("notify-form").addEventListener("submit", async (event) => {
  event.preventDefault();
  try {
    const result = await api("POST", "login-notify", { user: $("notify-user").value.trim() });
    $("notify-list").textContent = "watching: " + (result.watching || []).join(", ");
    say("settings-error", null);
  } catch (error) {
    say("settings-error", error);
  }
});

$("login-form").addEventListener("submit", async (event) => {
  event.preventDefault();
  try { await api("POST", "login", { password: $("login-password").value }); } catch (error) { say("dial-error", error); }
});

// "Call from another device": the user's other registered devices, while the server can do it.
let devicesLoaded = false;
async function loadDevices() {
  if (!can("call.make.fromDevice")) { devicesLoaded = false; return; }
  if (devicesLoaded) return;
  devicesLoaded = true;
  try {
    const devices = await api("GET", "devices");
    const select = $("from-device");
    select.replaceChildren(new Option("from this phone", ""));
    for (const d of devices) select.append(new Option("from " + d.device, d.device));
    show(select, select.options.length > 1);
  } catch (error) {
    devicesLoaded = false;
  }
}

// ---- Voicemail -----------------------------------------------------------------------------------
// The count comes from the call server's message waiting (online and offline); the list, play and
// delete from the collaboration server (online only).

let shownWaiting = null;
function waitingText(w) {
  if (!w) return "";
  return w.new + " new message" + (w.new === 1 ? "" : "s") + (w.old ? ", " + w.old + " old" : "");
}

function renderVoicemail() {
  const w = state.voicemail;
  const indicator = $("voicemail-waiting");
  show(indicator, !!(w && w.new > 0));
  indicator.textContent = w && w.new > 0 ? "\u2709 " + waitingText(w) : "";
  indicator.setAttribute("aria-label", w && w.new > 0 ? "Voicemail: " + waitingText(w) : "No new voicemail");
  $("voicemail-summary").textContent = w ? waitingText(w) : "";
  $("voicemail-call").disabled = !can("voicemail.call");
  show($("voicemail-offline"), state.server.mode !== "online");
  const key = JSON.stringify(w) + state.server.mode;
  if (key !== shownWaiting && !$("voicemail").hidden) loadVoicemail();
  shownWaiting = key;
}

async function loadVoicemail() {
  try {
    const mailbox = await api("GET", "voicemail");
    const list = $("voicemail-list");
    list.replaceChildren();
    for (const m of mailbox.messages || []) {
      const item = document.createElement("li");
      const when = new Date(m.receivedAt * 1000).toLocaleString();
      item.textContent = (m.folder === "INBOX" ? "New: " : "") + (m.callerName || m.caller || "unknown caller") + ", " + when + ", " + Math.round(m.seconds) + " s ";
      item.append(button("Play", () => play(m)), button("Delete", () => removeMessage(m)));
      list.append(item);
    }
    say("voicemail-error", null);
  } catch (error) {
    say("voicemail-error", error);
  }
}

async function play(message) {
  try {
    const response = await fetch("/api/voicemail/" + message.id + "/audio", { headers: { "Authorization": "Bearer " + token } });
    if (!response.ok) throw new Error("the message cannot be played (" + response.status + ")");
    const player = $("voicemail-player");
    player.src = URL.createObjectURL(await response.blob());
    show(player, true);
    await player.play().catch(() => {});
    if (message.folder === "INBOX") await api("POST", "voicemail/" + message.id + "/heard");
  } catch (error) {
    say("voicemail-error", error);
  }
}

async function removeMessage(message) {
  try {
    await api("DELETE", "voicemail/" + message.id);
    await loadVoicemail();
  } catch (error) {
    say("voicemail-error", error);
  }
}

$("voicemail-call").addEventListener("click", async () => {
  try { await api("POST", "voicemail/call"); } catch (error) { say("voicemail-error", error); }
});
$("voicemail-waiting").addEventListener("click", () => $("tab-voicemail").click());

// ---- Tabs ------------------------------------------------------------------------------------------

for (const tab of document.querySelectorAll("[role=tab]")) {
  tab.addEventListener("click", () => {
    for (const other of document.querySelectorAll("[role=tab]")) {
      other.setAttribute("aria-selected", other === tab ? "true" : "false");
      show($(other.getAttribute("aria-controls")), other === tab);
    }
    if (tab.id === "tab-settings") loadSettings();
    if (tab.id === "tab-chat") loadChat();
    if (tab.id === "tab-voicemail") loadVoicemail();
  });
}

connectEvents();
