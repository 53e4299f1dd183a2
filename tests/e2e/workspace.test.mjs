// The engagement workspace in a real browser (Debian's Chromium, driven by
// playwright-core, checked with axe-core): a newcomer starts the server on an
// empty database and creates the first admin in the browser, then one
// engagement runs from start to finish with different people signing in, on
// its overview, stage pages and registers. Run by ./scripts/test after the
// Rust tests built target/debug/waymark.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, mkdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { axe as check, launch, setUpFactor, signIn as signInAt, startServer, typeCode } from './harness.mjs';

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

let setupLink;
let serverLog;
// Every session cookie the journey was given (the log check). A closed
// context can no longer be asked, so each is read as its context closes.
const sessions = [];
const open = new Set();
async function keepSessions(context) {
  for (const cookie of await context.cookies()) {
    if (cookie.name === 'waymark_session') sessions.push(cookie.value);
  }
}
// Passwords and links the journey uses: none may reach the log.
const secrets = [ADMIN.password, 'officer passphrase for waymark', 'member passphrase for waymark'];

before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'waymark-e2e-workspace-'));
  waymark(['agency', 'add', '--name', 'Bureau of Things', '--abbreviation', 'BOT', '--portfolio', 'Industry']);
  // Nobody has an account: serve prints a one-time setup link.
  let match;
  // At debug level, so the last test can check that no secret is logged.
  ({ child: server, url: base, match, log: serverLog } = await startServer(BIN,
    ['--database-url', `sqlite://${join(dir, 'e2e.db')}`],
    /(http:\/\/127\.0\.0\.1:\d+)\/setup\/[0-9a-f]{64}/, [], { WAYMARK_LOG: 'debug' }));
  setupLink = match[0];
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
  // 320 px (WCAG 2.2 reflow) only checks that nothing scrolls sideways
  // (error states too).
  for (const width of [320, 390, 1280]) {
    await page.setViewportSize({ width, height: 900 });
    if (width === 320) {
      const wide = await page.evaluate(() => document.documentElement.scrollWidth > window.innerWidth + 1);
      assert.equal(wide, false, `${name} scrolls sideways at 320px`);
      continue;
    }
    await page.screenshot({ path: join(SHOTS, `workspace-${name}-${width}.png`), fullPage: width === 1280 });
    const sideways = await page.evaluate(() => document.documentElement.scrollWidth > window.innerWidth + 1);
    assert.equal(sideways, false, `${name} scrolls sideways at ${width}px`);
  }
  await page.setViewportSize({ width: 1280, height: 900 });
}

async function person() {
  const context = await browser.newContext();
  open.add(context);
  const close = context.close.bind(context);
  context.close = async () => {
    open.delete(context);
    await keepSessions(context);
    await close();
  };
  const page = await context.newPage();
  page.on('dialog', async (d) => { dialogs.push(`${page.url()}: ${d.message()}`); await d.dismiss(); });
  return { context, page };
}

async function signIn(page, email, password) {
  await signInAt(page, base, email, password);
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

// An engagement's pages: the overview, and each stage's own page.
async function onStage(page, workspace, stage) {
  const url = `${workspace}/stages/${stage}`;
  if (!page.url().startsWith(url)) await page.goto(url);
}

async function setStep(page, stage, step, status = 'done') {
  await onStage(page, workspaceUrl, stage);
  const item = page.locator(`#step-${stage}-${step}`);
  await item.locator(`#step-${stage}-${step}-status`).selectOption(status);
  await submit(page, item.locator('form').first(), 'Save status');
  await assert.doesNotReject(page.locator(`#step-${stage}-${step} .status-${status}`).first().waitFor());
}

async function decide(page, formId, optionIndex, rationale, funder) {
  await onStage(page, workspaceUrl, formId.replace(/^(decide|exit)-/, '').replace(/-\d+$/, ''));
  const form = page.locator(`#${formId}`);
  await form.locator(`#${formId}-option${optionIndex ? `-${optionIndex}` : ''}`).check();
  await form.getByLabel(/the rationale/).fill(rationale);
  await form.locator(`#${formId}-funded_by${funder === 'dta' ? '' : `-${funder}`}`).check();
  await submit(page, form, 'Record the decision');
}

async function stageStatus(page, slug) {
  await page.goto(workspaceUrl);
  return (await page.locator(`#journey-${slug} .status`).textContent()).trim();
}

let workspaceUrl;

// Tab from the top of the page until `selector` has focus; how many stops.
async function tabsTo(page, selector) {
  await page.evaluate(() => { document.activeElement?.blur(); window.scrollTo(0, 0); });
  await page.locator('body').focus();
  for (let n = 1; n <= 60; n++) {
    await page.keyboard.press('Tab');
    if (await page.evaluate((sel) => document.activeElement?.matches(sel) ?? false, selector)) return n;
  }
  return Infinity;
}

test('a newcomer creates the first admin in the browser', async () => {
  const { context, page } = await person();
  await page.goto(setupLink);
  await page.getByRole('heading', { name: 'Set up Waymark' }).waitFor();
  await axe(page, 'first-run setup');
  // Every problem at once, beside its field.
  await page.getByRole('button', { name: 'Create the admin account and sign in' }).click();
  for (const id of ['name', 'email', 'password']) {
    await page.locator(`.error-summary a[href="#${id}"]`).waitFor();
  }
  await axe(page, 'first-run setup with errors');
  await shoot(page, 'setup-errors');
  await page.getByLabel('Full name').fill('Ada Admin');
  await page.getByLabel('Email address').fill(ADMIN.email);
  await page.getByLabel('Password', { exact: true }).fill(ADMIN.password);
  await page.getByLabel('Type the password again').fill(ADMIN.password);
  await page.getByRole('button', { name: 'Create the admin account and sign in' }).click();
  // A programme admin sets up a second factor before anything else: the
  // QR code, or the key by hand, then the app's code.
  await page.waitForURL(`${base}/settings/second-factor`);
  await page.getByRole('img', { name: /QR code for your authenticator app/ }).waitFor();
  await axe(page, 'second factor setup');
  await shoot(page, 'second-factor-setup');
  await page.getByLabel('Code from your app').fill('12345');
  await page.getByRole('button', { name: 'Turn on the second factor' }).click();
  await page.locator('.error-summary a[href="#code"]').waitFor();
  await axe(page, 'second factor with an error');
  // The key and the recovery codes are secrets the log must never hold.
  secrets.push((await page.locator('#setup-key').textContent()).replace(/\s/g, ''));
  const recovery = await setUpFactor(page, ADMIN.email);
  secrets.push(...recovery, ...recovery.map((c) => c.replace('-', '')));
  assert.equal(recovery.length, 10);
  assert.ok(recovery.every((c) => /^[a-z2-9]{5}-[a-z2-9]{5}$/.test(c)), recovery.join(' '));
  await axe(page, 'recovery codes');
  await shoot(page, 'second-factor-codes');
  await page.getByRole('link', { name: 'I have saved them: go on' }).click();
  await page.waitForURL(`${base}/engagements`);
  // Signing in again: the password, then a code from the app.
  await page.getByRole('button', { name: 'Sign out' }).click();
  await page.waitForURL(`${base}/login`);
  await page.getByLabel('Email address').fill(ADMIN.email);
  await page.getByLabel('Password', { exact: true }).fill(ADMIN.password);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await page.waitForURL(/\/login\/code/);
  await page.getByLabel('Code', { exact: true }).fill('000000x');
  await page.getByRole('button', { name: 'Sign in' }).click();
  await page.locator('.error-summary a[href="#code"]').waitFor();
  await axe(page, 'sign-in code');
  await shoot(page, 'sign-in-code');
  await typeCode(page, ADMIN.email);
  await page.waitForURL(`${base}/engagements`);
  await page.getByRole('heading', { name: 'Waiting for you' }).waitFor();
  // Their own settings: zone and mail.
  await page.getByRole('link', { name: 'Your settings' }).click();
  await page.getByRole('heading', { name: 'Your settings' }).waitFor();
  await axe(page, 'settings');
  // Correcting one's own name: a blank one is said beside the field.
  await page.getByLabel('Full name').fill(' ');
  await page.getByRole('button', { name: 'Save your name' }).click();
  await page.locator('.error-summary a[href="#name"]').waitFor();
  await page.getByLabel('Full name').fill('Ada Admin');
  await page.getByRole('button', { name: 'Save your name' }).click();
  await page.getByText('Your name is corrected').waitFor();
  // Retention: the period, an error beside it, a run now, the runs listed.
  await page.goto(`${base}/retention`);
  await page.getByRole('heading', { name: 'Retention', level: 1 }).waitFor();
  await page.getByLabel('Keep closed enquiries for how many months?').fill('0');
  await page.getByRole('button', { name: 'Save the period' }).click();
  await page.locator('.error-summary a[href="#months"]').waitFor();
  await axe(page, 'retention with an error');
  await page.getByLabel('Keep closed enquiries for how many months?').fill('18');
  await page.getByRole('button', { name: 'Save the period' }).click();
  await page.getByText('The retention period is saved').waitFor();
  await page.getByRole('button', { name: 'Run retention now' }).click();
  await page.getByText('Retention ran').waitFor();
  await page.getByRole('cell', { name: /18 months: closed enquiries last changed before/ }).waitFor();
  await axe(page, 'retention');
  await shoot(page, 'retention');
  await page.goto(`${base}/settings`);
  await shoot(page, 'settings');
  // An API token for a report: read only, for 30 days, shown once.
  await page.getByLabel('What is it for?').fill('Power BI refresh');
  await page.getByLabel('Ends after how many days? (optional)').fill('30');
  await page.getByRole('button', { name: 'Make token' }).click();
  await page.getByRole('heading', { name: 'Copy your new token now' }).waitFor();
  const token = await page.getByLabel('Your new token', { exact: true }).inputValue();
  assert.match(token, /^wmk_[0-9a-f]{64}$/);
  secrets.push(token);
  await axe(page, 'settings with a new token');
  await shoot(page, 'settings-token');
  const bearer = { Authorization: `Bearer ${token}` };
  assert.equal((await page.request.get(`${base}/api/v1/me`, { headers: bearer })).status(), 200);
  const write = await page.request.post(`${base}/api/v1/agencies`, {
    headers: bearer, data: { name: 'X', abbreviation: 'XX', portfolio: 'Y' },
  });
  assert.equal(write.status(), 403, 'a read-only token may not write');
  // Revoked: refused at once.
  await page.getByRole('button', { name: 'Revoke the token Power BI refresh' }).click();
  await page.getByText('That token is revoked').waitFor();
  assert.equal((await page.request.get(`${base}/api/v1/me`, { headers: bearer })).status(), 401);
  // A webhook: a private address is refused, beside the field; a public
  // one is subscribed and its secret shown once.
  await page.getByRole('link', { name: 'your webhook subscriptions' }).click();
  await page.getByRole('heading', { name: 'Webhooks', level: 1 }).waitFor();
  await page.getByLabel('Address to send to').fill('http://127.0.0.1:9/hook');
  await page.getByLabel(/A letter or document is signed/).check();
  await page.getByRole('button', { name: 'Subscribe' }).click();
  await page.getByText('127.0.0.1 is a loopback address').first().waitFor();
  assert.equal(await page.getByLabel(/A letter or document is signed/).isChecked(), true, 'the choice is kept');
  await axe(page, 'webhooks with an error');
  await shoot(page, 'webhooks-error');
  await page.getByLabel('Address to send to').fill('https://hooks.example.gov.au/waymark');
  await page.getByLabel('What is it for? (optional)').fill('ServiceNow change requests');
  await page.getByRole('button', { name: 'Subscribe' }).click();
  await page.getByRole('heading', { name: 'Copy the signing secret now' }).waitFor();
  const secret = await page.getByLabel('Signing secret', { exact: true }).inputValue();
  assert.match(secret, /^whsec_[A-Za-z0-9+/]{43}=$/);
  secrets.push(secret);
  await axe(page, 'webhooks with a new secret');
  await shoot(page, 'webhooks-secret');
  await page.getByRole('link', { name: 'See its deliveries' }).click();
  await page.getByText('Nothing has been sent yet').waitFor();
  await page.getByRole('button', { name: 'Stop sending' }).click();
  await page.getByText('The subscription is stopped').waitFor();
  await axe(page, 'webhook');
  await shoot(page, 'webhook');
  // The link worked once.
  const again = await page.request.get(setupLink);
  assert.equal(again.status(), 404);
  await context.close();
});

test('one engagement from start to finish, with axe on every page type', async () => {
  // 1. The admin signs in and invites a programme officer and an agency member.
  const admin = await person();
  await admin.page.goto(`${base}/login`);
  await axe(admin.page, 'sign-in');
  await shoot(admin.page, 'sign-in');
  await signIn(admin.page, ADMIN.email, ADMIN.password);
  const officerLink = await invite(admin.page, 'Oscar Officer', 'oscar@dta.gov.au', 'staff');
  secrets.push(officerLink.split('/').pop());
  await axe(admin.page, 'people');
  await shoot(admin.page, 'people');
  const memberLink = await invite(admin.page, 'Mia Member', 'mia@bot.gov.au', 'member', 'Bureau of Things (BOT)');
  secrets.push(memberLink.split('/').pop());
  // A bad invite: the error is summarised, linked and said beside the field.
  await admin.page.getByLabel('Full name').fill('No Email');
  await admin.page.getByRole('button', { name: 'Invite' }).click();
  await admin.page.locator('.error-summary a[href="#email"]').waitFor();
  await axe(admin.page, 'form with errors');
  // A person's page: their roles, and what to do when they leave.
  await admin.page.getByRole('link', { name: 'Mia Member' }).click();
  await admin.page.getByRole('heading', { name: 'If they have left' }).waitFor();
  await axe(admin.page, 'person');
  await shoot(admin.page, 'person');
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
  workspaceUrl = workspace;
  // The overview: named for the agency, what's next first.
  await officer.page.getByRole('heading', { level: 1, name: 'Bureau of Things — Protected Utility' }).waitFor();
  assert.equal(await stageStatus(officer.page, 'engagement'), 'Active');

  // 3. The agency member completes the Engagement steps.
  const member = await person();
  await acceptInvite(member.page, memberLink, 'member passphrase for waymark');
  await axe(member.page, 'home');
  await shoot(member.page, 'home');
  await member.page.locator('#all').locator('..').getByRole('link', { name: /Bureau of Things/ }).first().click();
  assert.equal(member.page.url(), workspace);
  await axe(member.page, 'overview');
  await shoot(member.page, 'overview-new');
  // From the top of the overview, the first open step is a few Tab stops away.
  const stops = await tabsTo(member.page, 'a[href$="#step-engagement-1"]');
  assert.ok(stops <= 15, `${stops} Tab stops to the first open step`);
  // A member sees no control they may not use: no "Set sponsor".
  await member.page.goto(`${workspace}/people`);
  assert.equal(await member.page.getByRole('button', { name: 'Set sponsor' }).count(), 0);
  await axe(member.page, 'engagement people');
  await shoot(member.page, 'people-page');
  // A stage not started has no forms.
  await member.page.goto(`${workspace}/stages/deploy`);
  assert.equal(await member.page.locator('form[action] button', { hasText: /Save status|Record the decision/ }).count(), 0);
  await axe(member.page, 'stage not started');
  await member.page.getByRole('link', { name: '1. Engagement' }).click();
  await axe(member.page, 'stage');
  for (const step of [1, 2, 3]) await setStep(member.page, 'engagement', step);
  // After a change, a banner says what was saved.
  await member.page.getByRole('status').filter({ hasText: 'The step\'s status is saved.' }).waitFor();

  // 4. The decision "Undertake discovery?": Discovery, funded by the DTA.
  await decide(member.page, 'decide-engagement-0', 0, 'We need to understand our readiness first.', 'dta');
  // Shown as decided, with a way to change it, and no second form.
  await member.page.locator('.decided').filter({ hasText: 'Decided' }).first().waitFor();
  assert.equal(await member.page.locator('form.decision:visible').count(), 0);
  assert.equal(await member.page.locator('#exit-engagement').count(), 0);
  await shoot(member.page, 'stage-decided');
  // The criterion the decision meets is met by itself.
  assert.match(await member.page.locator('#check-engagement-0').textContent(), /Met/);
  assert.equal(await stageStatus(member.page, 'discovery'), 'Active');
  await onStage(member.page, workspace, 'engagement');
  await submit(member.page, member.page.locator('.stage-actions form'), 'Mark Engagement complete');
  assert.equal(await stageStatus(member.page, 'engagement'), 'Completed');

  // 5. Discovery: steps done, one skipped with a reason, which raises risks.
  for (const step of [1, 2, 3, 4, 6]) await setStep(member.page, 'discovery', step);
  await onStage(member.page, workspace, 'discovery');
  const skip = member.page.locator('#step-discovery-5');
  await skip.locator('summary', { hasText: 'Skip step 5' }).click();
  await skip.getByRole('button', { name: 'Skip step 5' }).click();
  await member.page.locator('.error-summary a[href="#skip-discovery-5-reason"]').waitFor();
  await axe(member.page, 'stage with an error');
  // The form that had the error comes back open, beside its message.
  await member.page.locator('#skip-discovery-5-reason').fill('Security was assessed against the blueprint last quarter.');
  await submit(member.page, member.page.locator('#step-discovery-5 details.skip form'), 'Skip step 5');
  // Skipped: no "To do" box, a way to reopen it instead.
  await member.page.getByRole('button', { name: 'Reopen step 5' }).waitFor();
  assert.equal(await member.page.locator('#step-discovery-5-status').count(), 0);
  await member.page.goto(`${workspace}/risks`);
  await axe(member.page, 'risks');
  await shoot(member.page, 'risks');
  const risks = await member.page.locator('.risk-list').textContent();
  assert.match(risks, /Raised when step 5 of Discovery was skipped/);

  // 5b. The member asks the programme beside the new risk, naming the
  // officer; an empty comment is refused beside its field. The officer
  // finds the thread from the engagement's discussions and answers.
  await member.page.locator('.risk-list li').first().getByRole('link', { name: /^Discuss risk/ }).click();
  await member.page.getByRole('heading', { level: 1, name: 'Discussion' }).waitFor();
  assert.match(await member.page.locator('.discussion-about').textContent(), /^About: Risk \d+: /);
  await member.page.getByRole('button', { name: 'Post the comment' }).click();
  await member.page.locator('.error-summary a[href="#comment-new-body"]').waitFor();
  await axe(member.page, 'discussion with an error');
  await shoot(member.page, 'discussion-error');
  await member.page.getByLabel('Your comment').fill('@Oscar Officer, can the programme **help** with this risk?');
  await submit(member.page, member.page.locator('#comment-new'), 'Post the comment');
  await member.page.getByRole('status').filter({ hasText: 'Your comment is posted.' }).waitFor();
  assert.match(await member.page.locator('#comment-1').textContent(), /Mentions Oscar Officer/);
  assert.equal(await member.page.locator('#comment-1 strong', { hasText: 'help' }).count(), 1);
  await axe(member.page, 'discussion thread');
  await shoot(member.page, 'discussion-thread');
  await officer.page.goto(`${workspace}/discussion`);
  await axe(officer.page, 'discussions');
  await shoot(officer.page, 'discussions');
  await officer.page.locator('.thread-list').getByRole('link', { name: /^Risk/ }).click();
  await officer.page.getByLabel('Your comment').fill('Yes: @Mia Member, we will bring it to the next workshop.');
  await submit(officer.page, officer.page.locator('#comment-new'), 'Post the comment');
  assert.equal(await officer.page.locator('.comment-list > li').count(), 2);

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
  await onStage(member.page, workspace, 'adoption-evaluation');
  const check = member.page.locator('#check-adoption-evaluation-0');
  await check.getByLabel('Evidence that this is met').fill('Posted in the community portal twice this quarter.');
  await submit(member.page, check.locator('form'), 'Mark as met');
  // Two people on the same stage page: a change to another step goes
  // through; a change to the step someone else just changed is refused
  // plainly, and what was typed is kept.
  await member.page.goto(`${workspace}/stages/adoption-evaluation`);
  await officer.page.goto(`${workspace}/stages/adoption-evaluation`);
  await setStep(officer.page, 'adoption-evaluation', 1, 'in_progress');
  await setStep(member.page, 'adoption-evaluation', 2, 'in_progress');
  await member.page.getByRole('status').filter({ hasText: 'saved' }).waitFor();
  await setStep(officer.page, 'adoption-evaluation', 1, 'done');
  const stale = member.page.locator('#step-adoption-evaluation-1');
  await stale.locator('summary', { hasText: 'Skip step 1' }).click();
  await stale.locator('#skip-adoption-evaluation-1-reason').fill('Licence counts may be short.');
  await stale.getByRole('button', { name: 'Skip step 1' }).click();
  await member.page.getByRole('heading', { name: 'Someone else changed this engagement' }).waitFor();
  assert.match(await member.page.locator('main').textContent(), /Licence counts may be short\./);
  await axe(member.page, 'conflict');
  await shoot(member.page, 'conflict');

  await officer.page.goto(workspace);
  await onStage(officer.page, workspace, 'adoption-evaluation');
  await submit(officer.page, officer.page.locator('.stage-actions form'),
    'Mark Adoption and Evaluation complete');
  for (const slug of ['engagement', 'discovery', 'deploy', 'transition', 'adoption-evaluation']) {
    assert.match(await stageStatus(officer.page, slug), /^Completed/, slug);
  }
  await axe(officer.page, 'overview, all stages done');
  await shoot(officer.page, 'overview');
  // A whole engagement's overview stays light.
  const html = await (await officer.page.request.get(workspace)).text();
  assert.ok(html.length < 60 * 1024, `the overview is ${html.length} bytes of HTML`);
  for (const [path, label] of [['decisions', 'decisions'], ['benefits', 'benefits']]) {
    await officer.page.goto(`${workspace}/${path}`);
    await axe(officer.page, label);
    await shoot(officer.page, label);
  }
  await officer.page.goto(`${workspace}/stages/deploy`);
  await shoot(officer.page, 'stage');

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
  for (const label of ['sign-in', 'set password', 'home', 'programme home', 'overview', 'stage', 'stage not started',
    'stage with an error', 'risks', 'decisions', 'benefits', 'engagement people', 'history', 'agencies', 'agency',
    'people', 'form with errors', 'conflict', 'discussion thread', 'discussions', 'discussion with an error']) {
    assert.ok(checked.has(label), `axe did not check ${label}`);
  }
});

test('a sponsor takes the self-assessment, the journey re-tailors, and the programme sets the type', async () => {
  // The programme starts a second engagement for BOT and invites its sponsor.
  const admin = await person();
  await signIn(admin.page, ADMIN.email, ADMIN.password);
  const sponsorLink = await invite(admin.page, 'Sid Sponsor', 'sid@bot.gov.au', 'sponsor', 'Bureau of Things (BOT)');
  secrets.push(sponsorLink.split('/').pop());
  await admin.page.goto(`${base}/agencies`);
  await admin.page.getByRole('link', { name: /Bureau of Things/ }).first().click();
  const agencyUrl = admin.page.url();
  await admin.page.getByRole('button', { name: /Start an engagement for BOT/ }).click();
  await admin.page.waitForURL(/\/engagements\/\d+$/);
  const ws = admin.page.url();
  await onStage(admin.page, ws, 'discovery');
  await submit(admin.page, admin.page.locator('.stage-actions form'), 'Start Discovery');

  // 1. The sponsor finds the assessment on the agency's page and takes it.
  const sponsor = await person();
  await acceptInvite(sponsor.page, sponsorLink, 'sponsor passphrase for waymark');
  secrets.push('sponsor passphrase for waymark');
  await sponsor.page.goto(agencyUrl);
  await sponsor.page.getByRole('link', { name: 'Take the self-assessment' }).click();
  await sponsor.page.getByRole('heading', { name: 'Take the assessment' }).waitFor();
  await axe(sponsor.page, 'self-assessment');
  await shoot(sponsor.page, 'assessment');
  assert.equal(await sponsor.page.locator('fieldset legend').count(), 8);
  // Sent with two answers: every other question is named, and the two kept.
  await sponsor.page.getByRole('group', { name: 'How spread out are your staff?' })
    .getByLabel('Mostly in one or two offices').check();
  await sponsor.page.getByRole('group', { name: /distinct ways of working/ })
    .getByLabel('No, most staff work in much the same way').check();
  await sponsor.page.getByRole('button', { name: 'Record the assessment' }).click();
  await sponsor.page.locator('.error-summary').waitFor();
  assert.equal(await sponsor.page.locator('.error-summary li').count(), 6);
  assert.ok(await sponsor.page.getByLabel('Mostly in one or two offices').isChecked());
  await axe(sponsor.page, 'self-assessment with errors');
  await shoot(sponsor.page, 'assessment-errors');
  // Every question answered with its first answer: a Lean agency.
  for (const group of await sponsor.page.locator('form fieldset').all()) {
    await group.locator('input[type=radio]').first().check();
  }
  await sponsor.page.getByRole('button', { name: 'Record the assessment' }).click();
  await sponsor.page.locator('#result').waitFor();
  assert.match(await sponsor.page.locator('#result').textContent(), /BOT is Lean, from its self-assessment/);
  assert.match(await sponsor.page.locator('ol.history').textContent(), /Assessed as Lean/);
  await shoot(sponsor.page, 'assessment-result');

  // 2. The journey re-tailors: Discovery's business case does not apply,
  // technology maturity is optional, and skipping it raises no risk.
  await sponsor.page.goto(`${ws}/stages/discovery`);
  assert.match(await sponsor.page.locator('.tailored').first().textContent(), /Tailored for a Lean agency/);
  const folded = sponsor.page.locator('details.not-applicable');
  await folded.locator('summary').click();
  assert.match(await folded.textContent(), /Step 6: Business case.*no options to cost/s);
  assert.equal(await sponsor.page.locator('#step-discovery-6').count(), 0);
  assert.match(await sponsor.page.locator('#step-discovery-3 h3').textContent(), /Optional for Lean/);
  await axe(sponsor.page, 'tailored stage');
  await shoot(sponsor.page, 'stage-tailored');
  const three = sponsor.page.locator('#step-discovery-3');
  await three.locator('summary', { hasText: 'Skip step 3' }).click();
  assert.match(await three.locator('details.skip').textContent(), /skipping it raises no risks/);
  await three.locator('#skip-discovery-3-reason').fill('Our fleet was refreshed last year.');
  await submit(sponsor.page, three.locator('details.skip form'), 'Skip step 3');
  await sponsor.page.goto(`${ws}/risks`);
  assert.doesNotMatch(await sponsor.page.locator('main').textContent(), /Raised when step 3 of Discovery was skipped/);

  // The guide shows the same journey for a reader who picks Lean.
  await sponsor.page.goto(`${base}/guide/discovery.html`);
  await sponsor.page.getByRole('navigation', { name: 'This stage for your type of agency' })
    .getByRole('link', { name: 'Lean' }).click();
  await sponsor.page.waitForURL(/discovery--for-lean\.html$/);
  assert.match(await sponsor.page.locator('h1').textContent(), /for a Lean agency/);
  await axe(sponsor.page, 'guide for a type');
  for (const width of [390, 1280]) {
    await sponsor.page.setViewportSize({ width, height: 900 });
    await sponsor.page.screenshot({ path: join(SHOTS, `guide-discovery-lean-${width}.png`), fullPage: width === 1280 });
  }
  await sponsor.page.setViewportSize({ width: 1280, height: 900 });
  // Only the programme sets a type.
  await sponsor.page.goto(`${agencyUrl}/assessment`);
  assert.equal(await sponsor.page.getByRole('button', { name: 'Set the type' }).count(), 0);

  // 3. The programme sets the type over the assessment, with its reason.
  await admin.page.goto(`${agencyUrl}/assessment`);
  await admin.page.getByRole('button', { name: 'Set the type' }).click();
  await admin.page.locator('.error-summary').waitFor();
  await admin.page.getByLabel('Type', { exact: true }).selectOption('complex');
  await admin.page.getByLabel('Why this type?').fill('Its legislation is unusual; the answers understate it.');
  await admin.page.getByRole('button', { name: 'Set the type' }).click();
  await admin.page.locator('#result').waitFor();
  assert.match(await admin.page.locator('#result').textContent(), /BOT is Complex, set by the programme/);
  await admin.page.goto(`${ws}/stages/discovery`);
  assert.match(await admin.page.locator('.tailored').first().textContent(), /Tailored for a Complex agency/);
  assert.equal(await admin.page.locator('details.not-applicable').count(), 0);
  assert.equal(await admin.page.locator('#step-discovery-6').count(), 1);

  // 4. The sponsor measures a benefit: a baseline and a target, a reading
  // in the wrong unit refused beside its field, then two readings; the
  // status follows them and the chart says what it shows.
  await sponsor.page.goto(`${ws}/benefits`);
  const add = sponsor.page.locator('#benefit-add');
  await add.getByLabel('Benefit', { exact: true }).fill('Less time spent patching desktops');
  await add.getByLabel('Unit (optional)').fill('hours');
  await add.getByRole('group', { name: /Baseline/ }).getByLabel('Value').fill('120');
  await add.getByRole('group', { name: /Baseline/ }).getByLabel('Date measured').fill('2026-07-01');
  await add.getByRole('group', { name: /Target/ }).getByLabel('Value').fill('40');
  await add.getByRole('group', { name: /Target/ }).getByLabel('Reach it by').fill('2099-06-30');
  await add.getByLabel('Owner (optional)').selectOption({ label: 'Sid Sponsor' });
  await submit(sponsor.page, add, 'Add benefit');
  const first = sponsor.page.locator('#benefit-1');
  await first.getByLabel(/^Reading in hours/).fill('95 days');
  await first.getByLabel('Date it was measured').fill('2026-09-01');
  await first.getByRole('button', { name: 'Record reading' }).click();
  await sponsor.page.locator('.error-summary').waitFor();
  assert.match(await sponsor.page.locator('#reading-1-value-error').textContent(), /not a number of hours/);
  await axe(sponsor.page, 'benefits with an error');
  await shoot(sponsor.page, 'benefits-error');
  // Slowly, so the trend reaches the target years from now and the status
  // is on track whatever day the test runs.
  for (const [value, date] of [['119', '2026-09-01'], ['118 hours', '2026-11-01']]) {
    await first.getByLabel(/^Reading in hours/).fill(value);
    await first.getByLabel('Date it was measured').fill(date);
    await submit(sponsor.page, first.locator('form.reading-form'), 'Record reading');
  }
  assert.equal((await first.locator('.status').textContent()).trim(), 'On track');
  const chart = first.locator('svg[role=img]');
  assert.match(await chart.locator('title').textContent(), /^Benefit 1: Less time spent patching desktops$/);
  assert.match(await chart.locator('desc').textContent(), /From a baseline of 120 hours on 1 Jul 2026, 2 readings, the latest 118 hours/);
  assert.equal(await chart.getAttribute('aria-labelledby'), 'benefit-1-chart-title benefit-1-chart-desc');
  const rows = await first.locator('table tbody tr').allTextContents();
  assert.equal(rows.length, 4, rows.join('|'));
  assert.match(rows[2], /118 hours/);
  assert.match(await first.locator('table caption').textContent(), /baseline, readings and target/);
  // The model's benefits for a stage, in one step.
  await sponsor.page.locator('details.adopt summary').click();
  await submit(sponsor.page, sponsor.page.locator('#adopt-discovery'), /Add Discovery's \d benefits to the register/);
  assert.ok(await sponsor.page.locator('#benefit-2').count());
  await axe(sponsor.page, 'benefits');
  await shoot(sponsor.page, 'benefits-measured');
  // The measured benefit itself, chart and table, as a phone shows it.
  for (const width of [390, 1280]) {
    await sponsor.page.setViewportSize({ width, height: 900 });
    await first.screenshot({ path: join(SHOTS, `workspace-benefit-chart-${width}.png`) });
  }
  await sponsor.page.setViewportSize({ width: 1280, height: 900 });
  const csv = await (await sponsor.page.request.get(`${ws}/benefits.csv`)).text();
  assert.match(csv, /^benefit,text,unit,status,kind,date,value,note,recorded_at\n/);
  assert.match(csv, /1,Less time spent patching desktops,hours,On track,reading,2026-11-01,118,/);

  // 5. A retrospective: the sponsor schedules one and records lessons
  // against the model's steps; the programme sees them by step.
  await sponsor.page.goto(`${ws}/workshops`);
  const schedule = sponsor.page.locator('form').filter({ has: sponsor.page.getByRole('button', { name: 'Schedule and send invitations' }) });
  await schedule.getByLabel('Title').fill('Discovery retro');
  await schedule.getByLabel('Date', { exact: true }).fill('2026-12-10');
  await schedule.getByLabel('Start time').fill('10:00');
  await schedule.getByLabel('Location (optional if online)').fill('Canberra');
  await schedule.getByLabel('Agenda').fill('What went well, what to improve, what to try next.');
  await schedule.getByLabel(/This is a retrospective/).check();
  await submit(sponsor.page, schedule, 'Schedule and send invitations');
  const lessonForm = sponsor.page.locator('form.lesson-form');
  await lessonForm.getByLabel('What was learned').fill('Book the security assessor before Discovery starts.');
  await lessonForm.getByRole('button', { name: 'Record lesson' }).click();
  await sponsor.page.locator('.error-summary').waitFor();
  assert.match(await sponsor.page.locator('.error-summary').textContent(), /Kind of lesson: choose whether it went well/);
  assert.equal(await lessonForm.getByLabel('What was learned').inputValue(), 'Book the security assessor before Discovery starts.');
  await axe(sponsor.page, 'workshops with a lesson error');
  await shoot(sponsor.page, 'retro-error');
  for (const [kind, about, text] of [
    ['To improve', 'discovery:5', 'Book the security assessor before Discovery starts.'],
    ['Went well', 'engagement', 'The sponsor came to every workshop.'],
  ]) {
    await lessonForm.getByLabel(kind, { exact: true }).check();
    await lessonForm.getByLabel('What was learned').fill(text);
    await lessonForm.getByLabel('What it is about').selectOption(about);
    await submit(sponsor.page, lessonForm, 'Record lesson');
  }
  const recorded = await sponsor.page.locator('.lesson-list').textContent();
  assert.match(recorded, /To improve\s+Book the security assessor before Discovery starts\.\s+\(Discovery, step 5:/);
  await axe(sponsor.page, 'workshops with lessons');
  await shoot(sponsor.page, 'retro');
  // The sponsor proposes the first for the guidance; the programme accepts
  // it, and it becomes a knowledge-article draft.
  await sponsor.page.locator('#lesson-1 select').selectOption('guidance');
  await submit(sponsor.page, sponsor.page.locator('#lesson-1 form.propose-form'), 'Propose');
  assert.match(await sponsor.page.locator('#lesson-1 .lesson-state').textContent(), /Proposed for the guidance, waiting for the programme/);
  await admin.page.goto(`${base}/lessons`);
  assert.match(await admin.page.locator('main').textContent(), /1 lesson is proposed for the blueprint or the guidance and waiting/);
  await admin.page.getByRole('link', { name: 'Bureau of Things' }).first().click();
  await submit(admin.page, admin.page.locator('#lesson-1 form').first(), 'Accept lesson 1 as an article draft');
  await admin.page.locator('#lesson-1').getByRole('link', { name: 'its article draft' }).click();
  assert.match(await admin.page.locator('main').textContent(), /Lesson: Book the security assessor before Discovery starts\./);
  await admin.page.goto(`${base}/lessons`);
  assert.match(await admin.page.locator('#worst-title + ol').textContent(), /Discovery, step 5: .*1 lesson to improve/);
  assert.match(await admin.page.locator('main').textContent(), /accepted as an article draft/);
  await axe(admin.page, 'lessons');
  await shoot(admin.page, 'lessons');

  // 6. The engagement's history says why its journey changed, and the
  // audit chains, the agency's included, verify.
  await admin.page.goto(`${ws}/history`);
  const history = await admin.page.locator('table.history').textContent();
  assert.ok(history.includes('The journey was tailored for a Lean agency, from the agency\'s self-assessment'), history);
  assert.ok(history.includes('The journey was tailored for a Complex agency, from the programme\'s setting'), history);
  assert.ok(history.includes('Benefit 1: a reading of 118 on 2026-11-01'), history);
  assert.ok(history.includes('Lesson (went well) about Engagement: The sponsor came to every workshop.'), history);
  const verified = waymark(['audit', 'verify']);
  assert.match(verified, /agenc/i, verified);
  for (const s of [admin, sponsor]) await s.context.close();
  assert.deepEqual(dialogs, []);
});

test('the programme moves live engagements to the framework: preview, one edit, apply', async () => {
  // The programme's pages change: a second server runs the framework-shaped
  // model on the same database (as after an upgrade of the content).
  const { child: next, url: nextBase } = await startServer(BIN,
    ['--database-url', `sqlite://${join(dir, 'e2e.db')}`, '--model', resolve('content/framework')],
    /serving the workspace at (http:\/\/127\.0\.0\.1:\d+)\/engagements/);
  try {
    const admin = await person();
    await signInAt(admin.page, nextBase, ADMIN.email, ADMIN.password);
    await admin.page.goto(`${nextBase}/agencies`);
    await admin.page.getByRole('link', { name: /Model versions/ }).click();
    await admin.page.getByRole('link', { name: /Plan a move to the current version/ }).first().click();
    await axe(admin.page, 'migration plan');
    await shoot(admin.page, 'migration-plan');
    // The proposal: Engagement becomes Connect and Align.
    assert.equal(await admin.page.locator('#stage-engagement').inputValue(), 'connect-align');
    // One edit: "Request support" carries its state to "Start the phase".
    await admin.page.locator('#step-engagement-2').selectOption('connect-align:1');
    await admin.page.getByRole('button', { name: 'Preview every engagement' }).click();
    await admin.page.locator('#outcomes').waitFor();
    assert.match(await admin.page.locator('#outcomes h3').textContent(), /Preview/);
    const rows = await admin.page.locator('table.outcomes tbody tr').count();
    assert.ok(rows >= 2, `${rows} engagements in the preview`);
    // The edit is kept in the form the preview came back with.
    assert.equal(await admin.page.locator('#step-engagement-2').inputValue(), 'connect-align:1');
    await axe(admin.page, 'migration preview');
    await shoot(admin.page, 'migration-preview');
    // The last engagement stays on its version: untick it, apply the rest.
    const boxes = admin.page.locator('table.outcomes input[type=checkbox]');
    const ticked = await boxes.count();
    await boxes.last().uncheck();
    await admin.page.getByRole('button', { name: 'Apply to the ticked engagements' }).click();
    await admin.page.getByRole('status').filter({ hasText: 'moved' }).waitFor();
    assert.match(await admin.page.getByRole('status').textContent(), new RegExp(`^${ticked - 1} engagement\\(s\\) moved`));
    const moved = await admin.page.locator('table.outcomes').textContent();
    assert.match(moved, /Moved/);
    // The engagement that finished every stage: its history shows the move,
    // and what has no place is kept as from the previous model.
    await admin.page.goto(`${nextBase}/engagements/1/history`);
    assert.match(await admin.page.locator('table.history').textContent(), /Moved to model version/);
    await admin.page.goto(`${nextBase}/engagements/1`);
    assert.match(await admin.page.locator('main').textContent(), /From the previous model/);
    assert.match(await admin.page.locator('main').textContent(), /Connect and Align/);
    await axe(admin.page, 'overview after a migration');
    await shoot(admin.page, 'overview-migrated');
    const verified = waymark(['audit', 'verify']);
    assert.match(verified, /the trail is intact/, verified);
    await admin.context.close();
  } finally {
    next.kill('SIGTERM');
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
    await admin.page.goto(`${ws}/risks`);
    await admin.page.locator('#risk-add-text').fill(p);
    await submit(admin.page, admin.page.locator('#risk-add'), 'Add risk');
    await admin.page.goto(`${ws}/benefits`);
    await admin.page.locator('#benefit-add-text').fill(p);
    await admin.page.locator('#benefit-add-measure').fill(p);
    await submit(admin.page, admin.page.locator('#benefit-add'), 'Add benefit');
    await admin.page.locator('#initiative-add-name').fill(p);
    await admin.page.locator('#initiative-add-description').fill(p);
    await submit(admin.page, admin.page.locator('#initiative-add'), 'Link initiative');
  }
  // A decision whose rationale is script, sent back with an error so the
  // typed text is echoed into the form too.
  await admin.page.goto(`${ws}/stages/engagement`);
  await admin.page.locator('#decide-engagement-0-rationale').fill(payloads[3]);
  await admin.page.locator('#decide-engagement-0').getByRole('button', { name: 'Record the decision' }).click();
  await admin.page.locator('.error-summary').waitFor();
  for (const path of [ws, `${ws}/risks`, `${ws}/benefits`, `${ws}/decisions`, `${ws}/stages/engagement`,
    `${ws}/history`, `${base}/engagements`, `${base}/agencies`]) {
    await admin.page.goto(path);
    await admin.page.waitForTimeout(100);
  }
  await admin.page.goto(`${ws}/risks`);
  const text = await admin.page.locator('main').textContent();
  assert.ok(text.includes(payloads[1]), 'the payload is shown as text');
  await admin.context.close();
  assert.deepEqual(dialogs, [], 'a dialog opened: script ran');
});

test('a debug-level log of the whole journey holds no password, token, session or invite link', async () => {
  // Let the last lines arrive.
  await new Promise((r) => setTimeout(r, 300));
  const log = serverLog();
  assert.match(log, /DEBUG/, 'the server did not log at debug level');
  assert.match(log, /request\{id=/, 'requests were not logged');
  for (const c of open) await keepSessions(c);
  assert.ok(sessions.length > 0, 'no session cookie to look for');
  for (const secret of [...secrets, ...sessions]) {
    assert.ok(!log.includes(secret), `the log holds a secret: ${secret.slice(0, 6)}…`);
  }
  // The first-run link is printed once, to the terminal, by design; never again.
  const setupToken = setupLink.split('/').pop();
  assert.equal(log.split(setupToken).length - 1, 1, 'the setup link was written more than once');
});
