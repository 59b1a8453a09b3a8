// The repositories the TUI finds on its own: a candidate folder that is a repository, the
// repositories directly inside one (the medium's data partition), and nothing for missing folders.

import test from 'ava';
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { findRepositories } from '../../rescue/io/find-repositories.ts';
import { initRepository } from '../../rescue/io/repository/folder-repository.ts';

test('a repository named directly, repositories one level inside a folder, no missing ones', async (t) => {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'lifeboat-find-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  const data = path.join(dir, 'data');
  await initRepository(path.join(data, 'laptop'), {});
  await initRepository(path.join(data, 'server'), {});
  await mkdir(path.join(data, 'photos'));
  await initRepository(path.join(data, 'photos', 'too-deep'), {});
  const direct = path.join(dir, 'direct');
  await initRepository(direct, {});
  const found = await findRepositories([undefined, direct, data, path.join(dir, 'missing'), direct]);
  t.deepEqual(found.sort(), [direct, path.join(data, 'laptop'), path.join(data, 'server')].sort());
});
