/** A real coturn (Debian's `coturn`) on loopback with `use-auth-secret`, and TURN allocations against it. */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createSocket } from 'node:dgram';
import { connect } from 'node:net';
import { freePort } from '../redis.js';

function accepts(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect(port, '127.0.0.1');
    socket.once('connect', () => { socket.destroy(); resolve(true); });
    socket.once('error', () => resolve(false));
  });
}

export const TURNSERVER = '/usr/bin/turnserver';
export const UCLIENT = '/usr/bin/turnutils_uclient';

export interface Coturn {
  port: number;
  secret: string;
  stop(): Promise<void>;
}

/** A free UDP port on loopback (coturn listens on UDP and TCP). */
async function freeUdpAndTcpPort(): Promise<number> {
  for (;;) {
    const port = await freePort();
    const socket = createSocket('udp4');
    const ok = await new Promise<boolean>((resolve) => {
      socket.once('error', () => resolve(false));
      socket.bind(port, '127.0.0.1', () => resolve(true));
    });
    await new Promise<void>((resolve) => socket.close(() => resolve()));
    if (ok) return port;
  }
}

/** Starts turnserver with `--use-auth-secret` on loopback; resolves once it listens. */
export async function startCoturn(secret = `s-${Math.random().toString(36).slice(2)}`): Promise<Coturn> {
  if (!existsSync(TURNSERVER) || !existsSync(UCLIENT)) {
    throw new Error(`${TURNSERVER} is missing: install Debian's coturn (apt-get install -y coturn)`);
  }
  const port = await freeUdpAndTcpPort();
  const dir = mkdtempSync(join(tmpdir(), 'livehub-coturn-'));
  const child: ChildProcess = spawn(TURNSERVER, [
    `--listening-port=${port}`, '--listening-ip=127.0.0.1', '--relay-ip=127.0.0.1', '--allow-loopback-peers',
    '--use-auth-secret', `--static-auth-secret=${secret}`, '--realm=livehub.test',
    '--no-tls', '--no-dtls', '--no-cli', '--no-software-attribute', '--log-file=stdout',
    `--min-port=${port + 1}`, `--max-port=${Math.min(port + 200, 65535)}`, `--userdb=${join(dir, 'turndb')}`, `--pidfile=${join(dir, 'pid')}`,
  ], { stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  child.stdout!.on('data', (chunk) => { output += chunk; });
  child.stderr!.on('data', (chunk) => { output += chunk; });
  // Ready once its TCP listener accepts (its log is buffered, so it cannot be watched).
  const deadline = Date.now() + 10_000;
  while (!(await accepts(port))) {
    if (child.exitCode !== null) throw new Error(`turnserver exited (${child.exitCode}): ${output}`);
    if (Date.now() > deadline) { child.kill('SIGKILL'); throw new Error(`turnserver did not listen on ${port} within 10 s: ${output}`); }
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  return {
    port, secret,
    stop: () => new Promise<void>((resolve) => {
      const done = () => { rmSync(dir, { recursive: true, force: true }); resolve(); };
      if (child.exitCode !== null || child.signalCode !== null) return done();
      child.once('exit', done);
      child.kill('SIGKILL');
    }),
  };
}

/**
 * Two TURN allocations through coturn with `username`/`password`, relaying a message from one to the
 * other (turnutils_uclient -y). Resolves with whether it worked, and the tool's output.
 */
export function allocate(port: number, username: string, password: string): Promise<{ ok: boolean; output: string }> {
  const child = spawn(UCLIENT, ['-p', String(port), '-u', username, '-w', password, '-n', '1', '-m', '1', '-c', '-y', '-l', '50', '127.0.0.1'], { stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  child.stdout!.on('data', (chunk) => { output += chunk; });
  child.stderr!.on('data', (chunk) => { output += chunk; });
  const timer = setTimeout(() => child.kill('SIGKILL'), 15_000);
  return new Promise((resolve) => child.once('exit', (code) => {
    clearTimeout(timer);
    resolve({ ok: code === 0 && !/Cannot complete Allocation/.test(output), output });
  }));
}
