// What the browser tests share: starting `waymark serve` on a fresh
// database, launching Debian's Chromium, and the axe-core check (serious and
// critical findings fail). Not a test file itself.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { createHmac } from 'node:crypto';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { chromium } from 'playwright-core';
import { AxeBuilder } from '@axe-core/playwright';

// Starts `waymark … serve` on a free port; resolves with the child, the
// first group of the first match of `pattern` in what it prints (`url`),
// the whole match, and `log()`: everything it has written to standard
// error so far. `serveArgs` go after `serve` (a free port on loopback is
// bound unless they name a `--bind`); `env` is added to the environment.
export function startServer(bin, args, pattern, serveArgs = [], env = {}) {
  return new Promise((resolvePromise, reject) => {
    const bind = serveArgs.includes('--bind') ? [] : ['--bind', '127.0.0.1:0'];
    const child = spawn(bin, [...args, 'serve', ...bind, ...serveArgs],
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

// An aiosmtpd sink on loopback that keeps each message as a file under
// `dir`/sink: its child process and the `serve` arguments that send to it.
export async function smtpSink(dir) {
  const port = await freePort();
  const child = spawn('python3', ['-m', 'aiosmtpd', '-n', '-l', `127.0.0.1:${port}`, '-c', 'aiosmtpd.handlers.Mailbox',
    join(dir, 'sink')], { stdio: 'ignore' });
  return { child, args: ['--smtp-url', `smtp://127.0.0.1:${port}`] };
}

// The first message in the sink under `dir` whose text (quoted-printable
// undone) `matches`, waiting up to `tries` × 200 ms for it; fails saying
// `what` did not arrive.
export async function sinkMail(dir, matches, what, tries = 100) {
  const box = join(dir, 'sink');
  for (let i = 0; i < tries; i++) {
    for (const sub of ['new', 'cur']) {
      if (!existsSync(join(box, sub))) continue;
      for (const f of readdirSync(join(box, sub))) {
        const raw = readFileSync(join(box, sub, f), 'utf8');
        const text = raw.replace(/=\r?\n/g, '').replace(/=([0-9A-F]{2})/g, (_, h) => String.fromCharCode(parseInt(h, 16)));
        if (matches(text)) return text;
      }
    }
    await new Promise((r) => setTimeout(r, 200));
  }
  assert.fail(`${what} did not reach the SMTP sink`);
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
  await signIn(page, base, email, password);
  return { context, page };
}

// Signs `page` in as `email` at `base`, second factor included (set up on
// the way when the site asks, as programme admins are), and waits for the
// home page.
export async function signIn(page, base, email, password) {
  await page.goto(`${base}/login`);
  await page.getByLabel('Email address').fill(email);
  await page.getByLabel('Password', { exact: true }).fill(password);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await page.waitForURL(/\/(engagements|login\/code|settings\/second-factor)(\?.*)?$/);
  const path = new URL(page.url()).pathname;
  if (path === '/login/code') await typeCode(page, email);
  if (path === '/settings/second-factor') {
    await setUpFactor(page, email);
    await page.getByRole('link', { name: 'I have saved them: go on' }).click();
  }
  await page.waitForURL(`${base}/engagements`);
}

// Second factors set up in this file's browsers, by email: the key and
// the last 30-second step whose code was used (each code works once).
const factors = new Map();

const stepNow = () => Math.floor(Date.now() / 30000);

// RFC 4648 base32, as the page shows a key to type by hand.
export function base32Decode(text) {
  const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567';
  let bits = 0;
  let value = 0;
  const out = [];
  for (const ch of text.replace(/[\s=]/g, '').toUpperCase()) {
    const i = alphabet.indexOf(ch);
    assert.ok(i >= 0, `not base32: ${ch}`);
    value = (value << 5) | i;
    bits += 5;
    if (bits >= 8) {
      out.push((value >>> (bits - 8)) & 255);
      bits -= 8;
    }
  }
  return Buffer.from(out);
}

// The code an authenticator app shows for `key` in 30-second `step`
// (RFC 6238: HMAC-SHA-1, dynamic truncation, six digits), by hand.
export function totp(key, step) {
  const counter = Buffer.alloc(8);
  counter.writeBigUInt64BE(BigInt(step));
  const h = createHmac('sha1', key).update(counter).digest();
  const at = h[h.length - 1] & 15;
  return String((h.readUInt32BE(at) & 0x7fffffff) % 1000000).padStart(6, '0');
}

// On the second-factor page: reads the key as a person types it into
// their app, types the app's code, and returns the recovery codes shown.
export async function setUpFactor(page, email) {
  const key = base32Decode(await page.locator('#setup-key').textContent());
  const step = stepNow();
  await page.getByLabel('Code from your app').fill(totp(key, step));
  await page.getByRole('button', { name: 'Turn on the second factor' }).click();
  await page.getByRole('heading', { name: 'Save your recovery codes now' }).waitFor();
  factors.set(email, { key, last: step });
  return page.locator('.recovery-codes code').allTextContents();
}

// On the code page: the app's code, never one used before (waiting for
// the next when two sign-ins come in one 30 seconds).
export async function typeCode(page, email) {
  const factor = factors.get(email);
  assert.ok(factor, `no second factor set up for ${email} in this file`);
  const step = Math.max(stepNow(), factor.last + 1);
  while (step > stepNow() + 1) await new Promise((r) => setTimeout(r, 500));
  factor.last = step;
  await page.getByLabel('Code', { exact: true }).fill(totp(factor.key, step));
  await page.getByRole('button', { name: 'Sign in' }).click();
}
