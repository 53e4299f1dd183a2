// Knowledge articles, blueprint releases and search in a real browser
// (Debian's Chromium, playwright-core, axe-core once per page type, shots
// at 390 and 1280 px): the programme writes an article tagged to Deploy and
// publishes it; it is on Deploy's page and in the exported site; a signed-out
// reader finds it from the search box; an agency member searching for
// another agency's engagement finds nothing; a new blueprint release shows
// on every guide page. Run by ./scripts/test after target/debug/waymark.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, mkdirSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { axe, launch, shooter, signedIn as signedInAs, startServer } from './harness.mjs';

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
  dir = mkdtempSync(join(tmpdir(), 'waymark-e2e-knowledge-'));
  db = `sqlite://${join(dir, 'e2e.db')}`;
  waymark(['agency', 'add', '--name', 'Bureau of Things', '--abbreviation', 'BOT', '--portfolio', 'Industry']);
  waymark(['agency', 'add', '--name', 'Office of Quillwork', '--abbreviation', 'OQW', '--portfolio', 'Finance']);
  waymark(['user', 'add', '--name', 'Ada Admin', '--email', 'ada@dta.gov.au', '--role', 'admin', '--password-stdin'], PASSWORD);
  waymark(['user', 'add', '--name', 'Mia Member', '--email', 'mia@bot.gov.au', '--role', 'member', '--agency', 'BOT', '--password-stdin'], PASSWORD);
  waymark(['engagement', 'start', '--agency', 'OQW', '--as', 'ada@dta.gov.au']);
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

const shoot = shooter(SHOTS, 'knowledge');
const signedIn = (email) => signedInAs(browser, base, email, PASSWORD);

async function click(page, name) {
  await Promise.all([page.waitForLoadState('load'), page.getByRole('button', { name, exact: true }).click()]);
}

test('an article goes from the programme to the guide, search and the export', async () => {
  const { page: ada } = await signedIn('ada@dta.gov.au');
  await ada.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Articles' }).click();
  await ada.getByRole('link', { name: 'Write an article' }).click();
  // Nothing filled in: every problem at once.
  await click(ada, 'Publish');
  assert.match(await ada.locator('.error-summary').textContent(), /Title: is required[\s\S]*Summary[\s\S]*Body[\s\S]*Review by/);
  await axe(ada, 'article editor with errors');
  await shoot(ada, 'editor-errors');
  await ada.getByLabel('Title').fill('Licensing before Deploy');
  await ada.getByLabel('Summary').fill('Which Microsoft 365 licences to have before the first sprint.');
  await ada.getByLabel('Body').fill('Agencies need **E5 licences** for the marmalith baseline.\n\nRead [Deploy](deploy.md) first.');
  await ada.getByLabel('Tags').fill('deploy, licensing');
  await ada.getByLabel('Review by').fill('2099-06-30');
  await click(ada, 'Publish');
  assert.match(await ada.locator('.notice-success').textContent(), /published/);
  await axe(ada, 'article editor');
  await shoot(ada, 'editor');

  // On Deploy's page, and a page of its own.
  await ada.goto(`${base}/guide/deploy.html`);
  await ada.getByRole('link', { name: 'Licensing before Deploy' }).click();
  await ada.waitForURL(`${base}/guide/article-licensing-before-deploy.html`);
  assert.match(await ada.locator('h1').textContent(), /Licensing before Deploy/);
  await axe(ada, 'guide article');
  await shoot(ada, 'guide-article');

  // A second version: readers can see what changed.
  await ada.goto(`${base}/articles`);
  await ada.getByRole('link', { name: 'Licensing before Deploy' }).click();
  await ada.getByLabel('Body').fill('Agencies need **E5 licences** for the marmalith baseline, and Intune.\n\nRead [Deploy](deploy.md) first.');
  await click(ada, 'Publish');
  await ada.goto(`${base}/guide/article-licensing-before-deploy.html`);
  await ada.getByRole('link', { name: 'See what changed' }).click();
  assert.match(await ada.locator('.diff ins').first().textContent(), /and Intune/);
  await axe(ada, 'what changed');
  await shoot(ada, 'changes');

  // A blueprint release: every guide page names it.
  await ada.goto(`${base}/blueprint`);
  await ada.getByLabel('Version').fill('2.1');
  await ada.getByLabel('Released on').fill('2026-12-01');
  await ada.getByLabel('Release notes').fill('Adds the **Intune** security baselines.');
  await ada.getByLabel('Link (optional)').fill('https://desktop.gov.au/blueprint');
  await click(ada, 'Record release');
  await axe(ada, 'releases');
  await shoot(ada, 'releases');
  for (const path of ['/guide/', '/guide/deploy.html', '/guide/faq.html', '/guide/article-licensing-before-deploy.html']) {
    await ada.goto(`${base}${path}`);
    assert.match(await ada.locator('.blueprint-banner').textContent(), /Blueprint version 2\.1, released 1 December 2026/, path);
  }
  await ada.getByRole('link', { name: 'Release notes' }).click();
  assert.match(await ada.locator('main').textContent(), /Adds the Intune security baselines/);
  await axe(ada, 'guide release notes');

  // A signed-out reader finds it from the search box on a guide page.
  const reader = await (await browser.newContext()).newPage();
  await reader.goto(`${base}/guide/`);
  await reader.getByRole('searchbox', { name: 'Search guidance and articles' }).fill('marmalith');
  await Promise.all([reader.waitForLoadState('load'), reader.getByRole('search').getByRole('button', { name: 'Search' }).click()]);
  assert.match(await reader.locator('h2#results-article').textContent(), /Knowledge articles/);
  assert.equal(await reader.locator('mark').first().textContent(), 'marmalith');
  await axe(reader, 'search results');
  await shoot(reader, 'search');
  await reader.getByRole('link', { name: 'Licensing before Deploy' }).click();
  await reader.waitForURL(/article-licensing-before-deploy\.html$/);

  // An agency member searching for another agency's engagement finds nothing.
  const { page: mia } = await signedIn('mia@bot.gov.au');
  await mia.getByRole('searchbox', { name: 'Search' }).fill('Office of Quillwork');
  await Promise.all([mia.waitForLoadState('load'), mia.getByRole('search').getByRole('button', { name: 'Search' }).click()]);
  assert.match(await mia.locator('[role=status]').textContent(), /Nothing matches/);
  assert.equal(await mia.locator('a[href^="/engagements/"]').count(), 0);
  // The programme finds it.
  await ada.goto(`${base}/search?q=Office+of+Quillwork`);
  assert.equal(await ada.locator('#results-engagement').count(), 1);

  // Was it helpful? One answer per reader.
  await mia.goto(`${base}/guide/article-licensing-before-deploy.html`);
  await mia.getByRole('link', { name: 'Tell us whether this article helped' }).click();
  await mia.getByLabel('Yes').check();
  await mia.getByLabel(/What would make it better/).fill('A table of licence tiers.');
  await click(mia, 'Send');
  assert.match(await mia.locator('.notice-success').textContent(), /Thank you/);
  await axe(mia, 'article feedback');
  await shoot(mia, 'feedback');

  // Who uses the blueprint: the programme lists an agency; readers see it.
  await ada.goto(`${base}/agencies`);
  await ada.getByRole('link', { name: 'Bureau of Things' }).first().click();
  await ada.getByLabel('Public contact (optional)').fill('cio@bot.gov.au');
  await click(ada, 'List the agency');
  assert.match(await ada.locator('.notice-success').textContent(), /listed in the directory/);
  await reader.goto(`${base}/guide/`);
  await reader.getByRole('link', { name: 'Who uses the blueprint' }).click();
  assert.match(await reader.locator('main').textContent(), /Bureau of Things \(BOT\)\s*Getting started\.\s*Contact: cio@bot\.gov\.au/);
  await axe(reader, 'adopter directory');
  await shoot(reader, 'adopters');

  // The export has the article and the release.
  const out = join(dir, 'site');
  waymark(['site', 'build', '--out', out]);
  assert.ok(existsSync(join(out, 'article-licensing-before-deploy.html')), readdirSync(out).join(', '));
  assert.match(readFileSync(join(out, 'deploy.html'), 'utf8'), /article-licensing-before-deploy\.html/);
  assert.match(readFileSync(join(out, 'index.html'), 'utf8'), /Blueprint version 2\.1/);
});
