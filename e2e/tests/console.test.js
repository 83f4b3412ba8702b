// The provider console in Chromium as staff use it: sign in at the identity provider, find a
// person by name and date of birth, open the record, print the official PDF; an editor
// corrects a dose and the citizen's own PDF from the portal shows it at once; an
// administrator compares a possible duplicate, merges and undoes the merge. axe-core
// (WCAG 2.1 A and AA) on every console page on the way, errors included.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { spawnSync } from 'node:child_process';
import { createRequire } from 'node:module';
import { chromium } from 'playwright-core';
import { Site, chromiumOptions, idPhoto, vxu } from './helpers.js';

const require = createRequire(import.meta.url);
const axePath = require.resolve('axe-core/axe.min.js');
const PASSWORD = 'copper meadow signal';
let site, browser, photo;

before(async () => {
  site = new Site();
  site.run(['org', 'add', '--facility-id', 'CLINIC-E', '--name', 'Elm Street Clinic']);
  const file = join(site.dir, 'astrid.hl7');
  writeFileSync(file, vxu('CLINIC-E', 'E-1', 'MRN-E1', 'Lindqvist', 'Astrid', '19850412'));
  site.run(['hl7', 'import', file]);
  // Two charts of one name and birth date at one clinic: a possible duplicate for the queue.
  for (const [control, mrn] of [['E-2', 'MRN-E2'], ['E-3', 'MRN-E3']]) {
    const noor = join(site.dir, `${mrn}.hl7`);
    writeFileSync(noor, vxu('CLINIC-E', control, mrn, 'Haddad', 'Noor', '19790930'));
    site.run(['hl7', 'import', noor]);
  }
  for (const [user, role] of [['vera.viewer', 'viewer'], ['eddie.editor', 'editor'], ['ada.admin', 'admin']]) {
    site.run(['account', 'add', '--user-id', user, '--email', `${user}@example.org`, '--type', 'employee', '--password-stdin'], `${PASSWORD}\n`);
    site.run(['staff', 'add', '--user-id', user, '--org', 'CLINIC-E', '--role', role]);
  }
  site.run(['account', 'add', '--user-id', 'astrid.l', '--email', 'astrid@example.org', '--password-stdin', '--ssn-stdin'], `${PASSWORD}\n123-45-6789\n`);
  photo = idPhoto('license', 'LINDQVIST', 'ASTRID', '1985-04-12', '2031-01-01', join(site.dir, 'astrid.jpg'));
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

function pdfText(bytes) {
  const file = join(site.dir, `record-${Date.now()}.pdf`);
  writeFileSync(file, bytes);
  const r = spawnSync('pdftotext', [file, '-'], { encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
  return r.stdout;
}

/// Opens the console, signs in at the identity provider, lands on "Find a person".
async function signIn(page, user) {
  await page.goto(`${site.base}/console`);
  await page.waitForURL(/\/idp\//);
  await page.getByLabel('User ID').fill(user);
  await page.getByLabel('Password').fill(PASSWORD);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await page.waitForURL(/\/console$/);
  assert.equal(await page.getByRole('heading', { level: 1 }).innerText(), 'Find a person');
}

async function findAstrid(page) {
  await page.getByLabel('Family name').fill('Lindqvist');
  await page.getByLabel('Given name').fill('Astrid');
  await page.getByLabel('Date of birth (YYYY-MM-DD)').fill('1985-04-12');
  await page.getByRole('button', { name: 'Search' }).click();
  await page.waitForURL(/\/console\/search$/);
}

test('a viewer finds a person by name and date of birth and prints the official record', async () => {
  const context = await browser.newContext({ bypassCSP: true });
  const page = await context.newPage();
  await signIn(page, 'vera.viewer');
  await axe(page, 'find a person');

  // Too little to search by: the problem is named and linked to its field.
  await page.getByLabel('Family name').fill('Lindqvist');
  await page.getByRole('button', { name: 'Search' }).click();
  assert.match(await page.getByRole('alert').innerText(), /name and the date of birth/);
  assert.equal(await page.getByLabel('Family name').getAttribute('aria-invalid'), 'true');
  await axe(page, 'search error');

  await findAstrid(page);
  const rows = page.locator('tbody tr');
  assert.equal(await rows.count(), 1, await page.locator('main').innerText());
  assert.match(await rows.first().locator('mark').first().innerText(), /Astrid Lindqvist/);
  assert.match(await rows.first().innerText(), /family name, given name, date of birth/);
  await axe(page, 'candidates');

  await rows.first().getByRole('link', { name: /Open record/ }).click();
  await page.waitForURL(/\/console\/person\/\d+$/);
  assert.equal(await page.getByRole('heading', { level: 1 }).innerText(), 'Immunization record');
  assert.match(await page.locator('table').first().innerText(), /Influenza/);
  assert.equal(await page.getByRole('link', { name: /^Correct/ }).count(), 0, 'a viewer corrects nothing');
  await axe(page, 'record');

  const print = page.getByRole('link', { name: 'Print the official record (PDF)' });
  const response = await context.request.get(`${site.base}${await print.getAttribute('href')}`);
  assert.equal(response.status(), 200);
  assert.equal(response.headers()['content-type'], 'application/pdf');
  const text = pdfText(await response.body());
  assert.match(text, /Official Immunization Record/);
  assert.match(text, /Lindqvist/);
  assert.match(text, /[Ii]nfluenza/);

  // A viewer asking for an editor's page gets a page that says why, not a blank refusal.
  const refused = await page.goto(`${site.base}${new URL(page.url()).pathname}/dose/new`);
  assert.equal(refused.status(), 403);
  assert.match(await page.getByRole('alert').innerText(), /needs the editor role/);
  await axe(page, 'not allowed');

  // Signing out ends the console's session, then the identity provider's (on its own page).
  await page.goto(`${site.base}/console`);
  await page.getByRole('button', { name: 'Sign out' }).click();
  await page.waitForURL(/\/idp\/logout/);
  await page.getByRole('button', { name: /Sign out/ }).click();
  await page.waitForURL(/\/console\/signed-out$/);
  await axe(page, 'signed out');
  await page.goto(`${site.base}/console`);
  await page.waitForURL(/\/idp\//);
  assert.ok(await page.getByLabel('Password').isVisible(), 'asked to sign in again');
  await context.close();
});

test('the console needs no JavaScript: sign in, find, open, print', async () => {
  const context = await browser.newContext({ javaScriptEnabled: false });
  const page = await context.newPage();
  await signIn(page, 'vera.viewer');
  await findAstrid(page);
  await page.locator('tbody tr').first().getByRole('link', { name: /Open record/ }).click();
  await page.waitForURL(/\/console\/person\/\d+$/);
  const print = page.getByRole('link', { name: 'Print the official record (PDF)' });
  const response = await context.request.get(`${site.base}${await print.getAttribute('href')}`);
  assert.equal(response.headers()['content-type'], 'application/pdf');
  await context.close();
});

test("an editor's correction shows in the citizen's own PDF from the portal at once", async () => {
  const context = await browser.newContext({ bypassCSP: true });
  const page = await context.newPage();
  await signIn(page, 'eddie.editor');
  await findAstrid(page);
  await page.locator('tbody tr').first().getByRole('link', { name: /Open record/ }).click();
  await page.waitForURL(/\/console\/person\/\d+$/);

  await page.getByRole('link', { name: 'Add a dose' }).click();
  assert.equal(await page.getByRole('heading', { level: 1 }).innerText(), 'Add a dose');
  await axe(page, 'add a dose');
  await page.getByRole('link', { name: 'Cancel' }).click();

  await page.getByRole('link', { name: /^Correct/ }).first().click();
  assert.equal(await page.getByRole('heading', { level: 1 }).innerText(), 'Correct a dose');
  await axe(page, 'correct a dose');
  // Over-long text: refused with the reason beside the field, the values kept.
  await page.getByLabel('Lot number (optional)').evaluate((el) => el.removeAttribute('maxlength'));
  await page.getByLabel('Lot number (optional)').fill('L'.repeat(60));
  await page.getByLabel('Reason for this change').fill('lot number read from the vial label');
  await page.getByRole('button', { name: 'Save the correction' }).click();
  assert.match(await page.getByRole('alert').innerText(), /at most 50 characters/);
  assert.equal(await page.getByLabel('Reason for this change').inputValue(), 'lot number read from the vial label');
  await axe(page, 'correction refused');
  // A colleague opens the same dose before the save.
  const colleague = await context.newPage();
  await colleague.goto(`${page.url()}/edit`);
  await page.getByLabel('Lot number (optional)').fill('FX2024B');
  await page.getByRole('button', { name: 'Save the correction' }).click();
  await page.waitForURL(/done=corrected/);
  assert.match(await page.getByRole('status').first().innerText(), /correction was saved/);
  assert.match(await page.content(), /lot number read from the vial label/);
  await axe(page, 'record after the correction');
  // The colleague saves second: told so, shown the dose as it is now, their typing kept.
  await colleague.getByLabel('Lot number (optional)').fill('OTHER-LOT');
  await colleague.getByLabel('Reason for this change').fill('a second opinion');
  await colleague.getByRole('button', { name: 'Save the correction' }).click();
  assert.match(await colleague.locator('#conflict').innerText(), /Someone else changed this dose[\s\S]*FX2024B/);
  assert.equal(await colleague.getByLabel('Lot number (optional)').inputValue(), 'OTHER-LOT');
  await axe(colleague, 'conflict');
  await context.close();

  // Astrid, at the portal: her record, with the corrected lot.
  const citizen = await browser.newContext({ bypassCSP: true });
  const cp = await citizen.newPage();
  await cp.goto(site.base);
  await cp.getByRole('link', { name: 'Get My Immunization Record (Sign In)' }).click();
  await cp.getByLabel('User ID').fill('astrid.l');
  await cp.getByLabel('Password').fill(PASSWORD);
  await cp.getByRole('button', { name: 'Sign in' }).click();
  await cp.waitForURL(/\/upload$/);
  await cp.getByLabel('Photo of your ID').setInputFiles(photo);
  await cp.locator('form[action="/upload"] button[type="submit"]').click();
  await cp.getByRole('button', { name: 'Get my immunization record' }).click();
  await cp.waitForURL(/\/search$/);
  assert.equal(await cp.locator('#open-record').count(), 1, await cp.locator('main').innerText());
  const link = await cp.locator('#open-record').getAttribute('href');
  const response = await citizen.request.get(`${site.base}${link}`);
  assert.equal(response.status(), 200);
  const text = pdfText(await response.body());
  assert.match(text, /Lindqvist/);
  assert.match(text, /FX2024B/);
  await citizen.close();
});

test('an administrator compares a possible duplicate, merges, undoes the merge and marks them as different people', async () => {
  const context = await browser.newContext({ bypassCSP: true });
  const page = await context.newPage();
  await signIn(page, 'ada.admin');
  await page.getByRole('link', { name: 'Possible duplicates' }).click();
  assert.equal(await page.getByRole('heading', { level: 1 }).innerText(), 'Possible duplicates');
  await axe(page, 'duplicate queue');
  await page.getByRole('link', { name: /^Compare pair/ }).first().click();
  assert.match(await page.getByRole('heading', { level: 1 }).innerText(), /Compare pair/);
  assert.equal(await page.getByRole('heading', { level: 2, name: /^Person \d+$/ }).count(), 2);
  await axe(page, 'compare');

  await page.getByRole('radio').first().check();
  await page.getByLabel('Reason for merging').fill('same person, second chart opened by mistake');
  await page.getByRole('button', { name: 'Merge the two records' }).click();
  await page.waitForURL(/done=merged/);
  assert.match(await page.getByRole('status').first().innerText(), /records were merged/);
  assert.match(await page.content(), /CLINIC-E:MRN-E2/);
  assert.match(await page.content(), /CLINIC-E:MRN-E3/);
  await axe(page, 'record after the merge');

  await page.getByLabel(/Reason for undoing merge/).fill('the clinic says these are two patients');
  await page.getByRole('button', { name: 'Undo this merge' }).click();
  await page.waitForURL(/done=unmerged/);
  assert.match(await page.getByRole('status').first().innerText(), /merge was undone/);
  await axe(page, 'record after the undo');

  // Back in the queue; now marked as different people, it leaves for good.
  await page.getByRole('link', { name: 'Possible duplicates' }).click();
  await page.getByRole('link', { name: /^Compare pair/ }).first().click();
  await page.getByLabel('Reason they are different people').fill('two patients of one name and birth date');
  await page.getByRole('button', { name: 'Not the same person' }).click();
  await page.waitForURL(/\/console\/duplicates$/);
  assert.match(await page.getByRole('status').innerText(), /queue is empty/);
  await axe(page, 'empty queue');

  await page.getByRole('link', { name: 'Staff' }).click();
  assert.match(await page.content(), /eddie\.editor/);
  await axe(page, 'staff');

  await page.getByRole('link', { name: 'Organizations' }).click();
  await page.getByLabel('Facility id').fill('KENT-HD');
  await page.getByLabel('Name').fill('Kent County Health Department');
  await page.getByRole('button', { name: 'Save' }).click();
  assert.match(await page.getByRole('status').innerText(), /Saved/);
  assert.match(await page.content(), /Kent County Health Department/);
  await axe(page, 'organizations');
  await page.getByLabel('Facility id').fill('not an id!');
  await page.getByLabel('Name').fill('x');
  await page.getByRole('button', { name: 'Save' }).click();
  await axe(page, 'organizations: error');
  await context.close();
});
