// dashboard.test.js - the dashboard in headless Debian chromium, driven by playwright-core,
// against a running obsflowd (started by test_web_dashboard.py, which passes):
//   DASH_BASE      http://127.0.0.1:PORT of obsflowd (with OBSFLOW_API_TOKEN=DASH_TOKEN)
//   DASH_TOKEN     the service's API token
//   DASH_PGDIR     its private PostgreSQL cluster (tools/pg_down.sh / pg_up.sh stop and start it)
//   DASH_PID       obsflowd's pid (stopped at the end: the service-unreachable banner)
//   DASH_ARTIFACTS directory for the screenshots
//   OBSFLOW_SOURCE_DIR the source tree (tools/, web/node_modules/playwright-core)
// Every check waits for what the page shows after polling: nothing reloads the page (a marker
// set in the window at the start must still be there at each check).
// SPDX-License-Identifier: Apache-2.0
'use strict';
const path = require('node:path');
const fs = require('node:fs');
const os = require('node:os');
const {execFileSync} = require('node:child_process');

const SRC = process.env.OBSFLOW_SOURCE_DIR;
const BASE = process.env.DASH_BASE;
const TOKEN = process.env.DASH_TOKEN;
const PGDIR = process.env.DASH_PGDIR;
const ART = process.env.DASH_ARTIFACTS;
const {chromium} = require(path.join(SRC, 'web/node_modules/playwright-core'));

const WAIT = 30000;
let step = 'start';
function log(msg) { console.log(`[${new Date().toISOString()}] ${msg}`); }
function fail(msg) { throw new Error(`${step}: ${msg}`); }

async function api(method, p, body, token) {
  const headers = {'Content-Type': 'application/json'};
  if (token) headers.Authorization = 'Bearer ' + token;
  const r = await fetch(BASE + p, {method, headers, body: body === undefined ? undefined : JSON.stringify(body)});
  let json = null;
  try { json = await r.json(); } catch (_) { /* empty */ }
  return {status: r.status, json};
}
async function submit(spec) {
  const r = await api('POST', '/v1/jobs', spec, TOKEN);
  if (r.status !== 202) fail(`POST /v1/jobs answered ${r.status}: ${JSON.stringify(r.json)}`);
  return r.json.id;
}
async function waitApi(pred, what) {
  const end = Date.now() + WAIT;
  while (Date.now() < end) {
    if (await pred()) return;
    await new Promise((r) => setTimeout(r, 100));
  }
  fail('timed out waiting for ' + what);
}

(async () => {
  fs.mkdirSync(ART, {recursive: true});
  const profile = fs.mkdtempSync(path.join(os.tmpdir(), 'obsflow-pw-'));
  const browser = await chromium.launch({
    executablePath: '/usr/bin/chromium', headless: true,
    args: ['--no-sandbox', '--disable-gpu', '--disable-dev-shm-usage', '--disable-quic', '--no-first-run',
      '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });
  const problems = [];   // console errors and page errors not expected in their step
  let allowed = null;    // a RegExp of console errors expected in the current step
  const watch = (page, who) => {
    page.on('console', (m) => {
      if (m.type() !== 'error') return;
      const t = m.text();
      if (allowed && allowed.test(t)) return;
      problems.push(`${who} console error in step "${step}": ${t}`);
    });
    page.on('pageerror', (e) => problems.push(`${who} page error in step "${step}": ${e.message}`));
  };
  const shot = async (page, name) => {
    await page.screenshot({path: path.join(ART, name + '.png'), fullPage: true});
    log('screenshot ' + name + '.png');
  };
  try {
    const ctx = await browser.newContext({viewport: {width: 1280, height: 900}});
    const page = await ctx.newPage();
    watch(page, 'operator');

    step = 'load';
    await page.goto(BASE + '/');
    await page.waitForSelector('#running h2', {timeout: WAIT});
    await page.evaluate(() => { window.__noReload = 1; });
    const noReload = async () => {
      if (await page.evaluate(() => window.__noReload) !== 1) fail('the page was reloaded');
    };
    // the embedded files: a 304 on revalidation, and no third-party origin
    const css = await fetch(BASE + '/ui/app.css');
    const etag = css.headers.get('etag');
    if (!etag || css.headers.get('cache-control') !== 'no-cache') fail('app.css without ETag or no-cache');
    const again = await fetch(BASE + '/ui/app.css', {headers: {'If-None-Match': etag}});
    if (again.status !== 304) fail(`If-None-Match answered ${again.status}, not 304`);
    await shot(page, '01-overview-empty');

    step = 'job appears and changes state';
    const sleeper = await submit({kind: 'noop', params: {sleep_ms: 2500}});
    await page.waitForSelector(`#running tr[data-job="${sleeper}"]`, {timeout: WAIT});
    await page.waitForSelector(`#running tr[data-job="${sleeper}"] .bar`, {timeout: WAIT});  // its step's progress
    await shot(page, '02-overview-running');
    await page.click(`#running tr[data-job="${sleeper}"] a`);
    await page.waitForFunction(() => /^#\/jobs\//.test(location.hash));
    await page.waitForSelector('#job-state .state.succeeded', {timeout: WAIT});
    await page.waitForSelector('text=steps done', {timeout: WAIT}).catch(() => {});
    await noReload();
    await shot(page, '03-job-succeeded');

    step = 'list filters';
    await page.goto(BASE + '/#/jobs?state=succeeded');
    await page.evaluate(() => { window.__noReload = 1; });
    await page.waitForSelector(`#job-results tr[data-job="${sleeper}"]`, {timeout: WAIT});
    await page.selectOption('#f-state', 'failed');
    await page.click('form.filters button[type=submit]');
    await page.waitForSelector('#job-results >> text=No job matches.', {timeout: WAIT});

    step = 'failure shows its error';
    const failing = await submit({kind: 'noop', max_attempts: 1, params: {fail_times: 1}});
    await page.waitForSelector(`#job-results tr[data-job="${failing}"]`, {timeout: WAIT});   // the filter on failed, polled
    const row = await page.textContent(`#job-results tr[data-job="${failing}"]`);
    if (!row.includes('noop_failure')) fail('the failed row lacks its error code: ' + row);
    await page.click('a[data-nav=overview]');
    await page.waitForSelector(`#failures tr[data-job="${failing}"]`, {timeout: WAIT});
    const frow = await page.textContent(`#failures tr[data-job="${failing}"]`);
    if (!frow.includes('noop_failure') || !frow.includes('noop failure 1 of 1')) fail('recent failures row: ' + frow);
    await page.click(`#failures tr[data-job="${failing}"] a`);
    await page.waitForSelector('#job-error', {timeout: WAIT});
    const etext = await page.textContent('#job-error');
    if (!etext.includes('noop_failure')) fail('job page error: ' + etext);
    await noReload();
    await shot(page, '04-job-failed');

    step = 'dataset job: thumbnails and CAOM link';
    const ds = await submit({kind: 'dataset', max_attempts: 1, params: {dataset: 'j8bt05njq',
      input: process.env.DASH_DATASET_IN, output: process.env.DASH_DATASET_OUT, collection: 'DASH'}});
    await page.goto(`${BASE}/#/jobs/${ds}`);
    await page.evaluate(() => { window.__noReload = 1; });
    await page.waitForSelector('#job-state .state.succeeded, #job-state .state.failed', {timeout: 120000});
    if (!await page.$('#job-state .state.succeeded')) fail('the dataset job failed: ' + await page.textContent('#job-error').catch(() => '?'));
    await page.waitForSelector('#job-previews img', {timeout: WAIT});
    await page.waitForFunction(() => [...document.querySelectorAll('#job-previews img')].every((i) => i.complete && i.naturalWidth > 0),
      null, {timeout: WAIT});
    const nimg = await page.$$eval('#job-previews img', (l) => l.length);
    const href = await page.getAttribute('#caom-link', 'href');
    if (href !== '/caom2/observations/DASH/j8bt05njq') fail('CAOM link: ' + href);
    const obs = await fetch(BASE + href);
    const xml = await obs.text();
    if (obs.status !== 200 || !xml.includes('j8bt05njq')) fail(`GET ${href}: ${obs.status}`);
    // only the previews the job's result lists are served
    for (const [name, want] of [['j8bt05njq_raw_thumb.jpg', 200], ['j8bt05njq_flt.fits', 404], ['nope.jpg', 404]]) {
      const r = await fetch(`${BASE}/v1/jobs/${ds}/previews/${name}`);
      if (r.status !== want) fail(`GET previews/${name}: ${r.status}, not ${want}`);
      if (want === 200 && r.headers.get('content-type') !== 'image/jpeg') fail('preview type ' + r.headers.get('content-type'));
    }
    if ((await fetch(`${BASE}/v1/jobs/${sleeper}/previews/x.jpg`)).status !== 404) fail('a noop job has a preview');
    log(`dataset job: ${nimg} thumbnail(s) shown, observation ${href} served`);
    await shot(page, '05-dataset-job');

    step = 'cancel refused without the token';
    const longJob = await submit({kind: 'noop', params: {sleep_ms: 60000}});
    const ctx2 = await browser.newContext({viewport: {width: 1280, height: 900}});  // a tab with no token
    const p2 = await ctx2.newPage();
    watch(p2, 'visitor');
    allowed = /status of 401/;
    await p2.goto(`${BASE}/#/jobs/${longJob}`);
    await p2.waitForSelector('#job-state .state.running', {timeout: WAIT});
    await p2.click('#cancel-btn');
    await p2.waitForSelector('#token-dialog[open]', {timeout: WAIT});
    await p2.click('#token-cancel');
    await p2.waitForSelector('#action-notice', {timeout: WAIT});
    const refused = await p2.textContent('#action-notice');
    if (!/token/i.test(refused)) fail('the refusal does not say why: ' + refused);
    if ((await api('GET', '/v1/jobs/' + longJob)).json.state !== 'running') fail('job no longer running after a refused cancel');
    if ((await api('POST', `/v1/jobs/${longJob}/cancel`, {})).status !== 401) fail('cancel without a token was not a 401');
    // a wrong token is refused too, and the dialog asks again
    await p2.click('#cancel-btn');
    await p2.waitForSelector('#token-dialog[open]', {timeout: WAIT});
    await p2.fill('#token-input', 'not-the-token');
    await p2.click('#token-ok');
    await p2.waitForSelector('#token-dialog[open] >> text=refused', {timeout: WAIT});
    if (await p2.evaluate(() => sessionStorage.getItem('obsflow.token')) !== null) fail('a refused token was kept');
    await shot(p2, '06-cancel-token-prompt');

    step = 'cancel with the token';
    await p2.fill('#token-input', TOKEN);
    await p2.click('#token-ok');
    await p2.waitForSelector('#job-state .state.cancelled', {timeout: WAIT});
    await waitApi(async () => (await api('GET', '/v1/jobs/' + longJob)).json.state === 'cancelled', 'the job cancelled');
    const stored = await p2.evaluate(() => sessionStorage.getItem('obsflow.token'));
    if (stored !== TOKEN) fail('the token is not kept in sessionStorage');
    await shot(p2, '07-job-cancelled');
    // retry with the stored token: no prompt
    await p2.click('#retry-btn');
    await p2.waitForSelector('#action-notice >> text=queued again', {timeout: WAIT});
    await p2.click('#cancel-btn');
    await waitApi(async () => (await api('GET', '/v1/jobs/' + longJob)).json.state === 'cancelled', 'the retried job cancelled');
    allowed = null;
    await ctx2.close();

    step = 'collections view';
    // a collection over the dataset's input directory: one ingest child per raw file
    const def = {source: process.env.DASH_DATASET_IN, include: ['*_raw.fits'],
      rule: '^(?<obs_id>[a-z0-9]{9})_(?<product_id>raw)\\.fits$', job: {kind: 'ingest', profile: 'hst'}};
    const put = await api('PUT', '/v1/collections/dashcoll', def, TOKEN);
    if (put.status !== 201) fail(`PUT /v1/collections/dashcoll answered ${put.status}: ${JSON.stringify(put.json)}`);
    await page.click('a[data-nav=overview]');
    await page.waitForSelector('#collections tr', {timeout: WAIT});
    const never = await page.textContent('#collections');
    if (!/dashcoll/.test(never) || !/never run/.test(never)) fail('a defined collection not shown as never run: ' + never);
    const run = await api('POST', '/v1/collections/dashcoll/run', {}, TOKEN);
    if (run.status !== 202) fail(`POST .../run answered ${run.status}: ${JSON.stringify(run.json)}`);
    // the row follows the run without a reload: its state badge ends succeeded, with counts
    await page.waitForSelector('#collections tr[data-collection="dashcoll"] .state.succeeded', {timeout: 60000});
    const crow = await page.textContent('#collections tr[data-collection="dashcoll"]');
    if (!/listed 1/.test(crow) || !/children 1/.test(crow)) fail('the run\'s outcomes are not shown: ' + crow);
    await noReload();
    await shot(page, '07b-collections');
    // its name opens the job list filtered by the collection
    await page.click('#collections tr[data-collection="dashcoll"] td a');
    await page.waitForFunction(() => /collection=dashcoll/.test(location.hash));
    await page.waitForSelector('#job-results tr[data-job]', {timeout: WAIT});

    step = 'phone width and keyboard';
    await page.goto(BASE + '/');
    await page.evaluate(() => { window.__noReload = 1; });
    await page.setViewportSize({width: 375, height: 800});
    await page.click('a[data-nav=overview]');
    await page.waitForSelector('#running h2', {timeout: WAIT});
    await page.waitForTimeout(300);
    const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
    if (overflow > 1) fail(`the overview is ${overflow} px wider than a 375 px screen`);
    await shot(page, '08-overview-phone');
    await page.setViewportSize({width: 1280, height: 900});
    const kb = await ctx.newPage();
    watch(kb, 'keyboard');
    await kb.goto(BASE + '/');
    await kb.waitForSelector('#running h2', {timeout: WAIT});
    await kb.keyboard.press('Tab');
    const first = await kb.evaluate(() => document.activeElement.className);
    if (first !== 'skip') fail('the first Tab stop is not the skip link: ' + first);
    // the state counts are links: Enter on one opens the filtered list
    await kb.focus('[data-state-count=failed]');
    await kb.keyboard.press('Enter');
    await kb.waitForSelector(`#job-results tr[data-job="${failing}"]`, {timeout: WAIT});
    await kb.close();

    step = 'database unreachable banner';
    await page.click('a[data-nav=overview]');
    await page.waitForSelector('#running h2', {timeout: WAIT});
    allowed = /status of 503/;
    execFileSync(path.join(SRC, 'tools/pg_down.sh'), [PGDIR, '--keep'], {stdio: 'inherit'});
    await page.waitForSelector('#banner[data-state=not-ready]', {state: 'visible', timeout: WAIT});
    await shot(page, '09-database-down');
    execFileSync(path.join(SRC, 'tools/pg_up.sh'), [PGDIR, '--keep'], {stdio: 'inherit'});
    await page.waitForSelector('#banner[data-state=ok]', {state: 'hidden', timeout: 60000});
    await page.waitForSelector('#running h2', {timeout: WAIT});
    const after = await submit({kind: 'noop', params: {}});
    await page.goto(`${BASE}/#/jobs/${after}`);
    await page.waitForSelector('#job-state .state.succeeded', {timeout: WAIT});
    // (503s stay allowed from here on: console events arrive after the fact)
    await shot(page, '10-database-back');

    step = 'service unreachable banner';
    await page.click('a[data-nav=overview]');
    await page.waitForSelector('#running h2', {timeout: WAIT});
    allowed = /ERR_CONNECTION_REFUSED|Failed to fetch|ERR_EMPTY_RESPONSE|status of 503/;
    process.kill(Number(process.env.DASH_PID), 'SIGTERM');
    await page.waitForSelector('#banner[data-state=down]', {state: 'visible', timeout: WAIT});
    await shot(page, '11-service-down');

    step = 'end';
    if (problems.length) fail('\n  ' + problems.join('\n  '));
    log('PASS');
  } catch (e) {
    console.error('FAIL: ' + e.message);
    process.exitCode = 1;
  } finally {
    await browser.close();
    fs.rmSync(profile, {recursive: true, force: true});
  }
})();
