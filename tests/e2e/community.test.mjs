// The community portal in a real browser (Debian's Chromium, playwright-core,
// axe-core once per page type, shots at 390 and 1280 px): an agency's
// sponsor asks about Discovery step 2 (first with nothing filled in), the
// programme answers, the sponsor accepts and edits, a signed-out reader
// finds the question from the step's list, and the workspace's step
// guidance links to the step's questions. First a newcomer registers with
// a gov.au address and follows the link from the delivered mail (with
// WAYMARK_E2E_SMTP=1, set by ./scripts/test when Python's aiosmtpd is
// installed, from an aiosmtpd sink on loopback; otherwise from the
// outbox page). Run by ./scripts/test after target/debug/waymark.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, mkdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { axe, launch, shooter, signedIn as signedInAs, sinkMail, smtpSink, startServer } from './harness.mjs';

const BIN = resolve(process.env.WAYMARK_BIN ?? 'target/debug/waymark');
const CHROMIUM = process.env.CHROMIUM ?? '/usr/bin/chromium';
const SHOTS = resolve('target/e2e-screenshots');
const PASSWORD = 'correct horse battery staple';
const SMTP = process.env.WAYMARK_E2E_SMTP === '1';

let browser;
let server;
let base;
let dir;
let db;
let sink;
// The question the second journey asks, for the third.
let question;

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
  const serveArgs = [];
  if (SMTP) {
    const s = await smtpSink(dir);
    sink = s.child;
    serveArgs.push(...s.args);
  }
  ({ child: server, url: base } = await startServer(BIN, ['--database-url', db],
    /serving the workspace at (http:\/\/127\.0\.0\.1:\d+)\/engagements/, serveArgs));
  browser = await launch(CHROMIUM);
  mkdirSync(SHOTS, { recursive: true });
});

after(async () => {
  await browser?.close();
  server?.kill('SIGTERM');
  sink?.kill('SIGTERM');
  if (dir) rmSync(dir, { recursive: true, force: true });
});

const shoot = shooter(SHOTS, 'community');
const signedIn = (email) => signedInAs(browser, base, email, PASSWORD);

// The verification link mailed to `to`: from the SMTP sink when there is
// one (quoted-printable undone), else from the admin's outbox page.
async function registrationLink(to, admin) {
  return (await mailedLink(to, admin, new RegExp(`${base}/register/[0-9a-f]{64}`))).link;
}

// The first link matching `pattern` in a mail to `to`: `{ link, raw }`,
// `raw` being the whole message when it came from the sink.
async function mailedLink(to, admin, pattern, timeout = 100) {
  if (!SMTP) {
    await admin.goto(`${base}/outbox`);
    const text = await admin.locator('main').textContent();
    const m = text.match(pattern);
    assert.ok(m, `no such link in the outbox: ${text}`);
    return { link: m[0], raw: '' };
  }
  const raw = await sinkMail(dir, (t) => t.includes(`To: ${to}`) && pattern.test(t), `a mail to ${to}`, timeout);
  return { link: raw.match(pattern)[0], raw };
}

async function click(page, name) {
  await Promise.all([page.waitForLoadState('load'), page.getByRole('button', { name, exact: true }).click()]);
}

test('a newcomer registers with a gov.au address and verifies from the mail', async () => {
  const page = await (await browser.newContext()).newPage();
  await page.goto(`${base}/community`);
  await page.getByRole('link', { name: 'Join the community' }).click();
  await page.getByLabel('Full name').fill('Nia Newcomer');
  await page.getByLabel('Work email address').fill('nia@gmail.com');
  await click(page, 'Send me the link');
  assert.match(await page.locator('.error-summary').textContent(), /open to addresses at gov\.au/);
  await axe(page, 'register with an error');
  await shoot(page, 'register-error');
  await page.getByLabel('Work email address').fill('nia@council.nsw.gov.au');
  await click(page, 'Send me the link');
  assert.match(await page.locator('h1').textContent(), /Check your email/);
  await axe(page, 'register sent');
  const { page: ada, context } = await signedIn('ada@dta.gov.au');
  const link = await registrationLink('nia@council.nsw.gov.au', ada);
  await context.close();
  await page.goto(link);
  await page.getByLabel('New password').fill('a community passphrase');
  await page.getByLabel('Type the password again').fill('a community passphrase');
  await click(page, 'Set password and sign in');
  await page.waitForURL(`${base}/community?welcome=1`);
  assert.match(await page.locator('.notice-success').textContent(), /your account is ready/);
  await shoot(page, 'welcome');
  // A community member: no engagement on their home page, and the link is spent.
  await page.goto(`${base}/engagements`);
  assert.equal(await page.locator('main a[href^="/engagements/"]').count(), 0);
  await page.goto(link);
  assert.match(await page.locator('h1').textContent(), /This link does not work/);
});

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
  question = eve.url();
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
  assert.match(await reader.locator('main').textContent(), /Join the community or sign in to answer or vote/);
  await reader.getByRole('link', { name: 'Discovery', exact: true }).click();
  await axe(reader, 'community category');
  await shoot(reader, 'category');
});

test('the programme makes the answer an FAQ entry, and the directory follows the engagement', async () => {
  // The programme drafts the entry from the question's page, cleans it
  // up in the article editor and publishes it.
  const { page: ada } = await signedIn('ada@dta.gov.au');
  await ada.goto(question);
  await click(ada, 'Add to the FAQ');
  await ada.waitForURL(/\/articles\/\d+\?saved=promoted$/);
  assert.match(await ada.locator('.notice-success').textContent(), /Edit it into a clean entry/);
  assert.equal(await ada.getByLabel('Title').inputValue(), 'Who should come to the Discovery workshop?');
  await ada.getByLabel('Title').fill('Who comes to the Discovery workshop?');
  await ada.getByLabel('Body').fill('Your **sponsor**, your IT lead and someone from security. Read [Discovery](discovery.md) first.');
  await axe(ada, 'FAQ entry editor');
  await shoot(ada, 'faq-editor');
  await click(ada, 'Publish');
  assert.match(await ada.locator('.notice-success').textContent(), /published/);
  await ada.goto(`${base}/articles`);
  assert.match(await ada.locator('.faq-order').textContent(), /Who comes to the Discovery workshop\?[\s\S]*Published/);

  // A signed-out reader finds it beside the model's FAQ, with its answer.
  const reader = await (await browser.newContext()).newPage();
  await reader.goto(`${base}/guide/`);
  await reader.getByRole('link', { name: 'Questions from the community' }).click();
  await reader.waitForURL(/community-faq\.html$/);
  const faq = await reader.locator('main').textContent();
  assert.match(faq, /Who comes to the Discovery workshop\?[\s\S]*someone from security/);
  assert.equal(await reader.getByRole('link', { name: 'FAQ', exact: true }).count(), 1);
  await axe(reader, 'community FAQ');
  await shoot(reader, 'faq');
  // The question links to its entry.
  await reader.goto(question);
  await reader.getByRole('link', { name: 'community FAQ' }).click();
  await reader.waitForURL(/community-faq\.html#faq-/);

  // The exported site has it too.
  const out = join(dir, 'site');
  waymark(['site', 'build', '--out', out]);
  const exported = readFileSync(join(out, 'community-faq.html'), 'utf8');
  assert.match(exported, /Who comes to the Discovery workshop\?/);
  assert.match(exported, /<strong>sponsor<\/strong>/);
  assert.match(readFileSync(join(out, 'index.html'), 'utf8'), /community-faq\.html/);

  // The sponsor lists the agency; the directory reads its stage from the
  // engagement, and follows it into Deploy.
  const { page: eve } = await signedIn('eve@bot.gov.au');
  await eve.goto(`${base}/agencies`);
  await eve.getByRole('link', { name: 'Bureau of Things' }).first().click();
  await click(eve, 'List the agency');
  assert.match(await eve.locator('.notice-success').textContent(), /listed in the directory/);
  await reader.goto(`${base}/adopters`);
  const before = await reader.locator('main').textContent();
  assert.match(before, /Bureau of Things/);
  assert.doesNotMatch(before, /Deploy/);
  await ada.goto(`${base}/engagements`);
  await ada.locator('main a[href^="/engagements/"]').first().click();
  await ada.goto(`${ada.url().replace(/\/engagements\/(\d+).*/, '/engagements/$1')}/stages/deploy`);
  await click(ada, 'Start Deploy');
  await reader.reload();
  assert.match(await reader.locator('main').textContent(), /Bureau of Things[\s\S]*Reached Deploy on [^.]*\. In Engagement and Deploy\./);
  await shoot(reader, 'adopters-deploy');
});

test('a watcher stops the mail from its link, and a flag reaches the programme', async () => {
  // The asker watches her question: the programme's answer came by mail,
  // with a one-click unsubscribe.
  const { page: ada } = await signedIn('ada@dta.gov.au');
  const { link, raw } = await mailedLink('eve@bot.gov.au', ada, new RegExp(`${base}/unsubscribe/[0-9a-f]{64}`), 300);
  if (SMTP) {
    assert.match(raw, /^Subject: New answer: Who should come to the Discovery workshop\?/m);
    assert.match(raw, new RegExp(`^List-Unsubscribe: <${link}>`, 'm'));
    assert.match(raw, /^List-Unsubscribe-Post: List-Unsubscribe=One-Click/m);
  }
  const reader = await (await browser.newContext()).newPage();
  await reader.goto(link);
  assert.match(await reader.locator('h1').textContent(), /Stop mail about “Who should come to the Discovery workshop\?”/);
  await axe(reader, 'unsubscribe');
  await shoot(reader, 'unsubscribe');
  await click(reader, 'Stop this mail');
  assert.match(await reader.locator('h1').textContent(), /no more mail/);
  const { page: eve } = await signedIn('eve@bot.gov.au');
  await eve.goto(question);
  assert.equal(await eve.getByRole('button', { name: 'Watch this question' }).count(), 1);

  // A member flags the answer; the programme finds it in its queue.
  const { page: nia } = await signedInAs(browser, base, 'nia@council.nsw.gov.au', 'a community passphrase');
  await nia.goto(question);
  const answer = nia.locator('.answer').first();
  await answer.locator('summary', { hasText: 'Flag' }).click();
  await answer.getByLabel('What is wrong with it? (optional)').fill('Names <b>people</b> who left');
  await click(nia, 'Send the flag');
  assert.match(await nia.locator('.notice').textContent(), /the programme will look at the post/);
  await ada.goto(`${base}/community`);
  await ada.getByRole('link', { name: 'Flagged posts' }).click();
  assert.match(await ada.locator('main').textContent(), /1 flag[\s\S]*Names <b>people<\/b> who left/);
  await axe(ada, 'flag queue');
  await shoot(ada, 'flags');
  await click(ada, 'Close the flags on the post by Ada Admin in “Who should come to the Discovery workshop?”');
  assert.match(await ada.locator('main').textContent(), /No post is flagged/);
});
