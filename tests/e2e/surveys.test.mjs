// Surveys in a real browser (Debian's Chromium, playwright-core, axe-core
// once per page type, shots at 390 and 1280 px): the programme starts the
// Protected Utility survey for an engagement, adds a question, and sends
// it; two of the agency's people follow the link in their mail (with
// WAYMARK_E2E_SMTP=1, set by ./scripts/test when Python's aiosmtpd is
// installed, from an aiosmtpd sink on loopback; otherwise from the outbox
// page) and answer, one after being told what was missing; the sponsor
// reads the results, each chart with its title, description and table.
// Run by ./scripts/test after target/debug/waymark.
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

function waymark(args, input) {
  return execFileSync(BIN, ['--database-url', db, ...args], {
    input, stdio: ['pipe', 'pipe', 'pipe'],
  }).toString();
}

before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'waymark-e2e-surveys-'));
  db = `sqlite://${join(dir, 'e2e.db')}`;
  waymark(['agency', 'add', '--name', 'Bureau of Things', '--abbreviation', 'BOT', '--portfolio', 'Industry']);
  waymark(['user', 'add', '--name', 'Ada Admin', '--email', 'ada@dta.gov.au', '--role', 'admin', '--password-stdin'], PASSWORD);
  waymark(['user', 'add', '--name', 'Eve Sponsor', '--email', 'eve@bot.gov.au', '--role', 'sponsor', '--agency', 'BOT', '--password-stdin'], PASSWORD);
  waymark(['user', 'add', '--name', 'Mia Member', '--email', 'mia@bot.gov.au', '--role', 'member', '--agency', 'BOT', '--password-stdin'], PASSWORD);
  waymark(['user', 'add', '--name', 'Noah Member', '--email', 'noah@bot.gov.au', '--role', 'member', '--agency', 'BOT', '--password-stdin'], PASSWORD);
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

const shoot = shooter(SHOTS, 'surveys');
const signedIn = (email) => signedInAs(browser, base, email, PASSWORD);

async function click(page, name) {
  await Promise.all([page.waitForLoadState('load'), page.getByRole('button', { name, exact: true }).click()]);
}

// The survey link mailed to `to`: from the SMTP sink (quoted-printable
// undone), else from the admin's outbox page.
async function surveyLink(to, admin) {
  const pattern = new RegExp(`${base}/answer/[0-9a-f]{64}`);
  if (!SMTP) {
    await admin.goto(`${base}/outbox`);
    const rows = await admin.locator('main li, main tr').allTextContents();
    const row = rows.find((r) => r.includes(to) && pattern.test(r));
    assert.ok(row, `no invitation to ${to} in the outbox`);
    return row.match(pattern)[0];
  }
  const text = await sinkMail(dir, (t) => t.includes(`To: ${to}`) && pattern.test(t), `a survey invitation to ${to}`, 150);
  assert.match(text, /Subject: Your views, please: Protected Utility survey/);
  return text.match(pattern)[0];
}

test('the programme sends a survey, two people answer from their mail, and the sponsor reads the results', async () => {
  const { page: admin } = await signedIn('ada@dta.gov.au');
  await admin.getByRole('link', { name: 'Surveys', exact: true }).click();
  await admin.getByRole('heading', { name: 'Surveys', level: 1 }).waitFor();
  await axe(admin, 'the surveys list');
  await shoot(admin, 'list');
  // The template, for the engagement's people.
  await admin.getByLabel('Engagement', { exact: true }).selectOption({ label: 'Engagement 1: Bureau of Things' });
  await click(admin, 'Start the survey');
  await admin.getByRole('heading', { name: /Protected Utility survey/, level: 1 }).waitFor();
  // A one-choice question with one choice is refused beside its field.
  await admin.getByLabel('Kind of question').selectOption('single');
  await admin.getByLabel('Question', { exact: true }).fill('Which office do you work in?');
  await admin.getByLabel(/Choices, one a line/).fill('Canberra');
  await click(admin, 'Add the question');
  await admin.getByRole('alert').getByText(/give at least two choices/).waitFor();
  assert.equal(await admin.getByLabel('Question', { exact: true }).inputValue(), 'Which office do you work in?');
  await admin.getByLabel(/Choices, one a line/).fill('Canberra\nSydney\nElsewhere');
  await admin.getByLabel('An answer is required').check();
  await click(admin, 'Add the question');
  await admin.getByRole('status').getByText('Saved.').waitFor();
  await admin.getByRole('heading', { name: '7. Which office do you work in?' }).waitFor();
  await axe(admin, 'the survey builder');
  await shoot(admin, 'builder');
  await click(admin, 'Send the survey');
  await admin.getByRole('status').getByText('Sent: 3 invitations are on their way.').waitFor();
  await shoot(admin, 'sent');

  // Two people follow their own links, signed out.
  const answers = [
    { to: 'eve@bot.gov.au', nps: '9', rating: '4', stage: 'Discovery', office: 'Canberra', text: 'More <b>training</b>, please' },
    { to: 'mia@bot.gov.au', nps: '6', rating: '5', stage: 'Transition', office: 'Sydney', text: '' },
    { to: 'noah@bot.gov.au', nps: '10', rating: '3', stage: 'Discovery', office: 'Canberra', text: '' },
  ];
  for (const [i, a] of answers.entries()) {
    const link = await surveyLink(a.to, admin);
    const page = await (await browser.newContext()).newPage();
    await page.goto(link);
    await page.getByRole('heading', { name: 'Protected Utility survey', level: 1 }).waitFor();
    if (i === 0) {
      await axe(page, 'the answer form');
      await shoot(page, 'answer');
      // Sent with nothing chosen: every required question is named.
      await click(page, 'Send my answers');
      const summary = page.getByRole('alert');
      await summary.getByText('Question 1: answer this question: it is required').waitFor();
      assert.equal(await summary.getByRole('link').count(), 4);
      await axe(page, 'the answer form with errors');
      await shoot(page, 'answer-errors');
    }
    const q1 = page.getByRole('group', { name: /1\. How likely are you to recommend/ });
    await q1.getByLabel(a.nps, { exact: true }).check();
    const q2 = page.getByRole('group', { name: /2\. How well does the desktop/ });
    await q2.getByLabel(a.rating, { exact: true }).check();
    await page.getByRole('group', { name: /4\. Which stage/ }).getByLabel(a.stage, { exact: true }).check();
    await page.getByRole('group', { name: /5\. Which of the programme's services/ }).getByLabel('Community portal').check();
    await page.getByRole('group', { name: /7\. Which office/ }).getByLabel(a.office).check();
    if (a.text) await page.getByLabel(/6\. What one change/).fill(a.text);
    await click(page, 'Send my answers');
    await page.getByRole('status').getByText('Thank you: your answers are saved.').waitFor();
    if (i === 0) {
      await shoot(page, 'thanks');
      // The same link again takes nothing more.
      await page.goto(link);
      await page.getByText('This survey already has your answer.').waitFor();
    }
    await page.context().close();
  }

  // The agency reads an anonymous survey's results once it has closed.
  await admin.goto(`${base}/surveys/1`);
  await click(admin, 'Close it now');
  await admin.getByRole('status').getByText('Closed: it takes no more answers.').waitFor();
  // The sponsor reads the results.
  const { page: sponsor } = await signedIn('eve@bot.gov.au');
  await sponsor.getByRole('link', { name: 'Surveys', exact: true }).click();
  await sponsor.getByRole('link', { name: 'Protected Utility survey' }).click();
  await sponsor.getByRole('heading', { name: 'Results: Protected Utility survey' }).waitFor();
  await sponsor.getByText('3 answers from 3 of 3 people invited').waitFor();
  // 9 and 10 promote, 6 detracts: (2 - 1) / 3.
  await sponsor.getByText(/Net Promoter Score 33/).waitFor();
  await sponsor.getByText('Mean rating 4.0 out of 5').waitFor();
  // Every chart is an image named by its title and described, with the
  // same numbers in a table beside it.
  const charts = sponsor.locator('figure.chart-figure svg[role="img"]');
  assert.ok(await charts.count() >= 5);
  for (const svg of await charts.all()) {
    const labelledby = (await svg.getAttribute('aria-labelledby')).split(' ');
    assert.equal(labelledby.length, 2);
    assert.ok((await svg.locator(`title#${labelledby[0]}`).textContent()).startsWith('Answers to question'));
    assert.match(await svg.locator(`desc#${labelledby[1]}`).textContent(), /answered/);
    const table = svg.locator('xpath=ancestor::section[1]//table');
    assert.equal(await table.count(), 1);
  }
  await sponsor.getByText('More <b>training</b>, please').waitFor();
  await axe(sponsor, 'the survey results');
  await shoot(sponsor, 'results');
  const [download] = await Promise.all([
    sponsor.waitForEvent('download'),
    sponsor.getByRole('link', { name: 'Download every count and answer as CSV' }).click(),
  ]);
  const csv = readFileSync(await download.path(), 'utf8');
  assert.match(csv, /^question,text,answer,count\n/);
  assert.match(csv, /7,Which office do you work in\?,Canberra,2\n/);
});

// A day `days` from today, as a form takes it (UTC's day: a day either side
// of Canberra's, which the dates chosen below allow for).
function day(days) {
  return new Date(Date.now() + days * 86_400_000).toISOString().slice(0, 10);
}

test('the sponsor measures a benefit, a retro lesson becomes an article draft, and the portfolio shows all of it', async () => {
  const { page: sponsor } = await signedIn('eve@bot.gov.au');
  const ws = `${base}/engagements/1`;
  // 1. A benefit with a baseline and a target, and two readings that reach it.
  await sponsor.goto(`${ws}/benefits`);
  const add = sponsor.locator('#benefit-add');
  await add.getByLabel('Benefit', { exact: true }).fill('Fewer desktop builds');
  await add.getByLabel('Unit (optional)').fill('builds');
  await add.getByRole('group', { name: /Baseline/ }).getByLabel('Value').fill('120');
  await add.getByRole('group', { name: /Baseline/ }).getByLabel('Date measured').fill(day(-60));
  await add.getByRole('group', { name: /Target/ }).getByLabel('Value').fill('40');
  await add.getByRole('group', { name: /Target/ }).getByLabel('Reach it by').fill(day(40));
  await click(sponsor, 'Add benefit');
  const first = sponsor.locator('#benefit-1');
  for (const [value, date] of [['80', day(-30)], ['40', day(-2)]]) {
    await first.getByLabel(/^Reading in builds/).fill(value);
    await first.getByLabel('Date it was measured').fill(date);
    await Promise.all([sponsor.waitForLoadState('load'), first.getByRole('button', { name: 'Record reading' }).click()]);
  }
  assert.equal((await first.locator('.status').textContent()).trim(), 'Realised');

  // 3. A retrospective records a lesson; the programme accepts it as an
  // article draft.
  await sponsor.goto(`${ws}/workshops`);
  const schedule = sponsor.locator('form').filter({ has: sponsor.getByRole('button', { name: 'Schedule and send invitations' }) });
  await schedule.getByLabel('Title').fill('Discovery retro');
  await schedule.getByLabel('Date', { exact: true }).fill(day(7));
  await schedule.getByLabel('Start time').fill('10:00');
  await schedule.getByLabel('Location (optional if online)').fill('Canberra');
  await schedule.getByLabel('Agenda').fill('What went well, what to improve, what to try next.');
  await schedule.getByLabel(/This is a retrospective/).check();
  await click(sponsor, 'Schedule and send invitations');
  const lessonForm = sponsor.locator('form.lesson-form');
  await lessonForm.getByLabel('To improve', { exact: true }).check();
  await lessonForm.getByLabel('What was learned').fill('Book the security assessor before Discovery starts.');
  await lessonForm.getByLabel('What it is about').selectOption('discovery:5');
  await click(sponsor, 'Record lesson');
  await sponsor.locator('#lesson-1 select').selectOption('guidance');
  await click(sponsor, 'Propose');
  const { page: admin } = await signedIn('ada@dta.gov.au');
  await admin.goto(`${base}/lessons`);
  await admin.getByRole('link', { name: 'Bureau of Things' }).first().click();
  await Promise.all([admin.waitForLoadState('load'),
    admin.locator('#lesson-1 form').first().getByRole('button', { name: 'Accept lesson 1 as an article draft' }).click()]);
  await admin.locator('#lesson-1').getByRole('link', { name: 'its article draft' }).waitFor();

  // 4. The portfolio shows all of it, to the month the benefit is due.
  await admin.getByRole('link', { name: 'Portfolio', exact: true }).click();
  await admin.getByRole('heading', { name: 'Portfolio', level: 1 }).waitFor();
  const due = day(40).slice(0, 7);
  await admin.getByLabel('To month').fill('2099-13');
  await click(admin, 'Show');
  await admin.locator('#to-error').getByText(/there is no such month/).waitFor();
  assert.equal(await admin.getByLabel('To month').inputValue(), '2099-13');
  await axe(admin, 'the portfolio with a filter error');
  await admin.getByLabel('To month').fill(due);
  await click(admin, 'Show');
  // A chart's table, a line a row, its cells apart.
  const table = (slug) => admin.locator(`#portfolio-${slug} tbody tr`).evaluateAll(
    (rows) => rows.map((r) => [...r.cells].map((c) => c.textContent.trim()).join(' ')).join('\n'));
  // Engagements by stage, started, the benefit realised, the survey's
  // score, and the lesson to improve, each in its chart's table.
  assert.match(await table('funnel'), /^Engagements started 1$/m);
  // The stages run to this month (Canberra's: a day ahead of UTC's at most).
  const now = `(${day(0).slice(0, 7)}|${day(1).slice(0, 7)})`;
  assert.match(await table('stages'), new RegExp(`^${now} 1 0 0 0 0$`, 'm'));
  assert.doesNotMatch(await table('stages'), new RegExp(`^${due} `, 'm'), 'no month after this one');
  assert.match(await table('benefits'), /^\d{4} Q\d 1 1 0 0$/m);
  assert.match(await table('surveys'), /^Protected Utility survey \d{4}-\d{2}-\d{2} 3 33 4\.0$/m);
  assert.match(await table('lessons'), /^Discovery 1 0 0$/m);
  // Every chart is an image named by its title and described, beside its table.
  const charts = admin.locator('figure.chart-figure svg[role="img"]');
  assert.ok(await charts.count() >= 6, `${await charts.count()} charts`);
  for (const svg of await charts.all()) {
    const [title, desc] = (await svg.getAttribute('aria-labelledby')).split(' ');
    assert.ok((await svg.locator(`title#${title}`).textContent()).length > 10);
    assert.match(await svg.locator(`desc#${desc}`).textContent(), /^For every agency, /);
    assert.equal(await svg.locator('xpath=ancestor::section[1]//table').count(), 1);
  }
  // axe at a phone's width and a desktop's: the grid of charts differs.
  await admin.setViewportSize({ width: 390, height: 900 });
  await axe(admin, 'the portfolio at 390 px');
  await admin.setViewportSize({ width: 1280, height: 900 });
  await axe(admin, 'the portfolio');
  await shoot(admin, 'portfolio');
  for (const width of [390, 1280]) {
    await admin.setViewportSize({ width, height: 900 });
    await admin.locator('#portfolio-benefits').screenshot({ path: join(SHOTS, `surveys-portfolio-benefits-${width}.png`) });
  }
  await admin.setViewportSize({ width: 1280, height: 900 });
  const [download] = await Promise.all([
    admin.waitForEvent('download'),
    admin.getByRole('link', { name: 'Download benefits realised against target as CSV' }).click(),
  ]);
  assert.match(readFileSync(await download.path(), 'utf8'), /^Quarter due,Due,Realised,Missed,Still to come\n\d{4} Q\d,1,1,0,0\n/);
  // The capacity: a bad number is said beside its field.
  await admin.getByLabel(/How many Do it With You engagements/).fill('none');
  await click(admin, 'Save the capacity');
  await admin.locator('#capacity-error').getByText(/from 1 to 500/).waitFor();
  await admin.getByLabel(/How many Do it With You engagements/).fill('3');
  await click(admin, 'Save the capacity');
  await admin.getByRole('status').getByText('The capacity is saved').waitFor();
  // Nobody else has it.
  assert.equal(await sponsor.getByRole('link', { name: 'Portfolio', exact: true }).count(), 0);
  assert.equal((await sponsor.goto(`${base}/portfolio`)).status(), 404);
});
