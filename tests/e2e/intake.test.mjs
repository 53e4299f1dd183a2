// An enquiry taken through to a signed Letter of Intent in a real browser
// (Debian's Chromium, playwright-core, axe-core): the public form, triage into
// an engagement, a workshop and its invitation, the discovery decision, the
// letter, and the sponsor's sign-off. With WAYMARK_E2E_SMTP=1 (set by
// ./scripts/test when Python's aiosmtpd is installed) the server sends its
// mail to an aiosmtpd server on loopback, and the invitation must arrive.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { axe, launch, signIn, sinkMail, smtpSink, startServer } from './harness.mjs';

const BIN = resolve(process.env.WAYMARK_BIN ?? 'target/debug/waymark');
const CHROMIUM = process.env.CHROMIUM ?? '/usr/bin/chromium';
const SHOTS = resolve('target/e2e-screenshots');
const SMTP = process.env.WAYMARK_E2E_SMTP === '1';
const ADMIN = { email: 'ada@dta.gov.au', password: 'correct horse battery staple' };

let browser;
let server;
let sink;
let base;
let dir;

before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'waymark-e2e-intake-'));
  const db = `sqlite://${join(dir, 'e2e.db')}`;
  execFileSync(BIN, ['--database-url', db, 'user', 'add', '--name', 'Ada Admin', '--email', ADMIN.email,
    '--role', 'admin', '--password-stdin'], { input: `${ADMIN.password}\n` });
  const args = ['--database-url', db];
  const serveArgs = [];
  if (SMTP) {
    const s = await smtpSink(dir);
    sink = s.child;
    serveArgs.push(...s.args);
  }
  ({ child: server, url: base } = await startServer(BIN, args,
    /workspace at (http:\/\/127\.0\.0\.1:\d+)\/engagements/, serveArgs));
  browser = await launch(CHROMIUM);
  mkdirSync(SHOTS, { recursive: true });
});

after(async () => {
  await browser?.close();
  server?.kill('SIGTERM');
  sink?.kill('SIGTERM');
  if (dir) rmSync(dir, { recursive: true, force: true });
});

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
    await page.screenshot({ path: join(SHOTS, `intake-${name}-${width}.png`), fullPage: width === 1280 });
    const sideways = await page.evaluate(() => document.documentElement.scrollWidth > window.innerWidth + 1);
    assert.equal(sideways, false, `${name} scrolls sideways at ${width}px`);
  }
  await page.setViewportSize({ width: 1280, height: 900 });
}

async function clickAndLoad(page, button) {
  await Promise.all([page.waitForLoadState('load'), page.getByRole('button', { name: button }).click()]);
}

function noErrors(page, what) {
  return page.locator('.error-summary').count().then((n) => assert.equal(n, 0, `${what} was refused`));
}

test('an enquiry becomes an engagement with a signed Letter of Intent', async () => {
  // 1. Someone from an agency finds the request form from the guide's
  //    overview, without an account.
  const publicCtx = await browser.newContext();
  const visitor = await publicCtx.newPage();
  await visitor.goto(`${base}/`);
  await visitor.waitForURL(`${base}/guide/`);
  await visitor.getByRole('link', { name: 'Sign in' }).first().waitFor();
  await shoot(visitor, 'guide-way-in');
  await Promise.all([visitor.waitForURL(`${base}/request-support`),
    visitor.locator('a.button-start').first().click()]);
  await axe(visitor, 'request support');
  await shoot(visitor, 'request-support');
  // The form says what it collects, why, who sees it, and links the notice.
  await Promise.all([visitor.waitForURL(`${base}/privacy`),
    visitor.getByRole('link', { name: 'The privacy notice' }).click()]);
  await visitor.getByRole('heading', { level: 1, name: 'Privacy' }).waitFor();
  await axe(visitor, 'privacy');
  await shoot(visitor, 'privacy');
  await visitor.goBack();
  await clickAndLoad(visitor, 'Send request');
  await visitor.locator('.error-summary a[href="#email"]').waitFor();
  assert.equal(await visitor.locator('#agency').getAttribute('aria-invalid'), 'true');
  await axe(visitor, 'request support with errors');
  await shoot(visitor, 'request-errors');
  await visitor.getByLabel('Agency').fill('Bureau of Examples');
  await visitor.getByLabel('Your name').fill('Alex Example');
  await visitor.getByLabel('Your email address').fill('alex@example.gov.au');
  await visitor.getByLabel('Your role').fill('Chief Information Officer');
  await visitor.getByLabel('Your business need').fill('We want a secure, standard Microsoft 365 desktop for 900 staff.');
  await visitor.getByLabel('Timeframe (optional)').fill('By June 2027');
  await visitor.getByLabel(/^Do it With You/).check();
  await clickAndLoad(visitor, 'Send request');
  await visitor.waitForURL(`${base}/request-support/sent`);
  await axe(visitor, 'request sent');
  await publicCtx.close();

  // 2. The programme triages it into a new agency and engagement, and
  //    invites the contact as executive sponsor.
  const adminCtx = await browser.newContext();
  const admin = await adminCtx.newPage();
  await signIn(admin, base, ADMIN.email, ADMIN.password);
  await admin.goto(`${base}/enquiries`);
  await axe(admin, 'enquiries');
  await admin.getByRole('link', { name: 'Request for support from Bureau of Examples' }).click();
  await admin.getByText('We want a secure, standard Microsoft 365 desktop for 900 staff.').waitFor();
  await axe(admin, 'enquiry');
  await shoot(admin, 'enquiry');
  await admin.getByLabel('New agency\'s abbreviation').fill('BOE');
  await admin.getByLabel('New agency\'s portfolio').fill('Finance');
  await clickAndLoad(admin, 'Convert');
  await noErrors(admin, 'converting the enquiry');
  const inviteLink = await admin.locator('.notice a[href*="/invite/"]').getAttribute('href');
  assert.match(inviteLink, /\/invite\/[0-9a-f]{64}$/);
  await admin.getByRole('link', { name: 'Go to the engagement' }).click();
  const engagement = admin.url();
  assert.match(engagement, /\/engagements\/\d+$/);
  await admin.getByText('Executive sponsor: Alex Example').first().waitFor();

  // 3. A workshop, and its calendar invitation.
  await admin.getByRole('link', { name: /^Workshops/ }).click();
  await axe(admin, 'workshops');
  const schedule = admin.locator('form').filter({ has: admin.getByRole('button', { name: 'Schedule and send invitations' }) });
  // A week from now, so it is coming up.
  const soon = new Date(Date.now() + 7 * 24 * 3600 * 1000).toISOString().slice(0, 10);
  await schedule.getByLabel('Date').fill(soon);
  await schedule.getByLabel('Start time').fill('10:00');
  await schedule.getByLabel('Location (optional if online)').fill('Level 2, 50 Marcus Clarke St, Canberra');
  await schedule.getByLabel('Agenda').fill('Sponsorship, strategy, business need, budget, governance');
  await schedule.getByLabel(/^Alex Example/).check();
  await schedule.getByLabel('Other attendees\' email addresses').fill('cio@example.gov.au');
  await clickAndLoad(admin, 'Schedule and send invitations');
  await noErrors(admin, 'scheduling the workshop');
  await admin.getByRole('heading', { name: 'Initial workshop' }).waitFor();
  const icsHref = await admin.getByRole('link', { name: /calendar invitation/ }).getAttribute('href');
  const ics = await (await admin.request.get(`${base}${icsHref}`)).text();
  const unfolded = ics.replace(/\r\n[ \t]/g, '');
  assert.match(unfolded, /METHOD:REQUEST/);
  assert.match(unfolded, /UID:workshop-\d+-1@127\.0\.0\.1/);
  assert.match(unfolded, /SEQUENCE:0/);
  // 10:00 in Canberra is 23:00 UTC the day before (AEDT) or 00:00 (AEST).
  assert.match(unfolded, /DTSTART:\d{8}T(230000|000000)Z/);
  assert.match(unfolded, /ATTENDEE.*mailto:cio@example\.gov\.au/);
  if (SMTP) {
    // Python's icalendar must read it too.
    writeFileSync(join(dir, 'invite.ics'), ics);
    const parsed = execFileSync('python3', ['-c',
      'import sys, icalendar; c = icalendar.Calendar.from_ical(open(sys.argv[1], "rb").read()); e = c.walk("VEVENT")[0]; print(c.get("method"), e.get("sequence"), e.get("uid"))',
      join(dir, 'invite.ics')]).toString();
    assert.match(parsed, /^REQUEST 0 workshop-\d+-1@127\.0\.0\.1/);
  }
  await shoot(admin, 'workshops');

  // 4. The discovery decision, from the initial workshop, on the
  //    Engagement stage's page.
  await admin.goto(engagement);
  await admin.getByRole('link', { name: 'Undertake discovery?' }).click();
  const form = admin.locator('#decide-engagement-0');
  await form.locator('#decide-engagement-0-option').check();
  await form.getByLabel(/the rationale/).fill('The agency needs a business case and a readiness assessment first.');
  await form.locator('#decide-engagement-0-funded_by').check();
  await Promise.all([admin.waitForLoadState('load'), form.getByRole('button', { name: 'Record the decision' }).click()]);
  await noErrors(admin, 'the decision');

  // 5. The programme issues the Letter of Intent.
  await admin.getByRole('link', { name: 'Letter of Intent', exact: true }).click();
  await axe(admin, 'letter, not issued');
  await clickAndLoad(admin, 'Issue the Letter of Intent');
  await noErrors(admin, 'issuing the letter');
  await admin.getByText('Version 1 is the current version.').waitFor();
  const pdfHref = await admin.getByRole('link', { name: 'Download version 1 as PDF' }).getAttribute('href');
  const pdf = await (await admin.request.get(`${base}${pdfHref}`)).body();
  assert.equal(pdf.subarray(0, 5).toString(), '%PDF-');
  writeFileSync(join(SHOTS, 'intake-letter-of-intent.pdf'), pdf);
  try {
    execFileSync('pdftotext', ['-v'], { stdio: 'ignore' });
    writeFileSync(join(dir, 'loi.pdf'), pdf);
    const text = execFileSync('pdftotext', [join(dir, 'loi.pdf'), '-']).toString().replace(/\s+/g, ' ');
    assert.match(text, /Bureau of Examples/);
    assert.match(text, /Discovery of 4 to 8 weeks/);
    assert.match(text, /Dear Alex Example,/);
  } catch (e) {
    if (e.code !== 'ENOENT') throw e;
  }
  await axe(admin, 'letter, issued');
  await shoot(admin, 'letter');
  await adminCtx.close();

  // 6. The sponsor, on a phone, sets a password from the invitation, sees
  //    what waits for them, reads the letter and signs.
  const sponsorCtx = await browser.newContext({ viewport: { width: 390, height: 844 }, isMobile: true, hasTouch: true });
  const sponsor = await sponsorCtx.newPage();
  await sponsor.goto(inviteLink);
  await sponsor.getByLabel('New password').fill('another long passphrase here');
  await sponsor.getByLabel('Type the password again').fill('another long passphrase here');
  await clickAndLoad(sponsor, 'Set password and sign in');
  const waiting = sponsor.locator('.waiting');
  await waiting.getByRole('link', { name: 'Read and sign the Letter of Intent (version 1)' }).waitFor();
  assert.match(await waiting.textContent(), /Initial workshop/, 'the coming workshop waits too');
  await axe(sponsor, 'home, waiting for you');
  await sponsor.screenshot({ path: join(SHOTS, 'intake-sponsor-home-390.png'), fullPage: false });
  await Promise.all([sponsor.waitForURL(`${engagement}/letters/letter-of-intent`),
    waiting.getByRole('link', { name: /Read and sign/ }).click()]);
  // The letter comes before the signature; the fingerprint is a detail.
  const letterBox = await sponsor.locator('article.letter').boundingBox();
  const signBox = await sponsor.locator('#sign').boundingBox();
  assert.ok(letterBox.y < signBox.y, 'the letter is read before the signature');
  assert.equal(await sponsor.locator('h1').count(), 1, 'one h1');
  await sponsor.locator('details.technical summary').click();
  const sha = await sponsor.locator('details.technical code.hash').textContent();
  assert.match(sha, /^[0-9a-f]{64}$/);
  await sponsor.screenshot({ path: join(SHOTS, 'intake-sponsor-letter-390.png'), fullPage: false });
  // Signing without saying you have read it is refused, beside the box.
  await clickAndLoad(sponsor, 'Sign version 1');
  await sponsor.locator('.error-summary a[href="#agree"]').waitFor();
  await axe(sponsor, 'letter, signing with an error');
  await sponsor.getByLabel(/I have read this letter and agree to it on behalf of Bureau of Examples/).check();
  await clickAndLoad(sponsor, 'Sign version 1');
  await noErrors(sponsor, 'signing');
  await sponsor.getByText('Version 1 is signed.').waitFor();
  await axe(sponsor, 'letter, signed');
  await sponsor.screenshot({ path: join(SHOTS, 'intake-sponsor-signed-390.png'), fullPage: true });
  await sponsor.goto(engagement);
  await sponsor.getByText(/Letter of Intent: signed by Alex Example/).waitFor();
  // The success criterion the signature meets is met, with its evidence.
  await sponsor.goto(`${engagement}/stages/engagement`);
  const criterion = sponsor.locator('#check-engagement-2');
  assert.match(await criterion.textContent(), /Met.*Letter of Intent version 1 is signed/s);
  await sponsor.goto(`${base}/engagements`);
  assert.equal(await sponsor.locator('.waiting').getByRole('link', { name: /Read and sign/ }).count(), 0,
    'a signed letter no longer waits');
  await sponsorCtx.close();

  // 7. The invitation reached the SMTP server.
  if (SMTP) {
    const found = await sinkMail(dir, (t) => t.includes('To: cio@example.gov.au') && t.includes('text/calendar'),
      'the workshop invitation');
    assert.match(found, /Subject: Invitation: Initial workshop \(Bureau of Examples\)/);
  }
});
