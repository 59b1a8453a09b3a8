// What a Clonezilla restore or import needs from the operating system, as interfaces: io implements
// them (rescue/io/clonezilla-restore-io.ts), ops call them, tests can hand in fakes.

import type { ByteSource } from '../byte-source.ts';

/** Where a Clonezilla restore writes sectors (the opened restore target). */
export interface ClonezillaTargetWriter {
  readonly size: number;
  write(offset: number, bytes: Uint8Array): Promise<void>;
  sync(): Promise<void>;
}

/** The writers bound to one image and to the target's backing file or device. */
export interface ClonezillaRestoreIo {
  /** Writes a partition's used blocks (or a raw image) at `offset` of the target. */
  writePartition(request: { partition: string; offset: number; onProgress: (bytesDone: number) => void }): Promise<{ bytesWritten: number }>;
  /** The bytes of DISK-hidden-data-after-mbr. */
  readBootGap(disk: string): Promise<Uint8Array>;
  /** Makes a swap area at `offset` of the target. */
  makeSwap(request: { offset: number; sizeBytes: number; uuid: string | undefined; label: string | undefined }): Promise<void>;
}

/** A scratch disk file the import reconstructs the image into, then backs up and removes. */
export interface ClonezillaScratch {
  readonly target: ClonezillaTargetWriter;
  readonly io: ClonezillaRestoreIo;
  /** Closes the target and opens the file read-only for the backup. */
  openSource(kind: 'disk' | 'partition'): Promise<ByteSource & { close(): Promise<void> }>;
  /** Closes everything and deletes the file. */
  remove(): Promise<void>;
}
