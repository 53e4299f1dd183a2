// The programme's mailbox in a real browser: a mail APPENDed to a real
// dovecot (scripts/dovecot, as root) becomes an enquiry; the programme
// replies from the enquiry's page; the reply reaches an aiosmtpd sink with
// its thread headers; the sender's answer, APPENDed with In-Reply-To, threads
// onto the same enquiry. Runs when ./scripts/test sets WAYMARK_E2E_IMAP=1
// (dovecot and aiosmtpd present, running as root); otherwise scripts/test
// says it skipped it.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawn } from 'node:child_process';
import { chmodSync, mkdtempSync, mkdirSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { axe, freePort, launch, signIn, startServer } from './harness.mjs';

const BIN = resolve(process.env.WAYMARK_BIN ?? 'target/debug/waymark');
const CHROMIUM = process.env.CHROMIUM ?? '/usr/bin/chromium';
const SHOTS = resolve('target/e2e-screenshots');
const RUN = process.env.WAYMARK_E2E_IMAP === '1';
const ADMIN = { email: 'ada@dta.gov.au', password: 'correct horse battery staple' };
const IMAP_PASSWORD = 'e2e-imap-password';

let browser;
let server;
let sink;
let base;
let dir;
let imapPort;

// Delivers a message to the dovecot INBOX, as a mail server would.
function deliver(raw) {
  execFileSync('python3', ['-c', `
import imaplib, sys
m = imaplib.IMAP4('127.0.0.1', int(sys.argv[1]))
m.login('inbox', sys.argv[2])
m.append('INBOX', None, None, sys.stdin.buffer.read())
m.logout()`, String(imapPort), IMAP_PASSWORD], { input: raw });
}

// The messages the sink has received, as text.
function received() {
  const out = [];
  for (const sub of ['new', 'cur']) {
    const d = join(dir, 'sink', sub);
    try {
      for (const f of readdirSync(d)) out.push(readFileSync(join(d, f), 'utf8'));
    } catch { /* not yet */ }
  }
  return out;
}

async function until(what, check, seconds = 30) {
  const end = Date.now() + seconds * 1000;
  for (;;) {
    const v = await check();
    if (v) return v;
    if (Date.now() > end) throw new Error(`${what} did not happen within ${seconds} s`);
    await new Promise((r) => setTimeout(r, 300));
  }
}

async function shoot(page, name) {
  for (const width of [390, 1280]) {
    await page.setViewportSize({ width, height: 900 });
    await page.screenshot({ path: join(SHOTS, `mailbox-${name}-${width}.png`), fullPage: width === 1280 });
    const sideways = await page.evaluate(() => document.documentElement.scrollWidth > window.innerWidth + 1);
    assert.equal(sideways, false, `${name} scrolls sideways at ${width}px`);
  }
  await page.setViewportSize({ width: 1280, height: 900 });
}

before(async () => {
  if (!RUN) return;
  dir = mkdtempSync(join(tmpdir(), 'waymark-e2e-mailbox-'));
  // Dovecot's own users read its passwd-file and mail below this folder.
  chmodSync(dir, 0o755);
  imapPort = await freePort();
  execFileSync(resolve('scripts/dovecot'), ['start', join(dir, 'dovecot'), String(imapPort), IMAP_PASSWORD]);
  const smtpPort = await freePort();
  sink = spawn('python3', ['-m', 'aiosmtpd', '-n', '-l', `127.0.0.1:${smtpPort}`, '-c', 'aiosmtpd.handlers.Mailbox',
    join(dir, 'sink')], { stdio: 'ignore' });
  const db = `sqlite://${join(dir, 'e2e.db')}`;
  execFileSync(BIN, ['--database-url', db, 'user', 'add', '--name', 'Ada Admin', '--email', ADMIN.email,
    '--role', 'admin', '--password-stdin'], { input: `${ADMIN.password}\n` });
  ({ child: server, url: base } = await startServer(BIN, ['--database-url', db],
    /workspace at (http:\/\/127\.0\.0\.1:\d+)\/engagements/,
    ['--smtp-url', `smtp://127.0.0.1:${smtpPort}`, '--imap-url', `imap://inbox@127.0.0.1:${imapPort}/INBOX?tls=none`,
      '--imap-poll', '1', '--imap-lease', '5'],
    { WAYMARK_IMAP_PASSWORD: IMAP_PASSWORD }));
  browser = await launch(CHROMIUM);
  mkdirSync(SHOTS, { recursive: true });
});

after(async () => {
  await browser?.close();
  server?.kill('SIGTERM');
  sink?.kill('SIGTERM');
  if (dir) {
    try { execFileSync(resolve('scripts/dovecot'), ['stop', join(dir, 'dovecot')]); } catch { /* gone */ }
    rmSync(dir, { recursive: true, force: true });
  }
});

test('a mail becomes an enquiry, the programme answers it, and the answer threads on', { skip: !RUN }, async () => {
  deliver(Buffer.from([
    'From: Jordan Lee <jordan.lee@records.gov.au>',
    'To: protectedutility@dta.gov.au',
    'Subject: Protected Utility for the Records Office',
    'Message-ID: <first-request@records.gov.au>',
    'Content-Type: text/plain; charset=utf-8',
    '',
    'We would like to adopt the blueprint for 400 staff this financial year.',
    '',
  ].join('\r\n')));

  const ctx = await browser.newContext();
  const admin = await ctx.newPage();
  await signIn(admin, base, ADMIN.email, ADMIN.password);

  // 1. The mail is an enquiry on the programme's list.
  await until('the mail becoming an enquiry', async () => {
    await admin.goto(`${base}/enquiries`);
    return (await admin.getByRole('link', { name: /Protected Utility for the Records Office/ }).count()) > 0;
  });
  await admin.getByRole('link', { name: /Protected Utility for the Records Office/ }).click();
  await admin.getByText('We would like to adopt the blueprint for 400 staff').waitFor();
  const enquiry = admin.url();
  assert.match(enquiry, /\/enquiries\/\d+$/);
  const id = enquiry.split('/').pop();

  // The acknowledgement went out, tagged and threaded, marked automatic.
  const ack = await until('the acknowledgement at the sink', () => received().find((m) => m.includes('We have received your request')));
  assert.match(ack, new RegExp(`Subject: We have received your request for support \\[WM-${id}\\]`));
  assert.match(ack, /In-Reply-To: <first-request@records\.gov\.au>/);
  assert.match(ack, /Auto-Submitted: auto-replied/);

  // 2. The programme replies from the page; an empty reply is refused
  //    beside its field first.
  await admin.locator('#reply').scrollIntoViewIfNeeded();
  await Promise.all([admin.waitForLoadState('load'), admin.getByRole('button', { name: 'Send reply' }).click()]);
  await admin.locator('.error-summary a[href="#body"]').waitFor();
  assert.equal(await admin.locator('#body').getAttribute('aria-invalid'), 'true');
  await axe(admin, 'enquiry reply refused');
  await admin.getByLabel('Your reply').fill('Thank you, Jordan. Could you meet on Tuesday at 10:00 for an initial workshop?');
  await Promise.all([admin.waitForLoadState('load'), admin.getByRole('button', { name: 'Send reply' }).click()]);
  await admin.locator('.conversation').getByText('Could you meet on Tuesday').waitFor();

  // 3. The reply reaches the sink with the thread's headers.
  const reply = await until('the reply at the sink', () => received().find((m) => m.includes('Could you meet on Tuesday')));
  assert.match(reply, new RegExp(`Subject: Re: Protected Utility for the Records Office \\[WM-${id}\\]`));
  assert.match(reply, /In-Reply-To: <first-request@records\.gov\.au>/);
  assert.doesNotMatch(reply, /Auto-Submitted/);
  const replyId = reply.match(/^Message-ID: (<[^>]+>)/mi)[1];

  // 4. The sender answers from their mail client: it threads onto the
  //    same enquiry, and makes no new one and no acknowledgement.
  deliver(Buffer.from([
    'From: Jordan Lee <jordan.lee@records.gov.au>',
    'To: protectedutility@dta.gov.au',
    `Subject: Re: Protected Utility for the Records Office [WM-${id}]`,
    'Message-ID: <answer-1@records.gov.au>',
    `In-Reply-To: ${replyId}`,
    `References: <first-request@records.gov.au> ${replyId}`,
    'Content-Type: text/plain; charset=utf-8',
    '',
    'Tuesday suits us. Our CIO will attend.',
    '',
  ].join('\r\n')));
  await until('the answer on the conversation', async () => {
    await admin.goto(enquiry);
    return (await admin.getByText('Tuesday suits us. Our CIO will attend.').count()) > 0;
  });
  const order = await admin.locator('.conversation > li').allInnerTexts();
  assert.equal(order.length, 2);
  assert.match(order[0], /Could you meet on Tuesday/);
  assert.match(order[1], /Tuesday suits us/);
  await axe(admin, 'enquiry with a conversation');
  await shoot(admin, 'enquiry-conversation');
  await admin.goto(`${base}/enquiries?status=all`);
  assert.equal(await admin.getByRole('link', { name: /Protected Utility for the Records Office/ }).count(), 1);
  assert.equal(received().filter((m) => m.includes('We have received your request')).length, 1);

  // 5. The mailbox page: the reader connected, and what it took.
  let seen = '';
  await until('the status page showing the reader connected', async () => {
    await admin.goto(`${base}/mailbox`);
    seen = await admin.locator('main').innerText();
    return /connected: waiting \(IDLE\)/.test(seen);
  }, 15).catch((e) => { throw new Error(`${e.message}; the page said: ${seen}`); });
  await admin.getByRole('link', { name: `Enquiry ${id}`, exact: true }).waitFor();
  await admin.getByRole('link', { name: `A reply on enquiry ${id}`, exact: true }).waitFor();
  await axe(admin, 'mailbox');
  await shoot(admin, 'status');

  // 6. The enquiry becomes an engagement: its conversation stays
  //    reachable from the engagement's page.
  await admin.goto(enquiry);
  await admin.getByLabel('New agency\'s name').fill('Records Office');
  await admin.getByLabel('New agency\'s abbreviation').fill('RO');
  await admin.getByLabel('New agency\'s portfolio').fill('Attorney-General\'s');
  await Promise.all([admin.waitForLoadState('load'), admin.getByRole('button', { name: 'Convert' }).click()]);
  await admin.getByRole('link', { name: 'Go to the engagement' }).click();
  await admin.getByRole('link', { name: `enquiry ${id}: Protected Utility for the Records Office` }).click();
  await admin.waitForURL(`${enquiry}#conversation`);
  await admin.getByText('Tuesday suits us. Our CIO will attend.').waitFor();
  await ctx.close();
});
