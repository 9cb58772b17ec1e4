// The dashboard's page (runtime/host/serve.c serves it; docs/dashboard.md has the API it reads).
// Everything a bot wrote is put on the page as text (textContent, attributes set one by one), never as HTML.
'use strict';

const $ = (id) => document.getElementById(id);
const el = (tag, cls, text) => {
  const e = document.createElement(tag);
  if (cls) e.className = cls;
  if (text !== undefined) e.textContent = text;
  return e;
};

// ---- the token: given once in the address (#token=...), kept for the tab, taken out of the address ----
const hash = new URLSearchParams(location.hash.slice(1));
if (hash.get('token')) sessionStorage.setItem('stratrun-token', hash.get('token'));
let token = sessionStorage.getItem('stratrun-token') || '';
let chosen = hash.get('bot') || '';
history.replaceState(null, '', chosen ? '#bot=' + encodeURIComponent(chosen) : location.pathname);
$('token-state').textContent = token ? 'commands enabled' : 'read only: open the address stratrun serve printed to send commands';

function headers() {
  return token ? { 'X-Stratrun-Token': token } : {};
}

async function api(path, opts = {}) {
  const res = await fetch(path, Object.assign({ headers: headers(), cache: 'no-store' }, opts));
  const body = await res.json().catch(() => ({ error: 'not JSON: HTTP ' + res.status }));
  if (!res.ok) throw new Error(body.error || 'HTTP ' + res.status);
  return body;
}

function fmtTime(ms) {
  if (!ms) return '-';
  const d = new Date(ms);
  const p = (n, w = 2) => String(n).padStart(w, '0');
  return `${d.getFullYear()}-${p(d.getMonth() + 1)}-${p(d.getDate())} ${p(d.getHours())}:${p(d.getMinutes())}:${p(d.getSeconds())}`;
}

// ---- the bots ----
async function refreshBots() {
  const { bots } = await api('/api/bots');
  const ul = $('bots');
  ul.replaceChildren();
  for (const b of bots) {
    const li = el('li', b.id === chosen ? 'chosen' : '');
    li.dataset.id = b.id;
    li.append(el('span', 'dot ' + b.state), el('strong', '', b.id), ' ', el('span', 'muted', b.state),
      el('span', 'last', b.last_log));
    li.addEventListener('click', () => choose(b.id));
    ul.append(li);
  }
  if (!chosen && bots.length) choose(bots[0].id);
}

// ---- one bot: its header, status, charts, log ----
let streamCtl = null;
let generation = 0;     // each choice of a bot; an answer for an earlier one is dropped

async function choose(id) {
  const gen = ++generation;
  chosen = id;
  history.replaceState(null, '', '#bot=' + encodeURIComponent(id));
  for (const li of $('bots').children) li.classList.toggle('chosen', li.dataset.id === id);
  if (streamCtl) streamCtl.abort();
  streamCtl = null;
  const data = await api('/api/bots/' + encodeURIComponent(id));
  if (gen !== generation) return;
  $('empty').hidden = true;
  $('bot').hidden = false;
  $('log').replaceChildren();
  for (const line of data.log) addLog(line);
  showBot(data);
  follow(id, data.log_end, gen);
}

async function refreshBot() {
  if (!chosen) return;
  const data = await api('/api/bots/' + encodeURIComponent(chosen));
  showBot(data);
}

// Draws a bot's answer, unless another bot was chosen since it was asked for: its buttons send to its own bot.
function showBot(data) {
  if (!data.bot || data.bot.id !== chosen) return;
  const b = data.bot;
  $('bot-id').textContent = b.id;
  $('bot-state').textContent = b.state;
  $('bot-state').className = 'state ' + b.state;
  $('bot-meta').textContent = (b.state === 'running' ? `PID ${b.pid}, since ${fmtTime(b.since)}, ` : '') + b.script;
  // Each part on its own: one a bot's file made unreadable does not take the others with it.
  const parts = [() => showStatus(b.id, data.status, data.status_text),
    () => drawLines($('profit'), [{ name: 'profit', points: data.profit }]), () => showChart(data.chart)];
  for (const part of parts) {
    try { part(); } catch (e) { console.error(e); }
  }
}

function showStatus(bot, json, text) {
  const box = $('status');
  box.replaceChildren();
  let status = null;
  try { status = json ? JSON.parse(json) : null; } catch (e) { status = null; }
  if (!status) {
    if (text) box.append(el('pre', '', text));
    else box.append(el('p', 'muted', 'no status yet (LogStatus)'));
    return;
  }
  for (const block of Array.isArray(status.blocks) ? status.blocks : []) {
    if (typeof block.text === 'string') {
      if (block.text.trim() !== '') box.append(el('pre', '', block.text.replace(/^\n+|\n+$/g, '')));
      continue;
    }
    const t = block && block.table;
    if (!t || !Array.isArray(t.cols) || !Array.isArray(t.rows)) continue;
    const table = el('table');
    if (t.title) table.append(el('caption', '', t.title));
    const thead = el('thead'), hr = el('tr');
    for (const c of t.cols) hr.append(el('th', '', c));
    thead.append(hr);
    const tbody = el('tbody');
    for (const row of t.rows) {
      const tr = el('tr');
      for (const cell of Array.isArray(row) ? row : []) {
        const td = el('td');
        if (cell.colspan > 1) td.colSpan = cell.colspan;
        if (cell.rowspan > 1) td.rowSpan = cell.rowspan;
        if (typeof cell.cmd === 'string') {
          const button = el('button', '', cell.name);
          button.dataset.cmd = cell.cmd;
          button.addEventListener('click', () => send(bot, cell.cmd));
          td.append(button);
        } else {
          td.textContent = String(cell.text ?? '');
        }
        tr.append(td);
      }
      tbody.append(tr);
    }
    table.append(thead, tbody);
    box.append(table);
  }
}

async function send(bot, text) {
  const out = $('command-result');
  if (!token) {
    out.textContent = 'commands need the token: open the address stratrun serve printed (…/#token=…)';
    return;
  }
  try {
    await api('/api/bots/' + encodeURIComponent(bot) + '/command', { method: 'POST', body: text });
    out.textContent = 'sent: ' + text;
  } catch (e) {
    out.textContent = 'not sent: ' + e.message;
  }
}

$('command').addEventListener('submit', (ev) => {
  ev.preventDefault();
  const text = $('command-text').value;
  if (text && chosen) send(chosen, text);
});

// A log line: "YYYY-MM-DD HH:MM:SS.mmm [ID] warning: ..." with an optional #rrggbb at its end (Log's colour).
function addLog(line) {
  const li = el('li');
  const color = line.match(/ ?(#[0-9a-fA-F]{6})\s*$/);
  if (color) {
    line = line.slice(0, color.index);
    li.style.color = color[1];
  }
  if (/^\S+ \S+ (\[[^\]]*\] )?warning: /.test(line)) li.className = 'warn';
  if (/^\S+ \S+ (\[[^\]]*\] )?error: /.test(line)) li.className = 'error';
  li.textContent = line;
  const log = $('log');
  const atEnd = log.scrollTop + log.clientHeight >= log.scrollHeight - 4;
  log.append(li);
  while (log.children.length > 2000) log.firstChild.remove();
  if (atEnd) log.scrollTop = log.scrollHeight;
}

// The live log: server-sent events read through fetch (which can carry the token header), from where the page's
// first look at the log ended, so no line is missed or shown twice.
async function follow(id, from, gen) {
  if (streamCtl) streamCtl.abort();
  const ctl = new AbortController();
  streamCtl = ctl;
  try {
    const res = await fetch(`/api/bots/${encodeURIComponent(id)}/stream?from=${from}`,
      { headers: headers(), signal: ctl.signal, cache: 'no-store' });
    if (!res.ok) throw new Error('HTTP ' + res.status);
    $('log-live').textContent = 'live';
    const reader = res.body.getReader();
    const dec = new TextDecoder();
    let buf = '';
    for (;;) {
      const { value, done } = await reader.read();
      if (done) break;
      buf += dec.decode(value, { stream: true });
      let i;
      while ((i = buf.indexOf('\n\n')) >= 0) {
        const ev = buf.slice(0, i);
        buf = buf.slice(i + 2);
        if (gen !== generation) return;
        for (const l of ev.split('\n')) if (l.startsWith('data: ')) addLog(l.slice(6));
      }
    }
  } catch (e) {
    if (ctl.signal.aborted) return;
  }
  if (streamCtl === ctl && gen === generation) {       // the server went away: look again in a while
    $('log-live').textContent = 'reconnecting…';
    setTimeout(() => { if (streamCtl === ctl && gen === generation) choose(id).catch(() => {}); }, 2000);
  }
}

// ---- charts: our own small SVG line charts ----
const COLORS = ['#3b6fd8', '#c0262d', '#2e9e5b', '#a86400', '#7b3fc4', '#1a8f9a'];
const SVGNS = 'http://www.w3.org/2000/svg';

function svg(tag, attrs) {
  const e = document.createElementNS(SVGNS, tag);
  for (const k in attrs) e.setAttribute(k, attrs[k]);
  return e;
}

function drawLines(box, series) {
  const W = 440, H = 170, L = 56, B = 20;
  box.replaceChildren();
  const pts = series.flatMap((s) => s.points);
  if (pts.length === 0) {
    box.append(el('p', 'muted', 'nothing yet'));
    return;
  }
  let x0 = Infinity, x1 = -Infinity, y0 = Infinity, y1 = -Infinity;
  for (const [x, y] of pts) {
    x0 = Math.min(x0, x); x1 = Math.max(x1, x); y0 = Math.min(y0, y); y1 = Math.max(y1, y);
  }
  if (x1 === x0) x1 = x0 + 1;
  if (y1 === y0) { y1 += 1; y0 -= 1; }
  const sx = (x) => L + (x - x0) / (x1 - x0) * (W - L - 6);
  const sy = (y) => 6 + (y1 - y) / (y1 - y0) * (H - B - 12);
  const s = svg('svg', { width: W, height: H, viewBox: `0 0 ${W} ${H}`, role: 'img' });
  s.append(svg('line', { x1: L, y1: H - B, x2: W, y2: H - B, stroke: '#d5d9e0' }));
  for (const [v, y] of [[y1, sy(y1)], [y0, sy(y0)]]) {
    const t = svg('text', { x: L - 4, y: y + 4, 'text-anchor': 'end', 'font-size': 11, fill: '#7a8292' });
    t.textContent = Number(v.toPrecision(6)).toString();
    s.append(t);
  }
  const t = svg('text', { x: W - 2, y: H - 4, 'text-anchor': 'end', 'font-size': 11, fill: '#7a8292' });
  t.textContent = fmtTime(x1);
  s.append(t);
  series.forEach((ser, i) => {
    if (ser.points.length === 0) return;
    const d = ser.points.map(([x, y], k) => (k ? 'L' : 'M') + sx(x).toFixed(1) + ' ' + sy(y).toFixed(1)).join('');
    const p = svg('path', { d, fill: 'none', stroke: COLORS[i % COLORS.length], 'stroke-width': 1.5 });
    const title = svg('title', {});
    title.textContent = ser.name;
    p.append(title);
    s.append(p);
  });
  box.append(s);
}

// Chart() and KLineChart() as chart.jsonl keeps them (stdlib/chart.lua): each series a line; a K-line its closes.
function showChart(lines) {
  let head = null, series = [], bars = new Map();
  for (const text of lines) {
    let o;
    try { o = JSON.parse(text); } catch (e) { continue; }
    if (o.t === 'chart' || (o.t === 'update' && head)) {
      // chart.update(config): the new series; the points of those the chart still has stay (stdlib/chart.lua)
      const old = o.t === 'update' ? series : [];
      if (o.t === 'chart') { head = o; bars = new Map(); }
      series = (o.series || []).map((s, i) => ({ name: String(s.name || 'series ' + (i + 1)),
                                                 pts: old[i] ? old[i].pts : new Map() }));
    } else if (o.t === 'point' && series[o.s]) {
      const p = o.p;
      let x = o.time, y = null;
      if (typeof p === 'number') y = p;
      else if (Array.isArray(p)) { if (p.length >= 2) { x = p[0]; y = p[p.length - 1]; } }
      else if (p && typeof p === 'object') { if (typeof p.x === 'number') x = p.x; y = p.y; }
      if (typeof y === 'number' && typeof x === 'number') series[o.s].pts.set(o.n, [x, y]);
    } else if (o.t === 'bar' && o.bar) {
      const c = o.bar.Close ?? o.bar.close;
      if (typeof c === 'number') bars.set(o.x, [o.x, c]);
    }
  }
  $('chart-title').textContent = head ? (head.kind === 'kline' ? 'KLineChart (closes)' : 'Chart') : 'Chart';
  const out = head && head.kind === 'kline'
    ? [{ name: 'close', points: [...bars.values()].sort((a, b) => a[0] - b[0]) }]
    : series.map((s) => ({ name: s.name, points: [...s.pts.values()] }));
  drawLines($('chart'), out);
}

// ---- channels ----
async function refreshChannels() {
  const { channels } = await api('/api/channels');
  const tbody = $('channels').tBodies[0];
  tbody.replaceChildren();
  for (const c of channels) {
    const tr = el('tr');
    tr.dataset.id = c.id;
    tr.append(el('td', '', c.id), el('td', '', String(c.seq)), el('td', '', fmtTime(c.published)),
      el('td', 'data', c.refused ? 'refused: ' + c.refused : (c.data === null ? '-' : c.data)));
    tbody.append(tr);
  }
}

// ---- every second: the bots, the chosen bot's status and charts, the channels ----
async function tick() {
  let failed = null;
  for (const step of [refreshBots, refreshBot, refreshChannels]) {
    try { await step(); } catch (e) { failed = failed || e; }
  }
  $('conn').textContent = failed ? 'cannot reach stratrun serve: ' + failed.message : 'updated ' + fmtTime(Date.now());
  setTimeout(tick, 1000);
}

if (chosen) choose(chosen).catch(() => {});
tick();
