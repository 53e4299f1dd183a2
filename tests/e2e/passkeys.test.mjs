// Passkeys in a real browser: Debian's Chromium with its own virtual
// authenticator (the DevTools protocol's WebAuthn domain, a CTAP2 security
// key that says yes by itself), against `waymark serve` at
// http://localhost:PORT (WebAuthn needs a domain name, never an IP
// address). A programme admin, who must have a second factor, adds a
// passkey instead of an authenticator app and is let in; a member adds
// one, signs out, signs in with password and passkey, and removes it with
// a signature from it. Axe on each new page, screenshots at 390 and 1280.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, mkdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { axe, freePort, launch, shooter, startServer } from './harness.mjs';

const BIN = resolve(process.env.WAYMARK_BIN ?? 'target/debug/waymark');
const CHROMIUM = process.env.CHROMIUM ?? '/usr/bin/chromium';
const SHOTS = resolve('target/e2e-screenshots');
const shoot = shooter(SHOTS, 'passkeys');

let dir;
let server;
let base;
let browser;

function waymark(args, input) {
  return execFileSync(BIN, ['--database-url', `sqlite://${join(dir, 'e2e.db')}`, ...args], { input }).toString();
}

const ADA = { email: 'ada@dta.gov.au', password: 'ada passphrase for waymark' };
const KIM = { email: 'kim@bot.gov.au', password: 'kim passphrase for waymark' };

before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'waymark-e2e-passkeys-'));
  mkdirSync(SHOTS, { recursive: true });
  waymark(['agency', 'add', '--name', 'Bureau of Things', '--abbreviation', 'BOT', '--portfolio', 'Industry']);
  waymark(['user', 'add', '--name', 'Ada Admin', '--email', ADA.email, '--role', 'admin', '--password-stdin'],
    `${ADA.password}\n`);
  waymark(['user', 'add', '--name', 'Kim Kaur', '--email', KIM.email, '--role', 'member', '--agency', 'BOT',
    '--password-stdin'], `${KIM.password}\n`);
  const port = await freePort();
  ({ child: server, url: base } = await startServer(BIN,
    ['--database-url', `sqlite://${join(dir, 'e2e.db')}`],
    /serving the workspace at (http:\/\/localhost:\d+)/,
    ['--bind', `127.0.0.1:${port}`, '--public-url', `http://localhost:${port}`]));
  browser = await launch(CHROMIUM);
});

after(async () => {
  await browser?.close();
  server?.kill();
  rmSync(dir, { recursive: true, force: true });
});

// A browser tab with a security key plugged in: Chromium's virtual
// authenticator, which keeps its credentials while the tab lives.
async function withKey() {
  const context = await browser.newContext();
  const page = await context.newPage();
  const cdp = await context.newCDPSession(page);
  await cdp.send('WebAuthn.enable');
  const { authenticatorId } = await cdp.send('WebAuthn.addVirtualAuthenticator', {
    options: {
      protocol: 'ctap2',
      transport: 'usb',
      hasResidentKey: true,
      hasUserVerification: true,
      isUserVerified: true,
      automaticPresenceSimulation: true,
    },
  });
  const credentials = async () => (await cdp.send('WebAuthn.getCredentials', { authenticatorId })).credentials;
  return { context, page, credentials };
}

async function password(page, who) {
  await page.goto(`${base}/login`);
  await page.getByLabel('Email address').fill(who.email);
  await page.getByLabel('Password', { exact: true }).fill(who.password);
  await page.getByRole('button', { name: 'Sign in' }).click();
}

async function addPasskey(page, name) {
  await page.getByLabel('Name', { exact: true }).fill(name);
  await page.getByRole('button', { name: 'Add a passkey' }).click();
}

test('an admin who must have a second factor adds a passkey instead of an app', async () => {
  const { context, page, credentials } = await withKey();
  await password(page, ADA);
  await page.waitForURL(`${base}/settings/second-factor`);
  await page.getByRole('button', { name: 'Add a passkey' }).waitFor();
  assert.match(await page.locator('body').textContent(), /Set one up to go on/);
  await axe(page, 'second factor, none yet (admin)');
  await shoot(page, 'admin-none');
  await addPasskey(page, 'Ada’s security key');
  await page.getByRole('heading', { name: 'Save your recovery codes now' }).waitFor();
  assert.equal((await page.locator('.recovery-codes code').allTextContents()).length, 10);
  assert.equal((await credentials()).length, 1);
  await axe(page, 'passkey added, with recovery codes');
  await shoot(page, 'admin-codes');
  await page.getByRole('link', { name: 'I have saved them: go on' }).click();
  await page.waitForURL(`${base}/engagements`);
  await context.close();
});

test('a member signs in with a passkey after the password, then removes it', async () => {
  const { context, page, credentials } = await withKey();
  await password(page, KIM);
  await page.waitForURL(`${base}/engagements`);
  await page.goto(`${base}/settings/second-factor`);
  await addPasskey(page, 'Work laptop');
  await page.getByRole('heading', { name: 'Save your recovery codes now' }).waitFor();
  const codes = await page.locator('.recovery-codes code').allTextContents();
  assert.equal(codes.length, 10);
  // Signed out, then in: the password, then the passkey.
  await page.goto(`${base}/settings`);
  await page.getByRole('button', { name: 'Sign out' }).first().click();
  await password(page, KIM);
  await page.waitForURL(/\/login\/code/);
  const use = page.getByRole('button', { name: 'Use your passkey' });
  await use.waitFor();
  assert.match(await page.locator('h1').textContent(), /Confirm it is you/);
  await axe(page, 'code page with a passkey');
  await shoot(page, 'sign-in');
  await use.click();
  await page.waitForURL(`${base}/engagements`);
  // Her settings list it, used just now; she removes it with itself.
  await page.goto(`${base}/settings/second-factor`);
  const body = await page.locator('body').textContent();
  assert.match(body, /Work laptop: added .*; last used/);
  await axe(page, 'second factor with a passkey');
  await shoot(page, 'settings');
  await page.getByRole('radio', { name: 'Work laptop' }).check();
  await page.getByRole('button', { name: 'Remove with a passkey' }).click();
  await page.waitForURL(/saved=passkey-removed/);
  assert.match(await page.getByRole('status').first().textContent(), /The passkey is removed/);
  // The last one gone, so is the factor: the password alone signs in.
  assert.match(await page.locator('body').textContent(), /Off|Set one up|someone who learns your password/);
  assert.equal((await credentials()).length, 1, 'the key itself keeps its credential; Waymark forgot it');
  await context.close();
});
