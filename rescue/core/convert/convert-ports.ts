// The ports of a conversion: the disk (read, and synced writes) and the io the operation needs
// (hashes, the undo file, mkfs.fat); io implements them, ops/convert-uefi.ts uses them.

import type { ByteSource } from '../byte-source.ts';

/** The disk as the inventory reads it. */
export interface InventoryDisk extends ByteSource {
  readonly path: string;
  readonly sectorSize: number;
  readonly physicalSectorSize: number;
  readonly serial?: string;
}

/** A disk opened for writing; each write reaches the disk (synced) before it returns. */
export interface ConvertDisk extends InventoryDisk {
  /** Writes and syncs; a refused write is LB_DEVICE_WRITE_FAILED. */
  write(offset: number, bytes: Uint8Array): Promise<void>;
}

/** What the operation needs from io. */
export interface ConvertPorts {
  sha256(bytes: Uint8Array): string;
  /** Writes the undo file (never over an existing file), syncs it and its folder. */
  saveUndoFile(path: string, bytes: Uint8Array): Promise<void>;
  /** mkfs.fat -F 32 on the ESP's sectors. */
  formatEsp(request: { device: string; offset: number; sizeBytes: number; sectorSize: number; label: string }): Promise<void>;
  notice(message: string): void;
}
