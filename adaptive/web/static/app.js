// The control surface: shows what the server pushes over /ws, sends what is touched.
// Every control sends a JSON command of adaptive.commands (the same as OSC and MQTT cmd).
// State for tests and debugging lives in window.adaptive.
"use strict";
const A = window.adaptive = { connected: false, pushes: 0, beats: [], status: null,
                              score: null, opens: 0, sent: [] };
const token = new URLSearchParams(location.search).get("token");
const $ = (id) => document.getElementById(id);
let ws = null, retry = 250, dragging = new Set(), pendingAt = 0, beatTimer = null;
let arming = false;  // the arm toggle: the next section, stinger, state, rest or resume is armed
const PERFORMER = [["go", "GO", false], ["disarm", "disarm", false], ["vamp", "vamp", false],
                   ["devamp", "devamp", false], ["panic", "PANIC (hold)", true]];

function connect() {
  const scheme = location.protocol === "https:" ? "wss" : "ws";
  const query = token ? "?token=" + encodeURIComponent(token) : "";
  ws = new WebSocket(`${scheme}://${location.host}/ws${query}`);
  ws.onopen = () => { A.connected = true; A.opens += 1; retry = 250; setConn("open", "connected"); };
  ws.onclose = () => {
    A.connected = false;
    setConn("closed", `reconnecting in ${(retry / 1000).toFixed(1)} s`);
    setTimeout(connect, retry);            // the page reconnects by itself
    retry = Math.min(retry * 2, 2000);
  };
  ws.onmessage = (message) => {
    const data = JSON.parse(message.data);
    if (data.type === "score") buildScore(data);
    else if (data.type === "status") showStatus(data);
    else if (data.type === "beat") scheduleBeat(data);
  };
}

function setConn(state, text) { const c = $("conn"); c.dataset.state = state; c.textContent = text; }

function send(command) {
  if (ws && ws.readyState === WebSocket.OPEN) { ws.send(JSON.stringify(command)); A.sent.push(command); }
}

function armable(command) {
  // with the arm toggle on, a move is armed (fired by GO) instead of done at once
  if (!arming || !["section", "stinger", "state", "rest", "resume"].includes(command.cmd)) return command;
  setArming(false);
  const armed = { cmd: "arm", what: command.cmd };
  if (command.name) armed.name = command.name;
  return armed;
}

function setArming(on) {
  arming = on;
  const toggle = $("arm-toggle");
  if (toggle) toggle.classList.toggle("on", on);
}

function button(label, command, parent, cls) {
  const b = document.createElement("button");
  b.textContent = label;
  if (cls) b.className = cls;
  b.onclick = () => send(armable(command));
  parent.appendChild(b);
  return b;
}

function guarded(label, command, parent, hold) {
  // panic: held for `hold` ms, so a stray touch does nothing
  const b = document.createElement("button");
  b.textContent = label; b.className = "danger"; b.dataset.cmd = command.cmd;
  let timer = null;
  const start = (e) => { e.preventDefault(); b.classList.add("armed-guard");
                         timer = setTimeout(() => { send(command); timer = null; }, hold); };
  const cancel = () => { b.classList.remove("armed-guard"); if (timer) clearTimeout(timer); timer = null; };
  b.addEventListener("pointerdown", start);
  b.addEventListener("pointerup", cancel);
  b.addEventListener("pointerleave", cancel);
  parent.appendChild(b);
}

function slider(parent, name, min, max, value, onValue, unit) {
  const label = document.createElement("label");
  label.className = "param";
  const title = document.createElement("span"); title.textContent = name;
  const input = document.createElement("input");
  input.type = "range"; input.min = min; input.max = max; input.step = (max - min) / 1000;
  input.value = value; input.name = name;
  const shown = document.createElement("span");
  shown.textContent = Number(value).toFixed(unit ? 1 : 2) + (unit || "");
  input.addEventListener("pointerdown", () => dragging.add(input));
  input.addEventListener("pointerup", () => dragging.delete(input));
  input.addEventListener("change", () => dragging.delete(input));
  input.addEventListener("input", () => {
    shown.textContent = Number(input.value).toFixed(unit ? 1 : 2) + (unit || "");
    onValue(Number(input.value));
  });
  label.append(title, input, shown);
  parent.appendChild(label);
  return { input, shown, unit: unit || "" };
}

const controls = { params: {}, layers: {} };

function buildScore(score) {
  A.score = score;
  $("score").textContent = score.name;
  const params = $("params"); params.replaceChildren(); controls.params = {};
  for (const p of score.parameters) {
    controls.params[p.name] = slider(params, p.name, p.min, p.max, p.default,
                                     (v) => send({ cmd: "param", name: p.name, value: v }));
    controls.params[p.name].input.id = "param-" + p.name;
  }
  for (const [id, names, cmd] of [["sections", score.sections, "section"],
                                  ["states", score.states, "state"],
                                  ["stingers", score.stingers, "stinger"]]) {
    const row = $(id); row.replaceChildren();
    const caption = document.createElement("span"); caption.className = "caption";
    caption.textContent = id;
    row.appendChild(caption);
    for (const name of names) button(name, { cmd, name }, row).dataset.name = name;
  }
  const performer = $("performer"); performer.replaceChildren();
  if ((score.commands || []).includes("arm")) {
    const toggle = document.createElement("button");
    toggle.id = "arm-toggle"; toggle.textContent = "arm…";
    toggle.onclick = () => setArming(!arming);
    performer.appendChild(toggle);
  }
  for (const [cmd, label, danger] of PERFORMER) {
    if (!(score.commands || []).includes(cmd)) continue;
    if (danger) guarded(label, { cmd }, performer, 500);
    else button(label, { cmd }, performer).dataset.cmd = cmd;
  }
  const layers = $("layers"); layers.replaceChildren(); controls.layers = {};
  for (const key of score.layers) {
    const row = document.createElement("div"); row.className = "layer"; row.dataset.layer = key;
    const name = document.createElement("span"); name.textContent = key;
    const meter = document.createElement("div"); meter.className = "meter";
    const rms = document.createElement("div"); rms.className = "rms";
    const peak = document.createElement("div"); peak.className = "peak";
    const db = document.createElement("span"); db.className = "db";
    meter.append(rms, peak, db);
    row.append(name, meter);
    const mute = button("mute", null, row), solo = button("solo", null, row);
    mute.onclick = () => send({ cmd: "mute", layer: key, on: !mute.classList.contains("on") });
    solo.onclick = () => { const on = !solo.classList.contains("on");
                           solo.classList.toggle("on", on); send({ cmd: "solo", layer: key, on }); };
    const holder = document.createElement("div");
    const gain = slider(holder, "dB", -60, 12, 0,
                        (v) => send({ cmd: "layer_gain", layer: key, db: v }), " dB");
    gain.input.id = "gain-" + key;
    row.appendChild(holder);
    button("auto", { cmd: "auto", layer: key }, row);
    layers.appendChild(row);
    controls.layers[key] = { row, rms, peak, db, mute, solo, gain };
  }
}

const pct = (db) => Math.max(0, Math.min(100, (db + 60) / 60 * 100));

function showStatus(view) {
  const s = view.status;
  A.status = s; A.levels = view.levels; A.pushes += 1; pendingAt = performance.now();
  $("section").textContent = s.section || "–";
  $("position").textContent = `bar ${s.bar} · beat ${s.beat}`;
  $("state").textContent = s.state;
  $("sounding").textContent = "sounding: " + (s.sounding.map((v) =>
    `${v.section} ${v.bar}:${v.beat}${v.fading_at !== null ? " (fading)" : ""}`).join(", ") || "nothing");
  showPending(s.pending);
  const armed = s.armed;
  $("armed").textContent = armed ? `armed: ${armed.what} ${armed.name || ""}` +
    (armed.in != null ? ` · GO now lands in ${armed.in.toFixed(2)} s` : "") : "";
  for (const [name, c] of Object.entries(controls.params)) {
    const value = (s.targets || {})[name] ?? (s.params || {})[name];
    if (value !== undefined && !dragging.has(c.input) && document.activeElement !== c.input) {
      c.input.value = value; c.shown.textContent = Number(value).toFixed(2);
    }
  }
  const heard = new Set(s.sounding.map((v) => v.section));
  for (const [key, c] of Object.entries(controls.layers)) {
    c.row.classList.toggle("idle", !heard.has(key.split(".")[0]));
    const level = view.levels[key] || { peak_db: -120, rms_db: -120 };
    c.rms.style.width = pct(level.rms_db) + "%";
    c.peak.style.left = pct(level.peak_db) + "%";
    c.db.textContent = level.rms_db > -120 ? level.rms_db.toFixed(1) : "";
    const override = (s.overrides || {})[key];
    c.mute.classList.toggle("on", override === 0);
  }
  showFilm(s.film);
  const counters = $("counters"); counters.replaceChildren();
  for (const [kind, n] of Object.entries(s.counters || {}).sort()) {
    const tr = document.createElement("tr");
    tr.innerHTML = "<td></td><td></td>"; tr.children[0].textContent = kind; tr.children[1].textContent = n;
    counters.appendChild(tr);
  }
  const errors = $("errors"); errors.replaceChildren();
  for (const e of view.errors.slice().reverse()) {
    const li = document.createElement("li");
    li.textContent = `${e.age.toFixed(0)} s ago · ${e.kind}: ${e.message}`;
    errors.appendChild(li);
  }
}

let lastPending = [];
function showPending(pending) { lastPending = pending || []; drawPending(); }
function drawPending() {
  // the countdown runs between pushes from the time each push arrived
  const elapsed = (performance.now() - pendingAt) / 1000;
  $("pending").replaceChildren(...lastPending.map((p) => {
    const div = document.createElement("div"); div.className = "pending-item";
    div.textContent = `${p.kind} ${p.name || ""} in ${Math.max(0, p.in - elapsed).toFixed(1)} s`;
    return div;
  }));
}
setInterval(drawPending, 100);

function showFilm(film) {
  $("film").hidden = !film;
  if (!film) return;
  $("timecode").textContent = film.timecode || "--:--:--:--";
  $("cue").textContent = film.cue ? "cue: " + film.cue : "";
  $("lock").textContent = `${film.state}` + (film.delta_ms != null ? ` · Δ ${film.delta_ms} ms` : "")
    + (film.nudges ? ` · ${film.nudges} nudges` : "");
  $("hit").textContent = film.next_hit ? `next hit: ${film.next_hit.label} in ${film.next_hit.in} s` : "";
}

function scheduleBeat(beat) {
  // the server announces beats ahead of time: light this one when it sounds
  setTimeout(() => {
    A.beats.push({ wall: Date.now() / 1000, bar: beat.bar, beat: beat.beat });
    if (A.beats.length > 512) A.beats.splice(0, 256);
    const light = $("beat");
    light.classList.add("on"); light.classList.toggle("down", beat.beat === 1);
    clearTimeout(beatTimer);
    beatTimer = setTimeout(() => light.classList.remove("on", "down"), 100);
  }, beat.in * 1000);
}

for (const b of document.querySelectorAll("#show button")) {
  const command = JSON.parse(b.dataset.cmd); b.onclick = () => send(armable(command));
}
connect();
