// Signing in with the agency's own account, in a real browser, against a
// real OpenID provider (panva's oidc-provider, started here on loopback by
// scripts/oidc-provider.mjs): the sign-in page offers the provider; a new
// person at a mapped domain is made a member of their agency and lands on
// their home page; their settings list the account; a refused address is
// told why on the sign-in page; an existing member's provider account waits
// for her password once, then signs her in alone. Axe on each, screenshots
// at 390 and 1280.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawn } from 'node:child_process';
import { mkdtempSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { axe, freePort, launch, shooter, startServer } from './harness.mjs';

const BIN = resolve(process.env.WAYMARK_BIN ?? 'target/debug/waymark');
const CHROMIUM = process.env.CHROMIUM ?? '/usr/bin/chromium';
const SHOTS = resolve('target/e2e-screenshots');
const shoot = shooter(SHOTS, 'signin');

let dir;
let server;
let provider;
let op; // the provider's address
let base;
let browser;

function waymark(args, input) {
  return execFileSync(BIN, ['--database-url', `sqlite://${join(dir, 'e2e.db')}`, ...args], { input }).toString();
}

const KIM = { email: 'kim@bot.gov.au', password: 'kim passphrase for waymark' };

// Says who signs in at the provider next.
async function next(account) {
  const r = await fetch(`${op}/__test`, { method: 'POST', body: JSON.stringify({ account, tamper: null }) });
  assert.equal(r.status, 204);
}

before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'waymark-e2e-signin-'));
  mkdirSync(SHOTS, { recursive: true });
  waymark(['agency', 'add', '--name', 'Bureau of Things', '--abbreviation', 'BOT', '--portfolio', 'Industry']);
  waymark(['user', 'add', '--name', 'Kim Kaur', '--email', KIM.email, '--role', 'member', '--agency', 'BOT',
    '--password-stdin'], `${KIM.password}\n`);
  const opPort = await freePort();
  op = `http://127.0.0.1:${opPort}`;
  writeFileSync(join(dir, 'secret'), 'a client secret for the browser test\n');
  writeFileSync(join(dir, 'providers.toml'), `
[[provider]]
name = "bot"
label = "your Bureau of Things account"
issuer = "${op}"
client_id = "waymark-e2e"
client_secret_file = "secret"
create_accounts = true
agencies = { "bot.gov.au" = "BOT" }
`);
  ({ child: server, url: base } = await startServer(BIN,
    ['--database-url', `sqlite://${join(dir, 'e2e.db')}`],
    /serving the workspace at (http:\/\/127\.0\.0\.1:\d+)/,
    ['--sign-in-providers', join(dir, 'providers.toml')]));
  provider = spawn('node', ['scripts/oidc-provider.mjs', String(opPort), 'waymark-e2e',
    'a client secret for the browser test', `${base}/login/oidc/bot/callback`], { stdio: ['ignore', 'pipe', 'ignore'] });
  await new Promise((res, rej) => {
    provider.stdout.on('data', (d) => { if (String(d).includes('ready')) res(); });
    provider.on('exit', (code) => rej(new Error(`the provider exited with ${code}`)));
  });
  browser = await launch(CHROMIUM);
});

after(async () => {
  await browser?.close();
  provider?.kill();
  server?.kill();
  rmSync(dir, { recursive: true, force: true });
});

test('a new member signs in with their agency account; a refused address is told why', async () => {
  const context = await browser.newContext();
  const page = await context.newPage();
  await page.goto(`${base}/login`);
  const button = page.getByRole('link', { name: 'Sign in with your Bureau of Things account' });
  await button.waitFor();
  await axe(page, 'sign-in with a provider');
  await shoot(page, 'login');

  await next({ sub: 'nina-1', email: 'nina@bot.gov.au', email_verified: true, name: 'Nina Nguyen' });
  await button.click();
  await page.waitForURL(`${base}/engagements`);
  await page.goto(`${base}/settings`);
  const accounts = page.getByRole('heading', { name: 'Accounts you sign in with' });
  await accounts.waitFor();
  const text = await page.locator('body').textContent();
  assert.match(text, /your Bureau of Things account: first used/);
  assert.match(text, /You have no Waymark password/);
  await axe(page, 'settings with a provider account');
  await shoot(page, 'settings');
  await context.close();

  const other = await browser.newContext();
  const refused = await other.newPage();
  await next({ sub: 'gus-1', email: 'gus@example.com', email_verified: true, name: 'Gus' });
  await refused.goto(`${base}/login?next=/engagements`);
  await refused.getByRole('link', { name: 'Sign in with your Bureau of Things account' }).click();
  await refused.waitForURL(/\/login\/oidc\/bot\/callback/);
  const summary = refused.getByRole('alert');
  await summary.waitFor();
  assert.match(await summary.textContent(), /Addresses at example\.com cannot sign in/);
  await axe(refused, 'sign-in refused');
  await shoot(refused, 'refused');
  await other.close();
});

test('an existing member links their agency account once, with their password', async () => {
  const context = await browser.newContext();
  const page = await context.newPage();
  await next({ sub: 'kim-1', email: KIM.email, email_verified: true, name: 'Kim Kaur' });
  await page.goto(`${base}/login?next=/engagements`);
  await page.getByRole('link', { name: 'Sign in with your Bureau of Things account' }).click();
  const notice = page.getByRole('status').filter({ hasText: 'which has a Waymark account' });
  await notice.waitFor();
  assert.equal(await page.getByLabel('Email address').inputValue(), KIM.email);
  await axe(page, 'link your account');
  await shoot(page, 'link-notice');
  await page.getByLabel('Password', { exact: true }).fill(KIM.password);
  await page.getByRole('button', { name: 'Sign in', exact: true }).click();
  await page.waitForURL(`${base}/engagements`);
  await context.close();
  // From now on the button alone signs her in.
  const again = await browser.newContext();
  const p2 = await again.newPage();
  await next({ sub: 'kim-1', email: KIM.email, email_verified: true, name: 'Kim Kaur' });
  await p2.goto(`${base}/login?next=/engagements`);
  await p2.getByRole('link', { name: 'Sign in with your Bureau of Things account' }).click();
  await p2.waitForURL(`${base}/engagements`);
  await p2.goto(`${base}/settings`);
  assert.match(await p2.locator('body').textContent(), /your Bureau of Things account: first used/);
  await again.close();
});
