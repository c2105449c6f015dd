import { spawnSync } from 'node:child_process';
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';

const script = fileURLToPath(new URL('../../scripts/setup-system.mjs', import.meta.url));
const dirs: string[] = [];
afterEach(() => { for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true }); });

/** A bin directory holding fake executables with these names. */
function fakeBin(names: string[]): string {
  const dir = mkdtempSync(join(tmpdir(), 'livehub-setup-'));
  dirs.push(dir);
  for (const name of names) {
    writeFileSync(join(dir, name), '#!/bin/sh\nexit 0\n');
    chmodSync(join(dir, name), 0o755);
  }
  return dir;
}

/** Runs the set-up script with `--dry-run`, with only `bin` on PATH and a fake Chromium. */
function dryRun(bin: string, env: Record<string, string> = {}) {
  const result = spawnSync(process.execPath, [script, '--dry-run'], {
    env: { PATH: bin, CHROMIUM_PATH: join(bin, 'chromium'), ...env },
    encoding: 'utf8',
  });
  return { status: result.status, stdout: result.stdout, stderr: result.stderr };
}

const asRoot = process.getuid?.() === 0;
/** What the tests run besides Node, by the executables the script looks for (Chromium comes by CHROMIUM_PATH). */
const TOOLS = ['chromium', 'redis-server', 'mosquitto_sub', 'mosquitto_pub', 'turnserver', 'turnutils_uclient'];
const without = (...names: string[]) => TOOLS.filter((tool) => !names.includes(tool));

describe('npm test set-up (scripts/setup-system.mjs)', () => {
  it('does nothing when every tool the tests run is there', () => {
    const run = dryRun(fakeBin([...TOOLS, 'apt-get']));
    expect(run).toMatchObject({ status: 0, stderr: '' });
    expect(run.stdout).toContain('nothing to do');
  });

  it('installs the missing packages with apt-get as root, and names the exact command otherwise', () => {
    const run = dryRun(fakeBin([...without('redis-server'), 'apt-get']));
    if (asRoot) {
      expect(run.status).toBe(0);
      expect(run.stdout).toContain('would install redis-server with apt-get');
    } else {
      expect(run.status).toBe(1);
      expect(run.stderr).toContain('sudo apt-get install -y redis-server');
    }
    expect(run.stdout + run.stderr).toMatch(/missing: redis-server \(the Redis engine tests/);
  });

  it('stops naming the packages when there is no apt-get to install them with', () => {
    const run = dryRun(fakeBin(without('redis-server')));
    expect(run.status).toBe(1);
    expect(run.stdout).toBe('');
    expect(run.stderr).toContain('missing: redis-server');
    expect(run.stderr).toContain('packages redis-server');
  });

  it('stops at once when CHROMIUM_PATH names no executable', () => {
    const bin = fakeBin([...without('chromium'), 'apt-get']);
    const run = dryRun(bin, { CHROMIUM_PATH: join(bin, 'no-such-chromium') });
    expect(run.status).toBe(1);
    expect(run.stderr).toContain(`CHROMIUM_PATH=${join(bin, 'no-such-chromium')} is not an executable file`);
  });

  it('names the MQTT and WebRTC tests\' packages when their tools are missing', () => {
    const run = dryRun(fakeBin([...without('mosquitto_pub', 'turnutils_uclient'), 'apt-get']));
    expect(run.stdout + run.stderr).toMatch(/missing: .*mosquitto_sub \(the MQTT tests/);
    expect(run.stdout + run.stderr).toMatch(/turnserver \(the WebRTC tests/);
    if (asRoot) expect(run.stdout).toContain('would install mosquitto-clients coturn with apt-get');
  });
});
