// The jobstream web page: the job list (live over SSE), and one job's page: its record,
// stage sections and log. `/?job=ID` shows a job, `#L10-L20` marks lines of it; any other
// query is the list's filters. Streams are read with fetch rather than EventSource, because
// EventSource cannot send an Authorization header and a token in the URL would end up in
// logs and history.
"use strict";

const $ = (id) => document.getElementById(id);
const TOKEN_KEY = "jobstream.token";
const TIMESTAMPS_KEY = "jobstream.timestamps";
const PAGE_SIZE = 50;

function authHeaders() {
  const token = localStorage.getItem(TOKEN_KEY);
  return token ? { Authorization: `Bearer ${token}` } : {};
}

class HttpError extends Error {
  constructor(status, message) {
    super(message);
    this.status = status;
  }
}

async function call(path, options = {}) {
  const response = await fetch(path, { ...options, headers: { ...authHeaders(), ...options.headers } });
  if (!response.ok) {
    const body = await response.json().catch(() => ({}));
    throw new HttpError(response.status, body.message || `${response.status} ${response.statusText}`);
  }
  return response;
}

async function api(path, options) {
  return (await call(path, options)).json();
}

function say(text) {
  $("message").textContent = text || "";
}

function el(tag, attrs = {}, text = "") {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) node.setAttribute(k, v);
  if (text) node.textContent = text;
  return node;
}

function seconds(s) {
  if (s === null || s === undefined) return "-";
  if (s < 120) return `${s.toFixed(1)}s`;
  if (s < 7200) return `${Math.floor(s / 60)}m ${Math.round(s % 60)}s`;
  return `${(s / 3600).toFixed(1)}h`;
}

function span(from, to) {
  if (!from) return null;
  return ((to ? new Date(to) : new Date()) - new Date(from)) / 1000;
}

function when(value) {
  return value ? new Date(value).toLocaleString() : "-";
}

function navigate(search) {
  history.pushState(null, "", search || location.pathname);
  route();
}

// --- Server-Sent Events over fetch ------------------------------------------------------------

// Reads one response of Server-Sent Events, calling onEvent(type, data, id) per event; returns
// when the server ends it. A chunk is split once: no copying of the rest per line, which
// matters at thousands of events a second.
async function readEvents(response, onEvent) {
  const reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
  let buffer = "";
  let type = "message";
  let data = [];
  let id = null;
  for (;;) {
    const { value, done } = await reader.read();
    if (done) return;
    // A batch of lines is one long data line over many chunks: only the text up to the
    // chunk's last newline is split, not the whole buffer again at every chunk.
    const cut = value.lastIndexOf("\n");
    if (cut < 0) {
      buffer += value;
      continue;
    }
    const parts = (buffer + value.slice(0, cut)).split("\n");
    buffer = value.slice(cut + 1);
    for (let text of parts) {
      if (text.endsWith("\r")) text = text.slice(0, -1);
      if (text === "") {
        if (data.length && onEvent(type, data.join("\n"), id) === false) return;
        type = "message";
        data = [];
        id = null;
      } else if (text[0] !== ":") {
        const colon = text.indexOf(":");
        const field = colon < 0 ? text : text.slice(0, colon);
        let rest = colon < 0 ? "" : text.slice(colon + 1);
        if (rest[0] === " ") rest = rest.slice(1);
        if (field === "event") type = rest;
        else if (field === "data") data.push(rest);
        else if (field === "id") id = rest;
      }
    }
  }
}

// --- whoami: which buttons to show -----------------------------------------------------------

let scopes = null; // a promise of the token's scopes

function whoami() {
  if (!scopes) {
    scopes = api("/whoami")
      .then((who) => who.scopes || [])
      .catch(() => []); // an older server has no /whoami: show no write buttons
    scopes.then((s) => { $("scopes").textContent = s.length ? `scopes: ${s.join(", ")}` : ""; });
  }
  return scopes;
}

// --- the job list -------------------------------------------------------------------------

const FILTERS = { status: "status-filter", name: "name-filter", label: "label-filter", since: "since-filter", until: "until-filter" };

const list = {
  abort: null,
  cursors: [], // the cursors of the pages before this one (empty: the newest page)
  cursor: null,
  ticker: null,
};

function filterQuery() {
  const query = new URLSearchParams();
  for (const [key, id] of Object.entries(FILTERS)) {
    const value = $(id).value.trim();
    if (!value) continue;
    if (key === "label") {
      for (const pair of value.split(",")) if (pair.trim()) query.append("label", pair.trim());
    } else if (key === "since" || key === "until") {
      const at = new Date(value);
      if (!Number.isNaN(at.getTime())) query.set(key, at.toISOString());
    } else {
      query.set(key, value);
    }
  }
  return query;
}

function filtersFromUrl() {
  const query = new URLSearchParams(location.search);
  for (const [key, id] of Object.entries(FILTERS)) {
    let value = key === "label" ? query.getAll("label").join(", ") : query.get(key) || "";
    if (value && (key === "since" || key === "until")) {
      const at = new Date(value);
      value = Number.isNaN(at.getTime()) ? "" : toLocalInput(at);
    }
    $(id).value = value;
  }
}

function toLocalInput(at) {
  const local = new Date(at.getTime() - at.getTimezoneOffset() * 60000);
  return local.toISOString().slice(0, 16);
}

function showJobs() {
  if (list.abort) list.abort.abort();
  const abort = new AbortController();
  list.abort = abort;
  const query = filterQuery();
  history.replaceState(null, "", query.toString() ? `?${query}` : location.pathname);
  query.set("limit", String(PAGE_SIZE));
  if (list.cursor) query.set("cursor", list.cursor);
  watchJobs(`/jobs/stream?${query}`, abort.signal);
  clearInterval(list.ticker);
  list.ticker = setInterval(tickDurations, 1000);
}

// The stream sends the page at once and again whenever it changes; a dropped stream is
// opened again, and it then sends the page as it is.
async function watchJobs(url, signal) {
  while (!signal.aborted) {
    try {
      const response = await call(url, { signal });
      await readEvents(response, (type, data) => {
        if (signal.aborted) return false;
        if (type === "jobs") drawJobs(JSON.parse(data));
        return true;
      });
    } catch (error) {
      if (signal.aborted) return;
      say(error.message);
      if (error instanceof HttpError && error.status < 500) return;
    }
    await new Promise((resolve) => setTimeout(resolve, 1000));
  }
}

function drawJobs(page) {
  const rows = page.jobs.map((job) => {
    const tr = el("tr", { "data-job": job.job_id, "data-status": job.status });
    const dur = el("td", { class: "dur" }, seconds(job.duration_seconds ?? span(job.started, job.ended)));
    if (job.started && !job.completed) dur.dataset.started = job.started;
    const labels = el("td");
    for (const [k, v] of Object.entries(job.labels || {})) labels.append(el("span", { class: "chip" }, `${k}=${v}`));
    tr.append(
      el("td", { class: `status s-${job.status}` }, job.status),
      el("td", {}, job.name || "-"),
      dur,
      el("td", {}, when(job.submitted)),
      labels,
      el("td", { class: "mono" }, job.job_id.slice(0, 12)),
    );
    tr.addEventListener("click", () => navigate(`?job=${encodeURIComponent(job.job_id)}`));
    return tr;
  });
  $("jobs").replaceChildren(...rows);
  const before = list.cursors.length * PAGE_SIZE;
  $("jobs-count").textContent = `${page.total} job(s)`;
  $("page-info").textContent = page.jobs.length
    ? `${before + 1}-${before + page.jobs.length} of ${page.total}`
    : "no jobs";
  $("page-next").disabled = !page.next_cursor;
  $("page-next").dataset.cursor = page.next_cursor || "";
  $("page-prev").disabled = $("page-first").disabled = list.cursors.length === 0;
  say("");
}

function tickDurations() {
  for (const cell of document.querySelectorAll("#jobs .dur[data-started]")) {
    cell.textContent = seconds(span(cell.dataset.started, null));
  }
}

function resetPaging() {
  list.cursors = [];
  list.cursor = null;
}

// --- ANSI colours -----------------------------------------------------------------------------

// SGR colours become classes (16 colours) or inline colours (256 / true colour); every
// other escape sequence is dropped.
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
  if (!text.includes("\x1b")) {
    parent.append(text);
    return;
  }
  const state = { fg: null, bg: null, b: false, i: false, u: false };
  let last = 0;
  const emit = (chunk) => {
    if (!chunk) return;
    const part = el("span", {}, chunk);
    const classes = [];
    if (typeof state.fg === "number") classes.push(`f${state.fg}`);
    else if (state.fg) part.style.color = state.fg;
    if (typeof state.bg === "number") classes.push(`g${state.bg}`);
    else if (state.bg) part.style.background = state.bg;
    if (state.b) classes.push("b");
    if (state.i) classes.push("i");
    if (state.u) classes.push("u");
    if (classes.length) part.className = classes.join(" ");
    parent.append(part);
  };
  for (const match of text.matchAll(ESCAPE)) {
    emit(text.slice(last, match.index));
    if (match[2] === "m") applySgr(state, match[1]);
    last = match.index + match[0].length;
  }
  emit(text.slice(last));
}

// --- the log viewer ---------------------------------------------------------------------------

const ROW = 20; // px, as --row in the page's style: every row is exactly this high
const CHUNK = 1000; // lines per range request; chunk k holds lines k*CHUNK+1 .. (k+1)*CHUNK
const KEEP_CHUNKS = 200; // at most this many chunks (200,000 lines) stay in memory
const MARGIN = 40; // rows drawn above and below the screen
// Browsers cap an element's height (Chromium near 33.5 M px); past this the scrollbar maps
// onto the rows proportionally instead of one pixel per pixel.
const MAX_HEIGHT = 8_000_000;

class LogView {
  constructor(box, jobId) {
    this.box = box;
    this.spacer = box.querySelector("#log-spacer");
    this.rowsEl = box.querySelector("#log-rows");
    this.jobId = jobId;
    this.total = 0; // the highest line number known
    this.chunks = new Map(); // k -> array of lines (holes: not known yet)
    this.loaded = new Set(); // chunks fetched (or being fetched) with a range request
    this.early = new Map(); // chunk -> a range request sent before the view existed
    this.stages = [];
    this.collapsed = new Set();
    this.segments = [];
    this.rows = 0;
    this.marked = null; // {from, to}: the lines of the #L anchor
    this.anchor = null; // the line a shift-click extends from
    this.matches = new Set();
    this.current = null; // the search match on screen
    this.timestamps = localStorage.getItem(TIMESTAMPS_KEY) === "1";
    this.pending = []; // live lines not drawn yet
    this.frame = 0;
    this.cache = new Map(); // row key -> element, reused while nothing about it changed
    this.stick = false; // follow the end: the user is at the bottom of a live log
    this.closed = false;
    this.onScroll = () => {
      this.stick = this.atEnd();
      this.schedule();
    };
    box.addEventListener("scroll", this.onScroll, { passive: true });
    this.onClick = (event) => this.click(event);
    this.rowsEl.addEventListener("click", this.onClick);
    this.segment();
  }

  close() {
    this.closed = true;
    this.box.removeEventListener("scroll", this.onScroll);
    this.rowsEl.removeEventListener("click", this.onClick);
    cancelAnimationFrame(this.frame);
    this.rowsEl.replaceChildren();
    this.spacer.style.height = "0px";
  }

  atEnd() {
    return this.box.scrollTop + this.box.clientHeight >= this.box.scrollHeight - ROW;
  }

  // Rows are stage headers and lines. Segments describe them without one object per line:
  // {head: stage} or {from, to} (a run of lines), with `start`, the row of their first row.
  segment() {
    const segments = [];
    const lines = (from, to) => { if (to >= from) segments.push({ from, to }); };
    let next = 1;
    const ordered = [...this.stages].sort((a, b) => a.index - b.index);
    ordered.forEach((stage, i) => {
      if (stage.first_line == null) {
        segments.push({ head: stage });
        return;
      }
      lines(next, Math.min(stage.first_line - 1, this.total));
      segments.push({ head: stage });
      let last = stage.last_line;
      if (last == null) {
        const later = ordered.slice(i + 1).find((s) => s.first_line != null);
        last = later ? later.first_line - 1 : this.total;
      }
      last = Math.min(last, this.total);
      if (!this.collapsed.has(stage.index)) lines(Math.max(stage.first_line, next), last);
      next = Math.max(next, last + 1);
    });
    lines(next, this.total);
    let row = 0;
    for (const s of segments) {
      s.start = row;
      row += s.head ? 1 : s.to - s.from + 1;
    }
    this.segments = segments;
    this.rows = row;
  }

  at(row) {
    let lo = 0;
    let hi = this.segments.length - 1;
    while (lo < hi) {
      const mid = (lo + hi + 1) >> 1;
      if (this.segments[mid].start <= row) lo = mid; else hi = mid - 1;
    }
    const s = this.segments[lo];
    return s.head ? { head: s.head } : { n: s.from + row - s.start };
  }

  // The row of line n, opening the section that hides it.
  rowOf(n) {
    for (const stage of this.stages) {
      if (this.collapsed.has(stage.index) && stage.first_line != null && n >= stage.first_line
          && (stage.last_line == null || n <= stage.last_line)) {
        this.collapsed.delete(stage.index);
        this.segment();
        this.cache.clear();
        break;
      }
    }
    for (const s of this.segments) {
      if (!s.head && n >= s.from && n <= s.to) return s.start + n - s.from;
    }
    return null;
  }

  setStages(stages) {
    const first = this.stagesKnown !== true;
    this.stagesKnown = true;
    this.stages = stages || [];
    this.segment();
    this.cache.clear();
    // The section headers moved the rows: the marked line goes back on screen.
    if (first && this.marked) this.scrollToLine(this.marked.from); else this.schedule();
  }

  toggle(index) {
    if (this.collapsed.has(index)) this.collapsed.delete(index); else this.collapsed.add(index);
    this.segment();
    this.cache.clear();
    this.schedule();
  }

  setTotal(total) {
    if (total <= this.total) return;
    this.total = total;
    this.segment();
    this.schedule();
  }

  line(n) {
    const chunk = this.chunks.get(Math.floor((n - 1) / CHUNK));
    return chunk ? chunk[(n - 1) % CHUNK] : undefined;
  }

  store(line) {
    const k = Math.floor((line.n - 1) / CHUNK);
    let chunk = this.chunks.get(k);
    if (!chunk) this.chunks.set(k, (chunk = []));
    chunk[(line.n - 1) % CHUNK] = line;
  }

  async load(k) {
    if (this.loaded.has(k)) return;
    this.loaded.add(k);
    try {
      const early = this.early.get(k);
      this.early.delete(k);
      const page = (early && (await early))
        || (await api(`/jobs/${encodeURIComponent(this.jobId)}/log?from=${k * CHUNK + 1}&limit=${CHUNK}`));
      if (this.closed) return;
      for (const line of page.lines) this.store(line);
      if (page.lines.length) this.setTotal(page.lines[page.lines.length - 1].n);
      this.evict(k);
      this.schedule();
    } catch (error) {
      this.loaded.delete(k);
      say(error.message);
    }
  }

  evict(keep) {
    if (this.chunks.size <= KEEP_CHUNKS) return;
    const end = Math.floor((this.total - 1) / CHUNK);
    const far = [...this.chunks.keys()].filter((k) => k !== end)
      .sort((a, b) => Math.abs(b - keep) - Math.abs(a - keep));
    for (const k of far.slice(0, this.chunks.size - KEEP_CHUNKS)) {
      this.chunks.delete(k);
      this.loaded.delete(k);
    }
  }

  // Live lines are kept until the next animation frame and drawn together: one layout per
  // frame, however many lines came.
  append(lines) {
    this.pending.push(lines);
    this.schedule();
  }

  schedule() {
    if (!this.frame) this.frame = requestAnimationFrame(() => { this.frame = 0; this.draw(); });
  }

  flush() {
    if (!this.pending.length) return;
    let top = this.total;
    for (const lines of this.pending) {
      for (const line of lines) this.store(line);
      if (lines.length && lines[lines.length - 1].n > top) top = lines[lines.length - 1].n;
    }
    this.pending = [];
    if (top > this.total) {
      this.total = top;
      this.segment();
    }
  }

  geometry() {
    const full = this.rows * ROW;
    const height = Math.min(full, MAX_HEIGHT);
    const view = this.box.clientHeight;
    const ratio = height > view ? (full - view) / (height - view) : 1;
    return { full, height, view, ratio };
  }

  scrollToRow(row, where = "center") {
    const { view, ratio, height } = this.geometry();
    this.spacer.style.height = `${height}px`;
    let top = row * ROW;
    if (where === "center") top -= (view - ROW) / 2;
    this.box.scrollTop = Math.max(0, top / ratio);
    this.stick = this.atEnd();
    this.schedule();
  }

  scrollToLine(n) {
    const row = this.rowOf(n);
    if (row !== null) this.scrollToRow(row);
  }

  scrollToEnd() {
    const { height } = this.geometry();
    this.spacer.style.height = `${height}px`;
    this.box.scrollTop = this.box.scrollHeight;
    this.stick = true;
    this.schedule();
  }

  draw() {
    const following = this.stick;
    this.flush();
    const { height, view, ratio } = this.geometry();
    if (this.spacer.style.height !== `${height}px`) this.spacer.style.height = `${height}px`;
    if (following) this.box.scrollTop = this.box.scrollHeight;
    const top = this.box.scrollTop * ratio;
    const first = Math.max(0, Math.floor(top / ROW) - MARGIN);
    const last = Math.min(this.rows, Math.ceil((top + view) / ROW) + MARGIN);
    const offset = this.box.scrollTop - (top - first * ROW);
    this.rowsEl.style.transform = `translateY(${offset}px)`;
    const nodes = [];
    const fresh = new Map();
    const wanted = new Set();
    for (let row = first; row < last; row++) {
      const item = this.at(row);
      const key = item.head ? `H${item.head.index}` : `L${item.n}`;
      let node = this.cache.get(key);
      if (!node) {
        if (item.head) {
          node = this.header(item.head);
        } else {
          const line = this.line(item.n);
          if (!line) wanted.add(Math.floor((item.n - 1) / CHUNK));
          node = this.row(item.n, line);
        }
      }
      if (!node.classList.contains("pending") && !(item.head && item.head.status === "RUNNING")) fresh.set(key, node);
      nodes.push(node);
    }
    this.cache = fresh;
    this.rowsEl.replaceChildren(...nodes);
    for (const k of wanted) this.load(k);
  }

  header(stage) {
    const node = el("div", { class: `section s-${stage.status}`, "data-stage": String(stage.index) });
    const open = !this.collapsed.has(stage.index);
    node.append(el("span", { class: "toggle" }, open ? "▾" : "▸"), stage.name);
    const took = stage.duration_s ?? (stage.started_at ? span(stage.started_at, stage.finished_at) : null);
    const steps = (stage.steps || []).length;
    node.append(el("span", { class: "meta" }, `${stage.status} · ${seconds(took)} · ${steps} step(s)`));
    node.title = (stage.steps || [])
      .map((s) => `${s.status} ${s.title}${s.exit_code != null ? ` (exit ${s.exit_code})` : ""}`).join("\n");
    return node;
  }

  row(n, line) {
    let cls = line ? `line ${line.stream}` : "line pending";
    if (this.marked && n >= this.marked.from && n <= this.marked.to) cls += " hl";
    if (this.matches.has(n)) cls += n === this.current ? " match current" : " match";
    const node = el("div", { class: cls, "data-n": String(n) });
    node.append(el("a", { class: "ln", href: `#L${n}` }, String(n)));
    if (!line) return node;
    if (this.timestamps) node.append(el("span", { class: "ts" }, clock(line.at)));
    const text = el("span", { class: "tx" });
    renderAnsi(line.text, text);
    node.append(text);
    return node;
  }

  click(event) {
    const head = event.target.closest(".section");
    if (head) {
      this.toggle(Number(head.dataset.stage));
      return;
    }
    const number = event.target.closest("a.ln");
    if (!number) return;
    event.preventDefault();
    const n = Number(number.parentElement.dataset.n);
    const from = event.shiftKey && this.anchor !== null ? Math.min(this.anchor, n) : n;
    const to = event.shiftKey && this.anchor !== null ? Math.max(this.anchor, n) : n;
    if (!event.shiftKey) this.anchor = n;
    history.replaceState(null, "", from === to ? `#L${from}` : `#L${from}-L${to}`);
    this.mark({ from, to }, false);
  }

  mark(range, scroll = true) {
    this.marked = range;
    if (range && this.anchor === null) this.anchor = range.from;
    this.cache.clear();
    if (range && scroll) this.scrollToLine(range.from); else this.schedule();
  }

  setTimestamps(on) {
    this.timestamps = on;
    this.cache.clear();
    this.schedule();
  }

  setMatches(lines, current) {
    this.matches = new Set(lines);
    this.current = current;
    this.cache.clear();
    if (current != null) this.scrollToLine(current); else this.schedule();
  }
}

function clock(at) {
  const t = new Date(at);
  return Number.isNaN(t.getTime()) ? "" : t.toISOString().slice(11, 23);
}

function parseLines(hash) {
  const match = hash.match(/^#L(\d+)(?:-L?(\d+))?$/);
  if (!match) return null;
  const a = Number(match[1]);
  const b = match[2] ? Number(match[2]) : a;
  return { from: Math.min(a, b), to: Math.max(a, b) };
}

// --- one job ----------------------------------------------------------------------------------

const RECORD_FIELDS = [
  ["job", "job_id"], ["reason", "reason"], ["stage", "stage"], ["submitted", "submitted"],
  ["started", "started"], ["ended", "ended"], ["duration", null], ["lines", "last_line"],
  ["submitter", "submitter"], ["worker", "worker"], ["attempt", "attempt"],
];

const job = {
  id: null,
  record: null,
  view: null,
  abort: null,
  timer: null,
  search: { q: "", lines: [], at: -1, next: null },
};

function jobLink(id) {
  const a = el("a", { href: `?job=${encodeURIComponent(id)}`, class: "mono" }, id.slice(0, 12));
  a.addEventListener("click", (event) => { event.preventDefault(); navigate(`?job=${encodeURIComponent(id)}`); });
  return a;
}

function drawRecord(record) {
  $("job-title").textContent = record.name || record.job_id;
  $("job-status").textContent = record.status;
  $("job-status").className = `status s-${record.status}`;
  const items = [];
  for (const [label, key] of RECORD_FIELDS) {
    let value = key === null ? seconds(record.duration_seconds ?? span(record.started, record.ended)) : record[key];
    if (["submitted", "started", "ended"].includes(key)) value = when(value);
    if (value === null || value === undefined || value === "") value = "-";
    items.push(el("dt", {}, label), el("dd", {}, String(value)));
  }
  items.push(el("dt", {}, "status"), el("dd", { class: `status s-${record.status}` }, record.status));
  const labels = el("dd", { id: "labels" });
  for (const [k, v] of Object.entries(record.labels || {})) labels.append(el("span", { class: "chip" }, `${k}=${v}`));
  if (!labels.childElementCount) labels.textContent = "-";
  items.push(el("dt", {}, "labels"), labels);
  const chain = el("dd", { id: "chain" });
  if (record.retry_of) chain.append("retry of ", jobLink(record.retry_of), " ");
  if (record.retried_by) chain.append("retried by ", jobLink(record.retried_by));
  if (!chain.childNodes.length) chain.textContent = "-";
  items.push(el("dt", {}, "retries"), chain);
  $("record").replaceChildren(...items);
}

// The record, the buttons its status and the token allow, and the stage sections; `known`:
// the record when it was just fetched.
async function refreshJob(id, known = null) {
  const steps = api(`/jobs/${encodeURIComponent(id)}/steps`).catch((error) => {
    if (error instanceof HttpError && error.status === 404) return null; // an older server
    throw error;
  });
  const record = known || (await api(`/jobs/${encodeURIComponent(id)}`));
  if (job.id !== id) return null;
  job.record = record;
  drawRecord(record);
  const write = (await whoami()).includes("write");
  $("cancel").hidden = !write || record.completed;
  $("retry").hidden = !write || !record.completed;
  const answer = await steps;
  if (answer && job.id === id && job.view) job.view.setStages(answer.stages);
  return record;
}

async function showJob(id) {
  job.id = id;
  job.search = { q: "", lines: [], at: -1, next: null };
  $("search").value = "";
  $("search-info").textContent = "";
  $("log-state").textContent = "";
  $("timestamps").checked = localStorage.getItem(TIMESTAMPS_KEY) === "1";
  // The lines the page opens at are asked for with the record, not after it (the API
  // takes the id as given, a prefix too): one round trip less before the first screen.
  const marked = parseLines(location.hash);
  const k = marked ? Math.floor((marked.from - 1) / CHUNK) : 0;
  const early = api(`/jobs/${encodeURIComponent(id)}/log?from=${k * CHUNK + 1}&limit=${CHUNK}`).catch(() => null);
  let record;
  try {
    record = await api(`/jobs/${encodeURIComponent(id)}`);
  } catch (error) {
    say(error.message);
    return;
  }
  if (job.id !== id) return;
  job.id = record.job_id;
  const view = new LogView($("log"), record.job_id);
  view.early.set(k, early);
  job.view = view;
  view.setTotal(record.last_line);
  if (marked) view.mark(marked);
  view.draw(); // asks for the lines on screen, while the sections are fetched
  refreshJob(record.job_id, record).catch((error) => say(error.message));
  if (record.completed) {
    $("log-state").textContent = `job ended ${record.status} · ${record.last_line} lines`;
    return;
  }
  // Follow from the line after the last one the record counted; what is above comes in
  // ranges as it is scrolled to. A live log on screen is followed at its end.
  if (!marked) view.scrollToEnd();
  const abort = new AbortController();
  job.abort = abort;
  follow(view, record.last_line + 1, abort.signal);
  job.timer = setInterval(() => refreshJob(view.jobId).catch(() => {}), 2000);
}

// Lines come in batches (one event per page the server read); a dropped stream resumes
// with Last-Event-ID: no gap, no repeat.
async function follow(view, from, signal) {
  let last = from - 1;
  for (let attempt = 0; attempt < 30 && !signal.aborted; attempt++) {
    const headers = { "Last-Event-ID": String(last) };
    try {
      const url = `/jobs/${encodeURIComponent(view.jobId)}/log/stream?from=${from}&batch=true`;
      const response = await call(url, { headers, signal });
      $("log-state").textContent = "following…";
      let ended = null;
      await readEvents(response, (type, data, id) => {
        if (type === "lines") {
          view.append(JSON.parse(data));
          last = Number(id);
        } else if (type === "end") {
          ended = JSON.parse(data);
          return false;
        }
        return !signal.aborted;
      });
      if (ended) {
        clearInterval(job.timer);
        $("log-state").textContent = `job ended ${ended.status} · ${ended.lines} lines`;
        await refreshJob(view.jobId).catch((error) => say(error.message));
        return;
      }
    } catch (error) {
      if (signal.aborted) return;
      if (error instanceof HttpError && error.status < 500) { say(error.message); return; }
    }
    $("log-state").textContent = "reconnecting…";
    await new Promise((resolve) => setTimeout(resolve, 1000));
  }
}

// Searching is the server's: it scans the views, so a line is found in a log the page
// never fetched. Matches come 1,000 at a time; the next batch is asked for at the last.
async function search(step) {
  const q = $("search").value;
  const state = job.search;
  if (!q) {
    job.search = { q: "", lines: [], at: -1, next: null };
    $("search-info").textContent = "";
    job.view.setMatches([], null);
    return;
  }
  const base = `/jobs/${encodeURIComponent(job.id)}/log/search?q=${encodeURIComponent(q)}`;
  try {
    if (q !== state.q) {
      const found = await api(`${base}&limit=1000`);
      Object.assign(state, { q, lines: found.lines, next: found.next, at: step > 0 ? 0 : found.lines.length - 1 });
    } else if (step > 0 && state.at === state.lines.length - 1 && state.next) {
      const found = await api(`${base}&limit=1000&from=${state.next}`);
      state.lines.push(...found.lines);
      state.next = found.next;
      state.at += 1;
    } else if (state.lines.length) {
      state.at = (state.at + step + state.lines.length) % state.lines.length;
    }
  } catch (error) {
    say(error.message);
    return;
  }
  if (!state.lines.length) {
    $("search-info").textContent = "no match";
    job.view.setMatches([], null);
    return;
  }
  const more = state.next ? "+" : "";
  const n = state.lines[state.at];
  $("search-info").textContent = `${state.at + 1} of ${state.lines.length}${more} · line ${n}`;
  job.view.setMatches(state.lines, n);
}

async function download() {
  try {
    const response = await call(`/jobs/${encodeURIComponent(job.id)}/log.txt`);
    const url = URL.createObjectURL(await response.blob());
    const a = el("a", { href: url, download: `${job.id}.log` });
    document.body.append(a);
    a.click();
    a.remove();
    setTimeout(() => URL.revokeObjectURL(url), 60_000);
  } catch (error) {
    say(error.message);
  }
}

async function cancel() {
  try {
    const result = await api(`/jobs/${encodeURIComponent(job.id)}/cancel`, { method: "POST" });
    say("");
    $("log-state").textContent = result.requested ? "cancel requested…" : `already ${result.status}`;
  } catch (error) {
    say(error.message);
  }
}

async function retry() {
  try {
    const created = await api(`/jobs/${encodeURIComponent(job.id)}/retry`, { method: "POST" });
    navigate(`?job=${encodeURIComponent(created.job_id)}`);
  } catch (error) {
    say(error instanceof HttpError && error.status === 404 && job.record
      ? "this server cannot retry jobs" : error.message);
  }
}

function leaveJob() {
  if (job.abort) job.abort.abort();
  clearInterval(job.timer);
  if (job.view) job.view.close();
  Object.assign(job, { id: null, record: null, view: null, abort: null, timer: null });
}

// --- routing ----------------------------------------------------------------------------------

function route() {
  leaveJob();
  if (list.abort) list.abort.abort();
  clearInterval(list.ticker);
  say("");
  const id = new URLSearchParams(location.search).get("job");
  $("jobs-view").hidden = Boolean(id);
  $("job-view").hidden = !id;
  if (id) {
    showJob(id);
  } else {
    filtersFromUrl();
    resetPaging();
    showJobs();
  }
}

$("token").value = localStorage.getItem(TOKEN_KEY) || "";
$("token").addEventListener("change", (e) => {
  if (e.target.value) localStorage.setItem(TOKEN_KEY, e.target.value);
  else localStorage.removeItem(TOKEN_KEY);
  scopes = null;
  whoami();
  route();
});
for (const id of Object.values(FILTERS)) {
  $(id).addEventListener("change", () => { resetPaging(); showJobs(); });
}
$("filters").addEventListener("submit", (event) => { event.preventDefault(); resetPaging(); showJobs(); });
$("page-next").addEventListener("click", () => {
  list.cursors.push(list.cursor);
  list.cursor = $("page-next").dataset.cursor;
  showJobs();
});
$("page-prev").addEventListener("click", () => {
  list.cursor = list.cursors.pop() ?? null;
  showJobs();
});
$("page-first").addEventListener("click", () => { resetPaging(); showJobs(); });
for (const link of [$("home"), $("back")]) {
  link.addEventListener("click", (event) => { event.preventDefault(); navigate(""); });
}
$("timestamps").addEventListener("change", (e) => {
  localStorage.setItem(TIMESTAMPS_KEY, e.target.checked ? "1" : "0");
  if (job.view) job.view.setTimestamps(e.target.checked);
});
$("search-form").addEventListener("submit", (event) => { event.preventDefault(); search(1); });
$("search-prev").addEventListener("click", () => search(-1));
$("download").addEventListener("click", download);
$("log-top").addEventListener("click", () => job.view && job.view.scrollToRow(0, "top"));
$("log-end").addEventListener("click", () => job.view && job.view.scrollToEnd());
$("cancel").addEventListener("click", cancel);
$("retry").addEventListener("click", retry);
window.addEventListener("hashchange", () => {
  if (job.view) job.view.mark(parseLines(location.hash));
});
window.addEventListener("popstate", route);
whoami();
route();
