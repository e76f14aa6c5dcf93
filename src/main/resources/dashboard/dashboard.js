// ats-dispatch dashboard: a small page with no build step. It reads the status port's JSON
// (/api/..., /agents/.../events as server-sent events over fetch, so a bearer token can go with
// it) and renders with DOM calls only: task text is always set as textContent, never as HTML.
'use strict';

const ACTION_TOKEN = document.querySelector('meta[name="ats-dispatch-action-token"]').content;
const main = document.getElementById('main');
const streams = new Map(); // task -> AbortController of its live tail
let timer = null;

// ---- talking to the service --------------------------------------------------------------

function headers(extra) {
  const h = Object.assign({}, extra || {});
  const t = sessionStorage.getItem('ats-dispatch-token');
  if (t) h['Authorization'] = 'Bearer ' + t;
  return h;
}

async function api(path) {
  const r = await fetch(path, { headers: headers(), cache: 'no-store' });
  if (r.status === 401) {
    askToken();
    throw new Error('a token is needed');
  }
  const body = await r.json().catch(() => ({}));
  if (!r.ok) throw new Error(body.error || (r.status + ' ' + r.statusText));
  return body;
}

async function act(task, action) {
  const r = await fetch('/api/tasks/' + encodeURIComponent(task) + '/' + action, {
    method: 'POST',
    headers: headers({ 'X-ATS-Dispatch-Token': ACTION_TOKEN, 'Content-Type': 'application/json' }),
    body: '{}',
  });
  const body = await r.json().catch(() => ({}));
  flash(r.ok ? body.message : 'Not done: ' + (body.error || r.status), !r.ok);
  return r.ok;
}

function askToken() {
  const f = document.getElementById('token-form');
  f.hidden = false;
}

document.getElementById('token-form').addEventListener('submit', (e) => {
  e.preventDefault();
  sessionStorage.setItem('ats-dispatch-token', document.getElementById('token').value);
  document.getElementById('token-form').hidden = true;
  route();
});

document.getElementById('find').addEventListener('submit', (e) => {
  e.preventDefault();
  const v = document.getElementById('find-task').value.trim();
  if (v) location.hash = '#/task/' + encodeURIComponent(v);
});

function flash(text, bad) {
  const f = document.getElementById('flash');
  f.textContent = text;
  f.className = bad ? 'bad' : 'good';
  f.hidden = false;
  clearTimeout(flash.t);
  flash.t = setTimeout(() => { f.hidden = true; }, 6000);
}

// ---- small DOM helpers -------------------------------------------------------------------

function el(tag, attrs, ...children) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === undefined || v === null || v === false) continue;
    if (k === 'onclick') e.addEventListener('click', v);
    else if (k === 'text') e.textContent = v;
    else e.setAttribute(k, v === true ? '' : v);
  }
  for (const c of children) {
    if (c === null || c === undefined) continue;
    e.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
  return e;
}

function svg(tag, attrs, ...children) {
  const e = document.createElementNS('http://www.w3.org/2000/svg', tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (k === 'text') e.textContent = v;
    else e.setAttribute(k, v);
  }
  for (const c of children) if (c) e.append(c);
  return e;
}

function duration(ms) {
  if (ms === undefined || ms === null) return '';
  const s = Math.floor(ms / 1000);
  if (s < 60) return s + ' s';
  if (s < 3600) return Math.floor(s / 60) + ' min ' + (s % 60) + ' s';
  return Math.floor(s / 3600) + ' h ' + Math.floor((s % 3600) / 60) + ' min';
}

function taskLink(task, label) {
  return el('a', { href: '#/task/' + encodeURIComponent(task), class: 'task' }, label || task);
}

function table(head, rows, attrs) {
  return el('table', attrs || {},
    el('thead', {}, el('tr', {}, ...head.map((h) => el('th', {}, h)))),
    el('tbody', {}, ...rows));
}

// ---- pages -------------------------------------------------------------------------------

const pages = {
  overview: { render: overview, refresh: 2000 },
  agents: { render: agentsPage, refresh: 2000 },
  task: { render: taskPage, refresh: 3000 },
  deps: { render: depsPage, refresh: 5000 },
  failures: { render: failuresPage, refresh: 5000 },
};

function route() {
  const hash = location.hash.replace(/^#\/?/, '');
  const [name, ...rest] = hash.split('/');
  const page = pages[name || 'overview'] ? (name || 'overview') : 'overview';
  const arg = rest.length ? decodeURIComponent(rest.join('/')) : null;
  document.querySelectorAll('nav a').forEach((a) => a.classList.toggle('on', a.dataset.page === page));
  clearInterval(timer);
  stopStreams(new Set());
  main.replaceChildren(el('p', { class: 'muted' }, 'Loading…'));
  main.dataset.page = page;
  delete main.dataset.built;
  const p = pages[page];
  refresh = () => p.render(arg).catch((e) => showError(e));
  refresh();
  timer = setInterval(refresh, p.refresh);
}

// renders the current page again in place (after an action), keeping live tails
let refresh = () => {};

function showError(e) {
  let box = main.querySelector('.error');
  if (!box) {
    box = el('p', { class: 'error' });
    main.prepend(box);
  }
  box.textContent = 'Cannot read the service: ' + e.message;
}

function clearError() {
  const box = main.querySelector('.error');
  if (box) box.remove();
}

// the skeleton of a page is made once; refreshes fill its parts
function section(id, title) {
  let s = document.getElementById(id);
  if (!s) {
    s = el('section', { id }, el('h2', {}, title), el('div', { class: 'body' }));
    main.append(s);
  }
  return s.querySelector('.body');
}

function startPage(page) {
  if (main.dataset.built !== page) {
    main.replaceChildren();
    main.dataset.built = page;
  }
}

async function overview() {
  const o = await api('/api/overview');
  startPage('overview');
  clearError();
  setReady(o.totals.ready);
  const t = o.totals;
  section('totals', 'Now').replaceChildren(
    el('div', { class: 'cards' },
      card('Running', t.running, 'running'), card('Waiting', t.waiting, 'waiting'),
      card('Deferred', t.deferred, 'deferred'), card('Awaiting an answer', t.awaiting_answer, 'awaiting'),
      card('Outbox', t.outbox, 'outbox')));
  section('routes', 'Routes').replaceChildren(table(
    ['Route', 'Source', 'Running', 'Waiting', 'Deferred', 'Awaiting answer', 'Paused until', 'Outbox', 'Subscribed', 'Source reachable'],
    o.routes.map((r) => el('tr', { 'data-route': r.route },
      el('td', {}, r.route), el('td', {}, r.source || ''), el('td', { class: 'n' }, r.running),
      el('td', { class: 'n' }, r.waiting), el('td', { class: 'n' }, r.deferred),
      el('td', { class: 'n' }, r.awaiting_answer || 0),
      el('td', {}, r.paused_until ? el('span', { class: 'pill warn', title: r.paused_for || '' },
        'paused until ' + r.paused_until + (r.paused_for ? ': ' + r.paused_for : '')) : '—'),
      el('td', { class: 'n' }, r.outbox),
      el('td', {}, yes(r.health.subscribed)), el('td', {}, yes(r.health.source_reachable, r.health.detail)))),
    { class: 'routes' }));
  section('chart', 'Completed and failed per minute, last hour').replaceChildren(chart(o.per_minute));
  agentsTable(section('agents', 'Running agents'), o.agents);
  const q = await api('/api/questions');
  questionsTable(section('questions', 'Questions waiting for an answer'), q.questions.filter((x) => !x.answered));
}

// one row per open question, kept across refreshes so a half-typed answer stays
function questionsTable(box, questions) {
  let tb = box.querySelector('tbody');
  if (!tb) {
    box.replaceChildren(table(['Task', 'Asked', 'Question', 'Answer'], [], { class: 'questions' }));
    tb = box.querySelector('tbody');
  }
  const keep = new Set(questions.map((x) => x.task + '#' + x.number));
  for (const row of [...tb.querySelectorAll('tr[data-question]')]) {
    if (!keep.has(row.dataset.question)) row.remove();
  }
  for (const x of questions) {
    const id = x.task + '#' + x.number;
    if (tb.querySelector(`tr[data-question="${CSS.escape(id)}"]`)) continue;
    const input = el('input', { class: 'answer-text', 'aria-label': 'answer to ' + id, placeholder: 'your answer' });
    const send = async (e) => {
      e.preventDefault();
      const text = input.value.trim();
      if (!text) return;
      const r = await fetch('/api/tasks/' + encodeURIComponent(x.task) + '/answer', {
        method: 'POST',
        headers: headers({ 'X-ATS-Dispatch-Token': ACTION_TOKEN, 'Content-Type': 'application/json' }),
        body: JSON.stringify({ text }),
      });
      const body = await r.json().catch(() => ({}));
      flash(r.ok ? body.message : 'Not done: ' + (body.error || r.status), !r.ok);
      if (r.ok) setTimeout(refresh, 300);
    };
    const form = el('form', { class: 'answer' }, input, el('button', { type: 'submit', class: 'answer' }, 'Answer'));
    form.addEventListener('submit', send);
    tb.append(el('tr', { 'data-question': id, 'data-task': x.task },
      el('td', {}, taskLink(x.task)), el('td', {}, x.asked_at),
      el('td', { class: 'reason' }, x.encrypted ? '(encrypted: read it in the task\'s work directory)' : 'Q' + x.number + ': ' + (x.text || '')),
      el('td', {}, form)));
  }
  let none = box.querySelector('.none');
  if (!questions.length && !none) box.append(el('p', { class: 'none muted' }, 'No question waits for an answer.'));
  if (questions.length && none) none.remove();
}

function card(label, n, cls) {
  return el('div', { class: 'card ' + cls, 'data-count': cls }, el('div', { class: 'num' }, String(n)), el('div', {}, label));
}

function yes(b, detail) {
  return el('span', { class: 'pill ' + (b ? 'good' : 'bad'), title: detail || '' }, b ? 'yes' : 'no');
}

function setReady(ok) {
  const r = document.getElementById('ready');
  r.textContent = ok ? 'ready' : 'not ready';
  r.className = 'pill ' + (ok ? 'good' : 'bad');
}

function chart(series) {
  const w = 720, h = 140, pad = 24;
  const max = Math.max(1, ...series.map((m) => m.completed + m.failed));
  const bw = (w - pad) / Math.max(1, series.length);
  const g = svg('svg', { viewBox: `0 0 ${w} ${h + 20}`, class: 'chart', role: 'img',
    'aria-label': 'tasks completed and failed per minute over the last hour' });
  g.append(svg('text', { x: 0, y: 12, class: 'axis', text: String(max) }));
  g.append(svg('line', { x1: pad, y1: h, x2: w, y2: h, class: 'base' }));
  series.forEach((m, i) => {
    const x = pad + i * bw;
    const hc = (m.completed / max) * (h - 16);
    const hf = (m.failed / max) * (h - 16);
    const title = `${m.minute}: ${m.completed} completed, ${m.failed} failed`;
    if (hc > 0) g.append(svg('rect', { x, y: h - hc, width: Math.max(1, bw - 2), height: hc, class: 'completed' }, svg('title', { text: title })));
    if (hf > 0) g.append(svg('rect', { x, y: h - hc - hf, width: Math.max(1, bw - 2), height: hf, class: 'failed' }, svg('title', { text: title })));
  });
  g.append(svg('text', { x: pad, y: h + 16, class: 'axis', text: '60 min ago' }));
  g.append(svg('text', { x: w - 30, y: h + 16, class: 'axis', text: 'now' }));
  const total = series.reduce((a, m) => [a[0] + m.completed, a[1] + m.failed], [0, 0]);
  return el('div', {}, g, el('p', { class: 'legend' },
    el('span', { class: 'key completed' }), ` completed ${total[0]}  `,
    el('span', { class: 'key failed' }), ` failed ${total[1]}`));
}

async function agentsPage() {
  const o = await api('/api/overview');
  startPage('agents');
  clearError();
  setReady(o.totals.ready);
  agentsTable(section('agents', 'Running agents'), o.agents);
}

// one row per running agent, kept across refreshes so its live tail keeps streaming
function agentsTable(box, agents) {
  let tb = box.querySelector('tbody');
  if (!tb) {
    box.replaceChildren(table(['Task', 'Route', 'Attempt', 'Elapsed', 'Lease left', 'Output (live)', ''], [], { class: 'agents' }));
    tb = box.querySelector('tbody');
  }
  const keep = new Set(agents.map((a) => a.task));
  for (const row of [...tb.querySelectorAll('tr[data-task]')]) {
    if (!keep.has(row.dataset.task)) row.remove();
  }
  stopStreams(keep);
  for (const a of agents) {
    let row = tb.querySelector(`tr[data-task="${CSS.escape(a.task)}"]`);
    if (!row) {
      const tail = el('pre', { class: 'tail' });
      row = el('tr', { 'data-task': a.task },
        el('td', {}, taskLink(a.task)), el('td', { class: 'route' }), el('td', { class: 'attempt n' }),
        el('td', { class: 'elapsed n' }), el('td', { class: 'lease n' }), el('td', {}, tail),
        el('td', { class: 'actions' },
          el('button', { class: 'cancel', onclick: () => confirmAct(a.task, 'cancel') }, 'Cancel'),
          el('button', { class: 'give-back', onclick: () => confirmAct(a.task, 'give-back') }, 'Give back')));
      tb.append(row);
      follow(a.task, tail);
    }
    row.querySelector('.route').textContent = a.route || '';
    row.querySelector('.attempt').textContent = a.attempt;
    row.querySelector('.elapsed').textContent = duration(a.elapsed_ms);
    row.querySelector('.lease').textContent = a.lease_left_ms !== undefined ? duration(a.lease_left_ms) : '';
  }
  let none = box.querySelector('.none');
  if (!agents.length && !none) box.append(el('p', { class: 'none muted' }, 'No agent is running.'));
  if (agents.length && none) none.remove();
}

async function confirmAct(task, action) {
  const what = action === 'cancel' ? 'Cancel ' + task + '? Its agent stops and the task fails.'
    : action === 'give-back' ? 'Give ' + task + ' back? Its agent stops and the task returns to its queue.'
      : 'Reopen ' + task + '?';
  if (!window.confirm(what)) return;
  if (await act(task, action)) setTimeout(refresh, 300);
}

function stopStreams(keep) {
  for (const [task, c] of streams) {
    if (!keep.has(task)) {
      c.abort();
      streams.delete(task);
    }
  }
}

// the agent's events as they happen; the last lines stay in the row
async function follow(task, pre) {
  const c = new AbortController();
  streams.set(task, c);
  const lines = [];
  const show = (s) => {
    lines.push(s);
    while (lines.length > 12) lines.shift();
    pre.textContent = lines.join('\n');
  };
  try {
    const r = await fetch('/agents/' + encodeURIComponent(task) + '/events', { headers: headers(), signal: c.signal });
    if (!r.ok || !r.body) return;
    const reader = r.body.getReader();
    const dec = new TextDecoder();
    let buf = '';
    for (;;) {
      const { value, done } = await reader.read();
      if (done) break;
      buf += dec.decode(value, { stream: true });
      let i;
      while ((i = buf.indexOf('\n\n')) >= 0) {
        const frame = buf.slice(0, i);
        buf = buf.slice(i + 2);
        const data = frame.split('\n').filter((l) => l.startsWith('data: ')).map((l) => l.slice(6)).join('\n');
        if (!data) continue;
        const e = JSON.parse(data);
        if (e.type === 'stdout') show(e.text || '');
        else if (e.type === 'stderr') show('[stderr] ' + (e.text || ''));
        else if (e.type === 'finished') show('— finished: ' + (e.text || ''));
      }
    }
  } catch (e) {
    // aborted, or the service went away: the next refresh starts again
  } finally {
    if (streams.get(task) === c) streams.delete(task);
  }
}

async function taskPage(task) {
  if (!task) {
    main.replaceChildren(el('p', {}, 'Open a task by its key (ats:123) in the box above.'));
    return;
  }
  const t = await api('/api/tasks/' + encodeURIComponent(task));
  startPage('task:' + task);
  clearError();
  const fields = [
    ['Task', t.task], ['Route', t.route], ['State', t.state],
    ['Title', t.encrypted ? '(encrypted: its content is never shown here)' : (t.title || '—')],
    ['Priority', t.priority], ['Waiting for', t.waiting_ms !== undefined ? duration(t.waiting_ms) : undefined],
  ].filter((f) => f[1] !== undefined && f[1] !== null);
  const head = section('fields', 'Task ' + t.task);
  head.replaceChildren(el('dl', { class: 'fields' }, ...fields.flatMap(([k, v]) => [el('dt', {}, k), el('dd', {}, String(v))])));
  if (t.depends_on && t.depends_on.length) {
    head.append(el('p', {}, 'Depends on: ', ...t.depends_on.flatMap((d) => [taskLink(d.task), ` (${d.status}) `])));
  }
  if (t.failure) head.append(el('p', { class: 'reason bad' }, 'Failed: ' + t.failure.reason));
  const actions = el('div', { class: 'actions' });
  if (t.agent && t.agent.running) {
    actions.append(el('button', { class: 'cancel', onclick: () => confirmAct(t.task, 'cancel') }, 'Cancel'),
      el('button', { class: 'give-back', onclick: () => confirmAct(t.task, 'give-back') }, 'Give back'));
  }
  if (t.can_reopen && t.failure) actions.append(el('button', { class: 'reopen', onclick: () => confirmAct(t.task, 'reopen') }, 'Reopen'));
  head.append(actions);

  section('attempts', 'Attempts').replaceChildren(t.attempts.length ? table(
    ['#', 'Outcome', 'Strike', 'Exit', 'Duration', 'Cost', 'Tokens in/out', 'Turns', 'Result', 'Reason'],
    t.attempts.map((a) => el('tr', {},
      el('td', { class: 'n' }, a.attempt), el('td', {}, a.outcome || (a.finished_at ? '' : 'running')),
      el('td', {}, a.strike === undefined ? '' : (a.strike ? 'yes' : 'no')),
      el('td', { class: 'n' }, a.exit_code ?? ''), el('td', { class: 'n' }, a.duration_ms !== undefined ? duration(a.duration_ms) : ''),
      el('td', { class: 'n' }, a.cost_usd !== undefined ? '$' + Number(a.cost_usd).toFixed(4) : ''),
      el('td', { class: 'n' }, a.input_tokens !== undefined ? a.input_tokens + ' / ' + (a.output_tokens ?? '') : ''),
      el('td', { class: 'n' }, a.num_turns ?? ''),
      el('td', {}, a.result || a.released && ('released: ' + a.released) || ''),
      el('td', { class: 'reason' }, a.reason || '')))) : el('p', { class: 'muted' }, 'No attempt recorded here.'));

  const logs = section('logs', 'Logs');
  if (!logs.dataset.made || logs.dataset.made !== String(t.logs.length)) {
    logs.dataset.made = String(t.logs.length);
    const view = el('pre', { class: 'log', hidden: true });
    logs.replaceChildren(t.logs.length ? el('ul', {}, ...t.logs.map((l) => el('li', {},
      l.sealed ? `attempt ${l.attempt} ${l.stream} (${l.bytes} bytes, sealed: open with ats-dispatch logs)`
        : el('span', {},
          el('a', { href: logUrl(t.task, l), class: 'log-link', onclick: (e) => { e.preventDefault(); showLog(t.task, l, view); } },
            `attempt ${l.attempt} ${l.stream} (${l.bytes} bytes)`),
          ' ', el('a', { href: logUrl(t.task, l), target: '_blank', rel: 'noopener', class: 'raw' }, 'raw'))))) :
      el('p', { class: 'muted' }, 'No logs on disk.'), view);
  }

  const ev = [];
  for (const e of t.ledger) ev.push(el('tr', {}, el('td', {}, e.ts || ''), el('td', {}, 'ledger'), el('td', {}, e.event),
    el('td', {}, Object.entries(e).filter(([k]) => k !== 'ts' && k !== 'event').map(([k, v]) => k + '=' + (typeof v === 'object' ? JSON.stringify(v) : v)).join(' '))));
  if (t.agent) {
    for (const e of t.agent.events) {
      if (e.type === 'stdout' || e.type === 'stderr') continue;
      ev.push(el('tr', {}, el('td', {}, e.at), el('td', {}, 'agent'), el('td', {}, e.type), el('td', {}, e.text || '')));
    }
  }
  section('events', 'Events').replaceChildren(ev.length ? table(['When', 'From', 'Event', 'Detail'], ev) : el('p', { class: 'muted' }, 'None.'));
}

function logUrl(task, l) {
  return `/api/tasks/${encodeURIComponent(task)}/logs/${l.attempt}/${l.stream}`;
}

async function showLog(task, l, view) {
  const r = await fetch(logUrl(task, l) + '?tail=262144', { headers: headers() });
  view.hidden = false;
  view.textContent = r.ok ? await r.text() : 'Cannot read the log: ' + r.status;
}

async function depsPage() {
  const g = await api('/api/deps');
  startPage('deps');
  clearError();
  const box = section('graph', 'Tasks waiting on others');
  if (!g.nodes.length) {
    box.replaceChildren(el('p', { class: 'muted' }, 'No task is waiting on another.'));
    return;
  }
  box.replaceChildren(graph(g), el('p', { class: 'legend' },
    'An arrow goes from a task to what it waits for. ',
    el('span', { class: 'key blocked' }), ' blocked (a dependency failed) ',
    el('span', { class: 'key cycle' }), ' on a cycle'));
}

function graph(g) {
  const out = new Map();
  g.edges.forEach((e) => { if (!out.has(e.from)) out.set(e.from, []); out.get(e.from).push(e.to); });
  // a dependency sits left of what waits on it: level = 1 + the deepest dependency (bounded on cycles)
  const level = new Map(g.nodes.map((n) => [n.task, 0]));
  for (let pass = 0; pass < g.nodes.length; pass++) {
    let changed = false;
    for (const [from, tos] of out) {
      for (const to of tos) {
        const want = (level.get(to) || 0) + 1;
        if (want > (level.get(from) || 0) && want <= g.nodes.length) { level.set(from, want); changed = true; }
      }
    }
    if (!changed) break;
  }
  const cols = new Map();
  const pos = new Map();
  const bw = 170, bh = 44, gx = 70, gy = 22;
  for (const n of g.nodes) {
    const l = level.get(n.task) || 0;
    const row = cols.get(l) || 0;
    cols.set(l, row + 1);
    pos.set(n.task, { x: 10 + l * (bw + gx), y: 10 + row * (bh + gy) });
  }
  const width = 20 + (Math.max(...cols.keys()) + 1) * (bw + gx);
  const height = 20 + Math.max(...cols.values()) * (bh + gy);
  const s = svg('svg', { viewBox: `0 0 ${width} ${height}`, width, height, class: 'graph', role: 'img', 'aria-label': 'dependency graph' });
  s.append(svg('defs', {}, svg('marker', { id: 'arrow', viewBox: '0 0 10 10', refX: 10, refY: 5, markerWidth: 8, markerHeight: 8, orient: 'auto-start-reverse' },
    svg('path', { d: 'M 0 0 L 10 5 L 0 10 z', class: 'arrowhead' }))));
  for (const e of g.edges) {
    const a = pos.get(e.from), b = pos.get(e.to);
    if (!a || !b) continue;
    s.append(svg('line', { x1: a.x, y1: a.y + bh / 2, x2: b.x + bw, y2: b.y + bh / 2, class: 'edge', 'marker-end': 'url(#arrow)', 'data-from': e.from, 'data-to': e.to }));
  }
  for (const n of g.nodes) {
    const p = pos.get(n.task);
    const cls = ['node', 'status-' + (n.status || 'unknown')];
    if (n.blocked) cls.push('blocked');
    if (n.cycle) cls.push('cycle');
    const a = svg('a', { href: '#/task/' + encodeURIComponent(n.task), 'data-task': n.task, class: cls.join(' ') });
    a.append(svg('rect', { x: p.x, y: p.y, width: bw, height: bh, rx: 6 }));
    a.append(svg('text', { x: p.x + 8, y: p.y + 18, class: 'id', text: n.task + (n.cycle ? '  ⟳ cycle' : n.blocked ? '  ✖ blocked' : '') }));
    a.append(svg('text', { x: p.x + 8, y: p.y + 35, class: 'sub', text: (n.status || '') + (n.title ? ' · ' + n.title.slice(0, 18) : '') }));
    s.append(a);
  }
  return s;
}

async function failuresPage() {
  const f = await api('/api/failures');
  startPage('failures');
  clearError();
  section('failures', 'Recent failures').replaceChildren(f.failures.length ? table(
    ['When', 'Task', 'Route', 'Kind', 'Attempt', 'Reason', ''],
    f.failures.map((x) => el('tr', { 'data-task': x.task },
      el('td', {}, x.at), el('td', {}, taskLink(x.task, x.task + (x.title ? ' · ' + x.title : ''))), el('td', {}, x.route),
      el('td', {}, el('span', { class: 'pill ' + (x.kind === 'poisoned' ? 'bad' : 'warn') }, x.kind)),
      el('td', { class: 'n' }, x.attempt), el('td', { class: 'reason' }, x.reason),
      el('td', {}, x.can_reopen ? el('button', { class: 'reopen', onclick: () => confirmAct(x.task, 'reopen') }, 'Reopen') : '')))) :
    el('p', { class: 'muted' }, 'No failure in the service\'s recent memory.'));
}

window.addEventListener('hashchange', route);
route();
