// segstream dashboard: fills each page's <main id="main"> from the /v1 API
// (same origin; the segstream_token cookie is the token). No framework, no
// build step; the DOM is built with createElement only (no innerHTML).
'use strict';

const main = document.getElementById('main');
const body = document.body;
const nf = new Intl.NumberFormat('en-US');
const HOUR = 3600e3;

// ---- helpers ----

// h builds an element; attrs: text, on* listeners, attributes, properties.
const ATTR = /-|^(role|for|scope|colspan|id|tabindex)$/;
function h(tag, attrs, ...kids) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v == null || v === false) continue;
    if (k === 'text') el.textContent = v;
    else if (k.startsWith('on')) el.addEventListener(k.slice(2), v);
    else if (ATTR.test(k)) el.setAttribute(k, v === true ? '' : String(v));
    else el[k] = v;
  }
  for (const c of kids.flat()) if (c != null && c !== false) el.append(c.nodeType ? c : String(c));
  return el;
}
const num = (n) => (n == null ? '—' : nf.format(n));
const raw = (n) => (n == null ? '' : String(n));
const q = (k) => new URLSearchParams(location.search).get(k);
const enc = encodeURIComponent;
const segURL = (n) => '/ui/segment?name=' + enc(n);
const segLink = (n) => h('a', { href: segURL(n), text: n });
const isFamily = (n) => n.endsWith('*');
const muted = (text, tag = 'p') => h(tag, { className: 'muted', text });
const iso = (t, min) => new Date(t).toISOString().slice(0, min ? 16 : 19);
// utc: 2024-05-01 13:04:05 UTC
function utc(t, min) {
  const d = new Date(t);
  return isNaN(d) ? String(t ?? '—') : iso(d, min).replace('T', ' ') + ' UTC';
}
const time = (t, min) => (t ? h('time', { dateTime: iso(t) + 'Z', text: utc(t, min) }) : '—');
const NUM = /^(Members|Lag|Count|Entered|Exited|Net|Value|Contribution|Partition|Flow)/;
function table(id, caption, heads, rows, cls) {
  return h('div', { className: 'scroll ' + (cls || ''), tabindex: 0 },
    h('table', { id },
      h('caption', {}, caption),
      h('thead', {}, h('tr', {}, heads.map((x) => h('th', { scope: 'col', className: NUM.test(x) ? 'num' : null, text: x })))),
      h('tbody', {}, rows)));
}
const emptyRow = (n, text) => h('tr', { className: 'empty' }, h('td', { colspan: n, className: 'muted', text }));
const keyList = (keys, id) => h('ul', { id, className: 'plain' }, keys.map(([k, n]) => h('li', { 'data-key': k }, segLink(k), ' ' + num(n))));
const byCount = (o) => Object.entries(o || {}).sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : 1));
const ready = () => { body.dataset.ready = '1'; };

// ---- API ----

class ApiError extends Error {
  constructor(status, b) {
    super((b && b.message) || 'HTTP ' + status);
    this.status = status;
    this.code = (b && b.code) || '';
    this.details = (b && b.details) || [];
  }
}

async function api(path, opt = {}) {
  const init = { credentials: 'same-origin', headers: { 'X-Segstream-UI': '1' } };
  if (opt.method) init.method = opt.method;
  if (opt.body != null) { init.body = opt.body; init.headers['Content-Type'] = 'application/yaml'; }
  let res;
  try { res = await fetch(path, init); } catch (e) {
    throw new ApiError(0, { message: 'The service could not be reached (' + e.message + ').' });
  }
  let b = null;
  try { b = JSON.parse(await res.text()); } catch (_) { /* not JSON */ }
  if (!res.ok) throw new ApiError(res.status, b || { message: 'HTTP ' + res.status + ' ' + res.statusText });
  return { status: res.status, body: b };
}
const get = async (path) => (await api(path)).body;

function detailText(d) {
  let s = d.line ? 'line ' + d.line + (d.column ? ', column ' + d.column : '') + ': ' : '';
  if (d.field) s += d.field + ': ';
  return s + d.message;
}
// fillAlert shows an API error (message and details) in box.
function fillAlert(box, err, lead) {
  box.replaceChildren(h('p', { text: (lead ? lead + ': ' : '') + (err.message || String(err)) }));
  if (err.details && err.details.length) box.append(h('ul', {}, err.details.map((d) => h('li', { text: detailText(d) }))));
}
function alertBox(err, lead) {
  const box = h('div', { role: 'alert', className: 'error' });
  fillAlert(box, err, lead);
  return box;
}
const alertText = (text) => h('div', { role: 'alert', className: 'error', text });

let loginShown = false;
// showLogin replaces the page with the sign-in form (the API said 401).
function showLogin() {
  if (loginShown) return;
  loginShown = true;
  document.title = 'Sign in · segstream';
  main.replaceChildren(h('h1', { text: 'Sign in' }),
    h('p', { text: 'The API needs a token. It is kept in a cookie for this site only.' }),
    h('form', { id: 'login', method: 'post', action: '/ui/login' },
      h('input', { type: 'hidden', name: 'next', value: location.pathname + location.search }),
      h('input', { type: 'text', autocomplete: 'username', value: 'segstream', hidden: true }),
      h('label', { for: 'token', text: 'API token' }),
      h('input', { id: 'token', name: 'token', type: 'password', autocomplete: 'current-password', required: true }),
      h('button', { type: 'submit', text: 'Sign in' })));
  ready();
}

// fail shows err in el (or at the end of main); the login form on 401.
function fail(err, el, lead) {
  if (err && err.status === 401) return showLogin();
  if (!(err instanceof ApiError)) console.error(err); // our bug, not the API's
  const box = alertBox(err, lead);
  if (el) el.replaceChildren(box); else main.append(box);
}

// pool runs the jobs with at most n in flight.
async function pool(jobs, n) {
  let i = 0;
  const run = async () => { while (i < jobs.length) await jobs[i++](); };
  await Promise.all(Array.from({ length: Math.min(n, jobs.length) }, run));
}

// flowRows reads a /flow body into [{hour, entered, exited}], newest first.
function flowRows(b) {
  const a = Array.isArray(b) ? b : (b && (b.hours || b.points || b.buckets || b.flow)) || [];
  return a.map((p) => ({ hour: p.hour ?? p.at ?? p.from ?? '', entered: +(p.entered ?? p.entries ?? 0) || 0, exited: +(p.exited ?? p.exits ?? 0) || 0 }))
    .sort((x, y) => Date.parse(y.hour) - Date.parse(x.hour));
}

// ---- charts ----

const plot = () => window.uPlot;
function series(points) {
  const xs = [], ys = [];
  for (const p of points || []) { xs.push(Date.parse(p.at) / 1000); ys.push(p.size); }
  return [xs, ys, ys.filter((v) => v != null)];
}
const range = (k) => 'from ' + nf.format(k[0]) + ' to ' + nf.format(k[k.length - 1]);
const line = (w) => ({ stroke: '#0b5cad', width: w, fill: 'rgba(11,92,173,0.1)' });

function sparkline(el, points) {
  const [xs, ys, k] = series(points);
  if (!k.length) return el.append(muted('no data', 'span'));
  const box = h('div', { role: 'img', 'aria-label': 'Size over 24 h: ' + range(k) });
  el.append(box);
  if (plot()) {
    new (plot())({
      width: 160, height: 40, pxAlign: false, legend: { show: false }, cursor: { show: false }, select: { show: false },
      scales: { x: { time: false } }, axes: [{ show: false }, { show: false }], series: [{}, line(1.5)],
    }, [xs, ys], box);
  }
}

function bigChart(el, points) {
  const [xs, ys, k] = series(points);
  el.setAttribute('role', 'img');
  el.setAttribute('aria-label', k.length ? 'Members over the last 7 days, ' + range(k) : 'No size samples');
  if (!k.length) return el.replaceChildren(muted('No size samples in the last 7 days.'));
  if (!plot()) return;
  el.replaceChildren();
  const w = () => Math.max(260, el.clientWidth || 600);
  const ax = { stroke: '#1a1a1a', grid: { stroke: '#e6e6e6' } };
  const u = new (plot())({
    width: w(), height: 260,
    tzDate: (ts) => plot().tzDate(new Date(ts * 1e3), 'Etc/UTC'),
    series: [{ label: 'Time (UTC)' }, { label: 'Members', ...line(2), value: (_, v) => num(v) }],
    axes: [ax, { ...ax, size: 64, values: (_, vs) => vs.map((v) => nf.format(v)) }],
  }, [xs, ys], el);
  let t;
  window.addEventListener('resize', () => { clearTimeout(t); t = setTimeout(() => u.setSize({ width: w(), height: 260 }), 150); });
}

// ---- pages ----

async function pageSegments() {
  const list = await get('/v1/segments');
  const problems = [], jobs = [];
  const rows = list.segments.map((s) => {
    const fam = isFamily(s.name), keys = byCount(s.keys), target = fam ? keys[0] && keys[0][0] : s.name;
    const name = h('td', { className: 'name' }, target ? h('a', { href: segURL(target), text: s.name }) : s.name);
    if (fam && keys.length) name.append(h('details', {}, h('summary', { text: keys.length + (keys.length > 1 ? ' keys' : ' key') }), keyList(keys)));
    const trend = h('td', { className: 'trend' }), flow = h('td', { className: 'flow', text: '…' });
    const path = '/v1/segments/' + enc(s.name);
    const soft = (e, el, report) => { if (e.status === 401) throw e; el.textContent = '—'; if (report) problems.push(e); };
    if (fam) trend.append(muted('family', 'span'));
    else jobs.push(async () => { try { sparkline(trend, (await get(path + '/sizes')).points); } catch (e) { soft(e, trend, 1); } });
    jobs.push(async () => {
      try {
        const r = flowRows(await get(path + '/flow'));
        const i = r.reduce((a, x) => a + x.entered, 0), o = r.reduce((a, x) => a + x.exited, 0);
        flow.dataset.entered = i; flow.dataset.exited = o;
        flow.setAttribute('aria-label', nf.format(i) + ' entered, ' + nf.format(o) + ' exited');
        flow.replaceChildren(h('span', { className: 'in', text: '+' + nf.format(i) }), ' / ', h('span', { className: 'out', text: '\u2212' + nf.format(o) }));
      } catch (e) { soft(e, flow, !fam); }
    });
    return h('tr', { 'data-segment': s.name }, name, h('td', { className: 'size', 'data-size': raw(s.size), text: num(s.size) }),
      trend, flow, h('td', { className: 'desc', text: s.description || '' }));
  });
  main.replaceChildren(h('h1', { text: 'Segments' }),
    table('segments', ['Live definitions ', h('small', { text: '(set version ' + (list.set_version || '—') + ')' })],
      ['Segment', 'Members', 'Trend (24 h)', 'Flow (24 h)', 'Description'], rows.length ? rows : emptyRow(5, 'No segments are defined.')));
  await pool(jobs, 6);
  if (problems.length) main.append(alertBox(problems[0], 'Some trends or flows could not be read'));
}

async function pageSegment() {
  const name = q('name');
  if (!name) return main.replaceChildren(h('h1', { text: 'Segment' }), alertText('No segment named: pick one in the segments list.'));
  document.title = name + ' · segstream';
  const path = '/v1/segments/' + enc(name);
  const s = await get(path);
  const def = h('dl', { id: 'definition' });
  const add = (k, v) => def.append(h('dt', { text: k }), h('dd', {}, v));
  const code = (text) => h('code', { text });
  add('Description', s.description || '—');
  add('Enter', code(s.enter));
  add('Exit', s.exit ? code(s.exit) : muted('not enter (no hysteresis)', 'span'));
  add('Minimum dwell', s.min_dwell || 'none');
  if (s.each) add('Each', code(s.each));
  if (s.explain) add('Explain', s.explain);
  add('Version', code(s.version));
  add('Source', s.source || '—');
  main.replaceChildren(h('h1', { text: name }),
    h('p', { id: 'size', className: 'stat', 'data-value': raw(s.size) }, num(s.size), ' ', h('small', { text: s.size === 1 ? 'member' : 'members' })),
    h('h2', { text: 'Definition' }), def);
  if (isFamily(name)) {
    const keys = byCount(s.keys);
    return main.append(h('h2', { text: 'Keys' }), keys.length ? keyList(keys, 'keys') : muted('No key has members.'));
  }
  const chart = h('div', { id: 'chart' }, muted('Loading…'));
  const flowBox = h('div', {}, muted('Loading…'));
  const memBox = h('div', {});
  main.append(h('h2', { text: 'Size, last 7 days (hourly, UTC)' }), chart,
    h('h2', { text: 'Entries and exits per hour' }), flowBox, h('h2', { text: 'Members' }), memBox);

  let to = null;
  const sizes = (async () => {
    try {
      to = (await get(path + '/sizes')).to;
      const from = new Date(Date.parse(to) - 168 * HOUR).toISOString();
      bigChart(chart, (await get(path + '/sizes?step=1h&from=' + enc(from) + '&to=' + enc(to))).points);
    } catch (e) { fail(e, chart); }
  })();
  const flow = (async () => {
    await sizes;
    if (loginShown) return;
    try {
      let b = null;
      // the last 48 hours when /flow takes from and to, else its default
      if (to) try { b = await get(path + '/flow?from=' + enc(new Date(Date.parse(to) - 48 * HOUR).toISOString()) + '&to=' + enc(to)); } catch (e) { if (e.status !== 400) throw e; }
      const r = flowRows(b || await get(path + '/flow')).slice(0, 48);
      flowBox.replaceChildren(table('flow', 'Entries and exits per hour (UTC), newest first', ['Hour', 'Entered', 'Exited', 'Net'],
        r.length ? r.map((x) => h('tr', { 'data-hour': x.hour },
          h('th', { scope: 'row' }, time(x.hour, 1)),
          h('td', { className: 'num entered in', 'data-value': x.entered, text: '+' + nf.format(x.entered) }),
          h('td', { className: 'num exited out', 'data-value': x.exited, text: '\u2212' + nf.format(x.exited) }),
          h('td', { className: 'num', text: nf.format(x.entered - x.exited) }))) : emptyRow(4, 'No hours in range.'), 'tall'));
    } catch (e) { fail(e, flowBox); }
  })();
  const ul = h('ul', { id: 'members' }), err = h('div', {}), note = muted('');
  const more = h('button', { id: 'more-members', type: 'button', className: 'secondary', text: 'More', hidden: true });
  memBox.replaceChildren(note, ul, err, more);
  let cursor = '';
  const page = async () => {
    more.disabled = true;
    try {
      const m = await get(path + '/members?limit=100' + (cursor ? '&cursor=' + enc(cursor) : ''));
      for (const x of m.members) ul.append(h('li', { 'data-user': x.user_id }, h('a', { href: '/ui/user?id=' + enc(x.user_id), text: x.user_id }), ' since ', time(x.since)));
      cursor = m.next_cursor || '';
      more.hidden = !cursor;
      note.textContent = 'Showing ' + nf.format(ul.children.length) + ' of ' + num(m.size) + ', in order of entry.';
      err.replaceChildren();
    } catch (e) { fail(e, err); }
    more.disabled = false;
  };
  more.addEventListener('click', page);
  await Promise.all([sizes, flow, page()]);
}

async function pageUser() {
  const id = q('id');
  const search = document.getElementById('nav-user-id');
  if (search && id) search.value = id;
  if (!id) return main.replaceChildren(h('h1', { text: 'User' }), alertText('Enter a user id in the search box.'));
  document.title = 'User ' + id + ' · segstream';
  main.replaceChildren(h('h1', { text: 'User ' + id }));
  const path = '/v1/users/' + enc(id);
  let u, hist;
  try {
    [u, hist] = await Promise.all([get(path), get(path + '/history?limit=50')]);
  } catch (e) {
    if (e.status === 404) return main.append(alertText('No such user'));
    if (e.status === 410) return main.append(alertText('This user was erased'));
    return fail(e);
  }
  const l = u.label || {}, m = l.model || {};
  main.append(h('p', { className: 'muted' }, u.label
    ? ['Label version ' + l.version + ' as of ', time(l.as_of), m.name ? ' · model ' + m.name + ' ' + m.version : '', u.published ? '' : ' · not yet acknowledged by Kafka']
    : 'Waiting for its first labelling.'));

  const segs = l.segments || [];
  main.append(h('h2', { text: 'Segments' }), h('ul', { id: 'user-segments' }, segs.map((s) => h('li', { 'data-segment': s }, segLink(s)))));
  if (!segs.length) main.append(muted('In no segment.'));

  const reasons = l.reasons || [];
  main.append(h('h2', { text: 'Why' }), table('reasons', 'Inputs behind each segment', ['Segment', 'Input', 'Value', 'Contribution'],
    reasons.length ? reasons.map((r) => h('tr', { 'data-segment': r.segment || '', 'data-input': r.input },
      h('td', {}, r.segment ? segLink(r.segment) : '—'), h('td', {}, h('code', { text: r.input })),
      h('td', { className: 'num', text: String(r.value) }), h('td', { className: 'num', text: String(r.contribution) }))) : emptyRow(4, 'No reasons.')));

  const scores = Object.entries(l.scores || {}).sort((a, b) => (a[0] < b[0] ? -1 : 1));
  main.append(h('h2', { text: 'Scores' }), h('ul', { id: 'scores' }, scores.length
    ? scores.map(([k, v]) => h('li', { 'data-score': k, 'data-value': raw(v) }, h('code', { text: k }), ': ' + v)) : muted('No scores.', 'li')));

  const p = u.profile;
  const prof = h('dl', { id: 'profile' });
  const add = (k, v) => prof.append(h('dt', { text: k }), h('dd', {}, v));
  const money = (x) => (x == null ? '—' : x.toLocaleString('en-US', { minimumFractionDigits: 2, maximumFractionDigits: 2 }));
  if (!p) add('Profile', 'none kept');
  else {
    add('First seen', time(p.first_seen));
    add('Last seen', time(p.last_seen));
    add('Events', Object.entries(p.events || {}).map(([k, n]) => k + ' ' + nf.format(n)).join(', ') || 'none');
    add('Purchase days', num(p.purchase_days));
    add('Spend', money(p.spend));
    add('Refunds', money(p.refunds));
    add('Last purchase', p.last_purchase ? time(p.last_purchase) : 'none');
    add('Reviews', num(p.reviews));
    add('Mean rating', raw(p.mean_rating) || '—');
    add('Top categories', (p.top_categories || []).join(', ') || 'none');
  }
  main.append(h('h2', { text: 'Profile' }), prof);

  const entries = (hist.entries || []).slice().sort((a, b) => b.version - a.version);
  main.append(h('h2', { text: 'History' }), h('ol', { id: 'timeline', reversed: true }, entries.map((e) => h('li', { 'data-version': e.version, value: e.version },
    h('strong', { text: 'v' + e.version }), ' ', time(e.at),
    h('span', { className: 'changes' }, (e.changes || []).length ? e.changes.map((c) => {
      const inn = c.change === 'entered';
      return h('span', { className: 'chg ' + (inn ? 'in' : 'out'), 'data-change': c.change, 'data-segment': c.segment },
        (inn ? '+' : '\u2212') + c.segment + (c.definition_version ? ' (definition ' + c.definition_version + ')' : ''));
    }) : muted('no change', 'span'))))));
  if (!entries.length) main.append(muted('No label versions yet.'));
  else if (!hist.complete) main.append(muted('Older versions are not shown.'));
}

const EXAMPLE = 'name: big_spenders\ndescription: spent over 500 in 90 days\nenter: spend_in(90) > 500.0\n';
const DRAFT = 'segstream.draft';
const store = (f) => { try { return f(sessionStorage); } catch (_) { return null; } };

async function pageEditor() {
  const draft = store((s) => { const d = s.getItem(DRAFT); s.removeItem(DRAFT); return d; });
  const ta = h('textarea', { id: 'definition', name: 'definition', rows: 12, autocapitalize: 'off', 'aria-describedby': 'editor-help definition-error' });
  ta.value = draft || EXAMPLE;
  ta.spellcheck = false;
  const errBox = h('div', { id: 'definition-error', role: 'alert', className: 'error' });
  const result = h('p', { id: 'preview-result', role: 'status', className: 'result' });
  const extra = h('div', { id: 'preview-keys' });
  const pub = h('p', { id: 'publish-result', role: 'status', className: 'result' });
  const check = h('button', { id: 'check', type: 'button', text: 'Check and preview' });
  const live = h('input', { id: 'live', type: 'checkbox' });
  live.checked = true;
  const publish = h('button', { id: 'publish', type: 'button', className: 'secondary', text: 'Publish' });
  main.replaceChildren(h('h1', { text: 'Segment editor' }), h('label', { for: 'definition', text: 'Definition (YAML)' }), ta,
    h('p', { id: 'editor-help', className: 'muted', text: 'Fields: name, description, enter, exit, min_dwell, each, explain, version. Ctrl+Enter checks; with Live preview a pause in typing does.' }),
    h('div', { className: 'actions' }, check, publish, h('label', { className: 'live' }, live, ' Live preview')), errBox, result, extra, pub);

  const invalid = () => ta.setAttribute('aria-invalid', 'true');
  const showErr = (e) => {
    if (e.status === 401) { store((s) => s.setItem(DRAFT, ta.value)); return showLogin(); }
    if (e.status === 403) return fillAlert(errBox, { message: 'Previewing and publishing need an admin token: log out and sign in with one.' });
    fillAlert(errBox, e);
    if (e.status === 400 || e.status === 409) {
      invalid();
      const d = e.details.find((x) => x.line);
      if (d) selectLine(ta, d.line);
    }
  };
  // busy runs fn with both buttons off and the outputs cleared.
  const busy = (btn, out, fn) => async () => {
    check.disabled = publish.disabled = true;
    btn.setAttribute('aria-busy', 'true');
    errBox.replaceChildren(); ta.removeAttribute('aria-invalid');
    out.replaceChildren(); out.className = 'result';
    for (const k of Object.keys(out.dataset)) delete out.dataset[k];
    try { await fn(); } catch (e) { showErr(e); }
    check.disabled = publish.disabled = false;
    btn.removeAttribute('aria-busy');
  };
  let lastText = null; // the text of the newest preview
  const run = busy(check, result, async () => {
    lastText = ta.value;
    extra.replaceChildren();
    const r = (await api('/v1/segments/preview', { method: 'POST', body: ta.value })).body;
    const segs = r.segments || [];
    const size = segs.reduce((a, s) => a + s.size, 0);
    const sample = segs.flatMap((s) => s.sample || []).slice(0, 5);
    result.dataset.size = size;
    result.dataset.profiles = r.profiles;
    result.className = 'result ok';
    result.textContent = nf.format(size) + ' of ' + nf.format(r.profiles) + ' profiles (' + (r.profiles ? 100 * size / r.profiles : 0).toFixed(1) + '%)' +
      (sample.length ? ' \u2014 e.g. ' + sample.join(', ') : '');
    extra.append(muted('Evaluated at ' + utc(r.at) + ' in ' + nf.format(Math.round(r.took_ms)) + ' ms.'));
    if (segs.length > 1) extra.append(table('preview-segments', 'Per key', ['Segment', 'Members'], segs.map((s) => h('tr', { 'data-segment': s.name },
      h('td', { text: s.name }), h('td', { className: 'num', 'data-size': s.size, text: nf.format(s.size) })))));
  });
  check.addEventListener('click', run);
  ta.addEventListener('keydown', (ev) => { if (ev.key === 'Enter' && (ev.ctrlKey || ev.metaKey)) { ev.preventDefault(); if (!check.disabled) run(); } });
  // live preview: a pause in typing previews the text, once per text
  let timer = 0;
  const later = () => {
    clearTimeout(timer);
    timer = setTimeout(() => {
      if (!live.checked || ta.value === lastText) return;
      if (check.disabled) return later();
      run();
    }, 800);
  };
  ta.addEventListener('input', () => { ta.removeAttribute('aria-invalid'); later(); });
  live.addEventListener('change', later);
  publish.addEventListener('click', busy(publish, pub, async () => {
    const name = yamlName(ta.value);
    if (!name) { invalid(); return fillAlert(errBox, { message: 'The definition has no name: add a line like "name: my_segment".' }); }
    const c = (await api('/v1/segments/' + enc(name), { method: 'PUT', body: ta.value })).body || {};
    pub.dataset.live = c.live ? 'true' : 'false';
    pub.className = 'result ok';
    pub.append('Published ', segLink(c.name || name), c.version ? ' (version ' + c.version + ')' : '',
      c.live ? ': live, the service evaluates with it now.' : ': pending, the service has not picked it up yet.');
  }));
}

// yamlName reads the top-level name: line of a YAML definition.
function yamlName(text) {
  const m = /^name:[ \t]*(.*)$/m.exec(text);
  let v = m ? m[1].replace(/[ \t]+#.*$/, '').trim() : '';
  if (/^(['"]).*\1$/.test(v)) v = v.slice(1, -1);
  return v;
}

// selectLine selects 1-based line n of the textarea and scrolls to it.
function selectLine(ta, n) {
  const lines = ta.value.split('\n');
  if (n > lines.length) return;
  const start = lines.slice(0, n - 1).reduce((a, s) => a + s.length + 1, 0);
  ta.focus();
  ta.setSelectionRange(start, start + lines[n - 1].length);
  ta.scrollTop = Math.max(0, (n - 3) * (parseFloat(getComputedStyle(ta).lineHeight) || 20));
}

async function pageHealth() {
  const box = h('div', { id: 'health' }, muted('Loading…'));
  const err = h('div', {});
  main.replaceChildren(h('h1', { text: 'Health' }), muted('Refreshes every 5 s.'), err, box);
  let first = true;
  const tick = async () => {
    if (first || !document.hidden) {
      try {
        renderHealth(box, await get('/v1/health'));
        err.replaceChildren();
      } catch (e) {
        fail(e, err);
        if (loginShown) return;
      }
      if (first) { first = false; ready(); }
    }
    setTimeout(tick, 5000);
  };
  await tick();
}

function renderHealth(box, b) {
  const c = b.consumer || {}, l = b.labels || {}, parts = c.partitions || [], dl = b.dead_letters || [];
  const card = (title, p) => h('div', { className: 'card' }, h('h2', { text: title }), p);
  const val = (id, title, v) => card(title, h('p', { id, className: 'stat', 'data-value': raw(v), text: v == null ? 'unknown' : nf.format(v) }));
  const ms = (v) => (v == null ? 'unknown' : Math.round(v) + ' ms');
  box.replaceChildren(muted(b.at ? 'As of ' + utc(b.at) : ''),
    h('div', { className: 'cards' },
      card('Labelling latency', h('p', { id: 'latency', className: 'stat', 'data-p50': raw(l.latency_p50_ms), 'data-p99': raw(l.latency_p99_ms),
        text: 'p50 ' + ms(l.latency_p50_ms) + ', p99 ' + ms(l.latency_p99_ms) })),
      val('backlog', 'Backlog', l.backlog), val('interests-backlog', 'Interests backlog', l.interests_backlog),
      val('evaluated', 'Evaluated', l.evaluated), val('events-in', 'Events in', c.events_in)),
    h('h2', { text: 'Consumer' }),
    table('lag', 'Consumer lag per partition', ['Topic', 'Partition', 'Lag'], parts.length ? parts.map((p) => h('tr', { 'data-topic': p.topic, 'data-partition': raw(p.partition) },
      h('td', {}, h('code', { text: p.topic })), h('td', { className: 'num', text: raw(p.partition) }),
      h('td', { className: 'lag', 'data-value': raw(p.lag), text: p.lag == null ? 'unknown' : nf.format(p.lag) }))) : emptyRow(3, 'No partitions assigned.')),
    h('h2', { text: 'Dead letters' }),
    table('dlq', 'Dead letters by reason', ['Reason', 'Count'], dl.length ? dl.map((d) => h('tr', { 'data-reason': d.reason },
      h('td', {}, h('code', { text: d.reason })), h('td', { className: 'count', 'data-value': raw(d.count), text: num(d.count) }))) : emptyRow(2, 'none')));
}

// ---- start ----

const pages = { segments: pageSegments, segment: pageSegment, user: pageUser, editor: pageEditor, health: pageHealth };

(async () => {
  const f = pages[body.dataset.page];
  if (f) {
    try { await f(); } catch (e) { fail(e); }
  } else { // sign-in and message pages come from the server
    const t = document.getElementById('token');
    if (t) t.focus();
  }
  ready();
})();
