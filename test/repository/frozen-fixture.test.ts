// Repositories written by an earlier Lifeboat (test/fixtures/repository-v1) must still restore
// byte for byte: the format's compatibility promise, checked on every run.

import test from 'ava';
import { execa } from 'execa';
import { createHash } from 'node:crypto';
import { cp, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { PROJECT_ROOT } from '../../builder/paths.ts';

const FIXTURES = path.join(PROJECT_ROOT, 'test/fixtures/repository-v1');
const SOURCE_SHA256 = 'f28751c962b73017bea9d5585c31eb94c10ec90c6e8bfa5d7d5fe66267aa09d5';

async function lifeboat(args: readonly string[], env: Record<string, string> = {}) {
  const inherited = Object.fromEntries(Object.entries(process.env).filter(([key]) => key !== 'LIFEBOAT_PASSWORD'));
  const result = await execa('node', [path.join(PROJECT_ROOT, 'rescue/bin/lifeboat.mjs'), ...args], { reject: false, env: { ...inherited, ...env }, extendEnv: false });
  return { exitCode: result.exitCode ?? -1, stdout: result.stdout, stderr: result.stderr };
}

async function copyFixture(name: string): Promise<{ dir: string; repo: string }> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'lifeboat-frozen-'));
  const repo = path.join(dir, name);
  await cp(path.join(FIXTURES, name), repo, { recursive: true });
  return { dir, repo };
}

for (const [name, env] of [['plain', {}], ['encrypted', { LIFEBOAT_PASSWORD: 'fixture-password' }]] as const) {
  test(`frozen ${name} repository (format 1) restores byte-identical and checks clean`, async (t) => {
    const { dir, repo } = await copyFixture(name);
    try {
      const baseEnv: Record<string, string> = { ...env };
      const listed = await lifeboat(['snapshots', '-r', repo, '--json'], baseEnv);
      t.is(listed.exitCode, 0, listed.stderr);
      const snapshots = JSON.parse(listed.stdout) as Array<{ kind: string; tags: string[]; source: { sizeBytes: number } }>;
      t.is(snapshots.length, 1);
      t.is(snapshots[0]?.kind, 'disk');
      t.deepEqual(snapshots[0]?.tags, ['frozen']);
      t.is(snapshots[0]?.source.sizeBytes, 4 * 1024 * 1024);
      const check = await lifeboat(['check', '-r', repo, '--read-data'], baseEnv);
      t.is(check.exitCode, 0, check.stdout + check.stderr);
      const out = path.join(dir, 'restored.img');
      const restored = await lifeboat(['restore', '-r', repo, 'latest', '--tag', 'frozen', out, '--yes'], baseEnv);
      t.is(restored.exitCode, 0, restored.stderr);
      t.is(createHash('sha256').update(await readFile(out)).digest('hex'), SOURCE_SHA256);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
}

test('frozen encrypted repository refuses a wrong password and a missing one', async (t) => {
  const { dir, repo } = await copyFixture('encrypted');
  try {
    const wrong = await lifeboat(['snapshots', '-r', repo], { LIFEBOAT_PASSWORD: 'not-the-password' });
    t.is(wrong.exitCode, 5);
    t.regex(wrong.stderr, /LB_REPO_WRONG_PASSWORD/);
    const missing = await lifeboat(['snapshots', '-r', repo]);
    t.is(missing.exitCode, 5);
    t.regex(missing.stderr, /LB_REPO_PASSWORD_REQUIRED/);
    const file = path.join(dir, 'pw');
    await writeFile(file, 'fixture-password\n');
    const right = await lifeboat(['snapshots', '-r', repo, '--password-file', file]);
    t.is(right.exitCode, 0, right.stderr);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});
