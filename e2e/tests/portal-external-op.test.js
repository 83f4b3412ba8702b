// The portal is a standard OpenID Connect relying party: pointed at an independent provider
// (the npm package oidc-provider, a certified OpenID Provider) instead of the built-in one,
// it signs a citizen in (code flow, PKCE, ID token checked), gets the record, and refuses a
// non-citizen account by the provider's acct_type claim.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import Provider from 'oidc-provider';
import { chromium } from 'playwright-core';
import { Site, chromiumOptions, freePort, idPhoto, vxu } from './helpers.js';

const SECRET = 'an independent provider client secret, long enough';
let site, op, opServer, browser, photo;

before(async () => {
  site = new Site();
  const base = await site.reservePort();
  const opPort = await freePort();
  const issuer = `http://127.0.0.1:${opPort}`;
  op = new Provider(issuer, {
    clients: [{
      client_id: 'state-portal',
      client_secret: SECRET,
      redirect_uris: [`${base}/callback`],
      post_logout_redirect_uris: [`${base}/signed-out`],
      grant_types: ['authorization_code'],
      response_types: ['code'],
    }],
    claims: { openid: ['sub'], profile: ['preferred_username', 'acct_type'] },
    conformIdTokenClaims: false,
    // Any login works at the provider's development pages; an "emp." login is an employee.
    findAccount: async (_ctx, id) => ({
      accountId: id,
      claims: async () => ({ sub: id, preferred_username: id, acct_type: id.startsWith('emp.') ? 'employee' : 'citizen' }),
    }),
    features: { devInteractions: { enabled: true }, rpInitiatedLogout: { enabled: true } },
    cookies: { keys: ['an e2e cookie key'] },
  });
  opServer = op.listen(opPort, '127.0.0.1');
  site.extraEnv = {
    IMMS_OIDC_ISSUER: issuer,
    IMMS_OIDC_CLIENT_ID: 'state-portal',
    IMMS_OIDC_CLIENT_SECRET: SECRET,
  };
  site.run(['org', 'add', '--facility-id', 'CLINIC-X', '--name', 'Oak Clinic']);
  const file = join(site.dir, 'astrid.hl7');
  writeFileSync(file, vxu('CLINIC-X', 'X-1', 'MRN-X1', 'Lindqvist', 'Astrid', '19850412'));
  site.run(['hl7', 'import', file]);
  photo = idPhoto('license', 'LINDQVIST', 'ASTRID', '1985-04-12', '2031-01-01', join(site.dir, 'astrid.jpg'));
  await site.start();
  browser = await chromium.launch(chromiumOptions);
});

after(async () => {
  await browser?.close();
  await site?.stop();
  opServer?.close();
});

async function signInAtProvider(page, login) {
  page.setDefaultTimeout(15000);
  await page.goto(site.base);
  await page.getByRole('link', { name: 'Get My Immunization Record (Sign In)' }).click();
  await page.waitForURL((u) => u.href.startsWith(op.issuer));
  await page.locator('input[name="login"]').fill(login);
  await page.locator('input[name="password"]').fill('anything');
  await page.locator('button[type="submit"]').click();
  // The provider asks for consent once per client.
  await page.locator('button[type="submit"]', { hasText: 'Continue' }).click();
}

test('a citizen signed in at an independent provider gets their record', async () => {
  const context = await browser.newContext();
  const page = await context.newPage();
  await signInAtProvider(page, 'astrid@state.example');
  await page.waitForURL(/\/upload$/);
  await page.getByLabel('Photo of your ID').setInputFiles(photo);
  await page.locator('form[action="/upload"] button[type="submit"]').click();
  await page.getByRole('button', { name: 'Get my immunization record' }).click();
  const link = await page.locator('#open-record').getAttribute('href');
  const response = await context.request.get(`${site.base}${link}`);
  assert.equal(response.headers()['content-type'], 'application/pdf');
  // Signing out ends the provider's session too (RP-initiated logout), then comes back.
  await page.goto(`${site.base}/upload`);
  await page.getByRole('button', { name: 'Sign out' }).click();
  await page.waitForURL((u) => u.href.startsWith(op.issuer));
  await page.locator('button[type="submit"]', { hasText: /yes/i }).click();
  await page.waitForURL(/\/signed-out$/);
  await context.close();
});

test('an employee account at that provider is refused with its error code', async () => {
  const context = await browser.newContext();
  const page = await context.newPage();
  await signInAtProvider(page, 'emp.sam');
  assert.match(await page.content(), /PORTAL-NOT-CITIZEN/);
  await context.close();
});
