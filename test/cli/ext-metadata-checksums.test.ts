// ext4 metadata_csum as a user meets it: an image made by mkfs.ext4 -d, then one byte changed in an
// inode (found with debugfs imap), in an unused slot of an extent block (debugfs stat's ETB) and in
// a name of a directory block (debugfs blocks), and in an attribute block's value. Each change leaves the structure decodable, so only
// the checksums can tell: `ls` marks the inode's entry damaged, `get` restores the rest and reports
// each damaged file or folder. The same image before the changes shows no damage at all.

import test from 'ava';
import { execa } from 'execa';
import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { openExtTree } from '../../rescue/core/file-trees/ext-tree.ts';
import { openByteSource } from '../../rescue/io/file-source.ts';
import { writeAt } from '../helpers/filesystem-images.ts';
import { lifeboat } from '../helpers/repository-harness.ts';

let work = '';
let clean = '';
const contents = [1, 2, 3, 4].map((n) => Buffer.alloc(100_000, 0x30 + n));
const BIG_XATTR = 'x'.repeat(800); // more than a 256-byte inode holds, less than a 1 KiB block

interface Listed {
  name: string;
  kind: string;
  damage?: { code: string; message: string };
}

test.before(async () => {
  work = await mkdtemp(path.join(os.tmpdir(), 'lifeboat-csum-'));
  const source = path.join(work, 'source', 'a');
  await mkdir(path.join(source, 'sub'), { recursive: true });
  for (const [index, content] of contents.entries()) await writeFile(path.join(source, `file${index + 1}`), content);
  await writeFile(path.join(source, 'sub', 'inner.txt'), 'inner\n');
  // An attribute too large for the inode: it goes to an attribute block.
  await writeFile(path.join(source, 'attrs.txt'), 'with a large attribute\n');
  await execa('setfattr', ['-n', 'user.big', '-v', BIG_XATTR, path.join(source, 'attrs.txt')]);
  // Ten 1 KiB pieces 64 KiB apart: ten extents, more than i_block holds, so an extent block.
  const sparse = path.join(source, 'sparse.bin');
  await execa('truncate', ['-s', String(10 * 65536), sparse]);
  for (let i = 0; i < 10; i++) await writeAt(sparse, i * 65536, Buffer.alloc(1024, 0x41 + i));
  clean = path.join(work, 'clean.img');
  await execa('mkfs.ext4', ['-q', '-b', '1024', '-d', path.dirname(source), clean, '16M']);
  const { stdout } = await execa('dumpe2fs', ['-h', clean]);
  if (!/metadata_csum/.test(stdout)) throw new Error('mkfs.ext4 made no metadata_csum filesystem');
});

test.after.always(async () => {
  if (work) await rm(work, { recursive: true, force: true });
});

async function debugfs(image: string, request: string): Promise<string> {
  return (await execa('debugfs', ['-R', request, image])).stdout;
}

/** The extended attributes of /a/NAME as the ext reader returns them (values as text). */
async function attributesOf(image: string, name: string): Promise<Array<{ name: string; value: string }>> {
  const source = await openByteSource(image);
  try {
    const tree = await openExtTree(source);
    if (!tree) throw new Error('no ext filesystem');
    const folder = (await tree.list(await tree.root())).find((entry) => entry.name === 'a');
    const entry = folder && (await tree.list(folder)).find((candidate) => candidate.name === name);
    if (!entry) throw new Error(`no /a/${name}`);
    return (await tree.extendedAttributes(entry)).map((xattr) => ({ name: xattr.name, value: Buffer.from(xattr.value).toString() }));
  } finally {
    await source.close();
  }
}

async function flip(file: string, offset: number, mask: number): Promise<void> {
  const handle = await readFile(file);
  await writeAt(file, offset, Buffer.from([(handle[offset] ?? 0) ^ mask]));
}

test('a clean metadata_csum image: no entry is damaged and get restores everything', async (t) => {
  const listed = await lifeboat(['ls', clean, '/a', '--json']);
  t.is(listed.exitCode, 0, listed.stderr);
  const entries = (JSON.parse(listed.stdout) as { entries: Listed[] }).entries;
  t.deepEqual(entries.map((entry) => `${entry.name}:${entry.kind}`).sort(), ['attrs.txt:file', 'file1:file', 'file2:file', 'file3:file', 'file4:file', 'sparse.bin:file', 'sub:directory']);
  t.deepEqual(await attributesOf(clean, 'attrs.txt'), [{ name: 'user.big', value: BIG_XATTR }]);
  const dest = path.join(work, 'get-clean');
  const got = await lifeboat(['get', clean, '/a', dest]);
  t.is(got.exitCode, 0, got.stderr);
  t.deepEqual((await readdir(path.join(dest, 'a'))).sort(), ['attrs.txt', 'file1', 'file2', 'file3', 'file4', 'sparse.bin', 'sub']);
  t.is(await readFile(path.join(dest, 'a', 'sub', 'inner.txt'), 'utf8'), 'inner\n');
});

test('one changed byte in an inode, an extent block, a directory block and an attribute block: each fails its checksum; ls marks the inode damaged, get restores the rest and reports them', async (t) => {
  const image = path.join(work, 'damaged.img');
  await execa('cp', [clean, image]);
  const blockSize = 1024;
  // The inode of /a/file3: its i_atime (0x08), which decodes to any time at all.
  const imap = await debugfs(image, 'imap /a/file3');
  const inodeBlock = Number(/located at block (\d+)/.exec(imap)?.[1]);
  const inodeOffset = Number.parseInt(/offset 0x([0-9a-f]+)/.exec(imap)?.[1] ?? '', 16);
  t.true(inodeBlock > 0, imap);
  await flip(image, inodeBlock * blockSize + inodeOffset + 0x08, 0xff);
  // The extent block of /a/sparse.bin: a byte of an unused entry slot (after its 10 entries).
  const extents = await debugfs(image, 'stat /a/sparse.bin');
  const extentBlock = Number(/\(ETB0\):(\d+)/.exec(extents)?.[1]);
  t.true(extentBlock > 0, extents);
  await flip(image, extentBlock * blockSize + 12 + 12 * 12, 0x01);
  // The directory block of /a/sub: "inner.txt" becomes "jnner.txt".
  const dirBlock = Number((await debugfs(image, 'blocks /a/sub')).trim().split(/\s+/)[0]);
  const block = (await readFile(image)).subarray(dirBlock * blockSize, (dirBlock + 1) * blockSize);
  const nameAt = block.indexOf('inner.txt');
  t.true(nameAt > 0, 'the name is in the directory block');
  await flip(image, dirBlock * blockSize + nameAt, 0x03);
  // The attribute block of /a/attrs.txt: one byte of the value.
  const acl = Number(/File ACL: (\d+)/.exec(await debugfs(image, 'stat /a/attrs.txt'))?.[1]);
  t.true(acl > 0, 'attrs.txt has an attribute block');
  const aclBlock = (await readFile(image)).subarray(acl * blockSize, (acl + 1) * blockSize);
  await flip(image, acl * blockSize + aclBlock.indexOf('xxxx'), 0x01);
  const fsck = await execa('e2fsck', ['-fn', image], { reject: false });
  t.regex(fsck.stdout, /checksum/i, 'e2fsck sees checksum errors too');

  const listed = await lifeboat(['ls', image, '/a', '--json']);
  t.is(listed.exitCode, 0, listed.stderr);
  const entries = (JSON.parse(listed.stdout) as { entries: Listed[] }).entries;
  t.deepEqual(entries.map((entry) => `${entry.name}:${entry.kind}:${entry.damage?.code ?? ''}`).sort(), [
    'attrs.txt:file:', 'file1:file:', 'file2:file:', 'file3:damaged:LB_FILESYSTEM_CORRUPT', 'file4:file:', 'sparse.bin:file:', 'sub:directory:',
  ]);
  t.regex(entries.find((entry) => entry.name === 'file3')?.damage?.message ?? '', /inode \d+ i_checksum .*metadata_csum/);
  const attributes = await t.throwsAsync(attributesOf(image, 'attrs.txt'));
  t.regex(attributes?.message ?? '', /xattr block h_checksum .*metadata_csum/);
  const sub = await lifeboat(['ls', image, '/a/sub']);
  t.not(sub.exitCode, 0);
  t.regex(sub.stderr, /LB_FILESYSTEM_CORRUPT.*det_checksum/);

  const dest = path.join(work, 'get-damaged');
  const got = await lifeboat(['get', image, '/a', dest]);
  t.is(got.exitCode, 4, got.stderr);
  t.regex(got.stderr, /\/a\/file3: not restored: .*i_checksum/);
  t.regex(got.stderr, /\/a\/sparse\.bin: not restored: .*et_checksum/);
  t.regex(got.stderr, /\/a\/sub: the folder cannot be read: .*det_checksum/);
  t.regex(got.stderr, /\/a\/attrs\.txt: restored without its extended attributes, which cannot be read: .*h_checksum/);
  t.is(await readFile(path.join(dest, 'a', 'attrs.txt'), 'utf8'), 'with a large attribute\n');
  t.deepEqual((await readdir(path.join(dest, 'a'))).filter((name) => name.startsWith('file')).sort(), ['file1', 'file2', 'file4']);
  for (const n of [1, 2, 4]) t.deepEqual(await readFile(path.join(dest, 'a', `file${n}`)), contents[n - 1]);
});
