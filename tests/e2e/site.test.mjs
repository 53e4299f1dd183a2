// The guidance site in a real browser: Debian's Chromium, driven by
// playwright-core, checked with axe-core. Run by ./scripts/test after the
// Rust tests have built target/debug/waymark.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, mkdirSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { axe, launch, startServer } from './harness.mjs';

const BIN = resolve(process.env.WAYMARK_BIN ?? 'target/debug/waymark');
const CHROMIUM = process.env.CHROMIUM ?? '/usr/bin/chromium';
const SHOTS = resolve('target/e2e-screenshots');
const SEEDS = resolve('crates/model/tests/fixtures/seeds');
const STAGE_PAGES = ['index.html', 'engagement.html', 'discovery.html', 'deploy.html',
  'transition.html', 'adoption-evaluation.html', 'faq.html', 'self-assessment.html'];

let browser;
let server;
let base; // http://127.0.0.1:PORT/guide/
const dirs = {};

function buildSite(name, ...args) {
  const out = mkdtempSync(join(tmpdir(), `waymark-e2e-${name}-`));
  execFileSync(BIN, ['site', 'build', '--out', out, ...args], { stdio: ['ignore', 'ignore', 'pipe'] });
  return out;
}

function startGuide() {
  dirs.db = mkdtempSync(join(tmpdir(), 'waymark-e2e-db-'));
  return startServer(BIN, ['--database-url', `sqlite://${join(dirs.db, 'e2e.db')}`], /at (http:\/\/127\.0\.0\.1:\d+\/guide\/)/);
}

before(async () => {
  dirs.bundled = buildSite('bundled');
  dirs.seeds = buildSite('seeds', SEEDS);
  ({ child: server, url: base } = await startGuide());
  browser = await launch(CHROMIUM);
  mkdirSync(SHOTS, { recursive: true });
});

after(async () => {
  await browser?.close();
  server?.kill('SIGTERM');
  for (const d of Object.values(dirs)) rmSync(d, { recursive: true, force: true });
});

async function open(url, width = 1280) {
  const context = await browser.newContext({ viewport: { width, height: 900 } });
  const page = await context.newPage();
  const response = await page.goto(url);
  return { page, context, response };
}

test('every page of the exported bundled site passes axe', async () => {
  for (const name of STAGE_PAGES) {
    const { page, context } = await open(`file://${join(dirs.bundled, name)}`);
    await axe(page, `bundled ${name}`);
    await context.close();
  }
});

test('every page of the exported seed site passes axe', async () => {
  const pages = readdirSync(dirs.seeds).filter((f) => f.endsWith('.html'));
  assert.ok(pages.length >= 3);
  for (const name of pages) {
    const { page, context } = await open(`file://${join(dirs.seeds, name)}`);
    await axe(page, `seeds ${name}`);
    await context.close();
  }
});

test('every page type of the live server passes axe, the 404 page too', async () => {
  for (const path of ['', 'engagement.html', 'deploy.html', 'faq.html']) {
    const { page, context, response } = await open(base + path);
    assert.equal(response.status(), 200, path);
    await axe(page, `live /guide/${path}`);
    await context.close();
  }
  const { page, context, response } = await open(`${base}no-such-page.html`);
  assert.equal(response.status(), 404);
  await axe(page, 'live 404');
  await context.close();
});

test('the side navigation works with the keyboard alone', async () => {
  const { page, context } = await open(`${base}engagement.html`);
  // First Tab: the skip link, which moves focus to the main content.
  await page.keyboard.press('Tab');
  assert.equal(await page.evaluate(() => document.activeElement.textContent.trim()), 'Skip to main content');
  const outline = await page.evaluate(() => getComputedStyle(document.activeElement).outlineWidth);
  assert.ok(parseFloat(outline) >= 2, `visible focus indicator, got outline ${outline}`);
  await page.keyboard.press('Enter');
  assert.equal(await page.evaluate(() => document.activeElement.id), 'content');

  // From the top again: walk the side navigation with Tab.
  await page.goto(`${base}engagement.html`);
  const seen = [];
  // (the header has the search box and its button before the navigation)
  for (let i = 0; i < 24; i++) {
    await page.keyboard.press('Tab');
    const info = await page.evaluate(() => ({
      inNav: !!document.activeElement.closest('nav.side-nav'),
      href: document.activeElement.getAttribute('href'),
    }));
    if (info.inNav) seen.push(info.href);
    else if (seen.length) break;
  }
  assert.deepEqual(seen, STAGE_PAGES);

  // Back to Deploy with Tab, then Enter. What takes focus before the side
  // navigation (the skip link, the brand, the header's links, the search
  // box and its button) comes first.
  await page.goto(`${base}engagement.html`);
  const before = await page.evaluate(() =>
    [...document.querySelectorAll('a[href], input:not([type=hidden]), button')]
      .filter((e) => e.checkVisibility())
      .findIndex((a) => a.closest('nav.side-nav')));
  for (let i = 0; i < before + 1 + STAGE_PAGES.indexOf('deploy.html'); i++) await page.keyboard.press('Tab');
  assert.equal(await page.evaluate(() => document.activeElement.getAttribute('href')), 'deploy.html');
  await Promise.all([page.waitForURL(/deploy\.html$/), page.keyboard.press('Enter')]);
  assert.equal(await page.locator('nav.side-nav [aria-current="page"]').getAttribute('href'), 'deploy.html');
  assert.equal(await page.locator('h1').textContent(), 'Deploy');
  await context.close();
});

test('on a phone the page list folds away, and opens with the keyboard', async () => {
  const { page, context } = await open(`${base}deploy.html`, 390);
  const list = page.locator('#side-nav-list');
  assert.equal(await list.isVisible(), false, 'a page opens on its content');
  // The heading is on the first screen.
  const top = await page.locator('h1').evaluate((h) => h.getBoundingClientRect().top);
  assert.ok(top < 600, `the heading starts at ${top}px`);
  await page.locator('#side-nav-toggle').focus();
  await page.keyboard.press('Space');
  assert.equal(await list.isVisible(), true);
  assert.equal(await page.locator('#side-nav-toggle').isChecked(), true);
  await context.close();
  // Wide screens show the list and never the control.
  const wide = await open(`${base}deploy.html`, 1280);
  assert.equal(await wide.page.locator('#side-nav-list').isVisible(), true);
  assert.equal(await wide.page.locator('label[for=side-nav-toggle]').isVisible(), false);
  await wide.context.close();
});

test('pages fit a 320 px screen (WCAG reflow) and are captured at 390 and 1280 px', async () => {
  for (const width of [320, 390, 1280]) {
    for (const name of ['index.html', 'engagement.html', 'faq.html']) {
      const { page, context } = await open(base + (name === 'index.html' ? '' : name), width);
      const overflow = await page.evaluate(() => document.documentElement.scrollWidth - document.documentElement.clientWidth);
      assert.ok(overflow <= 0, `${name} at ${width}px scrolls sideways by ${overflow}px`);
      if (width !== 320) {
        await page.screenshot({ path: join(SHOTS, `${name.replace('.html', '')}-${width}.png`), fullPage: true });
      }
      await context.close();
    }
  }
});

test('the static export works from file:// with no request leaving the folder', async () => {
  const { page, context } = await open(`file://${join(dirs.bundled, 'index.html')}`);
  const requests = [];
  page.on('request', (r) => requests.push(r.url()));
  await page.reload();
  assert.ok(requests.length >= 2);
  for (const url of requests) assert.ok(url.startsWith('file://'), url);
  const css = await page.evaluate(() => getComputedStyle(document.querySelector('.site-header')).backgroundColor);
  assert.equal(css, 'rgb(0, 64, 94)', 'the stylesheet loaded');
  assert.equal(await page.locator('a[download]').getAttribute('href'), 'engagement-model.svg');
  await context.close();
});

test('control: axe does flag an inaccessible page', async () => {
  const { page, context } = await open('about:blank');
  await page.setContent('<html><body><img src="x.png"><p style="color:#bbb;background:#fff">faint</p><input></body></html>');
  await assert.rejects(axe(page, 'control page'), /image-alt|color-contrast|label/);
  await context.close();
});
