// Real filesystem images for the probe tests: made by each format's own mkfs on sparse files,
// some filled with files through a loop or FUSE mount, plus the few headers no tool here can write
// (md RAID needs the md driver, BitLocker needs Windows), crafted from their specifications.

import { execa } from 'execa';
import { randomBytes } from 'node:crypto';
import { mkdir, open, truncate, writeFile } from 'node:fs/promises';
import path from 'node:path';
import type { ShrinkTarget } from '../../rescue/ops/shrink-volume.ts';

/** What `blkid -p -o udev` prints for an image (ID_FS_TYPE, ID_FS_LABEL_ENC...), as TYPE, LABEL, UUID, VERSION. */
export async function blkid(file: string): Promise<Record<string, string>> {
  const { stdout } = await execa('blkid', ['-p', '-o', 'udev', file], { reject: false });
  const fields: Record<string, string> = {};
  for (const line of stdout.split('\n')) {
    const match = /^ID_FS_(\w+?)(_ENC)?=(.*)$/.exec(line);
    if (!match?.[1]) continue;
    const value = decodeUdevEscapes(match[3] ?? '');
    if (match[2] || fields[match[1]] === undefined) fields[match[1]] = value;
  }
  return fields;
}

/** udev's \\xHH escapes are raw bytes of a UTF-8 string. */
function decodeUdevEscapes(text: string): string {
  const bytes: number[] = [];
  for (const part of text.split(/(\\x[0-9a-fA-F]{2})/)) {
    if (/^\\x[0-9a-fA-F]{2}$/.test(part)) bytes.push(Number.parseInt(part.slice(2), 16));
    else bytes.push(...Buffer.from(part, 'utf8'));
  }
  return Buffer.from(bytes).toString('utf8');
}

/** A sparse file of `bytes` bytes. */
export async function sparseFile(file: string, bytes: number): Promise<string> {
  await writeFile(file, '');
  await truncate(file, bytes);
  return file;
}

/** Attaches a loop device, runs `use`, always detaches it (by its own name). */
export async function withLoop<T>(file: string, use: (device: string) => Promise<T>): Promise<T> {
  const { stdout } = await execa('losetup', ['--find', '--show', file]);
  const device = stdout.trim();
  try {
    return await use(device);
  } finally {
    await execa('losetup', ['-d', device], { reject: false });
  }
}

/** Writes `count` files of assorted sizes (and deletes every third, to fragment) under `dir`. */
export async function fillDirectory(dir: string, count: number, seed: number): Promise<void> {
  let state = seed;
  const next = () => (state = (state * 1103515245 + 12345) % 2 ** 31);
  await mkdir(path.join(dir, 'data'), { recursive: true });
  for (let i = 0; i < count; i++) await writeFile(path.join(dir, 'data', `file-${i}.bin`), randomBytes(1 + (next() % (192 * 1024))));
  for (let i = 0; i < count; i += 3) await execa('rm', [path.join(dir, 'data', `file-${i}.bin`)]);
}

/** Mounts with the kernel (ext, XFS, btrfs) through a loop device, fills, unmounts. */
export async function fillWithKernelMount(file: string, mountPoint: string, count: number): Promise<void> {
  await mkdir(mountPoint, { recursive: true });
  await execa('mount', ['-o', 'loop', file, mountPoint]);
  try {
    await fillDirectory(mountPoint, count, 7);
  } finally {
    await execa('umount', [mountPoint]);
  }
}

/** Mounts with a FUSE driver kept in the foreground (so unmount can wait for it to finish writing), fills, unmounts. */
export async function fillWithFuse(command: string, args: readonly string[], mountPoint: string, count: number): Promise<void> {
  await mkdir(mountPoint, { recursive: true });
  const daemon = execa(command, [...args, mountPoint], { reject: false, stdio: 'ignore' });
  try {
    for (let tries = 0; tries < 100; tries++) {
      const { stdout } = await execa('findmnt', ['-n', mountPoint], { reject: false });
      if (stdout.trim() !== '') break;
      if (daemon.exitCode !== undefined && daemon.exitCode !== null) throw new Error(`${command} exited with ${daemon.exitCode}`);
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    await fillDirectory(mountPoint, count, 11);
  } finally {
    await execa('umount', [mountPoint], { reject: false });
    await daemon;
  }
}

/** A Linux md superblock 1.x at `offset` of a file of `sizeBytes` (version 1.0, 1.1 or 1.2), with its checksum. */
export async function craftMdVersion1(file: string, sizeBytes: number, version: '1.0' | '1.1' | '1.2', name: string, setUuid: Buffer): Promise<number> {
  const offset = version === '1.1' ? 0 : version === '1.2' ? 4096 : ((Math.floor(sizeBytes / 512) - 16) & ~7) * 512;
  const maxDevices = 384;
  const sb = Buffer.alloc(256 + maxDevices * 2);
  sb.writeUInt32LE(0xa92b4efc, 0);
  sb.writeUInt32LE(1, 4); // major_version
  setUuid.copy(sb, 0x10);
  sb.write(name, 0x20, 'latin1');
  sb.writeBigUInt64LE(1700000000n, 0x40); // ctime
  sb.writeInt32LE(1, 0x48); // level: RAID1
  const dataOffsetSectors = version === '1.0' ? 0 : 2048;
  const dataSectors = Math.floor(sizeBytes / 512) - dataOffsetSectors - (version === '1.0' ? 16 : 0);
  sb.writeBigUInt64LE(BigInt(dataSectors), 0x50); // size
  sb.writeUInt32LE(2, 0x5c); // raid_disks
  sb.writeBigUInt64LE(BigInt(dataOffsetSectors), 0x80); // data_offset
  sb.writeBigUInt64LE(BigInt(dataSectors), 0x88); // data_size
  sb.writeBigUInt64LE(BigInt(offset / 512), 0x90); // super_offset
  Buffer.from('0123456789abcdef0123456789abcdef', 'hex').copy(sb, 0xa8); // device_uuid
  sb.writeBigUInt64LE(1700000001n, 0xc0); // utime
  sb.writeBigUInt64LE(1n, 0xc8); // events
  sb.writeBigUInt64LE(0xffffffffffffffffn, 0xd0); // resync_offset
  sb.writeUInt32LE(maxDevices, 0xdc);
  for (let i = 0; i < maxDevices; i++) sb.writeUInt16LE(i < 2 ? i : 0xffff, 256 + i * 2);
  let sum = 0;
  for (let at = 0; at < sb.length; at += 4) sum += sb.readUInt32LE(at);
  sb.writeUInt32LE(((sum % 2 ** 32) + Math.floor(sum / 2 ** 32)) % 2 ** 32, 0xd8);
  await writeAt(file, offset, sb);
  return offset;
}

/** A Linux md superblock 0.90 at the end of a file (64 KiB-aligned, the last 64 KiB). */
export async function craftMdVersion090(file: string, sizeBytes: number, uuidWords: readonly number[]): Promise<void> {
  const sb = Buffer.alloc(4096);
  sb.writeUInt32LE(0xa92b4efc, 0);
  sb.writeUInt32LE(0, 4);
  sb.writeUInt32LE(90, 8);
  sb.writeUInt32LE(0, 12);
  sb.writeUInt32LE(uuidWords[0] ?? 0, 0x14);
  sb.writeUInt32LE(1700000000, 0x18);
  sb.writeUInt32LE(1, 0x1c); // level
  const offset = Math.floor(sizeBytes / 0x10000) * 0x10000 - 0x10000;
  sb.writeUInt32LE(offset / 1024, 0x20); // size (KiB): the data ends where the superblock area starts
  sb.writeUInt32LE(2, 0x24);
  sb.writeUInt32LE(2, 0x28);
  uuidWords.slice(1).forEach((word, index) => sb.writeUInt32LE(word, 0x34 + index * 4));
  let sum = 0;
  for (let at = 0; at < sb.length; at += 4) sum += sb.readUInt32LE(at);
  sb.writeUInt32LE(sum % 2 ** 32, 0x98); // sb_csum of 0.90 (offset 38 words)
  await writeAt(file, offset, sb);
}

/** A Windows 7+ BitLocker boot sector with an FVE metadata block (what blkid checks). */
export async function craftBitlocker(file: string, metadataOffset: number, version: number): Promise<void> {
  const boot = Buffer.alloc(512);
  Buffer.from([0xeb, 0x58, 0x90]).copy(boot, 0);
  boot.write('-FVE-FS-', 3, 'latin1');
  boot.writeUInt16LE(512, 0x0b);
  boot.writeUInt8(8, 0x0d);
  Buffer.from('3bd66749292ef7a4b6c3b9a4b4d6e7f8', 'hex').copy(boot, 0xa0); // the BitLocker GUID slot
  boot.writeBigUInt64LE(BigInt(metadataOffset), 0xb0);
  boot.writeUInt16LE(0xaa55, 0x1fe);
  await writeAt(file, 0, boot);
  const metadata = Buffer.alloc(64);
  metadata.write('-FVE-FS-', 0, 'latin1');
  metadata.writeUInt16LE(64, 8);
  metadata.writeUInt16LE(version, 10);
  await writeAt(file, metadataOffset, metadata);
}

/** Writes `bytes` into an existing file at `offset`. */
export async function writeAt(file: string, offset: number, bytes: Buffer): Promise<void> {
  const handle = await open(file, 'r+');
  try {
    await handle.write(bytes, 0, bytes.length, offset);
  } finally {
    await handle.close();
  }
}

/** `length` bytes of a file at `offset` (a boot sector, a table, hidden sectors). */
export async function readAt(file: string, offset: number, length: number): Promise<Buffer> {
  const handle = await open(file, 'r');
  try {
    const bytes = Buffer.alloc(length);
    await handle.read(bytes, 0, length, offset);
    return bytes;
  } finally {
    await handle.close();
  }
}

/** Inverts one byte of a file at `offset` (damage for the detection tests). */
export async function flipByte(file: string, offset: number): Promise<void> {
  const handle = await open(file, 'r+');
  try {
    const byte = Buffer.alloc(1);
    await handle.read(byte, 0, 1, offset);
    byte[0] = (byte[0] ?? 0) ^ 0xff;
    await handle.write(byte, 0, 1, offset);
  } finally {
    await handle.close();
  }
}

/** An image file opened as a shrink's target (ops/shrink-volume.ts ShrinkTarget), with close. */
export async function fileTarget(file: string): Promise<ShrinkTarget & { close(): Promise<void> }> {
  const handle = await open(file, 'r+');
  const size = (await handle.stat()).size;
  return {
    size,
    write: async (offset, bytes) => {
      let done = 0;
      while (done < bytes.length) done += (await handle.write(bytes, done, bytes.length - done, offset + done)).bytesWritten;
    },
    sync: () => handle.sync(),
    close: () => handle.close(),
  };
}
