// `convert uefi` and `convert undo`: saves every sector the conversion will write into an undo file
// (synced, on another disk) before any change, writes the GPT in gptfdisk's order (backup array,
// backup header, primary array, primary header, protective MBR), reads both tables back, and
// formats the new ESP. The undo puts every saved sector back after checking the disk's identity.

import type { ConvertPlan } from '../core/convert/convert-plan.ts';
import { decodeUndoFile, encodeUndoFile, identityMismatch, undoChunks, type DiskIdentity } from '../core/convert/undo-file.ts';
import { LifeboatError } from '../core/errors.ts';
import { encodeGpt } from '../core/partition-table/gpt.ts';
import { readPartitionTable } from '../core/partition-table/partition-table.ts';
import type { ConvertDisk, ConvertPorts, InventoryDisk } from '../core/convert/convert-ports.ts';

export type { ConvertDisk, ConvertPorts } from '../core/convert/convert-ports.ts';

const MiB = 1024 * 1024;

async function readSectors(disk: InventoryDisk, lba: number, sectors: number): Promise<Uint8Array> {
  return Uint8Array.from(await disk.read(lba * disk.sectorSize, sectors * disk.sectorSize));
}

/** Where the identity's anchor lies: the first MiB of the first partition (the conversion never writes there). */
function anchorOf(plan: Pick<ConvertPlan, 'partitions' | 'sectorSize'>): { lba: number; sectors: number } {
  const data = plan.partitions.filter((partition) => !partition.isNewEsp).sort((a, b) => a.firstLba - b.firstLba)[0];
  if (!data) throw new Error('a conversion plan has at least one partition');
  return { lba: data.firstLba, sectors: Math.min(MiB / plan.sectorSize, data.lastLba - data.firstLba + 1) };
}

/** Builds the undo file's bytes from the disk as it is now. */
export async function buildUndoFile(disk: InventoryDisk, plan: ConvertPlan, ports: Pick<ConvertPorts, 'sha256'>, createdAt: string): Promise<Uint8Array> {
  const anchor = anchorOf(plan);
  const identity: DiskIdentity = {
    sizeBytes: disk.size, sectorSize: disk.sectorSize, diskSignature: plan.diskSignature, ...(disk.serial ? { serial: disk.serial } : {}),
    firstMiBSha256: ports.sha256(await disk.read(0, Math.min(MiB, disk.size))),
    anchor: { ...anchor, sha256: ports.sha256(await readSectors(disk, anchor.lba, anchor.sectors)) },
  };
  const saved = [];
  for (const chunk of undoChunks(plan.undoRanges, disk.sectorSize)) saved.push({ ...chunk, bytes: await readSectors(disk, chunk.lba, chunk.sectors) });
  return encodeUndoFile({ device: disk.path, createdAt, identity }, saved);
}

/** Compares the disk's tables with the plan: both GPT copies sound and the same entries. */
async function verifyWritten(disk: InventoryDisk, plan: ConvertPlan): Promise<void> {
  const table = await readPartitionTable(disk, disk.sectorSize).catch((error: unknown) => {
    throw new LifeboatError('LB_DEVICE_CONVERT_VERIFY_FAILED', { detail: `The table read back is not valid: ${(error as Error).message}`, device: disk.path }, { cause: error });
  });
  const gpt = table.gpt;
  const problems: string[] = [];
  if (!gpt) problems.push(`the disk reads as ${table.kind}, not GPT`);
  else {
    if (!gpt.primary || !gpt.backup) problems.push('one GPT copy is missing');
    problems.push(...gpt.warnings);
    for (const entry of plan.gpt.entries) {
      const found = gpt.entries.find((candidate) => candidate.index === entry.index);
      if (!found || found.firstLba !== entry.firstLba || found.lastLba !== entry.lastLba || found.typeGuid !== entry.typeGuid || found.uniqueGuid !== entry.uniqueGuid) problems.push(`partition ${entry.index} differs`);
    }
    if (gpt.entries.length !== plan.gpt.entries.length) problems.push(`${gpt.entries.length} entries read back, ${plan.gpt.entries.length} written`);
  }
  if (problems.length > 0) throw new LifeboatError('LB_DEVICE_CONVERT_VERIFY_FAILED', { detail: problems.join('; '), device: disk.path });
}

/** What a conversion did. */
export interface ConvertResult {
  readonly undoFile: string;
  readonly undoFileBytes: number;
  /** Bytes of table sectors written (the ESP's filesystem is made by mkfs.fat on top). */
  readonly bytesWritten: number;
  /** Size of the new ESP formatted FAT32 (0 when the disk had one). */
  readonly espBytes: number;
}

/** Carries out a plan: the undo file first, then the GPT, the read-back check and the ESP's filesystem. */
export async function convertToUefi(request: { disk: ConvertDisk; plan: ConvertPlan; undoFile: string; ports: ConvertPorts; now: () => Date }): Promise<ConvertResult> {
  const { disk, plan, ports } = request;
  const undo = await buildUndoFile(disk, plan, ports, request.now().toISOString());
  await ports.saveUndoFile(request.undoFile, undo);
  ports.notice(`Undo file written and synced: ${request.undoFile} (${undo.length} bytes).`);
  let bytesWritten = 0;
  for (const write of encodeGpt(plan.gpt, { diskSignature: plan.diskSignature, protectiveStyle: 'gptfdisk' })) {
    await disk.write(write.lba * disk.sectorSize, write.bytes);
    bytesWritten += write.bytes.length;
  }
  await verifyWritten(disk, plan);
  const espBytes = plan.esp ? (plan.esp.lastLba - plan.esp.firstLba + 1) * disk.sectorSize : 0;
  if (plan.esp) await ports.formatEsp({ device: disk.path, offset: plan.esp.firstLba * disk.sectorSize, sizeBytes: espBytes, sectorSize: disk.sectorSize, label: plan.esp.label });
  return { undoFile: request.undoFile, undoFileBytes: undo.length, bytesWritten, espBytes };
}

/** Puts back every sector an undo file saved, after checking the disk is the one it was made for. */
export async function undoConversion(request: { disk: ConvertDisk; undoBytes: Uint8Array; undoFile: string; ports: Pick<ConvertPorts, 'sha256'> }): Promise<{ sectorsWritten: number; device: string }> {
  const { disk } = request;
  const { header, chunks } = decodeUndoFile(request.undoBytes);
  const identity = header.identity;
  const sector0 = await disk.read(0, Math.max(512, disk.sectorSize));
  const anchorFits = (identity.anchor.lba + identity.anchor.sectors) * disk.sectorSize <= disk.size;
  const mismatch = identityMismatch(identity, {
    sizeBytes: disk.size, sectorSize: disk.sectorSize, ...(disk.serial ? { serial: disk.serial } : {}),
    diskSignature: new DataView(sector0.buffer, sector0.byteOffset, 512).getUint32(440, true),
    anchorSha256: anchorFits ? request.ports.sha256(await readSectors(disk, identity.anchor.lba, identity.anchor.sectors)) : '',
  });
  if (mismatch) throw new LifeboatError('LB_DEVICE_CONVERT_UNDO_WRONG_DISK', { detail: `${disk.path} is not the disk ${request.undoFile} was made for (${header.device}): ${mismatch}.`, device: disk.path, undoFile: request.undoFile });
  // The end first and LBA 0 last: an interrupted undo leaves the converted MBR, which the undo can still be run on.
  let sectorsWritten = 0;
  for (const chunk of [...chunks].sort((a, b) => b.lba - a.lba)) {
    await disk.write(chunk.lba * disk.sectorSize, chunk.bytes);
    sectorsWritten += chunk.sectors;
  }
  return { sectorsWritten, device: disk.path };
}
