// `lifeboat ls` and `lifeboat get` as a user runs them: on an ext4 image made by mkfs and filled
// through a loop mount, on partition 1 of a disk image (DISK:1), and on the same filesystem inside
// a snapshot (read through the chunk index, nothing restored first). Listings are compared with
// debugfs on the same image; restored files with the mounted source (content, mode, owner,
// times, links, sparse holes). Hostile names are refused without writing outside the destination.

import test from 'ava';
import { execa } from 'execa';
import { createHash } from 'node:crypto';
import { lstat, mkdir, mkdtemp, readdir, readFile, readlink, rm, stat, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { crc32cUpdate } from '../../rescue/core/filesystems/crc32c.ts';
import { sparseFile, withLoop, writeAt } from '../helpers/filesystem-images.ts';
import { lifeboat } from '../helpers/repository-harness.ts';

const MiB = 1024 * 1024;

let work = '';
let image = '';
let repo = '';
/** The source tree, mounted read-only for comparisons. */
let mounted = '';

interface Listed {
  name: string;
  kind: string;
  size: number;
  mode: number | null;
  uid: number | null;
  gid: number | null;
  links: number | null;
  mtime: string | null;
  target?: string;
}

async function sha256(file: string): Promise<string> {
  return createHash('sha256').update(await readFile(file)).digest('hex');
}

/** debugfs `ls -p`: /inode/mode/uid/gid/name/size/ per entry. */
async function debugfsListing(file: string, folder: string): Promise<Map<string, { mode: number; uid: number; gid: number; size: number }>> {
  const { stdout } = await execa('debugfs', ['-R', `ls -p ${folder}`, file]);
  const entries = new Map<string, { mode: number; uid: number; gid: number; size: number }>();
  for (const line of stdout.split('\n')) {
    const fields = line.split('/');
    if (fields.length < 7 || fields[5] === '.' || fields[5] === '..') continue;
    entries.set(fields[5] ?? '', { mode: Number.parseInt(fields[2] ?? '', 8), uid: Number(fields[3]), gid: Number(fields[4]), size: Number(fields[6] || 0) });
  }
  return entries;
}

test.before(async () => {
  work = await mkdtemp(path.join(os.tmpdir(), 'lifeboat-browse-'));
  image = await sparseFile(path.join(work, 'fs.img'), 64 * MiB);
  await execa('mkfs.ext4', ['-q', '-F', '-L', 'BROWSE', image]);
  mounted = path.join(work, 'mnt');
  await mkdir(mounted);
  await withLoop(image, async (device) => {
    await execa('mount', [device, mounted]);
    try {
      const at = (name: string) => path.join(mounted, name);
      await mkdir(at('docs/deep/deeper'), { recursive: true });
      await writeFile(at('docs/readme.txt'), 'hello from lifeboat\n'.repeat(100));
      await writeFile(at('docs/deep/deeper/note.txt'), 'deep note\n');
      await writeFile(at('big.bin'), createHash('sha512').update('seed').digest().toString('hex').repeat(160_000));
      await execa('sh', ['-c', `head -c 3000000 /dev/urandom > '${at('random.bin')}'`]);
      await execa('truncate', ['-s', '20M', at('sparse.img')]);
      await writeAt(at('sparse.img'), 5 * MiB, Buffer.from('in the middle'));
      await execa('ln', [at('docs/readme.txt'), at('hardlink.txt')]);
      await execa('ln', ['-s', 'docs/readme.txt', at('relative-link')]);
      await execa('ln', ['-s', '/etc/passwd', at('absolute-link')]);
      await execa('mkfifo', [at('pipe')]);
      await writeFile(at('café-日本.txt'), 'non-ascii name\n');
      await writeFile(at('owned.txt'), 'owned\n');
      await execa('setfattr', ['-n', 'user.lifeboat', '-v', 'kept across restore', at('owned.txt')]);
      await execa('setfattr', ['-n', 'user.binary', '-v', '0x00ff10', at('docs/readme.txt')]);
      await execa('chown', ['1234:5678', at('owned.txt')]);
      await execa('chmod', ['4751', at('owned.txt')]);
      await execa('touch', ['-d', '2001-02-03 04:05:06 UTC', at('owned.txt')]);
      await mkdir(at('empty-folder'));
      await writeFile(at('evilXname'), 'a name that becomes hostile\n');
    } finally {
      await execa('umount', [mounted]);
    }
  });
  repo = path.join(work, 'repo');
  const backup = await lifeboat(['backup', 'partition', image, '-r', repo, '--json']);
  if (backup.exitCode !== 0) throw new Error(`backup failed: ${backup.stderr}`);
});

test.after.always(async () => {
  await execa('umount', [mounted], { reject: false });
  if (work) await rm(work, { recursive: true, force: true });
});

async function mountReadOnly<T>(use: (root: string) => Promise<T>): Promise<T> {
  return withLoop(image, async (device) => {
    await execa('mount', ['-o', 'ro', device, mounted]);
    try {
      return await use(mounted);
    } finally {
      await execa('umount', [mounted]);
    }
  });
}

for (const where of ['image', 'snapshot'] as const) {
  test(`ls --json of the ${where} lists what debugfs lists: names, kinds, modes, owners, sizes, link targets`, async (t) => {
    const args = where === 'image' ? ['ls', image, '/', '--json'] : ['ls', '-r', repo, 'latest', '/', '--json'];
    const listed = await lifeboat(args);
    t.is(listed.exitCode, 0, listed.stderr);
    const { entries, filesystem } = JSON.parse(listed.stdout) as { entries: Listed[]; filesystem: string };
    t.is(filesystem, 'ext4');
    const expected = await debugfsListing(image, '/');
    t.deepEqual(entries.map((entry) => entry.name).sort(), [...expected.keys()].sort());
    for (const entry of entries) {
      const reference = expected.get(entry.name);
      t.is(entry.mode, reference?.mode ?? null, entry.name);
      t.is(entry.uid, reference?.uid ?? null, entry.name);
      t.is(entry.gid, reference?.gid ?? null, entry.name);
      if (entry.kind === 'file') t.is(entry.size, reference?.size ?? -1, entry.name);
    }
    const byName = new Map(entries.map((entry) => [entry.name, entry]));
    t.is(byName.get('relative-link')?.kind, 'symlink');
    t.is(byName.get('relative-link')?.target, 'docs/readme.txt');
    t.is(byName.get('absolute-link')?.target, '/etc/passwd');
    t.is(byName.get('pipe')?.kind, 'fifo');
    t.is(byName.get('docs')?.kind, 'directory');
    t.is(byName.get('owned.txt')?.mtime, '2001-02-03T04:05:06.000Z');
  });
}

test('ls of partition 1 of a disk image (DISK:1) and of a sub-folder; a whole disk asks for a partition', async (t) => {
  const disk = await sparseFile(path.join(work, 'disk.img'), 80 * MiB);
  await execa('sfdisk', ['-q', disk], { input: 'label: dos\nstart=2048, size=131072, type=83\n' });
  await execa('dd', [`if=${image}`, `of=${disk}`, 'bs=1M', 'seek=1', 'conv=notrunc,sparse', 'status=none']);
  const listed = await lifeboat(['ls', `${disk}:1`, '/docs/deep']);
  t.is(listed.exitCode, 0, listed.stderr);
  t.is(listed.stdout, 'deeper/');
  const whole = await lifeboat(['ls', disk, '/']);
  t.is(whole.exitCode, 2, whole.stderr);
  t.regex(whole.stderr, /LB_INPUT_USAGE/);
  t.regex(whole.stderr, new RegExp(`${disk.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}:1`));
  const missing = await lifeboat(['ls', image, '/no/such/folder']);
  t.is(missing.exitCode, 2);
  t.regex(missing.stderr, /LB_INPUT_PATH_NOT_FOUND/);
});

test('get from a snapshot restores files and folders with content, mode, owner, times, hard links, links and holes', async (t) => {
  const dest = path.join(work, 'get-all');
  const got = await lifeboat(['get', '-r', repo, 'latest', '/docs', '/big.bin', '/random.bin', '/sparse.img', '/owned.txt', '/hardlink.txt', '/relative-link', '/absolute-link', '/pipe', '/café-日本.txt', '/empty-folder', dest]);
  t.is(got.exitCode, 0, got.stderr);
  t.regex(got.stdout, /Restored \d+ files/);
  await mountReadOnly(async (root) => {
    for (const name of ['docs/readme.txt', 'docs/deep/deeper/note.txt', 'big.bin', 'random.bin', 'sparse.img', 'owned.txt', 'hardlink.txt', 'café-日本.txt']) {
      t.is(await sha256(path.join(dest, name)), await sha256(path.join(root, name)), name);
      const [restored, original] = [await stat(path.join(dest, name)), await stat(path.join(root, name))];
      t.is(restored.mode, original.mode, `${name} mode`);
      t.is(restored.uid, original.uid, `${name} uid`);
      t.is(restored.gid, original.gid, `${name} gid`);
      t.is(Math.floor(restored.mtimeMs), Math.floor(original.mtimeMs), `${name} mtime`);
    }
    t.is((await stat(path.join(dest, 'hardlink.txt'))).ino, (await stat(path.join(dest, 'docs/readme.txt'))).ino, 'hard links share one file');
    for (const name of ['owned.txt', 'docs/readme.txt']) {
      const dump = async (file: string) => (await execa('getfattr', ['-d', '-m', '^user\\.', '-e', 'hex', '--absolute-names', file])).stdout.split('\n').slice(1).join('\n');
      t.is(await dump(path.join(dest, name)), await dump(path.join(root, name)), `${name} extended attributes`);
      t.regex(await dump(path.join(dest, name)), /user\./);
    }
    t.is(await readlink(path.join(dest, 'relative-link')), 'docs/readme.txt');
    t.is(await readlink(path.join(dest, 'absolute-link')), '/etc/passwd');
    t.true((await lstat(path.join(dest, 'pipe'))).isFIFO());
    t.true((await stat(path.join(dest, 'empty-folder'))).isDirectory());
    t.deepEqual(await readdir(path.join(dest, 'empty-folder')), []);
  });
  // The sparse file stays sparse: 20 MiB long, a few KiB allocated.
  const sparse = await stat(path.join(dest, 'sparse.img'));
  t.is(sparse.size, 20 * MiB);
  t.true(sparse.blocks * 512 < 1 * MiB, `sparse.img allocates ${sparse.blocks * 512} bytes`);
  // The absolute link was reported, never followed.
  t.regex(got.stderr, /absolute-link: a link to \/etc\/passwd, outside the restored folder/);
});

test('get refuses to overwrite unless told; --skip-existing keeps, --overwrite replaces', async (t) => {
  const dest = path.join(work, 'get-existing');
  await mkdir(dest, { recursive: true });
  await writeFile(path.join(dest, 'owned.txt'), 'mine\n');
  const refused = await lifeboat(['get', image, '/owned.txt', dest]);
  t.is(refused.exitCode, 2, refused.stderr);
  t.regex(refused.stderr, /LB_INPUT_DESTINATION_EXISTS/);
  t.is(await readFile(path.join(dest, 'owned.txt'), 'utf8'), 'mine\n');
  const kept = await lifeboat(['get', image, '/owned.txt', dest, '--skip-existing']);
  t.is(kept.exitCode, 0, kept.stderr);
  t.is(await readFile(path.join(dest, 'owned.txt'), 'utf8'), 'mine\n');
  const replaced = await lifeboat(['get', image, '/owned.txt', dest, '--overwrite']);
  t.is(replaced.exitCode, 0, replaced.stderr);
  t.is(await readFile(path.join(dest, 'owned.txt'), 'utf8'), 'owned\n');
});

/** Rewrites the metadata_csum tail of the directory block holding byte `at` (of directory inode `inode`), as the kernel computes it. */
async function resealDirectoryBlock(file: string, at: number, inode: number): Promise<void> {
  const bytes = await readFile(file);
  const sb = bytes.subarray(1024, 2048);
  const blockSize = 1024 << sb.readUInt32LE(0x18);
  const fsSeed = sb.readUInt32LE(0x60) & 0x2000 ? sb.readUInt32LE(0x270) : crc32cUpdate(0xffffffff, sb.subarray(0x68, 0x78));
  const generation = Number(/Generation: (\d+)/.exec((await execa('debugfs', ['-R', `stat <${inode}>`, file])).stdout)?.[1]);
  const le32 = (value: number): Buffer => {
    const word = Buffer.alloc(4);
    word.writeUInt32LE(value);
    return word;
  };
  const start = Math.floor(at / blockSize) * blockSize;
  const block = bytes.subarray(start, start + blockSize);
  const checksum = crc32cUpdate(crc32cUpdate(crc32cUpdate(fsSeed, le32(inode)), le32(generation)), block.subarray(0, blockSize - 12));
  await writeAt(file, start + blockSize - 4, le32(checksum));
}

test('a hostile name ("evil/name" in a directory entry) is refused and reported; the rest is restored; nothing lands outside', async (t) => {
  const hostile = path.join(work, 'hostile.img');
  await execa('cp', ['--sparse=always', image, hostile]);
  // Rename the entry in place: find "evilXname" in the root directory block and turn X into "/".
  const bytes = await readFile(hostile);
  const at = bytes.indexOf(Buffer.from('evilXname'));
  t.true(at > 0, 'the directory entry is in the image');
  await writeAt(hostile, at + 4, Buffer.from('/'));
  await resealDirectoryBlock(hostile, at, 2); // a hostile image has valid checksums: the name is what must be refused
  const { stdout } = await execa('debugfs', ['-R', 'ls -p /', hostile]);
  t.regex(stdout, /\/evil\/name\//, 'debugfs shows the name with a slash');
  const dest = path.join(work, 'get-hostile', 'inside');
  const got = await lifeboat(['get', hostile, '/', dest]);
  t.is(got.exitCode, 2, got.stderr);
  t.regex(got.stderr, /LB_INPUT_UNSAFE_NAME/);
  t.regex(got.stderr, /evil\/name/);
  t.is(await readFile(path.join(dest, 'docs', 'readme.txt'), 'utf8'), 'hello from lifeboat\n'.repeat(100));
  t.deepEqual(await readdir(path.dirname(dest)), ['inside'], 'nothing was written beside the destination');
  t.false(await stat(path.join(dest, 'evil')).then(() => true, () => false), 'no folder "evil" was made');
});

test('a damaged inode is one damaged entry: ls lists the folder with it marked, get restores the rest and reports each damaged file', async (t) => {
  const tree = path.join(work, 'damaged-tree', 'a');
  await mkdir(tree, { recursive: true });
  const contents = [1, 2, 3].map((n) => Buffer.alloc(100_000, n));
  for (const [index, content] of contents.entries()) await writeFile(path.join(tree, `file${index + 1}`), content);
  const damaged = path.join(work, 'damaged.img');
  await execa('mkfs.ext4', ['-q', '-d', path.dirname(tree), damaged, '8M']);
  // file2: its extent header overwritten; file3: a file type that does not exist (debugfs set_inode_field).
  await execa('debugfs', ['-w', '-R', 'sif /a/file2 block[0] 0x1234', damaged]);
  await execa('debugfs', ['-w', '-R', 'sif /a/file3 mode 0170777', damaged]);
  const listed = await lifeboat(['ls', damaged, '/a', '--json']);
  t.is(listed.exitCode, 0, listed.stderr);
  const entries = (JSON.parse(listed.stdout) as { entries: Array<Listed & { damage?: { code: string; message: string } }> }).entries;
  t.deepEqual(entries.map((entry) => `${entry.name}:${entry.kind}:${entry.damage?.code ?? ''}`), ['file1:file:', 'file2:file:', 'file3:damaged:LB_FILESYSTEM_CORRUPT']);
  t.regex(entries[2]?.damage?.message ?? '', /inode 15/);
  const long = await lifeboat(['ls', damaged, '/a', '-l']);
  t.regex(long.stdout, /file3 +\[damaged: LB_FILESYSTEM_CORRUPT/);
  const dest = path.join(work, 'get-damaged');
  const got = await lifeboat(['get', damaged, '/a', dest]);
  t.is(got.exitCode, 4, got.stderr);
  t.regex(got.stderr, /\/a\/file2: not restored: .*eh_magic/);
  t.regex(got.stderr, /\/a\/file3: not restored: .*inode 15/);
  t.deepEqual(await readdir(path.join(dest, 'a')), ['file1']);
  t.deepEqual(await readFile(path.join(dest, 'a', 'file1')), contents[0]);
});

test('a Clonezilla image directory (partclone | zstd, split) is a source too: DIR:sda1 lists as the image, get restores from it', async (t) => {
  const dir = path.join(work, 'clonezilla');
  await mkdir(dir);
  await writeFile(path.join(dir, 'disk'), 'sda\n');
  await writeFile(path.join(dir, 'parts'), 'sda1\n');
  await writeFile(path.join(dir, 'clonezilla-img'), 'made by the Lifeboat tests, named as ocs-sr does\n');
  await execa('bash', ['-c', `set -o pipefail; partclone.ext4 -c -q -L /dev/null -s "$1" -o - | zstd -q -c | split -b 256K -a 2 - "$2/sda1.ext4-ptcl-img.zst."`, 'bash', image, dir]);
  t.true((await readdir(dir)).includes('sda1.ext4-ptcl-img.zst.ab'), 'the image is split into parts');
  const fromImage = await lifeboat(['ls', image, '/docs', '--json']);
  const fromClonezilla = await lifeboat(['ls', `${dir}:sda1`, '/docs', '--json']);
  t.is(fromClonezilla.exitCode, 0, fromClonezilla.stderr);
  const entries = (stdout: string) => (JSON.parse(stdout) as { entries: Listed[] }).entries;
  t.deepEqual(entries(fromClonezilla.stdout), entries(fromImage.stdout));
  const dest = path.join(work, 'get-clonezilla');
  const got = await lifeboat(['get', dir, '/docs/readme.txt', '/big.bin', dest]);
  t.is(got.exitCode, 0, got.stderr);
  await mountReadOnly(async (root) => {
    t.is(await sha256(path.join(dest, 'readme.txt')), await sha256(path.join(root, 'docs/readme.txt')));
    t.is(await sha256(path.join(dest, 'big.bin')), await sha256(path.join(root, 'big.bin')));
  });
  // The image directory was not written to (the partition was unpacked into the temporary folder).
  t.deepEqual((await readdir(dir)).sort(), ['clonezilla-img', 'disk', 'parts', ...(await readdir(dir)).filter((name) => name.startsWith('sda1.'))].sort());
});
