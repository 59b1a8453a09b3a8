// Folder tree blobs: the optional `ino`/`dev` of an entry (what lets the next backup take an
// unchanged file from its parent snapshot) round-trip, are absent from older entries, and are
// checked like every other field.

import test from 'ava';
import { decodeFolderTree, encodeFolderTrees, type StoredFileEntry } from '../../rescue/core/repository/files-tree-blobs.ts';

const entry: StoredFileEntry = {
  name: new TextEncoder().encode('a.txt'), kind: 'file', mode: 0o100644, uid: 0, gid: 0,
  mtimeNs: 946684799123456789n, atimeNs: 946684799123456789n, ctimeNs: 1700000000000000001n, size: 6, links: 1,
  inode: '18446744073709551615', fsDevice: '2049', xattrs: [], chunks: [{ id: 'ab'.repeat(32), length: 6 }],
};

function blobWith(line: Record<string, unknown>): Uint8Array {
  return new TextEncoder().encode(`${JSON.stringify({ format: 'lifeboat-folder', version: 1, count: 1 })}\n${JSON.stringify(line)}\n`);
}

test('ino and dev round-trip as decimal strings (st_ino may exceed 2^53)', (t) => {
  const [blob] = encodeFolderTrees([entry]);
  t.true(new TextDecoder().decode(blob).includes('"ino":"18446744073709551615","dev":"2049"'));
  const [decoded] = decodeFolderTree(blob!);
  t.is(decoded?.inode, '18446744073709551615');
  t.is(decoded?.fsDevice, '2049');
});

test('entries written before ino and dev existed decode without them', (t) => {
  const line = { name: 'a.txt', kind: 'file', mode: 0o100644, uid: 0, gid: 0, mtime: '1', atime: '1', ctime: '1', size: 6, links: 1, chunks: [['ab'.repeat(32), 6]] };
  const [decoded] = decodeFolderTree(blobWith(line));
  t.is(decoded?.inode, undefined);
  t.is(decoded?.fsDevice, undefined);
});

test('a bad ino or dev is LB_REPO_INVALID', (t) => {
  const line = { name: 'a.txt', kind: 'file', mode: 0o100644, uid: 0, gid: 0, mtime: '1', atime: '1', ctime: '1', size: 6, links: 1, chunks: [['ab'.repeat(32), 6]] };
  for (const bad of [{ ino: 12 }, { ino: '-1' }, { dev: '1e3' }, { dev: '123456789012345678901' }]) {
    const error = t.throws(() => decodeFolderTree(blobWith({ ...line, ...bad })));
    t.is((error as { code?: string }).code, 'LB_REPO_INVALID', JSON.stringify(bad));
  }
});
