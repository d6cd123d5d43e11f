// The jobstream web page: a job list, and one job's record with its log followed live.
// The log stream is read with fetch rather than EventSource, because EventSource cannot
// send an Authorization header and a token in the URL would end up in logs and history.
"use strict";

const $ = (id) => document.getElementById(id);
const TOKEN_KEY = "jobstream.token";
let current = null; // {jobId, abort} of the job view on screen

function authHeaders() {
  const token = localStorage.getItem(TOKEN_KEY);
  return token ? { Authorization: `Bearer ${token}` } : {};
}

async function api(path) {
  const response = await fetch(path, { headers: authHeaders() });
  const body = await response.json().catch(() => ({}));
  if (!response.ok) throw new Error(body.message || `${response.status} ${response.statusText}`);
  return body;
}

function say(text) {
  $("message").textContent = text || "";
}

function el(tag, attrs = {}, text = "") {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) node.setAttribute(k, v);
  node.textContent = text;
  return node;
}

function duration(job) {
  if (!job.started) return "-";
  const end = job.ended ? new Date(job.ended) : new Date();
  const s = (end - new Date(job.started)) / 1000;
  return s < 120 ? `${s.toFixed(1)}s` : `${(s / 60).toFixed(1)}m`;
}

function when(value) {
  return value ? new Date(value).toLocaleString() : "-";
}

// --- the job list -------------------------------------------------------------------------

let listRequests = 0; // as for records: a slow answer must not replace a newer one

async function showJobs() {
  const request = ++listRequests;
  const status = $("status-filter").value;
  const query = new URLSearchParams({ limit: "100" });
  if (status) query.append("status", status);
  try {
    const page = await api(`/jobs?${query}`);
    if (request !== listRequests) return;
    const rows = page.jobs.map((job) => {
      const tr = el("tr", { "data-job": job.job_id });
      tr.append(
        el("td", { class: `status s-${job.status}` }, job.status),
        el("td", {}, job.name || "-"),
        el("td", {}, duration(job)),
        el("td", {}, when(job.submitted)),
        el("td", { class: "mono" }, job.job_id.slice(0, 12)),
      );
      tr.addEventListener("click", () => { location.hash = `#/jobs/${job.job_id}`; });
      return tr;
    });
    $("jobs").replaceChildren(...rows);
    $("jobs-count").textContent = `${page.total} job(s)`;
    say("");
  } catch (error) {
    say(error.message);
  }
}

// --- one job --------------------------------------------------------------------------------

const RECORD_FIELDS = [
  ["job", "job_id"], ["name", "name"], ["status", "status"], ["reason", "reason"],
  ["stage", "stage"], ["submitted", "submitted"], ["started", "started"], ["ended", "ended"],
  ["duration", null], ["lines", "lines"], ["submitter", "submitter"], ["worker", "worker"],
];

let recordRequests = 0; // answers can overtake each other: only the newest is shown

async function showRecord(jobId) {
  const request = ++recordRequests;
  try {
    const job = await api(`/jobs/${encodeURIComponent(jobId)}`);
    if (request !== recordRequests) return job;
    const items = [];
    for (const [label, key] of RECORD_FIELDS) {
      let value = key === null ? duration(job) : job[key];
      if (["submitted", "started", "ended"].includes(key)) value = when(value);
      if (value === null || value === undefined || value === "") value = "-";
      const dd = el("dd", key === "status" ? { class: `status s-${value}` } : {}, String(value));
      items.push(el("dt", {}, label), dd);
    }
    const labels = Object.entries(job.labels || {}).map(([k, v]) => `${k}=${v}`).join(", ");
    if (labels) items.push(el("dt", {}, "labels"), el("dd", {}, labels));
    $("record").replaceChildren(...items);
    return job;
  } catch (error) {
    say(error.message);
    return null;
  }
}

// ANSI SGR colours become classes (16 colours) or inline colours (256 / true colour);
// every other escape sequence is dropped.
const ESCAPE = /\x1b\[([0-9;]*)([A-Za-z])|\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)|\x1b[@-_]/g;

function palette256(n) {
  if (n < 16) return null;
  if (n >= 232) { const g = 8 + (n - 232) * 10; return `rgb(${g},${g},${g})`; }
  const c = n - 16;
  const level = (v) => (v ? 55 + v * 40 : 0);
  return `rgb(${level(Math.floor(c / 36))},${level(Math.floor(c / 6) % 6)},${level(c % 6)})`;
}

function applySgr(state, params) {
  const codes = params === "" ? [0] : params.split(";").map(Number);
  for (let i = 0; i < codes.length; i++) {
    const c = codes[i];
    if (c === 0) Object.assign(state, { fg: null, bg: null, b: false, i: false, u: false });
    else if (c === 1) state.b = true;
    else if (c === 3) state.i = true;
    else if (c === 4) state.u = true;
    else if (c === 22) state.b = false;
    else if (c === 23) state.i = false;
    else if (c === 24) state.u = false;
    else if (c >= 30 && c <= 37) state.fg = c - 30;
    else if (c >= 90 && c <= 97) state.fg = c - 90 + 8;
    else if (c === 39) state.fg = null;
    else if (c >= 40 && c <= 47) state.bg = c - 40;
    else if (c >= 100 && c <= 107) state.bg = c - 100 + 8;
    else if (c === 49) state.bg = null;
    else if (c === 38 || c === 48) {
      let colour = null;
      if (codes[i + 1] === 5) {
        const n = codes[i + 2];
        colour = n < 16 ? n : palette256(n);
        i += 2;
      } else if (codes[i + 1] === 2) {
        colour = `rgb(${codes[i + 2]},${codes[i + 3]},${codes[i + 4]})`;
        i += 4;
      }
      if (c === 38) state.fg = colour; else state.bg = colour;
    }
  }
}

function renderAnsi(text, parent) {
  const state = { fg: null, bg: null, b: false, i: false, u: false };
  let last = 0;
  const emit = (chunk) => {
    if (!chunk) return;
    const span = el("span", {}, chunk);
    const classes = [];
    if (typeof state.fg === "number") classes.push(`f${state.fg}`);
    else if (state.fg) span.style.color = state.fg;
    if (typeof state.bg === "number") classes.push(`g${state.bg}`);
    else if (state.bg) span.style.background = state.bg;
    if (state.b) classes.push("b");
    if (state.i) classes.push("i");
    if (state.u) classes.push("u");
    if (classes.length) span.className = classes.join(" ");
    parent.append(span);
  };
  for (const match of text.matchAll(ESCAPE)) {
    emit(text.slice(last, match.index));
    if (match[2] === "m") applySgr(state, match[1]);
    last = match.index + match[0].length;
  }
  emit(text.slice(last));
}

function appendLine(line) {
  const log = $("log");
  const stick = log.scrollTop + log.clientHeight >= log.scrollHeight - 4;
  const row = el("span", { class: `line ${line.stream}`, "data-n": String(line.n) });
  renderAnsi(line.text, row);
  log.append(row);
  if (stick) log.scrollTop = log.scrollHeight;
}

// Server-Sent Events over fetch: `line` events carry a line (id = its number), `end` the
// job's final status. A dropped connection resumes with Last-Event-ID: no gap, no repeat.
async function follow(jobId, signal) {
  let last = null;
  for (let attempt = 0; attempt < 30 && !signal.aborted; attempt++) {
    const headers = authHeaders();
    if (last !== null) headers["Last-Event-ID"] = String(last);
    try {
      const response = await fetch(`/jobs/${encodeURIComponent(jobId)}/log/stream`, { headers, signal });
      if (!response.ok) {
        const body = await response.json().catch(() => ({}));
        say(body.message || `${response.status} ${response.statusText}`);
        return;
      }
      $("log-state").textContent = "following…";
      const reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
      let buffer = "";
      let event = { type: "message", data: [], id: null };
      for (;;) {
        const { value, done } = await reader.read();
        if (done) break;
        buffer += value;
        let newline;
        while ((newline = buffer.indexOf("\n")) >= 0) {
          const text = buffer.slice(0, newline).replace(/\r$/, "");
          buffer = buffer.slice(newline + 1);
          if (text === "") {
            if (event.type === "line" && event.data.length) {
              appendLine(JSON.parse(event.data.join("\n")));
              last = Number(event.id);
            } else if (event.type === "end") {
              const end = JSON.parse(event.data.join("\n"));
              $("log-state").textContent = `job ended ${end.status}`;
              await showRecord(jobId);
              return;
            }
            event = { type: "message", data: [], id: null };
          } else if (!text.startsWith(":")) {
            const colon = text.indexOf(":");
            const field = colon < 0 ? text : text.slice(0, colon);
            const data = colon < 0 ? "" : text.slice(colon + 1).replace(/^ /, "");
            if (field === "event") event.type = data;
            else if (field === "data") event.data.push(data);
            else if (field === "id") event.id = data;
          }
        }
      }
    } catch (error) {
      if (signal.aborted) return;
    }
    $("log-state").textContent = "reconnecting…";
    await new Promise((resolve) => setTimeout(resolve, 1000));
  }
}

async function showJob(jobId) {
  const job = await showRecord(jobId);
  if (!job) return;
  const abort = new AbortController();
  current = { jobId: job.job_id, abort };
  $("log").replaceChildren();
  $("log-state").textContent = "";
  follow(job.job_id, abort.signal);
  // The record (status, duration) refreshes while the log streams.
  const tick = setInterval(() => {
    if (abort.signal.aborted || $("log-state").textContent.startsWith("job ended")) {
      clearInterval(tick);
    } else {
      showRecord(job.job_id);
    }
  }, 2000);
}

// --- routing ----------------------------------------------------------------------------------

let listTimer = null;

function route() {
  if (current) current.abort.abort();
  current = null;
  clearInterval(listTimer);
  say("");
  const match = location.hash.match(/^#\/jobs\/(.+)$/);
  $("jobs-view").hidden = Boolean(match);
  $("job-view").hidden = !match;
  if (match) {
    showJob(decodeURIComponent(match[1]));
  } else {
    showJobs();
    listTimer = setInterval(showJobs, 2000);
  }
}

$("token").value = localStorage.getItem(TOKEN_KEY) || "";
$("token").addEventListener("change", (e) => {
  if (e.target.value) localStorage.setItem(TOKEN_KEY, e.target.value);
  else localStorage.removeItem(TOKEN_KEY);
  route();
});
$("status-filter").addEventListener("change", showJobs);
window.addEventListener("hashchange", route);
route();
