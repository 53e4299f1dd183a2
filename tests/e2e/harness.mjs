// What the browser tests share: starting `waymark serve` on a fresh
// database, launching Debian's Chromium, and the axe-core check (serious and
// critical findings fail). Not a test file itself.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { chromium } from 'playwright-core';
import { AxeBuilder } from '@axe-core/playwright';

// Starts `waymark … serve` on a free port; resolves with the child, the
// first group of the first match of `pattern` in what it prints (`url`),
// the whole match, and `log()`: everything it has written to standard
// error so far. `serveArgs` go after `serve`; `env` is added to the
// environment.
export function startServer(bin, args, pattern, serveArgs = [], env = {}) {
  return new Promise((resolvePromise, reject) => {
    const child = spawn(bin, [...args, 'serve', '--bind', '127.0.0.1:0', ...serveArgs],
      { stdio: ['ignore', 'ignore', 'pipe'], env: { ...process.env, ...env } });
    let err = '';
    const timer = setTimeout(() => reject(new Error(`waymark serve did not start: ${err}`)), 20000);
    child.stderr.on('data', (chunk) => {
      err += chunk;
      const m = err.match(pattern);
      if (m) {
        clearTimeout(timer);
        resolvePromise({ child, url: m[1], match: m, log: () => err });
      }
    });
    child.on('exit', (code) => reject(new Error(`waymark serve exited with ${code}: ${err}`)));
  });
}

export function launch(executablePath) {
  return chromium.launch({
    executablePath,
    headless: true,
    args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
      '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });
}

export async function axe(page, label) {
  const result = await new AxeBuilder({ page })
    .withTags(['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa', 'wcag22aa', 'best-practice'])
    .analyze();
  const bad = result.violations.filter((v) => v.impact === 'serious' || v.impact === 'critical');
  assert.deepEqual(
    bad.map((v) => `${v.id}: ${v.help} (${v.nodes.slice(0, 3).map((n) => n.target.join(' ')).join(', ')})`),
    [],
    `${label}: serious or critical accessibility violations`,
  );
  return result;
}

// A TCP port on loopback that was free a moment ago, for a peer a test
// starts (an SMTP sink, an IMAP server).
export function freePort() {
  return new Promise((res) => {
    const s = createServer();
    s.listen(0, '127.0.0.1', () => { const { port } = s.address(); s.close(() => res(port)); });
  });
}

// Screenshots at a phone's and a laptop's width, under `dir` as
// `<prefix>-<name>-<width>.png`; neither width may scroll sideways.
export function shooter(dir, prefix) {
  return async (page, name) => {
    for (const width of [390, 1280]) {
      await page.setViewportSize({ width, height: 900 });
      await page.screenshot({ path: join(dir, `${prefix}-${name}-${width}.png`), fullPage: width === 1280 });
      const sideways = await page.evaluate(() => document.documentElement.scrollWidth > window.innerWidth + 1);
      assert.equal(sideways, false, `${name} scrolls sideways at ${width}px`);
    }
    await page.setViewportSize({ width: 1280, height: 900 });
  };
}

// A new browser context signed in as `email`, on its home page.
export async function signedIn(browser, base, email, password) {
  const context = await browser.newContext();
  const page = await context.newPage();
  await page.goto(`${base}/login`);
  await page.getByLabel('Email address').fill(email);
  await page.getByLabel('Password', { exact: true }).fill(password);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await page.waitForURL(`${base}/engagements`);
  return { context, page };
}
