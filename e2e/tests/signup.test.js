// A new citizen starts at a relying party, presses "Sign Up", confirms the emailed code and
// arrives back signed in; a second sign-up with the same SSN is refused; "Forgot your
// password?" sets a new one with an emailed code.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import * as client from 'openid-client';
import { chromium } from 'playwright-core';
import { Site, callbackServer, chromiumOptions } from './helpers.js';

let site, cb, browser, config;

before(async () => {
  cb = await callbackServer();
  site = new Site();
  site.run(['oidc', 'client', 'add', '--client-id', 'portal', '--redirect-uri', cb.redirectUri, '--public']);
  await site.start();
  config = await client.discovery(new URL(`${site.base}/idp`), 'portal', undefined, client.None(), {
    execute: [client.allowInsecureRequests, client.enableNonRepudiationChecks],
  });
  browser = await chromium.launch(chromiumOptions);
});

after(async () => {
  await browser?.close();
  await site?.stop();
  cb?.server.close();
});

function lastCode(to) {
  const dir = join(site.dir, 'outbox');
  const mails = readdirSync(dir)
    .filter((f) => f.endsWith('.eml'))
    .map((f) => ({ t: statSync(join(dir, f)).mtimeMs, text: readFileSync(join(dir, f), 'utf8') }))
    .filter((m) => m.text.includes(to))
    .sort((a, b) => a.t - b.t);
  return mails.at(-1).text.split(/\r?\n/).map((l) => l.trim()).find((l) => /^\d{8}$/.test(l));
}

async function signUp(page, user, email, ssn) {
  await page.getByRole('button', { name: 'Sign Up' }).click();
  await page.getByLabel('User ID').fill(user);
  await page.getByLabel('Email address').fill(email);
  await page.getByLabel('Password').fill('maple river sunrise');
  await page.getByLabel('Social Security number').fill(ssn);
  await page.getByRole('button', { name: 'Create account' }).click();
}

test('sign up from a relying party, confirm the emailed code, come back signed in', async () => {
  const page = await browser.newPage();
  const code_verifier = client.randomPKCECodeVerifier();
  const state = client.randomState();
  const url = client.buildAuthorizationUrl(config, {
    redirect_uri: cb.redirectUri,
    scope: 'openid email',
    code_challenge: await client.calculatePKCECodeChallenge(code_verifier),
    code_challenge_method: 'S256',
    state,
  });
  await page.goto(url.href);
  await signUp(page, 'bo.ng', 'bo@example.org', '234-56-7890');
  await page.getByLabel('Code').fill(lastCode('bo@example.org'));
  await Promise.all([page.waitForURL((u) => u.href.startsWith(cb.redirectUri)), page.getByRole('button', { name: 'Continue' }).click()]);
  const tokens = await client.authorizationCodeGrant(config, new URL(page.url()), { pkceCodeVerifier: code_verifier, expectedState: state });
  assert.equal(tokens.claims().acct_type, 'citizen');
  assert.equal(tokens.claims().email, 'bo@example.org');

  // The same SSN again: refused, pointing to sign-in and "Forgot your password?".
  const other = await browser.newPage();
  await other.goto(`${site.base}/idp/signin`);
  await signUp(other, 'bo.again', 'bo2@example.org', '234567890');
  const alert = other.getByRole('alert');
  assert.match(await alert.innerText(), /already in use/);
  assert.ok(await alert.getByRole('link', { name: 'Forgot your password?' }).isVisible());
  await other.close();
  await page.close();
});

test('forgot your password: user ID, email code, new password', async () => {
  const page = await browser.newPage();
  await page.goto(`${site.base}/idp/signin`);
  await page.getByRole('link', { name: 'Forgot your password?' }).click();
  await page.getByLabel('User ID').fill('bo.ng');
  await page.getByRole('button', { name: 'Continue' }).click();
  await page.getByLabel('Send a code to my email address').check();
  await page.getByRole('button', { name: 'Continue' }).click();
  await page.getByLabel('Code').fill(lastCode('bo@example.org'));
  await page.getByLabel('New password').fill('brand new garden gate');
  await page.getByRole('button', { name: 'Set new password' }).click();
  assert.match(await page.getByRole('status').innerText(), /password has been changed/);
  await page.getByRole('link', { name: 'Sign in' }).click();
  await page.getByLabel('User ID').fill('bo.ng');
  await page.getByLabel('Password').fill('brand new garden gate');
  await page.getByRole('button', { name: 'Sign in' }).click();
  await page.waitForURL(/\/idp\/account/);
  assert.match(await page.content(), /bo\.ng/);
  await page.close();
});
