// The wallboard page a supervisor opens in a browser (`/wallboard`): it logs in with the
// collaboration server's own login, then shows every ACD path's figures and every agent's state,
// live over `/api/v1/wallboard/live`. Plain HTML, CSS and JavaScript, nothing fetched elsewhere.

enum WallboardPage {
    static let html = #"""
<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Holdfast wallboard</title>
<style>
  :root { --bg: #f4f6f9; --card: #fff; --ink: #1c2430; --muted: #5e6b7c; --line: #dfe4ea;
          --ok: #1f7a4d; --warn: #a86400; --bad: #b3261e; --info: #1f5fa8; }
  * { box-sizing: border-box; }
  body { margin: 0; font: 15px/1.4 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; background: var(--bg); color: var(--ink); }
  header { display: flex; align-items: center; gap: 16px; padding: 14px 24px; background: #18324f; color: #fff; }
  header h1 { font-size: 18px; margin: 0; font-weight: 600; }
  header .spacer { flex: 1; }
  #link { font-size: 13px; padding: 3px 10px; border-radius: 12px; background: #2d6a4f; }
  #link.stale { background: var(--bad); }
  main { padding: 20px 24px; display: grid; gap: 20px; }
  section { background: var(--card); border: 1px solid var(--line); border-radius: 10px; padding: 16px 18px; }
  h2 { font-size: 15px; margin: 0 0 12px; color: var(--muted); font-weight: 600; text-transform: uppercase; letter-spacing: .04em; }
  .paths { display: grid; grid-template-columns: repeat(auto-fill, minmax(320px, 1fr)); gap: 14px; }
  .path { border: 1px solid var(--line); border-radius: 8px; padding: 12px 14px; }
  .path h3 { margin: 0 0 8px; font-size: 17px; }
  .path h3 small { color: var(--muted); font-weight: 400; }
  .figures { display: grid; grid-template-columns: repeat(3, 1fr); gap: 8px; }
  .figure { background: var(--bg); border-radius: 6px; padding: 6px 8px; }
  .figure b { display: block; font-size: 22px; font-variant-numeric: tabular-nums; }
  .figure span { font-size: 12px; color: var(--muted); }
  .figure.alert b { color: var(--bad); }
  table { width: 100%; border-collapse: collapse; }
  th, td { text-align: left; padding: 7px 8px; border-bottom: 1px solid var(--line); }
  th { font-size: 12px; color: var(--muted); font-weight: 600; text-transform: uppercase; }
  .state { display: inline-flex; align-items: center; gap: 6px; font-weight: 600; }
  .state::before { content: ""; width: 10px; height: 10px; border-radius: 50%; background: currentColor; }
  .available { color: var(--ok); } .offered, .onACDCall { color: var(--info); } .onOtherCall { color: var(--info); }
  .wrapUp { color: var(--warn); } .makeBusy { color: var(--bad); } .loggedOut { color: var(--muted); }
  form { display: flex; gap: 8px; align-items: center; }
  input { font: inherit; padding: 6px 8px; border: 1px solid var(--line); border-radius: 6px; }
  button { font: inherit; padding: 6px 14px; border: 0; border-radius: 6px; background: var(--info); color: #fff; cursor: pointer; }
  #error { color: var(--bad); }
  .stale main { opacity: .6; }
</style>
</head>
<body>
<header><h1>Contact center wallboard</h1><span class="spacer"></span><span id="updated"></span><span id="link">connecting…</span></header>
<main>
  <section id="login" hidden>
    <h2>Supervisor login</h2>
    <form id="loginForm"><input id="user" placeholder="Extension" autocomplete="username"><input id="password" type="password" placeholder="Password" autocomplete="current-password"><button>Log in</button><span id="error"></span></form>
  </section>
  <section id="pathsSection" hidden><h2>Paths</h2><div class="paths" id="paths"></div></section>
  <section id="agentsSection" hidden><h2>Agents</h2>
    <table><thead><tr><th>Agent</th><th>State</th><th>Reason</th><th>At</th><th>Groups</th></tr></thead><tbody id="agents"></tbody></table>
  </section>
</main>
<script>
"use strict";
const labels = { available: "Available", makeBusy: "Make busy", offered: "Ringing", onACDCall: "On ACD call", onOtherCall: "On other call", wrapUp: "Wrap-up", loggedOut: "Logged out" };
let snapshot = null, receivedAt = 0;
const $ = id => document.getElementById(id);
function el(tag, attrs, ...children) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) e.setAttribute(k, v);
  for (const c of children) e.append(c);
  return e;
}
function seconds(s) {
  if (s === null || s === undefined) return "–";
  s = Math.round(s);
  return s < 60 ? s + " s" : Math.floor(s / 60) + " min " + String(s % 60).padStart(2, "0") + " s";
}
function figure(value, label, alert) { return el("div", { class: "figure" + (alert ? " alert" : "") }, el("b", {}, value), el("span", {}, label)); }
function render() {
  if (!snapshot) return;
  const waitedSince = (Date.now() - receivedAt) / 1000;
  $("paths").replaceChildren(...snapshot.paths.map(p => el("div", { class: "path", "data-path": p.number },
    el("h3", {}, p.name + " ", el("small", {}, p.number)),
    el("div", { class: "figures" },
      figure(String(p.waiting), "waiting", p.waiting > 0),
      figure(p.longestWait === null ? "–" : seconds(p.longestWait + waitedSince), "longest wait", p.longestWait !== null && p.longestWait + waitedSince > 60),
      figure(p.serviceLevel === null ? "–" : Math.round(p.serviceLevel * 100) + " %", "service level"),
      figure(String(p.agentsAvailable), "available"), figure(String(p.agentsBusy), "busy"), figure(String(p.agentsInWrapUp), "wrap-up"),
      figure(String(p.answered), "answered"), figure(String(p.abandoned), "abandoned"), figure(seconds(p.averageSpeedOfAnswer), "avg. speed of answer")))));
  $("agents").replaceChildren(...snapshot.agents.map(a => el("tr", { "data-agent": a.agent },
    el("td", {}, a.agent), el("td", {}, el("span", { class: "state " + a.status }, labels[a.status] || a.status)),
    el("td", {}, a.reason || ""), el("td", {}, a.device || ""), el("td", {}, a.groups.join(", ")))));
  const stale = snapshot.callServer !== "connected";
  document.body.classList.toggle("stale", stale);
  $("link").textContent = stale ? "call server unreachable — last figures" : "live";
  $("link").classList.toggle("stale", stale);
  $("updated").textContent = "updated " + new Date(snapshot.time).toLocaleTimeString();
  $("pathsSection").hidden = false; $("agentsSection").hidden = false;
}
function showLogin(message) {
  $("login").hidden = false; $("error").textContent = message || "";
  $("link").textContent = "not logged in"; $("link").classList.add("stale");
}
let retry = 500;
function connect() {
  const token = sessionStorage.getItem("wallboardToken");
  if (!token) { showLogin(); return; }
  const ws = new WebSocket((location.protocol === "https:" ? "wss://" : "ws://") + location.host + "/api/v1/wallboard/live?token=" + encodeURIComponent(token));
  ws.onmessage = m => { snapshot = JSON.parse(m.data); receivedAt = Date.now(); retry = 500; $("login").hidden = true; render(); };
  ws.onclose = () => {
    $("link").textContent = "reconnecting…"; $("link").classList.add("stale");
    fetch("/api/v1/wallboard", { headers: { Authorization: "Bearer " + token } }).then(r => {
      if (r.status === 401 || r.status === 403) { sessionStorage.removeItem("wallboardToken"); return r.json().then(e => showLogin(e.message)); }
      setTimeout(connect, retry); retry = Math.min(retry * 2, 5000);
    }, () => { setTimeout(connect, retry); retry = Math.min(retry * 2, 5000); });
  };
}
$("loginForm").addEventListener("submit", async e => {
  e.preventDefault();
  const r = await fetch("/api/v1/login", { method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify({ user: $("user").value, password: $("password").value }) });
  const body = await r.json();
  if (!r.ok) { showLogin(body.message); return; }
  sessionStorage.setItem("wallboardToken", body.token);
  connect();
});
setInterval(render, 1000);  // the longest wait counts on between snapshots
connect();
</script>
</body>
</html>
"""#
}
