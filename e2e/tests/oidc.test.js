// An independent, certified relying party (openid-client) signs in through the real pages
// in Debian Chromium and validates the tokens; then the refusals it must see.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import * as client from 'openid-client';
import { chromium } from 'playwright-core';
import { Site, callbackServer, chromiumOptions } from './helpers.js';

const PASSWORD = 'violet harbour lantern';
let site, cb, browser, secret, config;

before(async () => {
  cb = await callbackServer();
  site = new Site({ IMMS_IDP_CODE_SECONDS: '3' });
  site.run(['account', 'add', '--user-id', 'astrid.l', '--email', 'astrid@example.org', '--type', 'citizen', '--password-stdin', '--ssn-stdin'], `${PASSWORD}\n123-45-6789\n`);
  site.run(['account', 'add', '--user-id', 'sam.worker', '--email', 'sam@example.org', '--type', 'worker', '--password-stdin'], 'a worker long password\n');
  secret = site.run(['oidc', 'client', 'add', '--client-id', 'portal', '--redirect-uri', cb.redirectUri, '--post-logout-redirect-uri', cb.logoutUri]).match(/client_secret=(\S+)/)[1];
  await site.start();
  config = await discover(secret);
  browser = await chromium.launch(chromiumOptions);
});

after(async () => {
  await browser?.close();
  await site?.stop();
  cb?.server.close();
});

async function discover(clientSecret, options = {}) {
  return client.discovery(new URL(`${site.base}/idp`), 'portal', undefined, client.ClientSecretBasic(clientSecret), {
    // Non-repudiation checks: the ID token's ES256 signature is verified against the JWKS.
    execute: [client.allowInsecureRequests, client.enableNonRepudiationChecks],
    ...options,
  });
}

/// A browser signs in through the pages; returns the callback URL and the PKCE/state values.
async function signIn(page, user, password, extra = {}) {
  const code_verifier = client.randomPKCECodeVerifier();
  const code_challenge = await client.calculatePKCECodeChallenge(code_verifier);
  const state = client.randomState();
  const nonce = client.randomNonce();
  const url = client.buildAuthorizationUrl(config, {
    redirect_uri: cb.redirectUri,
    scope: 'openid profile email',
    code_challenge,
    code_challenge_method: 'S256',
    state,
    nonce,
    ...extra,
  });
  await page.goto(url.href);
  if (!page.url().startsWith(cb.redirectUri)) {
    await page.getByLabel('User ID').fill(user);
    await page.getByLabel('Password').fill(password);
    await Promise.all([page.waitForURL((u) => u.href.startsWith(cb.redirectUri)), page.getByRole('button', { name: 'Sign in' }).click()]);
  }
  return { callback: new URL(page.url()), code_verifier, state, nonce };
}

test('openid-client signs in through the real pages and validates the tokens', async () => {
  const page = await browser.newPage();
  await page.goto(`${site.base}/idp/signin`);
  assert.ok(await page.getByRole('button', { name: 'Sign Up' }).isVisible());
  assert.ok(await page.getByRole('link', { name: 'Forgot your password?' }).isVisible());
  const { callback, code_verifier, state, nonce } = await signIn(page, 'astrid.l', PASSWORD, { prompt: 'login' });
  const tokens = await client.authorizationCodeGrant(config, callback, { pkceCodeVerifier: code_verifier, expectedState: state, expectedNonce: nonce, idTokenExpected: true });
  const claims = tokens.claims();
  assert.equal(claims.iss, `${site.base}/idp`);
  assert.equal(claims.aud, 'portal');
  assert.equal(claims.acct_type, 'citizen');
  assert.equal(claims.nonce, nonce);
  const info = await client.fetchUserInfo(config, tokens.access_token, claims.sub);
  assert.equal(info.acct_type, 'citizen');
  assert.equal(info.preferred_username, 'astrid.l');

  // The same code again: refused, and the tokens issued from it are revoked (RFC 6749 4.1.2).
  await assert.rejects(
    client.authorizationCodeGrant(config, callback, { pkceCodeVerifier: code_verifier, expectedState: state, expectedNonce: nonce }),
    (e) => e.error === 'invalid_grant',
  );
  await assert.rejects(
    client.fetchUserInfo(config, tokens.access_token, claims.sub),
    (e) => e.error === 'invalid_token' || (e.status ?? e.response?.status) === 401,
  );
  await page.close();
});

test('a worker account is marked in the ID token, so a relying party can refuse it', async () => {
  const page = await browser.newPage();
  const { callback, code_verifier, state, nonce } = await signIn(page, 'sam.worker', 'a worker long password', { prompt: 'login' });
  const tokens = await client.authorizationCodeGrant(config, callback, { pkceCodeVerifier: code_verifier, expectedState: state, expectedNonce: nonce });
  assert.equal(tokens.claims().acct_type, 'worker');
  await page.close();
});

test('refusals: wrong redirect URI, missing or wrong PKCE verifier, bad client secret, expired code, tampered ID token', async () => {
  const page = await browser.newPage();
  // Wrong redirect URI: an error page at the provider, no redirect anywhere.
  const bad = client.buildAuthorizationUrl(config, { redirect_uri: 'https://evil.example/cb', scope: 'openid', state: 'x', code_challenge: 'E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM', code_challenge_method: 'S256' });
  const resp = await page.goto(bad.href);
  assert.equal(resp.status(), 400);
  assert.ok(page.url().startsWith(site.base));
  assert.match(await page.content(), /IDP-OIDC-REDIRECT/);

  // Signed in once; later authorizations answer from the session.
  let s = await signIn(page, 'astrid.l', PASSWORD);
  // Missing verifier (a raw token request, as openid-client always sends one).
  const raw = await fetch(`${site.base}/idp/token`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded', authorization: 'Basic ' + Buffer.from(`portal:${secret}`).toString('base64') },
    body: new URLSearchParams({ grant_type: 'authorization_code', code: s.callback.searchParams.get('code'), redirect_uri: cb.redirectUri }),
  });
  assert.equal(raw.status, 400);
  assert.equal((await raw.json()).error, 'invalid_grant');

  // Wrong verifier.
  s = await signIn(page, 'astrid.l', PASSWORD);
  await assert.rejects(
    client.authorizationCodeGrant(config, s.callback, { pkceCodeVerifier: client.randomPKCECodeVerifier(), expectedState: s.state, expectedNonce: s.nonce }),
    (e) => e.error === 'invalid_grant',
  );

  // Bad client secret.
  s = await signIn(page, 'astrid.l', PASSWORD);
  const wrongSecret = await discover('not-the-secret');
  await assert.rejects(
    client.authorizationCodeGrant(wrongSecret, s.callback, { pkceCodeVerifier: s.code_verifier, expectedState: s.state, expectedNonce: s.nonce }),
    (e) => {
      // 401 with a Basic challenge, as RFC 6749 section 5.2 asks for client_secret_basic.
      const status = e.status ?? e.response?.status;
      return e.error === 'invalid_client' || (status === 401 && String(e.cause?.[0]?.scheme).toLowerCase() === 'basic');
    },
  );

  // Expired code (this server's codes live 3 seconds).
  s = await signIn(page, 'astrid.l', PASSWORD);
  await new Promise((ok) => setTimeout(ok, 4500));
  await assert.rejects(
    client.authorizationCodeGrant(config, s.callback, { pkceCodeVerifier: s.code_verifier, expectedState: s.state, expectedNonce: s.nonce }),
    (e) => e.error === 'invalid_grant',
  );

  // Tampered ID token: one claim changed in transit; the signature no longer holds.
  const tampering = await discover(secret);
  tampering[client.customFetch] = async (url, options) => {
    const r = await fetch(url, options);
    if (!url.endsWith('/token') || r.status !== 200) return r;
    const body = await r.json();
    const [h, p, sig] = body.id_token.split('.');
    const claims = JSON.parse(Buffer.from(p, 'base64url'));
    claims.acct_type = 'citizen-admin';
    body.id_token = [h, Buffer.from(JSON.stringify(claims)).toString('base64url'), sig].join('.');
    return new Response(JSON.stringify(body), { status: 200, headers: { 'content-type': 'application/json' } });
  };
  s = await signIn(page, 'astrid.l', PASSWORD);
  await assert.rejects(
    client.authorizationCodeGrant(tampering, s.callback, { pkceCodeVerifier: s.code_verifier, expectedState: s.state, expectedNonce: s.nonce }),
    (e) => /signature verification failed/i.test(String(e.cause?.message ?? e.cause)),
  );

  // RP-initiated logout: the GET asks first (a cross-site link alone ends nothing); the
  // person confirms; the browser returns to the registered post-logout URI with the state.
  s = await signIn(page, 'astrid.l', PASSWORD);
  const last = await client.authorizationCodeGrant(config, s.callback, { pkceCodeVerifier: s.code_verifier, expectedState: s.state, expectedNonce: s.nonce });
  const end = client.buildEndSessionUrl(config, { id_token_hint: last.id_token, post_logout_redirect_uri: cb.logoutUri, state: 'bye1' });
  await page.goto(end.href);
  assert.ok(page.url().startsWith(`${site.base}/idp/logout`));
  assert.ok(await page.getByText('Do you want to sign out').isVisible());
  await Promise.all([page.waitForURL((u) => u.href.startsWith(cb.logoutUri)), page.getByRole('button', { name: 'Sign out' }).click()]);
  assert.equal(new URL(page.url()).searchParams.get('state'), 'bye1');
  const again = client.buildAuthorizationUrl(config, { redirect_uri: cb.redirectUri, scope: 'openid', state: 'y', code_challenge: 'E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM', code_challenge_method: 'S256' });
  await page.goto(again.href);
  assert.ok(page.url().startsWith(`${site.base}/idp/signin`));
  await page.close();
});

test('the pages work in Spanish, and no personal data reaches the log', async () => {
  const context = await browser.newContext({ locale: 'es-MX' });
  const page = await context.newPage();
  await page.goto(`${site.base}/idp/signin`);
  assert.equal(await page.getAttribute('html', 'lang'), 'es');
  assert.ok(await page.getByLabel('Contraseña').isVisible());
  await page.getByRole('link', { name: 'English' }).click();
  assert.ok(await page.getByLabel('Password').isVisible());
  await context.close();
  for (const secretText of [PASSWORD, '123-45-6789', 'astrid@example.org', secret]) {
    assert.ok(!site.log.includes(secretText), `log leaks ${secretText}`);
  }
});
