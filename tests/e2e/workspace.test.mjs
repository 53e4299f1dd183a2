// The engagement workspace in a real browser (Debian's Chromium, driven by
// playwright-core, checked with axe-core): one engagement from start to
// finish with different people signing in, as the workspace issue lays it
// out. Run by ./scripts/test after the Rust tests built target/debug/waymark.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, mkdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { axe as check, launch, startServer } from './harness.mjs';

const BIN = resolve(process.env.WAYMARK_BIN ?? 'target/debug/waymark');
const CHROMIUM = process.env.CHROMIUM ?? '/usr/bin/chromium';
const SHOTS = resolve('target/e2e-screenshots');
const ADMIN = { email: 'ada@dta.gov.au', password: 'correct horse battery staple' };

let browser;
let server;
let base; // http://127.0.0.1:PORT
let dir;
const dialogs = [];

function waymark(args, input) {
  return execFileSync(BIN, ['--database-url', `sqlite://${join(dir, 'e2e.db')}`, ...args], {
    input, stdio: ['pipe', 'pipe', 'pipe'],
  }).toString();
}

before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'waymark-e2e-workspace-'));
  // The first admin, as the README says: a command, with the password on stdin.
  waymark(['user', 'add', '--name', 'Ada Admin', '--email', ADMIN.email, '--role', 'admin', '--password-stdin'],
    `${ADMIN.password}\n`);
  waymark(['agency', 'add', '--name', 'Bureau of Things', '--abbreviation', 'BOT', '--portfolio', 'Industry']);
  ({ child: server, url: base } = await startServer(BIN, ['--database-url', `sqlite://${join(dir, 'e2e.db')}`],
    /workspace at (http:\/\/127\.0\.0\.1:\d+)\/engagements/));
  browser = await launch(CHROMIUM);
  mkdirSync(SHOTS, { recursive: true });
});

after(async () => {
  await browser?.close();
  server?.kill('SIGTERM');
  if (dir) rmSync(dir, { recursive: true, force: true });
});

const checked = new Set();
async function axe(page, label) {
  await check(page, label);
  checked.add(label);
}

// Screenshots at a phone's and a laptop's width, kept under target/.
async function shoot(page, name) {
  for (const width of [390, 1280]) {
    await page.setViewportSize({ width, height: 900 });
    await page.screenshot({ path: join(SHOTS, `workspace-${name}-${width}.png`), fullPage: width === 1280 });
    const sideways = await page.evaluate(() => document.documentElement.scrollWidth > window.innerWidth + 1);
    assert.equal(sideways, false, `${name} scrolls sideways at ${width}px`);
  }
  await page.setViewportSize({ width: 1280, height: 900 });
}

async function person() {
  const context = await browser.newContext();
  const page = await context.newPage();
  page.on('dialog', async (d) => { dialogs.push(`${page.url()}: ${d.message()}`); await d.dismiss(); });
  return { context, page };
}

async function signIn(page, email, password) {
  await page.goto(`${base}/login`);
  await page.getByLabel('Email address').fill(email);
  await page.getByLabel('Password', { exact: true }).fill(password);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await page.waitForURL(`${base}/engagements`);
}

async function invite(page, name, email, role, agency) {
  await page.goto(`${base}/people`);
  await page.getByLabel('Full name').fill(name);
  await page.getByLabel('Email address').fill(email);
  await page.getByLabel('Role').selectOption(role);
  if (agency) await page.getByLabel(/^Agency/).selectOption({ label: agency });
  await page.getByRole('button', { name: 'Invite' }).click();
  const link = await page.locator('.invite-link').textContent();
  assert.match(link, /\/invite\/[0-9a-f]{64}$/);
  return link;
}

async function acceptInvite(page, link, password) {
  await page.goto(link);
  await page.getByLabel('New password').fill(password);
  await page.getByLabel('Type the password again').fill(password);
  await page.getByRole('button', { name: 'Set password and sign in' }).click();
  await page.waitForURL(`${base}/engagements`);
}

async function submit(page, form, button) {
  await Promise.all([page.waitForLoadState('load'), form.getByRole('button', { name: button }).click()]);
  const problem = await page.locator('.error-summary').count();
  assert.equal(problem, 0, `${button}: ${problem ? await page.locator('.error-summary').textContent() : ''}`);
}

async function setStep(page, stage, step, status = 'done') {
  const item = page.locator(`#step-${stage}-${step}`);
  await item.locator(`#step-${stage}-${step}-status`).selectOption(status);
  await submit(page, item.locator('form').first(), 'Save status');
  await assert.doesNotReject(page.locator(`#step-${stage}-${step} .status-${status}`).first().waitFor());
}

async function decide(page, formId, optionIndex, rationale, funder) {
  const form = page.locator(`#${formId}`);
  await form.locator(`#${formId}-option${optionIndex ? `-${optionIndex}` : ''}`).check();
  await form.getByLabel(/the rationale/).fill(rationale);
  await form.locator(`#${formId}-funded_by${funder === 'dta' ? '' : `-${funder}`}`).check();
  await submit(page, form, 'Record the decision');
}

async function stageStatus(page, slug) {
  return (await page.locator(`#stage-${slug}-title .status`).textContent()).trim();
}

test('one engagement from start to finish, with axe on every page type', async () => {
  // 1. The admin signs in and invites a programme officer and an agency member.
  const admin = await person();
  await admin.page.goto(`${base}/login`);
  await axe(admin.page, 'sign-in');
  await shoot(admin.page, 'sign-in');
  await signIn(admin.page, ADMIN.email, ADMIN.password);
  const officerLink = await invite(admin.page, 'Oscar Officer', 'oscar@dta.gov.au', 'staff');
  await axe(admin.page, 'people');
  await shoot(admin.page, 'people');
  const memberLink = await invite(admin.page, 'Mia Member', 'mia@bot.gov.au', 'member', 'Bureau of Things (BOT)');
  // A bad invite: the error is summarised, linked and said beside the field.
  await admin.page.getByLabel('Full name').fill('No Email');
  await admin.page.getByRole('button', { name: 'Invite' }).click();
  await admin.page.locator('.error-summary a[href="#email"]').waitFor();
  await axe(admin.page, 'form with errors');
  await admin.page.getByRole('button', { name: 'Sign out' }).click();
  await admin.page.waitForURL(`${base}/login`);

  // 2. The programme officer sets a password and starts the engagement.
  const officer = await person();
  await officer.page.goto(officerLink);
  await axe(officer.page, 'set password');
  await shoot(officer.page, 'set-password');
  await acceptInvite(officer.page, officerLink, 'officer passphrase for waymark');
  await officer.page.getByRole('link', { name: 'Agencies' }).click();
  await axe(officer.page, 'agencies');
  await shoot(officer.page, 'agencies');
  await officer.page.getByRole('link', { name: 'Bureau of Things' }).click();
  await axe(officer.page, 'agency');
  await officer.page.getByRole('button', { name: /Start an engagement for BOT/ }).click();
  await officer.page.waitForURL(/\/engagements\/\d+$/);
  const workspace = officer.page.url();
  assert.equal(await stageStatus(officer.page, 'engagement'), 'Active');

  // 3. The agency member completes the Engagement steps.
  const member = await person();
  await acceptInvite(member.page, memberLink, 'member passphrase for waymark');
  await axe(member.page, 'home');
  await shoot(member.page, 'home');
  await member.page.getByRole('link', { name: /Bureau of Things/ }).first().click();
  assert.equal(member.page.url(), workspace);
  await axe(member.page, 'workspace');
  for (const step of [1, 2, 3]) await setStep(member.page, 'engagement', step);

  // 4. The decision "Undertake discovery?": Discovery, funded by the DTA.
  await decide(member.page, 'decide-engagement-0', 0, 'We need to understand our readiness first.', 'dta');
  assert.equal(await stageStatus(member.page, 'discovery'), 'Active');
  await submit(member.page, member.page.locator('#stage-engagement .stage-actions form'), 'Mark Engagement complete');
  assert.equal(await stageStatus(member.page, 'engagement'), 'Completed');

  // 5. Discovery: steps done, one skipped with a reason, which raises risks.
  for (const step of [1, 2, 3, 4, 6]) await setStep(member.page, 'discovery', step);
  const skip = member.page.locator('#step-discovery-5');
  await skip.locator('summary', { hasText: 'Skip step 5' }).click();
  await skip.getByRole('button', { name: 'Skip step 5' }).click();
  await member.page.locator('.error-summary a[href="#skip-discovery-5-reason"]').waitFor();
  await axe(member.page, 'workspace with an error');
  // The form that had the error comes back open, beside its message.
  await member.page.locator('#skip-discovery-5-reason').fill('Security was assessed against the blueprint last quarter.');
  await submit(member.page, member.page.locator('#step-discovery-5 details.skip form'), 'Skip step 5');
  const risks = await member.page.locator('#risks table').textContent();
  assert.match(risks, /Raised when step 5 of Discovery was skipped/);

  // 6. A Deploy cycle runs, and Deploy is chosen again.
  await decide(member.page, 'exit-discovery', 1, 'The business case is approved.', 'co_funded');
  assert.equal(await stageStatus(member.page, 'deploy'), 'Active');
  for (const step of [1, 2]) await setStep(member.page, 'deploy', step);
  await decide(member.page, 'exit-deploy', 1, 'Add Teams calling next.', 'agency');
  assert.equal(await stageStatus(member.page, 'deploy'), 'Active, cycle 2');
  await setStep(member.page, 'deploy', 1, 'todo');
  for (const step of [1, 2]) await setStep(member.page, 'deploy', step);

  // 7. Transition, then Adoption and Evaluation.
  await decide(member.page, 'exit-deploy', 0, 'People need to change how they work.', 'co_funded');
  for (const step of [1, 2, 3, 4, 5, 6]) await setStep(member.page, 'transition', step);
  await decide(member.page, 'exit-transition', 2, 'The change has taken hold.', 'dta');
  for (const step of [1, 2]) await setStep(member.page, 'adoption-evaluation', step);
  const check = member.page.locator('#check-adoption-evaluation-0');
  await check.getByLabel('Evidence that this is met').fill('Posted in the community portal twice this quarter.');
  await submit(member.page, check.locator('form'), 'Mark as met');
  await officer.page.goto(workspace);
  await submit(officer.page, officer.page.locator('#stage-adoption-evaluation .stage-actions form'),
    'Mark Adoption and Evaluation complete');
  for (const slug of ['engagement', 'discovery', 'deploy', 'transition', 'adoption-evaluation']) {
    assert.match(await stageStatus(officer.page, slug), /^Completed/, slug);
  }
  await shoot(officer.page, 'workspace');

  // A stale page: the member's tab is behind, so their change is refused
  // plainly and what they typed is kept.
  await member.page.goto(workspace);
  await officer.page.locator('#risk-add-text').fill('Vendor support ends in June.');
  await submit(officer.page, officer.page.locator('#risk-add'), 'Add risk');
  await member.page.locator('#risk-add-text').fill('Licence counts may be short.');
  await member.page.locator('#risk-add').getByRole('button', { name: 'Add risk' }).click();
  await member.page.getByRole('heading', { name: 'Someone else changed this engagement' }).waitFor();
  assert.match(await member.page.locator('main').textContent(), /Licence counts may be short\./);
  await axe(member.page, 'conflict');
  await shoot(member.page, 'conflict');

  // 8. The history shows every step, newest first.
  await officer.page.goto(`${workspace}/history`);
  await axe(officer.page, 'history');
  await shoot(officer.page, 'history');
  const history = await officer.page.locator('table.history').textContent();
  for (const line of [
    'Started the engagement (Do it With You)',
    'Step 1 of Engagement was done',
    'Decided “Undertake discovery?”',
    'Step 5 of Discovery was skipped: Security was assessed against the blueprint last quarter.',
    'Deploy began again (cycle 2)',
    'Transition began',
    'Adoption and Evaluation was completed',
    'Risk',
  ]) {
    assert.ok(history.includes(line), `the history lacks: ${line}`);
  }
  const rows = await officer.page.locator('table.history tbody tr').count();
  assert.ok(rows >= 45, `only ${rows} events`);
  const who = await officer.page.locator('table.history tbody').textContent();
  for (const name of ['Oscar Officer', 'Mia Member']) assert.ok(who.includes(name), name);

  // The officer's home: by stage, recent activity.
  await officer.page.goto(`${base}/engagements`);
  await axe(officer.page, 'programme home');
  await shoot(officer.page, 'programme-home');
  assert.match(await officer.page.locator('#recent').locator('..').textContent(), /Mia Member/);

  for (const s of [admin, officer, member]) await s.context.close();
  assert.deepEqual(dialogs, []);
  for (const label of ['sign-in', 'set password', 'home', 'programme home', 'workspace', 'workspace with an error',
    'history', 'agencies', 'agency', 'people', 'form with errors', 'conflict']) {
    assert.ok(checked.has(label), `axe did not check ${label}`);
  }
});

test('script in free text never runs in the browser', async () => {
  const payloads = [
    "<script>alert('xss-script')</script>",
    "\"><img src=x onerror=alert('xss-img')>",
    "'><svg onload=alert('xss-svg')>",
    "</textarea><script>alert('xss-textarea')</script>",
  ];
  const admin = await person();
  await signIn(admin.page, ADMIN.email, ADMIN.password);
  await admin.page.goto(`${base}/agencies`);
  await admin.page.getByLabel('Name').fill(payloads[1]);
  await admin.page.getByLabel('Abbreviation').fill('XSS');
  await admin.page.getByLabel('Portfolio').fill(payloads[2]);
  await admin.page.getByRole('button', { name: 'Add agency' }).click();
  await admin.page.getByRole('button', { name: /Start an engagement for XSS/ }).click();
  await admin.page.waitForURL(/\/engagements\/\d+$/);
  const ws = admin.page.url();
  for (const p of payloads) {
    await admin.page.locator('#risk-add-text').fill(p);
    await submit(admin.page, admin.page.locator('#risk-add'), 'Add risk');
    await admin.page.locator('#benefit-add-text').fill(p);
    await admin.page.locator('#benefit-add-measure').fill(p);
    await submit(admin.page, admin.page.locator('#benefit-add'), 'Add benefit');
    await admin.page.locator('#initiative-add-name').fill(p);
    await admin.page.locator('#initiative-add-description').fill(p);
    await submit(admin.page, admin.page.locator('#initiative-add'), 'Link initiative');
  }
  // A decision whose rationale is script, sent back with an error so the
  // typed text is echoed into the form too.
  await admin.page.locator('#decide-engagement-0-rationale').fill(payloads[3]);
  await admin.page.locator('#decide-engagement-0').getByRole('button', { name: 'Record the decision' }).click();
  await admin.page.locator('.error-summary').waitFor();
  for (const path of [ws, `${ws}/history`, `${base}/engagements`, `${base}/agencies`]) {
    await admin.page.goto(path);
    await admin.page.waitForTimeout(100);
  }
  const text = await admin.page.locator('main').textContent();
  assert.ok(text.includes(payloads[1]), 'the payload is shown as text');
  await admin.context.close();
  assert.deepEqual(dialogs, [], 'a dialog opened: script ran');
});
