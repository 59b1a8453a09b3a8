// The bytes of one Clonezilla image file: its split parts (.aa, .ab...) joined in order and
// decompressed by its suffix (zstd and gzip in-process with node:zlib, xz/lzma/bzip2/lz4 through
// their command-line tools). A damaged or cut stream ends in an error, never in a short silent read.

import { createReadStream } from 'node:fs';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import zlib from 'node:zlib';
import { LifeboatError } from '../core/errors.ts';
import { decompressorFor, type ExternalProgram } from '../core/external-programs.ts';
import { startProgram } from './run-program.ts';

/** Compression names as Clonezilla writes them in file names (ocs-get-comp-suffix). */
export type ClonezillaCompression = 'zst' | 'gz' | 'xz' | 'lzma' | 'bz2' | 'lz4' | 'uncomp';

/** Every suffix Clonezilla may use; the ones Lifeboat cannot read (lzo, lzip, lrz) are still recognised to be reported. */
export const CLONEZILLA_COMPRESSION_SUFFIXES = ['zst', 'gz', 'xz', 'lzma', 'bz2', 'lz4', 'lzo', 'lzip', 'lrz', 'uncomp'] as const;

const READ_CHUNK_BYTES = 1024 * 1024;
/** Arguments of the decompressor (core/external-programs.ts decompressorFor) per compression. */
const TOOL_ARGS: Partial<Record<ClonezillaCompression, readonly string[]>> = {
  xz: ['-dc'],
  lzma: ['--format=lzma', '-dc'],
  bz2: ['-dc'],
  lz4: ['-dc'],
};

/** The compression a stream starts with, by its magic bytes (for old dd-img files named without a suffix). */
export function sniffCompression(start: Uint8Array): ClonezillaCompression {
  const has = (...bytes: number[]) => bytes.every((byte, i) => start[i] === byte);
  if (has(0x28, 0xb5, 0x2f, 0xfd)) return 'zst';
  if (has(0x1f, 0x8b)) return 'gz';
  if (has(0xfd, 0x37, 0x7a, 0x58, 0x5a, 0x00)) return 'xz';
  if (has(0x42, 0x5a, 0x68)) return 'bz2';
  if (has(0x04, 0x22, 0x4d, 0x18)) return 'lz4';
  return 'uncomp';
}

/** The parts' bytes one after the other, as they are on disk. */
export async function* joinParts(files: readonly string[]): AsyncGenerator<Uint8Array> {
  for (const file of files) {
    for await (const chunk of createReadStream(file, { highWaterMark: READ_CHUNK_BYTES })) yield chunk as Buffer;
  }
}

/** The decompressed bytes of `files` joined; `label` names the image in errors. */
export async function* decompressParts(files: readonly string[], compression: ClonezillaCompression, label: string): AsyncGenerator<Uint8Array> {
  try {
    if (compression === 'uncomp') yield* joinParts(files);
    else if (compression === 'zst' || compression === 'gz') yield* viaZlib(files, compression === 'zst' ? zlib.createZstdDecompress() : zlib.createGunzip());
    else {
      const program = decompressorFor(compression);
      const args = TOOL_ARGS[compression];
      if (!program || !args) throw new LifeboatError('LB_INPUT_IMAGE_UNSUPPORTED', { detail: `${label} is compressed with ${compression}, which Lifeboat cannot read.` });
      yield* viaCommand(files, { program, args });
    }
  } catch (error) {
    if (error instanceof LifeboatError) throw error;
    const message = error instanceof Error ? (error as Error & { shortMessage?: string }).shortMessage ?? error.message : String(error);
    const code = /unexpected end|truncat|premature|incomplete/i.test(message) ? 'LB_INPUT_IMAGE_TRUNCATED' : 'LB_INPUT_IMAGE_CORRUPT';
    throw new LifeboatError(code, { detail: `${label} could not be decompressed (${compression}): ${message}`, image: label, compression }, { cause: error });
  }
}

async function* viaZlib(files: readonly string[], decompressor: zlib.Gunzip | zlib.ZstdDecompress): AsyncGenerator<Uint8Array> {
  const feeding = pipeline(Readable.from(joinParts(files)), decompressor);
  feeding.catch(() => undefined); // the same error reaches the iteration below
  for await (const chunk of decompressor) yield chunk as Buffer;
  await feeding;
}

async function* viaCommand(files: readonly string[], { program, args }: { program: ExternalProgram; args: readonly string[] }): AsyncGenerator<Uint8Array> {
  const subprocess = startProgram(program, args, { stdin: 'pipe', stdout: 'pipe', stderr: 'pipe', buffer: { stdout: false, stderr: true } });
  const feeding = pipeline(Readable.from(joinParts(files)), subprocess.stdin);
  feeding.catch(() => undefined); // a tool that stops reading closes its stdin; its exit status tells why
  let finished = false;
  try {
    for await (const chunk of subprocess.stdout) yield chunk as Buffer;
    await subprocess;
    await feeding;
    finished = true;
  } finally {
    if (!finished) {
      subprocess.kill();
      await subprocess.catch(() => undefined);
    }
  }
}
