// Browse shows a symlink with its target (as `ls -l`), in its row and whole under the list when
// the row cannot hold it; the TUI in tmux at 80x25 (TERM=linux), keys only.

import test from 'ava';
import { execa } from 'execa';
import { mkdir, mkdtemp, rm, symlink, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { leaveToHome, openLifeboatTui, quitTui, typeLine as type } from '../helpers/tmux.ts';

const STEP_MS = 60_000;

test('browse shows each symlink with its target; a long target is shown whole under the list', async (t) => {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'lifeboat-tui-links-'));
  const tree = path.join(dir, 'tree');
  await mkdir(path.join(tree, 'etc'), { recursive: true });
  await writeFile(path.join(tree, 'etc', 'hostname'), 'laptop\n');
  const longTarget = '/home/alice/Documents/Projects/2024/lifeboat/reports/quarterly-report-for-the-board.docx';
  await symlink('etc/hostname', path.join(tree, 'a-short-link'));
  await symlink(longTarget, path.join(tree, 'b-latest-report'));
  const image = path.join(dir, 'links.img');
  await execa('mkfs.ext4', ['-q', '-F', '-L', 'LINKS', '-d', tree, image, '16M']);
  const session = await openLifeboatTui();
  t.teardown(async () => {
    await session.close();
    await rm(dir, { recursive: true, force: true });
  });
  await session.waitFor(/Actions/, STEP_MS);
  await session.sendKeys('f');
  await session.waitFor(/What to browse\?/);
  await session.sendKeys('p');
  await session.waitFor(/A partition device, an image file, DISK:N/);
  await type(session, image);
  // Folders first (etc/, lost+found/), then a-short-link, b-latest-report.
  const root = await session.waitFor(/a-short-link/, STEP_MS);
  t.regex(root, /\[ \] a-short-link -> etc\/hostname\s/, 'a short target fits in the row');
  t.regex(root, /\[ \] b-latest-report -> \/home\/alice\/Do\w*\.\.\.\s/, 'a long one is shortened with "..."');
  await session.sendKeys('End');
  const selected = await session.waitFor(/^\s*│\s*b-latest-report -> \/home/m);
  const shown = selected.split('\n').map((line) => line.replace(/^[│\s]+|[│\s]+$/g, '')).join('');
  t.true(shown.includes(`b-latest-report -> ${longTarget}`), `the selected link whole under the list:\n${selected}`);
  await leaveToHome(session, /Browse /);
  t.is(await quitTui(session), 0);
});
