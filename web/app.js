/* app.js - the obsflow status dashboard. Polls the service's own API (same origin, no CDN):
 *   /readyz                  service and database reachable (banner when not)
 *   /metrics                 jobs by state, oldest queued age, worker use (per queue)
 *   /v1/jobs?state=...       running jobs, recent failures, the filtered list
 *   /v1/collections          collection runs; /v1/jobs/{id} of an active run for its children
 *   /v1/jobs/{id}, /events   the job page
 * Views are URL fragments: #/ (overview), #/jobs?state=&kind=&queue=&collection=&q= (list),
 * #/jobs/{id} (one job). Every text from the API goes into the page as text, never as HTML.
 * SPDX-License-Identifier: Apache-2.0 */
'use strict';

const POLL_MS = 2000;            /* the service caches its /metrics job counts for 2 s */
const HISTORY = 300;             /* chart samples kept: 10 minutes at POLL_MS */
const STATES = ['queued', 'running', 'retrying', 'succeeded', 'failed', 'cancelled'];
const TERMINAL = new Set(['succeeded', 'failed', 'cancelled']);
const TOKEN_KEY = 'obsflow.token';
const UUID_RE = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/* ---- DOM helpers ------------------------------------------------------------------------- */

/** h('a', {href: '#/'}, 'text', child...): an element; strings become text nodes. */
function h(tag, attrs, ...kids) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === null || v === undefined || v === false) continue;
    if (k === 'class') el.className = v;
    else if (k === 'style') el.style.cssText = v;  /* CSSOM: allowed by the page's CSP */
    else if (k.startsWith('on')) el.addEventListener(k.slice(2), v);
    else el.setAttribute(k, v === true ? '' : String(v));
  }
  for (const k of kids.flat()) {
    if (k === null || k === undefined || k === false) continue;
    el.append(k instanceof Node ? k : document.createTextNode(String(k)));
  }
  return el;
}
const SVG_NS = 'http://www.w3.org/2000/svg';
function s(tag, attrs, ...kids) {
  const el = document.createElementNS(SVG_NS, tag);
  for (const [k, v] of Object.entries(attrs || {})) el.setAttribute(k, String(v));
  for (const k of kids) el.append(k instanceof Node ? k : document.createTextNode(String(k)));
  return el;
}
function stateBadge(st) { return h('span', {class: 'state ' + (st || '')}, st || '?'); }
function jobLink(id) { return h('a', {href: '#/jobs/' + id, class: 'mono'}, String(id).slice(0, 8)); }
function fmtNum(n) { return Number.isFinite(n) ? n.toLocaleString('en-US') : '–'; }
function fmtTime(t) {
  if (!t) return '–';
  const d = new Date(t);
  return Number.isNaN(d.getTime()) ? t : d.toISOString().replace('T', ' ').replace(/\.\d+Z$/, 'Z');
}
function fmtDur(ms) {
  if (!Number.isFinite(ms) || ms < 0) return '–';
  if (ms < 1000) return Math.round(ms) + ' ms';
  if (ms < 60000) return (ms / 1000).toFixed(ms < 10000 ? 2 : 1) + ' s';
  const m = Math.floor(ms / 60000);
  return m + ' min ' + Math.round((ms % 60000) / 1000) + ' s';
}
function since(t) { const d = Date.parse(t); return Number.isNaN(d) ? NaN : Date.now() - d; }
function announce(text) { const l = document.getElementById('live'); if (l.textContent !== text) l.textContent = text; }

/** A bar of segments [{n, cls, label}] out of @p total (role img with a text equivalent). */
function bar(segs, total, label) {
  const el = h('div', {class: 'bar', role: 'img', 'aria-label': label});
  for (const sg of segs) {
    if (!total || !sg.n) continue;
    el.append(h('span', {class: sg.cls, style: 'width:' + Math.min(100, 100 * sg.n / total).toFixed(2) + '%',
      title: sg.label + ': ' + sg.n}));
  }
  return el;
}

/* ---- API --------------------------------------------------------------------------------- */

class HttpError extends Error {
  constructor(status, body) {
    super((body && (body.detail || body.title)) || ('HTTP ' + status));
    this.status = status; this.body = body;
  }
}

/** GET @p path as JSON (or text); a network failure throws TypeError (service unreachable). */
async function get(path, text) {
  const r = await fetch(path, {headers: {Accept: text ? 'text/plain' : 'application/json'}, cache: 'no-store'});
  if (!r.ok) {
    let body = null;
    try { body = await r.json(); } catch (_) { /* not JSON */ }
    throw new HttpError(r.status, body);
  }
  return text ? r.text() : r.json();
}

function token() { try { return sessionStorage.getItem(TOKEN_KEY) || ''; } catch (_) { return ''; } }
function setToken(t) {
  try { if (t) sessionStorage.setItem(TOKEN_KEY, t); else sessionStorage.removeItem(TOKEN_KEY); } catch (_) { /* private mode */ }
  updateTokenButton();
}
function updateTokenButton() {
  const b = document.getElementById('token-btn');
  b.textContent = token() ? 'API token (set)' : 'API token';
}

/** Ask for the token in the dialog; resolves to it, or '' when the operator cancels. */
function askToken(why) {
  const dlg = document.getElementById('token-dialog');
  const input = document.getElementById('token-input');
  document.getElementById('token-why').textContent = why ||
    'This action needs the service\'s API token (OBSFLOW_API_TOKEN). It is kept in this tab only (sessionStorage).';
  input.value = token();
  return new Promise((resolve) => {
    const done = (v) => {
      dlg.removeEventListener('close', onClose);
      resolve(v);
    };
    const onClose = () => done(dlg.returnValue === 'ok' ? input.value.trim() : '');
    dlg.addEventListener('close', onClose);
    dlg.returnValue = '';
    dlg.showModal();
    input.focus();
  });
}

/** POST @p path with the stored token; on 401 ask for one and try again (once per prompt). */
async function post(path) {
  for (let round = 0; round < 3; round++) {
    const headers = {'Content-Type': 'application/json'};
    const t = token();
    if (t) headers.Authorization = 'Bearer ' + t;
    const r = await fetch(path, {method: 'POST', headers, body: '{}'});
    let body = null;
    try { body = await r.json(); } catch (_) { /* empty */ }
    if (r.status !== 401) {
      if (!r.ok) throw new HttpError(r.status, body);
      return body;
    }
    if (t) setToken('');  /* a refused token is not kept */
    const t2 = await askToken(t ? 'The service refused the token. Enter the API token again.'
      : 'This action needs the service\'s API token (OBSFLOW_API_TOKEN). It is kept in this tab only (sessionStorage).');
    if (!t2) throw new HttpError(401, {detail: 'the API token is needed for this action'});
    setToken(t2);
  }
  throw new HttpError(401, {detail: 'the API token was refused'});
}

/* ---- /metrics (Prometheus text format) --------------------------------------------------- */

function parseMetrics(text) {
  const out = [];
  const line = /^([a-zA-Z_:][\w:]*)(?:\{(.*)\})?\s+(\S+)/;
  const lab = /(\w+)="((?:[^"\\]|\\.)*)"/g;
  for (const l of text.split('\n')) {
    if (!l || l[0] === '#') continue;
    const m = line.exec(l);
    if (!m) continue;
    const labels = {};
    if (m[2]) for (const x of m[2].matchAll(lab)) labels[x[1]] = x[2].replace(/\\(.)/g, '$1');
    out.push({name: m[1], labels, value: Number(m[3])});
  }
  return out;
}
function metric(ms, name, labels) {
  const f = ms.find((x) => x.name === name && Object.entries(labels || {}).every(([k, v]) => x.labels[k] === v));
  return f ? f.value : NaN;
}

/* ---- status banner ----------------------------------------------------------------------- */

const health = {service: true, ready: true, detail: ''};
function showHealth() {
  const b = document.getElementById('banner');
  let text = '';
  if (!health.service) text = 'The obsflow service is unreachable: figures below are from the last successful poll.';
  else if (!health.ready) text = 'The service is up but not ready (database unreachable, migrating or shutting down)' +
    (health.detail ? ': ' + health.detail : '') + '. Job figures may be stale.';
  if (text) { b.textContent = text; b.hidden = false; b.className = health.service ? 'banner warn' : 'banner'; b.dataset.state = health.service ? 'not-ready' : 'down'; }
  else { b.hidden = true; b.textContent = ''; b.dataset.state = 'ok'; }
}
async function pollHealth() {
  try {
    const r = await fetch('/readyz', {cache: 'no-store'});
    health.service = true;
    health.ready = r.ok;
    health.detail = '';
    if (!r.ok) {
      try { const b = await r.json(); health.detail = b.detail || ''; } catch (_) { /* text */ }
    }
  } catch (_) {
    health.service = false;
    health.ready = false;
  }
  showHealth();
}

/* ---- history and chart ------------------------------------------------------------------- */

const hist = [];  /* {t, by: {state: n}} */
function record(by) {
  const t = Date.now();
  hist.push({t, by});
  while (hist.length > HISTORY) hist.shift();
}
/** Throughput per second of the terminal states between consecutive samples (jobs pruned in
 * between would make a difference negative: shown as 0). */
function rates() {
  const out = [];
  for (let i = 1; i < hist.length; i++) {
    const dt = (hist[i].t - hist[i - 1].t) / 1000;
    const r = {t: hist[i].t};
    for (const st of ['succeeded', 'failed', 'cancelled']) r[st] = dt > 0 ? Math.max(0, (hist[i].by[st] - hist[i - 1].by[st]) / dt) : 0;
    out.push(r);
  }
  return out;
}
const COLORS = {queued: '#6b7280', running: '#1f5fbf', retrying: '#b45309', succeeded: '#15803d',
  failed: '#b91c1c', cancelled: '#7c3aed'};

/** A line chart of @p series (names) over @p rows ({t, [name]: value}) as SVG. */
function lineChart(title, rows, series, unit) {
  const W = 600, H = 180, L = 48, B = 20, T = 8, R = 8;
  let max = 0;
  for (const r of rows) for (const n of series) max = Math.max(max, r[n] || 0);
  const top = max <= 0 ? 1 : niceCeil(max);
  const t0 = rows.length ? rows[0].t : 0, t1 = rows.length ? rows[rows.length - 1].t : 1;
  const x = (t) => L + (t1 > t0 ? (t - t0) / (t1 - t0) : 1) * (W - L - R);
  const y = (v) => T + (1 - v / top) * (H - T - B);
  const last = rows.length ? rows[rows.length - 1] : {};
  const summary = title + ', last ' + Math.round((t1 - t0) / 1000) + ' s: ' +
    series.map((n) => n + ' ' + fmtRate(last[n] || 0, unit)).join(', ');
  const svg = s('svg', {viewBox: `0 0 ${W} ${H}`, preserveAspectRatio: 'none', role: 'img', 'aria-label': summary});
  for (const f of [0, 0.5, 1]) {
    svg.append(s('line', {x1: L, x2: W - R, y1: y(top * f), y2: y(top * f), stroke: '#d8dde3', 'stroke-width': 1}));
    svg.append(s('text', {x: L - 4, y: y(top * f) + 4, 'text-anchor': 'end', 'font-size': 11, fill: '#5b6470'}, fmtRate(top * f, unit)));
  }
  svg.append(s('text', {x: L, y: H - 4, 'font-size': 11, fill: '#5b6470'}, rows.length > 1 ? '−' + Math.round((t1 - t0) / 1000) + ' s' : ''));
  svg.append(s('text', {x: W - R, y: H - 4, 'text-anchor': 'end', 'font-size': 11, fill: '#5b6470'}, 'now'));
  for (const n of series) {
    if (rows.length < 2) break;
    const pts = rows.map((r) => x(r.t).toFixed(1) + ',' + y(r[n] || 0).toFixed(1)).join(' ');
    svg.append(s('polyline', {points: pts, fill: 'none', stroke: COLORS[n], 'stroke-width': 2, 'vector-effect': 'non-scaling-stroke'}));
  }
  return h('figure', {class: 'chart', style: 'margin:0'},
    h('figcaption', {}, h('h2', {}, title)), svg,
    h('ul', {class: 'legend'}, series.map((n) => h('li', {}, h('i', {style: 'background:' + COLORS[n]}), n + ' ' + fmtRate(last[n] || 0, unit)))));
}
function niceCeil(v) {
  const p = Math.pow(10, Math.floor(Math.log10(v)));
  for (const m of [1, 2, 5, 10]) if (v <= m * p) return m * p;
  return 10 * p;
}
function fmtRate(v, unit) {
  if (unit === '/s') return (v >= 100 ? Math.round(v) : v >= 10 ? v.toFixed(1) : v.toFixed(2)).toString().replace(/\.?0+$/, '') + '/s';
  return v >= 10 || Number.isInteger(v) ? fmtNum(Math.round(v)) : String(Number(v.toFixed(1)));
}

/* ---- views ------------------------------------------------------------------------------- */

let view = null;       /* {render: async () => void} of the current route */
let timer = null;
let generation = 0;    /* bumped on navigation: a stale poll does not draw */

function parseHash() {
  const raw = location.hash.replace(/^#/, '') || '/';
  const [path, qs] = raw.split('?');
  return {path, params: new URLSearchParams(qs || '')};
}

function route() {
  const {path, params} = parseHash();
  generation++;
  clearTimeout(timer);
  const m = /^\/jobs\/([0-9a-fA-F-]{36})$/.exec(path);
  let name = 'overview';
  if (m) { view = jobView(m[1]); name = 'jobs'; }
  else if (path === '/jobs') { view = listView(params); name = 'jobs'; }
  else view = overviewView();
  for (const a of document.querySelectorAll('[data-nav]')) {
    if (a.dataset.nav === name) a.setAttribute('aria-current', 'page'); else a.removeAttribute('aria-current');
  }
  const main = document.getElementById('main');
  main.replaceChildren(h('p', {class: 'muted'}, 'Loading…'));
  tick(generation, true);
}

async function tick(gen, first) {
  await Promise.all([pollHealth(), view.render(gen, first).catch((e) => {
    if (gen === generation) reportError(e);
  })]);
  if (gen !== generation) return;
  timer = setTimeout(() => tick(gen, false), view.interval ? view.interval() : POLL_MS);
}

function reportError(e) {
  if (e instanceof TypeError) { health.service = false; showHealth(); return; }
  const main = document.getElementById('main');
  let box = main.querySelector('#view-error');
  if (!box) { box = h('p', {id: 'view-error', class: 'notice bad', role: 'status'}); main.prepend(box); }
  box.textContent = 'Could not load: ' + e.message;
}

/** Put @p nodes into main unless the view changed meanwhile; keep the focused control's id. */
function draw(gen, nodes) {
  if (gen !== generation) return false;
  const main = document.getElementById('main');
  const active = document.activeElement && main.contains(document.activeElement) ? document.activeElement.id : null;
  main.replaceChildren(...nodes.filter((n) => n !== null && n !== undefined));
  if (active) { const el = document.getElementById(active); if (el) el.focus(); }
  return true;
}

/* ---- overview ---------------------------------------------------------------------------- */

function overviewView() {
  return {
    async render(gen) {
      const [mtext, running, failed, colls] = await Promise.all([
        get('/metrics', true).catch((e) => e),
        get('/v1/jobs?state=running&limit=50').catch((e) => e),
        get('/v1/jobs?state=failed&limit=20').catch((e) => e),
        get('/v1/collections').catch((e) => e),
      ]);
      const errs = [mtext, running, failed, colls].filter((x) => x instanceof Error);
      if (errs.some((e) => e instanceof TypeError)) { health.service = false; showHealth(); }
      let ms = [];
      if (typeof mtext === 'string') {
        ms = parseMetrics(mtext);
        const by = {};
        for (const st of STATES) by[st] = metric(ms, 'obsflow_jobs', {state: st});
        if (STATES.every((st) => Number.isFinite(by[st]))) record(by);
      }
      /* the run job of each active collection: its children's counts */
      const runs = {};
      if (!(colls instanceof Error)) {
        const active = (colls.items || []).filter((c) => c.last_run && !TERMINAL.has(c.last_run.state)).slice(0, 20);
        await Promise.all(active.map((c) => get('/v1/jobs/' + c.last_run.job_id).then((j) => { runs[c.name] = j; }, () => {})));
      }
      const last = hist.length ? hist[hist.length - 1].by : null;
      const nodes = [
        h('h1', {}, 'Overview'),
        statsList(last, ms),
        h('div', {class: 'grid'},
          h('section', {class: 'card', 'aria-label': 'Queue depth chart'},
            lineChart('Queue depth', hist.map((x) => ({t: x.t, ...x.by})), ['queued', 'running', 'retrying'], '')),
          h('section', {class: 'card', 'aria-label': 'Throughput chart'},
            lineChart('Throughput (jobs finished per second)', rates(), ['succeeded', 'failed', 'cancelled'], '/s')),
          h('section', {class: 'card', id: 'running', 'aria-labelledby': 'running-h'},
            h('h2', {id: 'running-h'}, 'Running jobs'), running instanceof Error ? errLine(running) : runningTable(running.items || [])),
          h('section', {class: 'card', id: 'failures', 'aria-labelledby': 'failures-h'},
            h('h2', {id: 'failures-h'}, 'Recent failures'), failed instanceof Error ? errLine(failed) : failuresTable(failed.items || [])),
          h('section', {class: 'card', id: 'workers', 'aria-labelledby': 'workers-h'},
            h('h2', {id: 'workers-h'}, 'Workers'), workersTable(ms)),
          h('section', {class: 'card', id: 'collections', 'aria-labelledby': 'coll-h'},
            h('h2', {id: 'coll-h'}, 'Collections'), colls instanceof Error ? errLine(colls) : collectionsTable(colls.items || [], runs))),
      ];
      if (draw(gen, nodes) && last) {
        announce(`${last.running} running, ${last.queued} queued, ${last.failed} failed`);
      }
    },
  };
}

function errLine(e) {
  if (e instanceof TypeError) return h('p', {class: 'muted'}, 'Service unreachable.');
  return h('p', {class: 'err'}, e.status === 503 ? 'Database unavailable: ' + e.message : e.message);
}

function statsList(last, ms) {
  const age = metric(ms, 'obsflow_oldest_queued_job_age_seconds');
  const items = STATES.map((st) => h('li', {class: 's-' + st},
    h('a', {href: '#/jobs?state=' + st, class: 'n', 'data-state-count': st}, last ? fmtNum(last[st]) : '–'),
    h('span', {class: 'l'}, st)));
  items.push(h('li', {}, h('span', {class: 'n'}, Number.isFinite(age) ? fmtDur(age * 1000) : '–'), h('span', {class: 'l'}, 'oldest queued')));
  return h('ul', {class: 'stats', 'aria-label': 'Jobs by state'}, items);
}

/** The step a job reports; the bar counts the steps done (the current one is not, until the
 * job succeeds). */
function progressCell(p, state) {
  if (!p) return h('span', {class: 'muted'}, '–');
  const label = `step ${p.index}/${p.nsteps}: ${p.step}`;
  const done = state === 'succeeded' ? p.nsteps : Math.max(0, p.index - 1);
  return h('div', {}, h('div', {}, label, p.detail ? h('span', {class: 'muted'}, ' — ' + p.detail) : null),
    bar([{n: done, cls: 'b-running', label: 'steps done'}], p.nsteps, `${done} of ${p.nsteps} steps done; ${label}`));
}

function runningTable(items) {
  if (!items.length) return h('p', {class: 'muted'}, 'No job is running.');
  return h('div', {class: 'table-wrap'}, h('table', {},
    h('thead', {}, h('tr', {}, h('th', {}, 'Job'), h('th', {}, 'Kind'), h('th', {class: 'hide-narrow'}, 'Queue'),
      h('th', {}, 'Progress'), h('th', {class: 'num'}, 'Running for'))),
    h('tbody', {}, items.map((j) => h('tr', {'data-job': j.id},
      h('td', {}, jobLink(j.id)), h('td', {}, j.kind), h('td', {class: 'hide-narrow'}, j.queue),
      h('td', {}, progressCell(j.progress, j.state)), h('td', {class: 'num'}, fmtDur(since(j.started_at))))))));
}

function failuresTable(items) {
  if (!items.length) return h('p', {class: 'muted'}, 'No failed job.');
  return h('div', {class: 'table-wrap'}, h('table', {},
    h('thead', {}, h('tr', {}, h('th', {}, 'Job'), h('th', {}, 'Kind'), h('th', {}, 'Error'), h('th', {class: 'hide-narrow'}, 'Finished'))),
    h('tbody', {}, items.map((j) => h('tr', {'data-job': j.id},
      h('td', {}, jobLink(j.id)), h('td', {}, j.kind),
      h('td', {class: 'msg'}, j.error ? [h('code', {class: 'err'}, j.error.code), ' ', j.error.message] : '–'),
      h('td', {class: 'hide-narrow'}, fmtTime(j.finished_at)))))));
}

function workersTable(ms) {
  const total = metric(ms, 'obsflow_workers'), busy = metric(ms, 'obsflow_workers_busy');
  const queues = ms.filter((x) => x.name === 'obsflow_queue_workers').map((x) => ({
    name: x.labels.queue, n: x.value, busy: metric(ms, 'obsflow_queue_workers_busy', {queue: x.labels.queue})}));
  const rows = queues.length ? queues : [{name: 'all queues', n: total, busy}];
  const pool = metric(ms, 'obsflow_db_pool_connections'), inuse = metric(ms, 'obsflow_db_pool_in_use');
  return h('div', {},
    h('div', {class: 'table-wrap'}, h('table', {},
      h('thead', {}, h('tr', {}, h('th', {}, 'Queue'), h('th', {class: 'num'}, 'Busy / threads'), h('th', {}, 'Use'))),
      h('tbody', {}, rows.map((q) => h('tr', {'data-queue': q.name},
        h('td', {}, q.name), h('td', {class: 'num'}, `${fmtNum(q.busy)} / ${fmtNum(q.n)}`),
        h('td', {}, bar([{n: q.busy, cls: 'b-busy', label: 'busy'}], q.n, `${q.busy} of ${q.n} busy`))))))),
    h('p', {class: 'muted'}, `This replica: ${fmtNum(busy)} of ${fmtNum(total)} worker threads busy; database pool ${fmtNum(inuse)} of ${fmtNum(pool)} in use.`));
}

function collectionsTable(items, runs) {
  if (!items.length) return h('p', {class: 'muted'}, 'No collection is defined.');
  return h('div', {class: 'table-wrap'}, h('table', {},
    h('thead', {}, h('tr', {}, h('th', {}, 'Collection'), h('th', {}, 'Last run'), h('th', {}, 'Progress'), h('th', {class: 'hide-narrow'}, 'Outcomes'))),
    h('tbody', {}, items.map((c) => {
      const lr = c.last_run;
      if (!lr) return h('tr', {}, h('td', {}, c.name), h('td', {colspan: 3, class: 'muted'}, 'never run'));
      const job = runs[c.name];
      const ch = job && job.children ? job.children : null;
      const cnt = lr.counts || {};
      let prog;
      if (ch && ch.total) {
        const done = (ch.succeeded || 0) + (ch.failed || 0) + (ch.cancelled || 0);
        prog = h('div', {}, `${done} / ${ch.total} children`, bar([
          {n: ch.succeeded, cls: 'b-succeeded', label: 'succeeded'}, {n: ch.failed, cls: 'b-failed', label: 'failed'},
          {n: ch.cancelled, cls: 'b-cancelled', label: 'cancelled'}, {n: ch.running, cls: 'b-running', label: 'running'}],
        ch.total, `${done} of ${ch.total} children finished`));
      } else {
        prog = h('span', {class: 'muted'}, TERMINAL.has(lr.state) ? 'finished ' + fmtTime(lr.finished_at) : 'phase: ' + (lr.phase || lr.state));
      }
      const outcomes = ['listed', 'new', 'changed', 'skipped', 'rejected', 'children']
        .filter((k) => cnt[k] !== undefined && cnt[k] !== null).map((k) => `${k} ${cnt[k]}`).join(', ');
      return h('tr', {'data-collection': c.name},
        h('td', {}, h('a', {href: '#/jobs?collection=' + encodeURIComponent(c.name)}, c.name)),
        h('td', {}, stateBadge(lr.state), ' ', jobLink(lr.job_id), h('div', {class: 'muted'}, lr.trigger || '')),
        h('td', {}, prog), h('td', {class: 'hide-narrow'}, outcomes || '–'));
    }))));
}

/* ---- job list with filters --------------------------------------------------------------- */

function listView(params) {
  const f = {state: params.get('state') || '', kind: params.get('kind') || '', queue: params.get('queue') || '',
    collection: params.get('collection') || '', q: params.get('q') || ''};
  let built = false;
  const form = h('form', {class: 'filters', role: 'search', 'aria-label': 'Filter jobs'});
  const field = (name, label, ctl) => h('label', {for: 'f-' + name}, label, ctl);
  const stateSel = h('select', {id: 'f-state', name: 'state'}, h('option', {value: ''}, 'any'),
    STATES.map((st) => h('option', {value: st, selected: f.state === st}, st)));
  const inp = (name, ph) => h('input', {id: 'f-' + name, name, value: f[name], placeholder: ph, autocomplete: 'off'});
  form.append(field('state', 'State', stateSel), field('kind', 'Kind', inp('kind', 'dataset')),
    field('queue', 'Queue', inp('queue', 'default')), field('collection', 'Collection', inp('collection', 'name')),
    field('q', 'Text', inp('q', 'id, error, params…')),
    h('button', {type: 'submit'}, 'Apply'), h('a', {href: '#/jobs'}, 'Clear'));
  form.addEventListener('submit', (ev) => {
    ev.preventDefault();
    const p = new URLSearchParams();
    for (const k of ['state', 'kind', 'queue', 'collection', 'q']) {
      const v = form.elements[k].value.trim();
      if (v) p.set(k, v);
    }
    const qs = p.toString();
    location.hash = '#/jobs' + (qs ? '?' + qs : '');
  });
  const results = h('div', {id: 'job-results', 'aria-live': 'polite'});
  return {
    async render(gen) {
      const p = new URLSearchParams({limit: '200'});
      for (const k of ['state', 'kind', 'queue']) if (f[k]) p.set(k, f[k]);
      let note = '';
      if (f.collection) {
        /* a collection's jobs are the children of its runs: the last run's */
        const c = await get('/v1/collections/' + encodeURIComponent(f.collection)).catch((e) => e);
        if (c instanceof Error) {
          if (gen !== generation) return;
          results.replaceChildren(errLine(c));
          if (!built) { draw(gen, [h('h1', {}, 'Jobs'), form, results]); built = true; }
          return;
        }
        if (c.last_run) { p.set('parent', c.last_run.job_id); note = `Children of the last run of ${f.collection} (job ${c.last_run.job_id.slice(0, 8)}).`; }
        else note = `${f.collection} has not run yet.`;
      }
      let items = [];
      if (!f.collection || p.has('parent')) {
        const page = await get('/v1/jobs?' + p.toString());
        items = page.items || [];
        if (page.next_cursor) note += ' Showing the newest 200.';
      }
      if (f.q) {
        const q = f.q.toLowerCase();
        items = items.filter((j) => JSON.stringify([j.id, j.kind, j.queue, j.error, j.params, j.progress]).toLowerCase().includes(q));
      }
      if (gen !== generation) return;
      results.replaceChildren(note ? h('p', {class: 'muted'}, note.trim()) : '', jobsTable(items));
      if (!built) { draw(gen, [h('h1', {}, 'Jobs'), form, results]); built = true; }
    },
  };
}

function jobsTable(items) {
  if (!items.length) return h('p', {class: 'muted'}, 'No job matches.');
  return h('div', {class: 'table-wrap'}, h('table', {},
    h('thead', {}, h('tr', {}, h('th', {}, 'Job'), h('th', {}, 'State'), h('th', {}, 'Kind'), h('th', {class: 'hide-narrow'}, 'Queue'),
      h('th', {}, 'Progress / error'), h('th', {class: 'hide-narrow'}, 'Created'))),
    h('tbody', {}, items.map((j) => h('tr', {'data-job': j.id},
      h('td', {}, jobLink(j.id)), h('td', {}, stateBadge(j.state)), h('td', {}, j.kind), h('td', {class: 'hide-narrow'}, j.queue),
      h('td', {class: 'msg'}, j.error ? [h('code', {class: 'err'}, j.error.code), ' ', j.error.message] : progressCell(j.progress, j.state)),
      h('td', {class: 'hide-narrow'}, fmtTime(j.created_at)))))));
}

/* ---- one job ----------------------------------------------------------------------------- */

function jobView(id) {
  let state = null;
  let notice = null;   /* {text, bad} after an action */
  let busy = false;
  return {
    interval() { return state && TERMINAL.has(state) ? 5 * POLL_MS : POLL_MS; },
    async render(gen) {
      const [job, events] = await Promise.all([get('/v1/jobs/' + id), get('/v1/jobs/' + id + '/events').catch(() => ({items: []}))]);
      if (gen !== generation || busy) return;
      const changed = state !== null && state !== job.state;
      state = job.state;
      const act = async (what) => {
        busy = true;
        try {
          await post(`/v1/jobs/${id}/${what}`);
          notice = {text: what === 'cancel' ? 'Cancellation requested.' : 'Job queued again.', bad: false};
        } catch (e) {
          notice = {text: `Could not ${what}: ${e.message}`, bad: true};
        } finally {
          busy = false;
        }
        announce(notice.text);
        await this.render(gen).catch(reportError);
      };
      const canCancel = ['queued', 'running', 'retrying'].includes(job.state);
      const canRetry = ['failed', 'cancelled'].includes(job.state);
      const nodes = [
        h('p', {}, h('a', {href: '#/jobs'}, '← all jobs')),
        h('h1', {}, 'Job ', h('span', {class: 'mono'}, job.id), ' ', h('span', {id: 'job-state'}, stateBadge(job.state))),
        notice ? h('p', {class: 'notice' + (notice.bad ? ' bad' : ''), role: 'status', id: 'action-notice'}, notice.text) : null,
        h('div', {class: 'actions'},
          h('button', {type: 'button', id: 'cancel-btn', class: 'danger', disabled: !canCancel, onclick: () => act('cancel')}, 'Cancel job'),
          h('button', {type: 'button', id: 'retry-btn', disabled: !canRetry, onclick: () => act('retry')}, 'Retry job')),
        h('div', {class: 'grid'},
          h('section', {class: 'card', 'aria-labelledby': 'sum-h'}, h('h2', {id: 'sum-h'}, 'Summary'), summary(job)),
          job.error ? h('section', {class: 'card', id: 'job-error', 'aria-labelledby': 'err-h'}, h('h2', {id: 'err-h'}, 'Error'),
            h('p', {}, h('code', {class: 'err'}, job.error.code)), h('p', {class: 'msg'}, job.error.message)) : null,
          job.children && job.children.total ? h('section', {class: 'card', 'aria-labelledby': 'ch-h'}, h('h2', {id: 'ch-h'}, 'Children'), childrenBlock(job)) : null,
          h('section', {class: 'card wide', 'aria-labelledby': 'ev-h'}, h('h2', {id: 'ev-h'}, 'Events'), eventsTable(events.items || [], job)),
          h('section', {class: 'card', 'aria-labelledby': 'att-h'}, h('h2', {id: 'att-h'}, 'Attempts'), attemptsTable(events.items || [], job)),
          h('section', {class: 'card', 'aria-labelledby': 'par-h'}, h('h2', {id: 'par-h'}, 'Parameters'), h('pre', {}, JSON.stringify(job.params, null, 2))),
          job.result ? h('section', {class: 'card wide', id: 'job-result', 'aria-labelledby': 'res-h'}, h('h2', {id: 'res-h'}, 'Result'), resultBlock(job)) : null),
      ];
      if (draw(gen, nodes) && changed) announce(`Job ${job.id.slice(0, 8)} is ${job.state}`);
    },
  };
}

function summary(j) {
  const rows = [['Kind', j.kind], ['Queue', j.queue], ['Priority', j.priority],
    ['Attempts', `${j.attempts} of ${j.max_attempts}`], ['Created', fmtTime(j.created_at)],
    ['Run at', fmtTime(j.run_at)], ['Started', fmtTime(j.started_at)], ['Finished', fmtTime(j.finished_at)]];
  if (j.finished_at && j.created_at) rows.push(['Took', fmtDur(Date.parse(j.finished_at) - Date.parse(j.created_at))]);
  if (j.parent_id) rows.push(['Parent', jobLink(j.parent_id)]);
  if (j.cancel_requested) rows.push(['Cancel', 'requested']);
  if (j.collection) rows.push(['Collection', typeof j.collection === 'string' ? j.collection : (j.collection.name || JSON.stringify(j.collection))]);
  const dl = h('dl', {class: 'kv'});
  for (const [k, v] of rows) dl.append(h('dt', {}, k), h('dd', {}, v));
  if (j.progress) dl.append(h('dt', {}, 'Progress'), h('dd', {}, progressCell(j.progress, j.state)));
  return dl;
}

function childrenBlock(j) {
  const c = j.children;
  const done = (c.succeeded || 0) + (c.failed || 0) + (c.cancelled || 0);
  return h('div', {},
    h('p', {}, `${done} of ${c.total} finished`),
    bar([{n: c.succeeded, cls: 'b-succeeded', label: 'succeeded'}, {n: c.failed, cls: 'b-failed', label: 'failed'},
      {n: c.cancelled, cls: 'b-cancelled', label: 'cancelled'}, {n: c.running, cls: 'b-running', label: 'running'}], c.total, `${done} of ${c.total} children finished`),
    h('p', {}, STATES.filter((st) => c[st]).map((st) => `${st} ${c[st]}`).join(', ') || 'none yet'),
    h('p', {}, h('a', {href: '#/jobs?parent=' + j.id, onclick: (ev) => { ev.preventDefault(); showChildren(j.id); }}, 'List the children')));
}
async function showChildren(id) {
  const page = await get('/v1/jobs?limit=200&parent=' + id);
  const main = document.getElementById('main');
  let box = document.getElementById('children-list');
  if (!box) { box = h('section', {class: 'card wide', id: 'children-list', 'aria-label': 'Children'}); main.append(box); }
  box.replaceChildren(h('h2', {}, 'Children'), jobsTable(page.items || []));
  box.querySelector('a')?.focus();
}

function eventsTable(evs, job) {
  if (!evs.length) return h('p', {class: 'muted'}, 'No event yet.');
  /* each step's duration is told by the next step event (previous.duration_ms); otherwise
   * the time to the next event */
  const stepDur = new Map();
  evs.forEach((e, i) => {
    if (e.step && e.step.previous && Number.isFinite(e.step.previous.duration_ms)) {
      for (let k = i - 1; k >= 0; k--) if (evs[k].step && evs[k].step.name === e.step.previous.name) { stepDur.set(k, e.step.previous.duration_ms); break; }
    }
  });
  const end = job.finished_at ? Date.parse(job.finished_at) : Date.now();
  return h('div', {class: 'table-wrap'}, h('table', {},
    h('thead', {}, h('tr', {}, h('th', {}, 'At'), h('th', {}, 'State'), h('th', {class: 'num'}, 'Attempt'),
      h('th', {}, 'Message'), h('th', {class: 'num'}, 'Duration'))),
    h('tbody', {}, evs.map((e, i) => {
      const next = i + 1 < evs.length ? Date.parse(evs[i + 1].at) : (TERMINAL.has(e.state) ? NaN : end);
      const d = stepDur.has(i) ? stepDur.get(i) : next - Date.parse(e.at);
      return h('tr', {},
        h('td', {class: 'mono'}, fmtTime(e.at)), h('td', {}, stateBadge(e.state)), h('td', {class: 'num'}, e.attempt),
        h('td', {class: 'msg'}, e.message || '', e.step && e.step.name && !(e.message || '').includes(e.step.name) ? h('span', {class: 'muted'}, ' (' + e.step.name + ')') : null),
        h('td', {class: 'num'}, fmtDur(d)));
    }))));
}

function attemptsTable(evs, job) {
  const byAtt = new Map();
  for (const e of evs) {
    if (!e.attempt) continue;
    const a = byAtt.get(e.attempt) || {attempt: e.attempt, start: null, end: null, state: null, message: null};
    if (e.state === 'running' && !a.start) a.start = e.at;
    if (e.state !== 'running') { a.end = e.at; a.state = e.state; a.message = e.message; }
    byAtt.set(e.attempt, a);
  }
  const rows = [...byAtt.values()].sort((x, y) => x.attempt - y.attempt);
  if (!rows.length) return h('p', {class: 'muted'}, job.attempts ? `${job.attempts} attempt(s)` : 'Not started yet.');
  return h('div', {class: 'table-wrap'}, h('table', {},
    h('thead', {}, h('tr', {}, h('th', {class: 'num'}, '#'), h('th', {}, 'Outcome'), h('th', {class: 'num'}, 'Took'), h('th', {}, 'Message'))),
    h('tbody', {}, rows.map((a) => h('tr', {},
      h('td', {class: 'num'}, a.attempt), h('td', {}, a.state ? stateBadge(a.state) : stateBadge('running')),
      h('td', {class: 'num'}, a.start ? fmtDur((a.end ? Date.parse(a.end) : Date.now()) - Date.parse(a.start)) : '–'),
      h('td', {class: 'msg'}, a.message || ''))))));
}

/** The CAOM observation path of a dataset or ingest job, or null. */
function caomPath(job) {
  const r = job.result || {};
  const c = r.caom || r;
  const uri = typeof c.uri === 'string' ? c.uri : '';
  let m = /^caom:([^/]+)\/(.+)$/.exec(uri);
  if (m) return `/caom2/observations/${encodeURIComponent(m[1])}/${encodeURIComponent(m[2])}`;
  m = /\/observations\/([^/]+)\/([^/?#]+)/.exec(uri);
  if (m) return `/caom2/observations/${m[1]}/${m[2]}`;
  const p = job.params || {};
  const coll = p.collection || (job.collection && job.collection.name);
  const obs = p.observation_id || p.obs_id || p.dataset;
  if (r.caom && coll && obs) return `/caom2/observations/${encodeURIComponent(coll)}/${encodeURIComponent(obs)}`;
  return null;
}
function webUrl(u) { return typeof u === 'string' && /^(https?:\/\/|\/)/.test(u) && !u.startsWith('//') ? u : null; }

function resultBlock(job) {
  const r = job.result;
  const out = [];
  const caom = caomPath(job);
  if (caom) {
    out.push(h('p', {}, 'CAOM observation: ', h('a', {href: caom, id: 'caom-link'}, caom),
      r.caom && r.caom.outcome ? h('span', {class: 'muted'}, ` (${r.caom.outcome})`) : null));
  }
  const prods = Array.isArray(r.products) ? r.products : [];
  /* thumbnails shown, each linking to its full-size preview; served by this service for file:
   * outputs (GET /v1/jobs/{id}/previews/{name}), or straight from an http(s) URL */
  const base = (u) => String(u).split('/').pop();
  const served = (p) => webUrl(p.uri) || (/^file:\//.test(p.uri || '') ? `/v1/jobs/${job.id}/previews/${encodeURIComponent(base(p.uri))}` : null);
  const thumbs = prods.filter((p) => p.type === 'thumbnail');
  const previews = prods.filter((p) => p.type === 'preview');
  const shown = thumbs.length ? thumbs : previews;
  if (shown.length) {
    out.push(h('h3', {}, 'Previews'), h('div', {class: 'thumbs', id: 'job-previews'}, shown.map((p) => {
      const u = served(p);
      const name = base(p.uri);
      const full = previews.find((q) => base(q.uri) === name.replace(/_thumb(\.[a-z]+)$/, '$1'));
      const img = u ? h('img', {src: u, alt: 'preview of ' + name.replace(/(_thumb)?\.[a-z]+$/, ''), loading: 'lazy'}) : null;
      return h('figure', {}, img && full && served(full) ? h('a', {href: served(full)}, img) : img,
        h('figcaption', {}, u ? name : p.uri));
    })));
  }
  if (prods.length) {
    out.push(h('h3', {}, 'Products'), h('div', {class: 'table-wrap'}, h('table', {},
      h('thead', {}, h('tr', {}, h('th', {}, 'Product'), h('th', {}, 'Type'), h('th', {class: 'num'}, 'Bytes'), h('th', {class: 'hide-narrow'}, 'MD5'))),
      h('tbody', {}, prods.map((p) => {
        const u = webUrl(p.uri);
        return h('tr', {}, h('td', {class: 'msg'}, u ? h('a', {href: u}, p.uri) : h('span', {class: 'mono'}, p.uri)),
          h('td', {}, p.type || ''), h('td', {class: 'num'}, fmtNum(p.size)), h('td', {class: 'mono hide-narrow'}, p.md5 || ''));
      })))));
  }
  out.push(h('details', {open: !prods.length && !caom}, h('summary', {}, 'Result document'), h('pre', {}, JSON.stringify(r, null, 2))));
  return h('div', {}, out);
}

/* ---- start ------------------------------------------------------------------------------- */

function start() {
  updateTokenButton();
  document.getElementById('token-btn').addEventListener('click', async () => {
    const t = await askToken('Set the API token used for cancel and retry. It is kept in this tab only (sessionStorage).');
    if (t) setToken(t);
  });
  const dlg = document.getElementById('token-dialog');
  document.getElementById('token-cancel').addEventListener('click', () => dlg.close(''));
  document.getElementById('token-clear').addEventListener('click', () => { setToken(''); dlg.close(''); });
  window.addEventListener('hashchange', () => { route(); document.getElementById('main').focus(); });
  route();
}
document.addEventListener('DOMContentLoaded', start);
