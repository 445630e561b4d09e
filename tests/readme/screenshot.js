// screenshot.js - the dashboard's page of the README tour's dataset job in headless Debian
// chromium through playwright-core (web/node_modules), started by test_readme.py with:
//   README_BASE       http://127.0.0.1:PORT of obsflowd
//   README_JOB        the tour's dataset job id
//   README_ARTIFACTS  where dashboard.png and overview.png go
//   OBSFLOW_SOURCE_DIR the source tree
// Checks that the page shows the job succeeded with the link to its CAOM observation, that the
// overview counts it, and that no console error happened on the way.
// SPDX-License-Identifier: Apache-2.0
'use strict';
const path = require('node:path');
const fs = require('node:fs');

const BASE = process.env.README_BASE;
const JOB = process.env.README_JOB;
const ART = process.env.README_ARTIFACTS;
const {chromium} = require(path.join(process.env.OBSFLOW_SOURCE_DIR, 'web/node_modules/playwright-core'));
const WAIT = 30000;

(async () => {
  const browser = await chromium.launch({
    executablePath: '/usr/bin/chromium', headless: true,
    args: ['--no-sandbox', '--disable-gpu', '--disable-dev-shm-usage', '--disable-quic', '--no-first-run',
      '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });
  const errors = [];
  let failed = false;
  try {
    const page = await browser.newPage({viewport: {width: 1280, height: 900}});
    page.on('console', (m) => { if (m.type() === 'error') errors.push(m.text()); });
    page.on('pageerror', (e) => errors.push(String(e)));

    await page.goto(`${BASE}/#/jobs/${JOB}`);
    const link = page.locator('#caom-link');
    await link.waitFor({state: 'visible', timeout: WAIT});
    const href = await link.getAttribute('href');
    if (href !== '/caom2/observations/HST/j8bt05njq') throw new Error(`observation link ${href}`);
    await page.getByText('succeeded').first().waitFor({state: 'visible', timeout: WAIT});
    await page.getByText('j8bt05njq_flt.fits').first().waitFor({state: 'visible', timeout: WAIT});
    // the whole page; the file: URIs of the test's scratch tree (parameters, products, the
    // result document) are masked: they name this machine's directories
    await page.screenshot({path: path.join(ART, 'dashboard.png'), fullPage: true,
      mask: [page.locator('pre:visible'), page.locator('figcaption'), page.locator('td.msg span.mono')],
      maskColor: '#d8dde6'});
    console.log('job page: succeeded, observation link', href);

    // the link leads to the stored observation
    const r = await page.request.get(BASE + href);
    if (r.status() !== 200 || !(await r.text()).includes('j8bt05njq_flt')) {
      throw new Error(`GET ${href}: ${r.status()}`);
    }

    // the overview counts it
    await page.goto(`${BASE}/#/`);
    await page.waitForFunction(() => /\b1\s+succeeded\b/.test(document.body.innerText), null, {timeout: WAIT});
    await page.screenshot({path: path.join(ART, 'overview.png')});
    console.log('overview: 1 succeeded');
    if (errors.length) throw new Error('console errors: ' + errors.join(' | '));
  } catch (e) {
    console.error('FAIL:', e.message);
    failed = true;
  } finally {
    await browser.close();
  }
  process.exit(failed ? 1 : 0);
})();
