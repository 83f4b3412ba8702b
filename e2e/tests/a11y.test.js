// WCAG 2.1 A and AA rules (axe-core) on every page a person sees, in English and Spanish.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createRequire } from 'node:module';
import { chromium } from 'playwright-core';
import { Site, chromiumOptions } from './helpers.js';

const require = createRequire(import.meta.url);
const axePath = require.resolve('axe-core/axe.min.js');
let site, browser;

before(async () => {
  site = new Site();
  site.run(['account', 'add', '--user-id', 'astrid.l', '--email', 'astrid@example.org', '--password-stdin'], 'violet harbour lantern\n');
  site.run(['account', 'add', '--user-id', 'off.line', '--email', 'off@example.org', '--password-stdin'], 'violet harbour lantern\n');
  site.run(['account', 'disable', 'off.line']);
  await site.start();
  browser = await chromium.launch(chromiumOptions);
});

after(async () => {
  await browser?.close();
  await site?.stop();
});

async function check(page, what) {
  await page.addScriptTag({ path: axePath });
  const result = await page.evaluate(() => window.axe.run(document, { runOnly: { type: 'tag', values: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa'] } }));
  const problems = result.violations.map((v) => `${v.id}: ${v.nodes.map((n) => n.target.join(' ')).join(', ')}`);
  assert.deepEqual(problems, [], `${what}: ${problems.join('; ')}`);
}

for (const locale of ['en-US', 'es-MX']) {
  test(`pages meet WCAG 2.1 AA (${locale})`, async () => {
    // The pages' CSP forbids scripts (they need none); the checker is injected past it.
    const context = await browser.newContext({ locale, bypassCSP: true });
    const page = await context.newPage();
    for (const path of ['/idp/signin', '/idp/signup', '/idp/forgot']) {
      await page.goto(`${site.base}${path}`);
      await check(page, path);
    }
    // A refused sign-in (error shown), the disabled-account page, the forgot-password choice.
    await page.goto(`${site.base}/idp/signin`);
    await page.locator('#user_id').fill('astrid.l');
    await page.locator('#password').fill('not the password');
    await page.locator('form[action="/idp/signin"] button').click();
    assert.match(await page.content(), /IDP-SIGNIN-FAILED/);
    await check(page, 'sign-in error');
    await page.goto(`${site.base}/idp/signin`);
    await page.locator('#user_id').fill('off.line');
    await page.locator('#password').fill('violet harbour lantern');
    await page.locator('form[action="/idp/signin"] button').click();
    assert.match(await page.content(), /1-833-999-2484/);
    await check(page, 'disabled account');
    await page.goto(`${site.base}/idp/forgot`);
    await page.locator('#user_id').fill('astrid.l');
    await page.locator('form[action="/idp/forgot"] button').click();
    assert.match(await page.content(), /name="option"/);
    await check(page, 'forgot: choose an option');
    // Settings, signed in.
    await page.goto(`${site.base}/idp/signin`);
    await page.locator('#user_id').fill('astrid.l');
    await page.locator('#password').fill('violet harbour lantern');
    await page.locator('form[action="/idp/signin"] button').click();
    await page.waitForURL(/\/idp\/account/);
    await check(page, 'account settings');
    // The sign-out confirmation a relying party's logout link leads to.
    await page.goto(`${site.base}/idp/logout`);
    assert.match(await page.content(), /action="\/idp\/logout"/);
    await check(page, 'sign out: confirm');
    await context.close();
  });
}
