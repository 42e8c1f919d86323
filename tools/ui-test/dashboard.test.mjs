#!/usr/bin/env node
// Browser test of the /ui/ dashboard: drives Debian's chromium with
// playwright-core (installed by tools/ui-test/setup.sh into var/ui-test/) and
// compares what each page shows with what the /v1 JSON API answers.
// No test framework: prints one line per check and exits 0 when every check
// passed, 1 otherwise (or when the environment is incomplete).
//
// Environment:
//   BASE        the service's API listener, e.g. http://127.0.0.1:8080 (required)
//   TOKEN       an admin bearer token (required; previews need admin)
//   OUT         a directory for the screenshots (required; created if missing)
//   UI_MODULES  the node_modules holding playwright-core (default: the first
//               entry of NODE_PATH, else var/ui-test/node_modules beside this repo)
//   CHROMIUM    the browser (default /usr/bin/chromium)
//   UI_TIMEOUT_MS  the wait for each page or element (default 15000)
//
// Screenshots: segments-1280.png, segments-390.png, segment.png, user.png,
// editor.png, health.png, and fail-CHECK.png for a check that failed;
// events.json lists every console error or warning, page error, failed
// request and HTTP error the pages had, expected or not.
//
// The pages are /ui/ (the segments list and the login form), /ui/segment?name=,
// /ui/user?id=, /ui/editor and /ui/health; a page is ready when its body has
// data-ready="1".
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const HERE = dirname(fileURLToPath(import.meta.url));
const env = process.env;
const BASE = (env.BASE || '').replace(/\/+$/, '');
const TOKEN = env.TOKEN || '';
const OUT = env.OUT ? resolve(env.OUT) : '';
const MODULES = resolve(env.UI_MODULES || (env.NODE_PATH || '').split(':').find(Boolean) ||
  join(HERE, '..', '..', 'var', 'ui-test', 'node_modules'));
const CHROMIUM = env.CHROMIUM || '/usr/bin/chromium';
const TIMEOUT = Number(env.UI_TIMEOUT_MS) > 0 ? Number(env.UI_TIMEOUT_MS) : 15000;
const TOTAL_TIMEOUT = 40 * TIMEOUT; // the whole run, past which it fails

const LAUNCH_ARGS = ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
  '--disable-background-networking', '--disable-component-update', '--disable-sync',
  '--disable-dev-shm-usage'];
const BAD_RULE = 'name: broken\nenter: spend_in(90) >\n';
const GOOD_RULE = 'name: ui_preview_probe\nenter: days_since_first_event < 30.0\n';

function usage(msg) {
  console.error(`dashboard.test.mjs: ${msg}`);
  console.error('usage: BASE=http://127.0.0.1:PORT TOKEN=ADMIN_TOKEN OUT=DIR [UI_MODULES=var/ui-test/node_modules] node tools/ui-test/dashboard.test.mjs');
  process.exit(1);
}
if (!BASE) usage('BASE is not set');
if (!/^https?:\/\//.test(BASE)) usage(`BASE ${BASE} is not an http(s) URL`);
if (!TOKEN) usage('TOKEN is not set');
if (!OUT) usage('OUT is not set');
mkdirSync(OUT, { recursive: true });

let chromium;
try {
  ({ chromium } = await import(pathToFileURL(join(MODULES, 'playwright-core', 'index.mjs')).href));
} catch (e) {
  usage(`cannot load playwright-core from ${MODULES} (run tools/ui-test/setup.sh): ${e.message}`);
}

const overall = setTimeout(() => {
  console.error(`FAIL timeout: the run took more than ${TOTAL_TIMEOUT} ms`);
  process.exit(1);
}, TOTAL_TIMEOUT);
overall.unref();

// ---- the API, fetched directly with the bearer token ----------------------

async function api(method, path, body) {
  const headers = { Authorization: `Bearer ${TOKEN}`, Accept: 'application/json' };
  if (body !== undefined) headers['Content-Type'] = 'application/yaml';
  let res;
  try {
    res = await fetch(BASE + path, { method, headers, body, signal: AbortSignal.timeout(TIMEOUT) });
  } catch (e) {
    throw new Error(`${method} ${path}: ${e.cause?.message || e.message}`);
  }
  const text = await res.text();
  let json;
  try { json = JSON.parse(text); } catch { json = undefined; }
  return { status: res.status, json, text };
}

async function getJSON(path) {
  const r = await api('GET', path);
  if (r.status !== 200 || r.json === undefined) {
    throw new Error(`GET ${path}: HTTP ${r.status}: ${r.text.slice(0, 300)}`);
  }
  return r.json;
}

const enc = encodeURIComponent;
const norm = (s) => String(s ?? '').replace(/\s+/g, ' ').trim();
const fmt = (v) => JSON.stringify(v);

// sizes: name -> size for every definition and every family key.
async function apiSizes() {
  const body = await getJSON('/v1/segments');
  const sizes = new Map();
  for (const s of body.segments || []) {
    sizes.set(s.name, s.size);
    for (const [k, v] of Object.entries(s.keys || {})) if (!sizes.has(k)) sizes.set(k, v);
  }
  return { defs: (body.segments || []).map((s) => s.name), sizes };
}

async function previewSize(rule, name) {
  const r = await api('POST', '/v1/segments/preview', rule);
  if (r.status !== 200 || !r.json) throw new Error(`POST /v1/segments/preview (${fmt(rule)}): HTTP ${r.status}: ${r.text.slice(0, 300)}`);
  const seg = (r.json.segments || []).find((s) => s.name === name) ?? (r.json.segments || [])[0];
  if (!seg) throw new Error(`POST /v1/segments/preview gave no segment: ${r.text.slice(0, 300)}`);
  return seg.size;
}

// The count a consumer.partitions value stands for: an array's or an
// object's length, or the number itself.
function countOf(v) {
  if (Array.isArray(v)) return v.length;
  if (v && typeof v === 'object') return Object.keys(v).length;
  if (typeof v === 'number') return v;
  return undefined;
}

// ---- the browser and what it reports ---------------------------------------

const events = [];   // every event, expected or not
const problems = []; // the unexpected ones
let phase = 'start';
let allowances = []; // predicates: events the test provokes on purpose
let leaving = false; // navigating away: aborted requests of the old page are normal

function record(ev) {
  ev.phase = phase;
  ev.expected = allowances.some((a) => a(ev));
  events.push(ev);
  if (ev.expected) return;
  if (ev.kind === 'requestfailed' && leaving && /ERR_ABORTED/.test(ev.text)) { ev.expected = true; return; }
  problems.push(ev);
}

function describe(ev) {
  const where = ev.url ? ` (${ev.method ? ev.method + ' ' : ''}${ev.url})` : '';
  return `[${ev.phase}] ${ev.kind}: ${norm(ev.text).slice(0, 500)}${where}`;
}

// allow(status, urlPart): the responses with that status whose URL contains
// urlPart, and the console's "Failed to load resource" line for them.
function allow(status, urlPart) {
  const a = (ev) => (ev.url || '').includes(urlPart) &&
    ((ev.kind === 'response' && ev.status === status) ||
     (ev.kind.startsWith('console') && ev.text.includes(`status of ${status}`)));
  allowances.push(a);
  return () => { allowances = allowances.filter((x) => x !== a); };
}

let browser, context, page;

async function launch() {
  browser = await chromium.launch({ executablePath: CHROMIUM, headless: true, args: LAUNCH_ARGS, timeout: 4 * TIMEOUT });
  context = await browser.newContext({
    viewport: { width: 1280, height: 800 }, deviceScaleFactor: 1, locale: 'en-US',
    timezoneId: 'UTC', colorScheme: 'light', serviceWorkers: 'block',
  });
  context.setDefaultTimeout(TIMEOUT);
  context.setDefaultNavigationTimeout(TIMEOUT);
  page = await context.newPage();
  page.on('console', (m) => {
    const t = m.type();
    if (t === 'error' || t === 'warning') record({ kind: `console.${t}`, text: m.text(), url: m.location()?.url || '' });
  });
  page.on('pageerror', (e) => record({ kind: 'pageerror', text: String((e && (e.stack || e.message)) || e) }));
  page.on('requestfailed', (r) => record({ kind: 'requestfailed', method: r.method(), url: r.url(), text: r.failure()?.errorText || 'failed' }));
  page.on('response', (r) => {
    if (r.status() >= 400) {
      record({ kind: 'response', method: r.request().method(), url: r.url(), status: r.status(), text: `HTTP ${r.status()} ${r.statusText()}` });
    }
  });
}

const loginVisible = () => page.locator('form#login').isVisible();

// open(path): navigates, waits for body[data-ready="1"], and fails when the
// login form shows (the cookie did not authenticate).
async function open(path) {
  leaving = true;
  let resp;
  try {
    resp = await page.goto(BASE + path, { waitUntil: 'load' });
  } finally {
    leaving = false;
  }
  if (resp && resp.status() >= 400) throw new Error(`GET ${path}: HTTP ${resp.status()}`);
  await page.waitForSelector('body[data-ready="1"]', { state: 'attached' })
    .catch(() => { throw new Error(`${path}: body[data-ready="1"] did not appear within ${TIMEOUT} ms`); });
  if (await loginVisible()) throw new Error(`${path}: shows form#login: the session cookie did not authenticate`);
}

async function shot(file, fullPage = true) {
  await page.screenshot({ path: join(OUT, file), fullPage, animations: 'disabled' });
}

// settle: two animation frames and a short pause, for late events and layout.
async function settle(ms = 250) {
  if (!page) return;
  await page.evaluate(() => new Promise((r) => requestAnimationFrame(() => requestAnimationFrame(r)))).catch(() => {});
  await page.waitForTimeout(ms).catch(() => {});
}

async function attr(selector, name) {
  const loc = page.locator(selector).first();
  await loc.waitFor({ state: 'attached' }).catch(() => { throw new Error(`${selector} is not on the page (within ${TIMEOUT} ms)`); });
  const v = await loc.getAttribute(name);
  if (v === null) throw new Error(`${selector} has no ${name} attribute`);
  return v;
}

// sameNumber(shown, want, again): a live value may move between the API
// call and the page's own; compare with a fresh API value when the first differs.
async function sameNumber(what, shown, want, again) {
  if (Number(shown) === Number(want) && String(shown).trim() !== '') return want;
  const now = await again();
  if (Number(shown) === Number(now) && String(shown).trim() !== '') return now;
  throw new Error(`${what}: the page shows ${fmt(shown)}, the API ${fmt(want)}${now !== want ? ` (then ${fmt(now)})` : ''}`);
}

// ---- the checks ----------------------------------------------------------------

let passed = 0, failed = 0;

async function check(name, fn) {
  phase = name;
  const before = problems.length;
  let detail, err;
  try {
    detail = await fn();
  } catch (e) {
    err = e;
  }
  await settle();
  const mine = problems.slice(before);
  if (!err && mine.length === 0) {
    passed++;
    console.log(`ok   ${name}: ${detail ?? ''}`);
    return true;
  }
  failed++;
  const why = [];
  if (err) why.push(err.message || String(err));
  if (mine.length) why.push(`${mine.length} unexpected browser event(s) on a page that should load cleanly:`);
  console.log(`FAIL ${name}: ${why.join('; ')}`);
  for (const ev of mine) console.log(`       ${describe(ev)}`);
  if (page) await shot(`fail-${name}.png`).catch(() => {});
  return false;
}

const A = {}; // what the API says

async function main() {
  const okAPI = await check('api', async () => {
    const anon = await fetch(BASE + '/v1/segments', { signal: AbortSignal.timeout(TIMEOUT) })
      .catch((e) => { throw new Error(`GET ${BASE}/v1/segments: ${e.cause?.message || e.message}`); });
    if (anon.status !== 401) throw new Error(`GET /v1/segments without a token: HTTP ${anon.status}, want 401`);
    const segs = await getJSON('/v1/segments');
    A.segments = segs.segments || [];
    if (A.segments.length === 0) throw new Error('GET /v1/segments: no definitions');
    const plain = A.segments.filter((s) => !s.name.includes('*')).sort((a, b) => b.size - a.size);
    if (plain.length === 0) throw new Error('GET /v1/segments: no plain segment (every name has a *)');
    A.name = plain[0].name;
    A.segment = await getJSON(`/v1/segments/${enc(A.name)}`);
    const m = await getJSON(`/v1/segments/${enc(A.name)}/members?limit=5`);
    if (!m.members?.length) throw new Error(`segment ${A.name} (the largest plain one, size ${A.segment.size}) has no members: the service needs data`);
    A.firstMember = m.members[0].user_id;
    A.user = A.firstMember;
    A.userDoc = await getJSON(`/v1/users/${enc(A.user)}`);
    A.history = await getJSON(`/v1/users/${enc(A.user)}/history`);
    A.health = await getJSON('/v1/health');
    return `${A.segments.length} definitions; largest plain segment ${fmt(A.name)} (size ${A.segment.size}); user ${fmt(A.user)}`;
  });
  if (!okAPI) return;

  await launch();

  const okLogin = await check('login', async () => {
    const done = allow(401, '/');
    try {
      await page.goto(BASE + '/ui/', { waitUntil: 'load' });
      await page.locator('form#login').waitFor({ state: 'visible' })
        .catch(() => { throw new Error(`/ui/ without a cookie: form#login did not show within ${TIMEOUT} ms`); });
      await page.locator('#token').fill(TOKEN);
      const submit = page.locator('form#login [type=submit], form#login button:not([type])').first();
      if (await submit.count()) await submit.click();
      else await page.locator('#token').press('Enter');
      await page.waitForFunction(() => {
        const f = document.querySelector('form#login');
        const shown = f && f.isConnected && f.getClientRects().length > 0 && getComputedStyle(f).visibility !== 'hidden';
        return document.body?.dataset.ready === '1' && !shown;
      }).catch(() => { throw new Error(`after submitting the token: body[data-ready="1"] without form#login did not come within ${TIMEOUT} ms`); });
      const cookies = await context.cookies(BASE);
      if (cookies.length === 0) throw new Error('logged in, but no cookie was set for ' + BASE);
      if (page.url().includes(TOKEN)) throw new Error('the token shows in the page URL');
      await settle();
      return `form#login, token accepted, ${cookies.length} cookie(s) (${cookies.map((c) => `${c.name}${c.httpOnly ? ' HttpOnly' : ''}`).join(', ')})`;
    } finally {
      done();
    }
  });
  if (!okLogin) return;

  await check('segments', async () => {
    let api = await apiSizes();
    await open('/ui/');
    const rows = await page.$$eval('tr[data-segment]', (trs) => trs.map((tr) => ({
      name: tr.dataset.segment, size: tr.querySelector('td.size')?.dataset.size ?? null,
    })));
    const errs = [];
    const seen = new Set();
    for (const r of rows) {
      if (seen.has(r.name)) errs.push(`two rows for ${fmt(r.name)}`);
      seen.add(r.name);
    }
    const missing = api.defs.filter((n) => !seen.has(n));
    if (missing.length) errs.push(`no row for ${missing.map(fmt).join(', ')}`);
    let refreshed = false;
    for (const r of rows) {
      if (!api.sizes.has(r.name)) { errs.push(`row ${fmt(r.name)} is not a segment of the API`); continue; }
      if (r.size === null) { errs.push(`row ${fmt(r.name)} has no td.size[data-size]`); continue; }
      if (Number(r.size) === api.sizes.get(r.name) && r.size.trim() !== '') continue;
      if (!refreshed) { api = await apiSizes(); refreshed = true; } // sizes are live: once more
      if (Number(r.size) !== api.sizes.get(r.name) || r.size.trim() === '') {
        errs.push(`row ${fmt(r.name)} shows size ${fmt(r.size)}, the API ${api.sizes.get(r.name)}`);
      }
    }
    if (errs.length) throw new Error(errs.join('; '));
    await shot('segments-1280.png');
    await page.setViewportSize({ width: 390, height: 844 });
    try {
      await settle();
      await shot('segments-390.png');
      const sw = await page.evaluate(() => document.documentElement.scrollWidth);
      if (sw > 391) throw new Error(`at 390x844 the page is ${sw}px wide (horizontal overflow; want <= 391)`);
    } finally {
      await page.setViewportSize({ width: 1280, height: 800 });
    }
    return `${rows.length} rows, every definition has one and each size matches the API; no overflow at 390px`;
  });

  await check('contrast', async () => {
    await open('/ui/');
    // Colours are composited on a canvas, so any CSS colour syntax (oklch,
    // color(), alpha) comes out as sRGB bytes; the page background is the
    // html's and the body's over the white canvas.
    const c = await page.evaluate(() => {
      const cv = document.createElement('canvas');
      cv.width = cv.height = 1;
      const g = cv.getContext('2d', { willReadFrequently: true });
      const over = (base, css) => {
        g.clearRect(0, 0, 1, 1);
        g.fillStyle = base; g.fillRect(0, 0, 1, 1);
        g.fillStyle = css; g.fillRect(0, 0, 1, 1);
        const d = g.getImageData(0, 0, 1, 1).data;
        return `rgb(${d[0]}, ${d[1]}, ${d[2]})`;
      };
      const html = getComputedStyle(document.documentElement);
      const body = getComputedStyle(document.body);
      const bg = over(over('#ffffff', html.backgroundColor), body.backgroundColor);
      const fg = over(bg, body.color);
      return { bg, fg, cssColor: body.color, cssBackground: body.backgroundColor };
    });
    const rgb = (s) => s.match(/\d+/g).slice(0, 3).map(Number);
    const lum = ([r, g, b]) => {
      const f = (v) => { v /= 255; return v <= 0.03928 ? v / 12.92 : ((v + 0.055) / 1.055) ** 2.4; };
      return 0.2126 * f(r) + 0.7152 * f(g) + 0.0722 * f(b);
    };
    const [l1, l2] = [lum(rgb(c.fg)), lum(rgb(c.bg))].sort((a, b) => b - a);
    const ratio = (l1 + 0.05) / (l2 + 0.05);
    const text = `body text ${c.fg} (${c.cssColor}) on ${c.bg} (${c.cssBackground}): contrast ${ratio.toFixed(2)}:1`;
    if (!(ratio >= 4.5)) throw new Error(`${text}, want at least 4.5:1`);
    return text;
  });

  await check('segment', async () => {
    await open(`/ui/segment?name=${enc(A.name)}`);
    const size = await attr('#size', 'data-value');
    await sameNumber(`segment ${A.name} #size`, size, A.segment.size,
      async () => (await getJSON(`/v1/segments/${enc(A.name)}`)).size);
    const users = await page.$$eval('ul#members li[data-user]', (lis) => lis.map((li) => li.dataset.user));
    if (users.length === 0) throw new Error(`ul#members has no li[data-user] (the API lists members, first ${fmt(A.firstMember)})`);
    if (users[0] !== A.firstMember) {
      const now = (await getJSON(`/v1/segments/${enc(A.name)}/members?limit=5`)).members?.[0]?.user_id;
      if (users[0] !== now) throw new Error(`the first member shown is ${fmt(users[0])}, the API's ${fmt(A.firstMember)}`);
    }
    await shot('segment.png');
    return `${fmt(A.name)}: size ${size}, ${users.length} members shown, first ${fmt(users[0])}`;
  });

  await check('user', async () => {
    await open(`/ui/user?id=${enc(A.user)}`);
    const shown = await page.$$eval('#user-segments li[data-segment]', (lis) => lis.map((li) => li.dataset.segment));
    const want = [...new Set(A.userDoc.label?.segments || [])].sort();
    const got = [...new Set(shown)].sort();
    if (fmt(got) !== fmt(want)) {
      const now = [...new Set((await getJSON(`/v1/users/${enc(A.user)}`)).label?.segments || [])].sort();
      if (fmt(got) !== fmt(now)) throw new Error(`#user-segments shows ${fmt(got)}, the API's label.segments are ${fmt(want)}`);
    }
    const versions = await page.$$eval('ol#timeline li[data-version]', (lis) => lis.map((li) => li.dataset.version));
    const entries = A.history.entries || [];
    if (entries.length === 0) {
      if (versions.length) throw new Error(`ol#timeline shows versions ${fmt(versions)}, the API's history has none`);
    } else {
      if (versions.length === 0) throw new Error(`ol#timeline has no li[data-version]; the API's history starts at version ${entries[0].version}`);
      await sameNumber('ol#timeline first data-version', versions[0], entries[0].version,
        async () => (await getJSON(`/v1/users/${enc(A.user)}/history`)).entries?.[0]?.version);
    }
    await shot('user.png');
    return `${fmt(A.user)}: segments ${fmt(got)}, ${versions.length} timeline entries, newest version ${versions[0] ?? '-'}`;
  });

  const previewResult = '#preview-result[data-size]';
  const clearResult = () => page.evaluate(() => document.querySelector('#preview-result')?.removeAttribute('data-size'));
  const waitResult = async (how) => {
    await page.waitForSelector(previewResult, { state: 'attached' })
      .catch(() => { throw new Error(`${how}: ${previewResult} did not appear within ${TIMEOUT} ms`); });
    return page.locator(previewResult).getAttribute('data-size');
  };

  await check('editor', async () => {
    const bad = await api('POST', '/v1/segments/preview', BAD_RULE);
    if (bad.status !== 400 || !bad.json) throw new Error(`POST /v1/segments/preview with the bad rule: HTTP ${bad.status}, want 400: ${bad.text.slice(0, 300)}`);
    const wantMsg = norm(bad.json.message);
    const wantDetail = norm(bad.json.details?.[0]?.message);
    const goodSize = await previewSize(GOOD_RULE, 'ui_preview_probe');

    await open('/ui/editor');
    const done = allow(400, '/segments/preview'); // the bad rule's 400 is provoked on purpose
    let errText;
    try {
      await page.locator('textarea#definition').fill(BAD_RULE);
      await page.locator('button#check').click();
      const errEl = page.locator('#definition-error');
      await errEl.waitFor({ state: 'visible' })
        .catch(() => { throw new Error(`the bad rule: #definition-error did not become visible within ${TIMEOUT} ms`); });
      await page.waitForFunction(() => document.querySelector('#definition-error')?.textContent.trim() !== '')
        .catch(() => { throw new Error('the bad rule: #definition-error stayed empty'); });
      errText = norm(await errEl.textContent());
      await settle();
    } finally {
      done();
    }
    if (!(wantMsg && errText.includes(wantMsg)) && !(wantDetail && errText.includes(wantDetail))) {
      throw new Error(`#definition-error says ${fmt(errText)}; it should contain the API's message ${fmt(wantMsg)} or its first detail ${fmt(wantDetail)}`);
    }

    await page.locator('textarea#definition').fill(GOOD_RULE);
    await clearResult();
    await page.locator('button#check').click();
    const size = await waitResult('the good rule');
    await sameNumber('#preview-result data-size', size, goodSize, () => previewSize(GOOD_RULE, 'ui_preview_probe'));
    if (await page.locator('#definition-error').isVisible() && norm(await page.locator('#definition-error').textContent()) !== '') {
      throw new Error(`after the good rule, #definition-error still shows ${fmt(norm(await page.locator('#definition-error').textContent()))}`);
    }
    await shot('editor.png');
    return `bad rule: ${fmt(errText.slice(0, 120))}; good rule: size ${size} as the API previews`;
  });

  await check('editor-keyboard', async () => {
    await open('/ui/editor');
    const active = () => page.evaluate(() => document.activeElement?.id || '');
    let presses = 0;
    while ((await active()) !== 'definition') {
      if (presses === 30) throw new Error(`30 Tab presses from the page start did not reach textarea#definition (focus on ${fmt(await page.evaluate(() => document.activeElement?.outerHTML.slice(0, 120)))})`);
      await page.keyboard.press('Tab');
      presses++;
    }
    await page.keyboard.press('Control+A');
    await page.keyboard.insertText(GOOD_RULE);
    await clearResult();
    await page.keyboard.press('Control+Enter');
    const size = await waitResult('Control+Enter in the textarea');
    await sameNumber('#preview-result data-size after Control+Enter', size, await previewSize(GOOD_RULE, 'ui_preview_probe'),
      () => previewSize(GOOD_RULE, 'ui_preview_probe'));
    return `${presses} Tab press(es) reach textarea#definition; Control+Enter checks it (size ${size})`;
  });

  await check('editor-live', async () => {
    const rule = 'name: ui_live_probe\nenter: days_since_first_event < 10.0\n';
    await open('/ui/editor');
    await page.locator('textarea#definition').fill(rule);
    await clearResult();
    // no click and no key: a pause in typing previews it
    const size = await waitResult('a pause after typing (live preview)');
    await sameNumber('#preview-result data-size of the live preview', size, await previewSize(rule, 'ui_live_probe'),
      () => previewSize(rule, 'ui_live_probe'));
    return `a pause in typing previews the rule (size ${size})`;
  });

  await check('health', async () => {
    await open('/ui/health');
    const backlog = await attr('#backlog', 'data-value');
    const want = A.health.labels?.backlog;
    if (want === undefined) throw new Error(`GET /v1/health has no labels.backlog: ${fmt(A.health).slice(0, 300)}`);
    await sameNumber('#backlog data-value', backlog, want, async () => (await getJSON('/v1/health')).labels?.backlog);
    const rows = await page.locator('table#lag tr[data-partition]').count();
    const wantRows = countOf(A.health.consumer?.partitions);
    if (wantRows === undefined) throw new Error(`GET /v1/health has no consumer.partitions: ${fmt(A.health).slice(0, 300)}`);
    if (rows !== wantRows) {
      const now = countOf((await getJSON('/v1/health')).consumer?.partitions);
      if (rows !== now) throw new Error(`table#lag has ${rows} tr[data-partition], the API ${wantRows} partitions`);
    }
    await shot('health.png');
    return `backlog ${backlog}, ${rows} partition rows`;
  });
}

try {
  await main();
} catch (e) {
  failed++;
  console.log(`FAIL ${phase}: ${e.stack || e.message}`);
} finally {
  try { writeFileSync(join(OUT, 'events.json'), JSON.stringify(events, null, 2) + '\n'); } catch { /* best effort */ }
  if (browser) await browser.close().catch(() => {});
}
const CHECKS = 9;
const total = passed + failed;
if (total < CHECKS) {
  if (failed === 0) failed++;
  console.log(`FAIL run: only ${total} of ${CHECKS} checks ran (the later ones need the ones that failed)`);
}
console.log(`dashboard ui-test: ${passed} of ${passed + failed} checks ok${failed ? `, ${failed} failed` : ''}; screenshots in ${OUT}`);
process.exit(failed ? 1 : 0);
