// The community portal in a real browser (Debian's Chromium, playwright-core,
// axe-core once per page type, shots at 390 and 1280 px): an agency's
// sponsor asks about Discovery step 2 (first with nothing filled in), the
// programme answers, the sponsor accepts and edits, a signed-out reader
// finds the question from the step's list, and the workspace's step
// guidance links to the step's questions. Run by ./scripts/test after
// target/debug/waymark.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, mkdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { axe, launch, startServer } from './harness.mjs';

const BIN = resolve(process.env.WAYMARK_BIN ?? 'target/debug/waymark');
const CHROMIUM = process.env.CHROMIUM ?? '/usr/bin/chromium';
const SHOTS = resolve('target/e2e-screenshots');
const PASSWORD = 'correct horse battery staple';

let browser;
let server;
let base;
let dir;
let db;

function waymark(args, input) {
  return execFileSync(BIN, ['--database-url', db, ...args], {
    input, stdio: ['pipe', 'pipe', 'pipe'],
  }).toString();
}

before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'waymark-e2e-community-'));
  db = `sqlite://${join(dir, 'e2e.db')}`;
  waymark(['agency', 'add', '--name', 'Bureau of Things', '--abbreviation', 'BOT', '--portfolio', 'Industry']);
  waymark(['user', 'add', '--name', 'Ada Admin', '--email', 'ada@dta.gov.au', '--role', 'admin', '--password-stdin'], PASSWORD);
  waymark(['user', 'add', '--name', 'Eve Sponsor', '--email', 'eve@bot.gov.au', '--role', 'sponsor', '--agency', 'BOT', '--password-stdin'], PASSWORD);
  waymark(['engagement', 'start', '--agency', 'BOT', '--as', 'ada@dta.gov.au']);
  ({ child: server, url: base } = await startServer(BIN, ['--database-url', db],
    /serving the workspace at (http:\/\/127\.0\.0\.1:\d+)\/engagements/));
  browser = await launch(CHROMIUM);
  mkdirSync(SHOTS, { recursive: true });
});

after(async () => {
  await browser?.close();
  server?.kill('SIGTERM');
  if (dir) rmSync(dir, { recursive: true, force: true });
});

async function shoot(page, name) {
  for (const width of [390, 1280]) {
    await page.setViewportSize({ width, height: 900 });
    await page.screenshot({ path: join(SHOTS, `community-${name}-${width}.png`), fullPage: width === 1280 });
    const sideways = await page.evaluate(() => document.documentElement.scrollWidth > window.innerWidth + 1);
    assert.equal(sideways, false, `${name} scrolls sideways at ${width}px`);
  }
  await page.setViewportSize({ width: 1280, height: 900 });
}

async function signedIn(email) {
  const context = await browser.newContext();
  const page = await context.newPage();
  await page.goto(`${base}/login`);
  await page.getByLabel('Email address').fill(email);
  await page.getByLabel('Password', { exact: true }).fill(PASSWORD);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await page.waitForURL(`${base}/engagements`);
  return { context, page };
}

async function click(page, name) {
  await Promise.all([page.waitForLoadState('load'), page.getByRole('button', { name, exact: true }).click()]);
}

test('a question about Discovery step 2 is asked, answered, accepted and found', async () => {
  const { page: eve } = await signedIn('eve@bot.gov.au');
  await eve.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Community' }).click();
  assert.match(await eve.locator('h1').textContent(), /Community/);
  await axe(eve, 'community');
  await shoot(eve, 'index');

  // Nothing filled in: every problem at once, beside its field.
  await eve.getByRole('link', { name: 'Ask a question' }).click();
  await click(eve, 'Post your question');
  const summary = await eve.locator('.error-summary').textContent();
  assert.match(summary, /Category: choose one[\s\S]*Question: is required[\s\S]*Details: is required/);
  await axe(eve, 'ask with errors');
  await shoot(eve, 'ask-errors');
  await eve.getByLabel('Category').selectOption({ label: 'Discovery' });
  await eve.getByLabel('Question', { exact: true }).fill('Who should come to the Discovery workshop?');
  await eve.getByLabel('Details').fill('We have **three** sites.\n\n<script>alert(1)</script>');
  await eve.getByLabel('Part of the model (optional)').selectOption({ value: 'discovery/2' });
  await axe(eve, 'ask');
  await click(eve, 'Post your question');
  await eve.waitForURL(/\/community\/q\/\d+$/);
  const question = eve.url();
  assert.match(await eve.locator('.post-body').first().innerHTML(), /<strong>three<\/strong>[\s\S]*&lt;script&gt;/);
  assert.match(await eve.locator('main').textContent(), /About Discovery, step 2/);

  // The programme answers.
  const { page: ada } = await signedIn('ada@dta.gov.au');
  await ada.goto(question);
  await click(ada, 'Post your answer');
  assert.match(await ada.locator('.error-summary').textContent(), /Answer: is required/);
  await ada.getByLabel('Answer', { exact: true }).fill('Your **sponsor**, your IT lead and someone from security.');
  await click(ada, 'Post your answer');
  assert.match(await ada.locator('.notice').textContent(), /Your answer is posted/);

  // The asker up-votes and accepts it; it shows first, marked.
  await eve.reload();
  await click(eve, 'Up-vote this answer by Ada Admin');
  assert.match(await eve.locator('.notice').textContent(), /Your vote is counted/);
  await click(eve, 'Accept this answer by Ada Admin');
  assert.match(await eve.locator('.notice').textContent(), /accepted/);
  assert.match(await eve.locator('.answer').first().textContent(), /Accepted answer[\s\S]*someone from security[\s\S]*1 vote/);
  await axe(eve, 'question with an accepted answer');
  await shoot(eve, 'question');

  // An edit keeps the text before, in the post's history.
  await eve.getByRole('link', { name: 'Edit this question' }).click();
  await eve.getByLabel('Details').fill('We have **four** sites now.');
  await axe(eve, 'edit a post');
  await click(eve, 'Save the edit');
  assert.match(await eve.locator('.notice').textContent(), /Your edit is saved/);
  await eve.getByRole('link', { name: /edited/ }).first().click();
  assert.match(await eve.locator('main').textContent(), /Version 2[\s\S]*four sites[\s\S]*Version 1[\s\S]*three/);
  await axe(eve, 'post history');
  await shoot(eve, 'history');

  // The workspace's step guidance links to the step's questions.
  await eve.goto(`${base}/engagements`);
  await eve.locator('main a[href^="/engagements/"]').first().click();
  await eve.goto(`${eve.url().replace(/\/engagements\/(\d+).*/, '/engagements/$1')}/stages/engagement`);
  await eve.locator('details.guidance summary').first().click();
  await eve.getByRole('link', { name: 'Questions about step 1 in the community' }).click();
  assert.match(await eve.locator('h1').textContent(), /Questions about Engagement, step 1/);

  // A signed-out reader finds it from Discovery step 2's list and reads it.
  const reader = await (await browser.newContext()).newPage();
  await reader.goto(`${base}/community/about?tag=discovery/2`);
  await axe(reader, 'questions about a step');
  await shoot(reader, 'about-step');
  await reader.getByRole('link', { name: 'Who should come to the Discovery workshop?' }).click();
  assert.match(await reader.locator('main').textContent(), /Sign in to answer or vote/);
  await reader.getByRole('link', { name: 'Discovery', exact: true }).click();
  await axe(reader, 'community category');
  await shoot(reader, 'category');
});
