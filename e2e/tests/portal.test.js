// The portal in Chromium as people use it: from the home page's button through the citizen
// login, the photo of an ID, the address, to the record PDF in a new window; with
// JavaScript off; the refusals (a minor's ID, an expired ID, an employee account, no match,
// a blocked country); axe-core on every page in English, Spanish and Arabic at phone and
// desktop widths. Screenshots of each step at phone width go to e2e/artifacts/.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, writeFileSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { spawnSync } from 'node:child_process';
import { createRequire } from 'node:module';
import { chromium } from 'playwright-core';
import { Site, chromiumOptions, idPhoto, vxu } from './helpers.js';

const require = createRequire(import.meta.url);
const axePath = require.resolve('axe-core/axe.min.js');
const PASSWORD = 'violet harbour lantern';
const PHONE = { width: 390, height: 844 };
const DESKTOP = { width: 1280, height: 900 };
const artifacts = resolve(import.meta.dirname, '..', 'artifacts');
let site, browser, photos;

before(async () => {
  mkdirSync(artifacts, { recursive: true });
  site = new Site({ IMMS_TRUSTED_PROXIES: '127.0.0.1/32' });
  site.run(['org', 'add', '--facility-id', 'CLINIC-E', '--name', 'Elm Street Clinic']);
  const file = join(site.dir, 'astrid.hl7');
  writeFileSync(file, vxu('CLINIC-E', 'E-1', 'MRN-E1', 'Lindqvist', 'Astrid', '19850412'));
  site.run(['hl7', 'import', file]);
  site.run(['account', 'add', '--user-id', 'astrid.l', '--email', 'astrid@example.org', '--password-stdin', '--ssn-stdin'], `${PASSWORD}\n123-45-6789\n`);
  site.run(['account', 'add', '--user-id', 'noor.h', '--email', 'noor@example.org', '--password-stdin', '--ssn-stdin'], `${PASSWORD}\n234-56-7890\n`);
  site.run(['account', 'add', '--user-id', 'sam.employee', '--email', 'sam@example.org', '--type', 'employee', '--password-stdin'], `${PASSWORD}\n`);
  photos = {
    astrid: idPhoto('license', 'LINDQVIST', 'ASTRID', '1985-04-12', '2031-01-01', join(site.dir, 'astrid.jpg')),
    minor: idPhoto('license', 'LINDQVIST', 'ELSA', '2012-03-01', '2031-01-01', join(site.dir, 'minor.jpg')),
    expired: idPhoto('license', 'LINDQVIST', 'ASTRID', '1985-04-12', '2020-01-01', join(site.dir, 'expired.jpg')),
    passport: idPhoto('passport', 'LINDQVIST', 'ASTRID', '1985-04-12', '2032-06-30', join(site.dir, 'passport.jpg')),
    noor: idPhoto('license', 'HADDAD', 'NOOR', '1979-09-30', '2030-05-05', join(site.dir, 'noor.jpg')),
  };
  await site.start();
  browser = await chromium.launch(chromiumOptions);
});

after(async () => {
  await browser?.close();
  await site?.stop();
});

async function axe(page, what) {
  await page.addScriptTag({ path: axePath });
  const result = await page.evaluate(() => window.axe.run(document, { runOnly: { type: 'tag', values: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa'] } }));
  const problems = result.violations.map((v) => `${v.id}: ${v.nodes.map((n) => n.target.join(' ')).join(', ')}`);
  assert.deepEqual(problems, [], `${what}: ${problems.join('; ')}`);
}

async function shot(page, name) {
  await page.screenshot({ path: join(artifacts, `portal-${name}.png`), fullPage: true });
}

async function signIn(page, user) {
  await page.getByRole('link', { name: 'Get My Immunization Record (Sign In)' }).click();
  await page.getByLabel('User ID').fill(user);
  await page.getByLabel('Password').fill(PASSWORD);
  await page.getByRole('button', { name: 'Sign in' }).click();
}

async function uploadPhoto(page, file) {
  await page.goto(`${site.base}/upload`);
  await page.getByLabel('Photo of your ID').setInputFiles(file);
  await page.locator('form[action="/upload"] button[type="submit"]').click();
}

function pdfText(bytes) {
  const file = join(site.dir, `record-${Date.now()}.pdf`);
  writeFileSync(file, bytes);
  const r = spawnSync('pdftotext', [file, '-'], { encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
  return r.stdout;
}

test('an adult gets their record: sign in, photo of the license, address, PDF in a new window (phone, screen-reader landmarks, axe)', async () => {
  const context = await browser.newContext({ viewport: PHONE, locale: 'en-US', bypassCSP: true });
  const page = await context.newPage();
  await page.goto(site.base);
  assert.ok(await page.getByRole('main').isVisible(), 'a main landmark');
  assert.equal(await page.getByRole('heading', { level: 1 }).count(), 1);
  await axe(page, 'home');
  await shot(page, '1-home');
  await signIn(page, 'astrid.l');
  await page.waitForURL(/\/upload$/);
  await axe(page, 'upload');
  await shot(page, '2-upload');

  await uploadPhoto(page, photos.astrid);
  // The name from the ID is shown, not editable; the address is prefilled and editable.
  assert.match(await page.locator('#name').innerText(), /ASTRID LINDQVIST/);
  assert.equal(await page.locator('input[name="family"], input[name="given"]').count(), 0);
  assert.equal(await page.getByLabel('Street address').first().inputValue(), '77 JUNIPER WAY');
  await axe(page, 'search');
  await shot(page, '3-search');
  await page.getByLabel('Street address').first().fill('77 Juniper Way');
  await page.getByLabel('ZIP code').first().fill('49423-1234');
  await page.getByRole('button', { name: 'Get my immunization record' }).click();
  await page.waitForURL(/\/search$/);
  await axe(page, 'found');
  await shot(page, '4-found');

  // The record opens in a new window.
  const [popup] = await Promise.all([
    context.waitForEvent('page'),
    page.locator('#open-record').click(),
  ]);
  await popup.waitForLoadState('commit').catch(() => {});
  assert.match(popup.url(), /\/record\/[A-Za-z0-9_-]+$/);
  // The same link's bytes, in this session: the official record with her dose.
  const link = await page.locator('#open-record').getAttribute('href');
  const response = await context.request.get(`${site.base}${link}`);
  assert.equal(response.status(), 200);
  assert.equal(response.headers()['content-type'], 'application/pdf');
  assert.equal(response.headers()['cache-control'], 'no-store');
  const text = pdfText(await response.body());
  assert.match(text, /Official Immunization Record/);
  assert.match(text, /Lindqvist/);
  assert.match(text, /[Ii]nfluenza/);

  // A blocked pop-up strands no one: the same page offers "view here" and "download".
  const download = await context.request.get(`${site.base}${await page.locator('#download').getAttribute('href')}`);
  assert.equal(download.status(), 200);
  assert.match(download.headers()['content-disposition'], /^attachment/);
  assert.equal(await page.locator('#view-here').getAttribute('target'), null);
  assert.equal(await page.locator('#view-here').getAttribute('href'), link);
  await context.close();
});

test('with JavaScript off the whole flow still works (desktop)', async () => {
  const context = await browser.newContext({ viewport: DESKTOP, javaScriptEnabled: false });
  const page = await context.newPage();
  await page.goto(site.base);
  await signIn(page, 'astrid.l');
  await page.waitForURL(/\/upload$/);
  await uploadPhoto(page, photos.astrid);
  await page.getByRole('button', { name: 'Get my immunization record' }).click();
  await page.waitForURL(/\/search$/);
  const link = await page.locator('#open-record').getAttribute('href');
  const response = await context.request.get(`${site.base}${link}`);
  assert.equal(response.headers()['content-type'], 'application/pdf');
  await context.close();
});

test('a US passport: the name is read from its machine-readable zone and the address typed in', async () => {
  const context = await browser.newContext({ viewport: PHONE, bypassCSP: true });
  const page = await context.newPage();
  await page.goto(site.base);
  await signIn(page, 'astrid.l');
  await page.waitForURL(/\/upload$/);
  await uploadPhoto(page, photos.passport);
  assert.match(await page.locator('#name').innerText(), /ASTRID LINDQVIST/);
  assert.equal(await page.getByLabel('Street address').first().inputValue(), '');
  assert.match(await page.locator('#address-hint').innerText(), /passport/i);
  await axe(page, 'search (passport)');
  await shot(page, '3-search-passport');
  await page.getByLabel('Street address').first().fill('77 Juniper Way');
  await page.getByLabel('City').first().fill('Holland');
  await page.getByLabel('State').first().fill('MI');
  await page.getByLabel('ZIP code').first().fill('49423');
  await page.getByRole('button', { name: 'Get my immunization record' }).click();
  const link = await page.locator('#open-record').getAttribute('href');
  const response = await context.request.get(`${site.base}${link}`);
  assert.match(pdfText(await response.body()), /Lindqvist/);
  await context.close();
});

test('refusals say why and what to do: a minor, an expired ID, no match, an employee, a blocked country', async () => {
  const context = await browser.newContext({ viewport: PHONE, bypassCSP: true });
  const page = await context.newPage();
  await page.goto(site.base);
  await signIn(page, 'noor.h');
  await page.waitForURL(/\/upload$/);

  await uploadPhoto(page, photos.minor);
  assert.match(await page.getByRole('alert').innerText(), /18/);
  assert.match(await page.content(), /PORTAL-UNDER-18/);
  await axe(page, 'minor refused');
  await shot(page, 'refused-minor');
  await uploadPhoto(page, photos.expired);
  assert.match(await page.content(), /PORTAL-ID-EXPIRED/);
  await axe(page, 'expired refused');

  // Noor is not in the registry: an honest "not found" that names no one else.
  await uploadPhoto(page, photos.noor);
  await page.getByRole('button', { name: 'Get my immunization record' }).click();
  assert.match(await page.getByRole('heading', { level: 1 }).innerText(), /could not find your record/);
  assert.match(await page.content(), /health department/);
  assert.doesNotMatch(await page.content(), /\/record\//);
  await axe(page, 'not found');
  await shot(page, 'not-found');
  await context.close();

  const staff = await browser.newContext({ bypassCSP: true });
  const sp = await staff.newPage();
  await sp.goto(site.base);
  await signIn(sp, 'sam.employee');
  assert.match(await sp.content(), /PORTAL-NOT-CITIZEN/);
  assert.match(await sp.content(), /citizen/);
  await axe(sp, 'not a citizen account');
  await staff.close();

  // The load balancer (a trusted proxy) says the client is in Russia.
  const abroad = await browser.newContext({ bypassCSP: true, extraHTTPHeaders: { 'x-forwarded-for': '77.88.8.8' } });
  const ap = await abroad.newPage();
  const r = await ap.goto(site.base);
  assert.equal(r.status(), 403);
  assert.match(await ap.content(), /PORTAL-BLOCKED-COUNTRY/);
  await axe(ap, 'blocked country');
  await shot(ap, 'blocked-country');
  await abroad.close();
});

for (const [locale, lang] of [['en-US', 'en'], ['es-MX', 'es'], ['ar', 'ar']]) {
  for (const [size, viewport] of [['phone', PHONE], ['desktop', DESKTOP]]) {
    test(`information pages meet WCAG 2.1 AA (${lang}, ${size})`, async () => {
      const context = await browser.newContext({ locale, viewport, bypassCSP: true });
      const page = await context.newPage();
      for (const path of ['/', '/faq', '/guide', '/privacy', '/accessibility', '/help', '/upload']) {
        await page.goto(`${site.base}${path}`);
        assert.equal(await page.locator('html').getAttribute('lang'), lang, path);
        if (lang === 'ar') assert.equal(await page.locator('html').getAttribute('dir'), 'rtl');
        await axe(page, `${path} (${lang}, ${size})`);
      }
      await context.close();
    });
  }
}

function lastCode(to) {
  const dir = join(site.dir, 'outbox');
  const mails = readdirSync(dir)
    .filter((f) => f.endsWith('.eml'))
    .map((f) => ({ t: statSync(join(dir, f)).mtimeMs, text: readFileSync(join(dir, f), 'utf8') }))
    .filter((m) => m.text.includes(to))
    .sort((a, b) => a.t - b.t);
  return mails.at(-1).text.split(/\r?\n/).map((l) => l.trim()).find((l) => /^\d{8}$/.test(l));
}

test('a new citizen signs up from the portal and comes back to the upload page', async () => {
  const context = await browser.newContext({ viewport: PHONE });
  const page = await context.newPage();
  await page.goto(site.base);
  await page.getByRole('link', { name: 'Get My Immunization Record (Sign In)' }).click();
  await page.getByRole('button', { name: 'Sign Up' }).click();
  await page.getByLabel('User ID').fill('lena.new');
  await page.getByLabel('Email address').fill('lena@example.org');
  await page.getByLabel('Password').fill('maple river sunrise');
  await page.getByLabel('Social Security number').fill('345-67-8901');
  await page.getByRole('button', { name: 'Create account' }).click();
  await page.getByLabel('Code').fill(lastCode('lena@example.org'));
  await page.getByRole('button', { name: 'Continue' }).click();
  await page.waitForURL(/\/upload$/);
  assert.ok(await page.getByLabel('Photo of your ID').isVisible());
  await context.close();
});
