// Starts the real `imms serve` (its own data directory, SQLite) on a free loopback port,
// and a tiny relying-party callback server; runs the CLI against the same store.
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import http from 'node:http';
import net from 'node:net';

const root = resolve(import.meta.dirname, '..', '..');

export function imms() {
  const target = process.env.CARGO_TARGET_DIR || join(root, 'target');
  const bin = process.env.IMMS_BIN || join(target, 'debug', 'imms');
  if (!existsSync(bin)) {
    const r = spawnSync('cargo', ['build', '-q', '-p', 'imms', '--bin', 'imms'], { cwd: root, stdio: 'inherit' });
    if (r.status !== 0) throw new Error('could not build imms');
  }
  return bin;
}

/// A clean photo of one person's ID (the seeded generator of imms-idscan), written to `out`.
export function idPhoto(kind, family, given, birth, expiry, out) {
  const target = process.env.CARGO_TARGET_DIR || join(root, 'target');
  const bin = join(target, 'debug', 'examples', 'id_photo');
  if (!existsSync(bin)) {
    const r = spawnSync('cargo', ['build', '-q', '-p', 'imms-idscan', '--features', 'testgen', '--example', 'id_photo'], { cwd: root, stdio: 'inherit' });
    if (r.status !== 0) throw new Error('could not build the ID photo generator');
  }
  const r = spawnSync(bin, [kind, family, given, birth, expiry, out], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`id_photo: ${r.stderr}`);
  return out;
}

/// One VXU^V04 message reporting a flu dose for a person living at 77 Juniper Way, Holland MI.
export function vxu(facility, controlId, mrn, family, given, dob) {
  return [
    `MSH|^~\\&|EHR|${facility}|IMMS|IMMS|20240115083000||VXU^V04^VXU_V04|${controlId}|P|2.5.1`,
    `PID|1||${mrn}^^^${facility}^MR||${family}^${given}^^^^^L||${dob}|F|||77 Juniper Way^^Holland^MI^49423^USA^H`,
    `ORC|RE||${controlId}-1^${facility}`,
    'RXA|0|1|20240110||141^Influenza^CVX|0.5|mL^mL^UCUM||00^New^NIP001|||||||||||CP|A',
  ].join('\r') + '\r';
}

export async function freePort() {
  return new Promise((ok, fail) => {
    const s = net.createServer();
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => ok(port));
    });
    s.on('error', fail);
  });
}

export class Site {
  constructor(env = {}) {
    this.dir = mkdtempSync(join(tmpdir(), 'imms-e2e-'));
    this.extraEnv = env;
  }

  env() {
    return {
      ...process.env,
      IMMS_DATA_DIR: this.dir,
      IMMS_DATABASE_URL: `sqlite://${this.dir}/imms.db`,
      IMMS_MLLP_ADDR: '127.0.0.1:0',
      RUST_LOG: 'info,sqlx=warn',
      ...(this.port ? { IMMS_HTTP_ADDR: `127.0.0.1:${this.port}`, IMMS_PUBLIC_URL: this.base } : {}),
      ...this.extraEnv,
    };
  }

  run(args, input = '') {
    const r = spawnSync(imms(), args, { env: this.env(), input, encoding: 'utf8' });
    if (r.status !== 0) throw new Error(`imms ${args.join(' ')}: ${r.stderr}`);
    return r.stdout;
  }

  /// Chooses the port before starting, for peers that must know the address first.
  async reservePort() {
    this.port = this.port || await freePort();
    this.base = `http://127.0.0.1:${this.port}`;
    return this.base;
  }

  async start() {
    this.port = this.port || await freePort();
    this.base = `http://127.0.0.1:${this.port}`;
    this.log = '';
    this.child = spawn(imms(), ['serve'], { env: this.env(), stdio: ['ignore', 'pipe', 'pipe'] });
    this.child.stderr.on('data', (d) => { this.log += d; });
    await new Promise((ok, fail) => {
      let out = '';
      this.child.stdout.on('data', (d) => {
        out += d;
        if (out.includes('imms is running at')) ok();
      });
      this.child.on('exit', (c) => fail(new Error(`imms serve exited ${c}: ${this.log}`)));
    });
    return this;
  }

  async stop() {
    if (this.child) {
      this.child.kill('SIGTERM');
      await new Promise((ok) => this.child.once('exit', ok));
    }
    rmSync(this.dir, { recursive: true, force: true });
  }
}

/// The relying party's callback (and post-logout page): answers 200 so the browser stops there.
export async function callbackServer() {
  const port = await freePort();
  const server = http.createServer((req, res) => {
    res.writeHead(200, { 'content-type': 'text/plain' });
    res.end('relying party callback');
  });
  await new Promise((ok) => server.listen(port, '127.0.0.1', ok));
  return { server, redirectUri: `http://127.0.0.1:${port}/cb`, logoutUri: `http://127.0.0.1:${port}/bye` };
}

export const chromiumOptions = {
  executablePath: '/usr/bin/chromium',
  headless: true,
  args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
};
