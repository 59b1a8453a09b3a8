// `--new-ids`: a copy that stays in the machine beside its source gets ids of its own, so neither
// the firmware, the kernel (root=UUID=), fstab nor GRUB's search confuses the two. This file plans
// the new ids (a new GPT disk GUID and partition GUIDs, or a new MBR disk signature; a new UUID or
// serial for each filesystem whose id Lifeboat can change) from random bytes it is given, and
// rewrites the names of the old ids in text files of the copy (fstab, crypttab, grub.cfg). Each new
// id is spelled like the old one (same length), so a file is rewritten in place.

import { formatHexLittleEndian, formatSerial32, formatUuid } from '../filesystems/fields.ts';

/** Random bytes (io gives crypto's; tests give fixed ones). */
export type RandomBytes = (count: number) => Uint8Array;

/** One id the copy gets instead of its source's. */
export interface IdChange {
  readonly what: 'disk-guid' | 'mbr-signature' | 'partition-guid' | 'filesystem';
  /** The partition (undefined: the disk, or the filesystem of a partition clone). */
  readonly partition: number | undefined;
  readonly filesystem?: string;
  /** As sfdisk (disk ids, GPT GUIDs) or blkid (filesystems) print them. */
  readonly from: string;
  readonly to: string;
}

/** The copy's new ids, and the volumes whose ids stay (with why). */
export interface NewIds {
  readonly changes: readonly IdChange[];
  readonly kept: readonly string[];
}

/** Filesystems whose UUID or serial Lifeboat changes, and how it spells a new one. */
const NEW_FILESYSTEM_ID: Readonly<Record<string, (random: RandomBytes) => string>> = {
  ext2: (random) => formatUuid(uuidV4(random)),
  ext3: (random) => formatUuid(uuidV4(random)),
  ext4: (random) => formatUuid(uuidV4(random)),
  swap: (random) => formatUuid(uuidV4(random)),
  vfat: (random) => formatSerial32(random(4)),
  exfat: (random) => formatSerial32(random(4)),
  ntfs: (random) => formatHexLittleEndian(random(8)),
};

/** True when Lifeboat can give the filesystem a new id. */
export function canRenewFilesystemId(filesystem: string | undefined): boolean {
  return filesystem !== undefined && NEW_FILESYSTEM_ID[filesystem] !== undefined;
}

function uuidV4(random: RandomBytes): Uint8Array {
  const bytes = Uint8Array.from(random(16));
  bytes[6] = ((bytes[6] ?? 0) & 0x0f) | 0x40;
  bytes[8] = ((bytes[8] ?? 0) & 0x3f) | 0x80;
  return bytes;
}

/** What new ids are planned from: the source's table (a disk clone) and its volumes' ids as probed. */
export interface NewIdsRequest {
  readonly table?: { readonly kind: 'gpt' | 'mbr'; readonly id: string | undefined; readonly partitions: ReadonlyArray<{ readonly number: number; readonly uuid?: string | undefined; readonly kind?: string }> };
  readonly volumes: ReadonlyArray<{ readonly partition: number | undefined; readonly filesystem: string | undefined; readonly uuid: string | undefined }>;
  readonly random: RandomBytes;
}

/** Plans the copy's new ids: every one differs from its source's (a draw that repeats one is drawn again). */
export function planNewIds(request: NewIdsRequest): NewIds {
  const { random, table } = request;
  const changes: IdChange[] = [];
  const kept: string[] = [];
  const fresh = (from: string, draw: () => string): string => {
    for (;;) {
      const to = draw();
      if (to.toLowerCase() !== from.toLowerCase()) return to;
    }
  };
  if (table?.kind === 'gpt') {
    const from = table.id ?? '';
    changes.push({ what: 'disk-guid', partition: undefined, from, to: fresh(from, () => formatUuid(uuidV4(random)).toUpperCase()) });
    for (const partition of table.partitions) {
      if (partition.uuid === undefined) continue;
      const old = partition.uuid;
      changes.push({ what: 'partition-guid', partition: partition.number, from: old, to: fresh(old, () => formatUuid(uuidV4(random)).toUpperCase()) });
    }
  } else if (table?.kind === 'mbr') {
    const from = table.id ?? '0x00000000';
    changes.push({ what: 'mbr-signature', partition: undefined, from, to: fresh(from, () => `0x${Buffer.from(random(4)).toString('hex')}`.replace(/^0x00000000$/, '0x00000001')) });
  }
  for (const volume of request.volumes) {
    const where = volume.partition === undefined ? 'the filesystem' : `partition ${volume.partition}`;
    const draw = volume.filesystem === undefined ? undefined : NEW_FILESYSTEM_ID[volume.filesystem];
    if (!draw || volume.uuid === undefined) {
      kept.push(`${where} (${volume.filesystem ?? 'unknown contents'}) keeps its ${volume.uuid === undefined ? 'contents' : `id ${volume.uuid}`}: Lifeboat does not change ${volume.filesystem ?? 'its'} ids.`);
      continue;
    }
    const from = volume.uuid;
    changes.push({ what: 'filesystem', partition: volume.partition, filesystem: volume.filesystem, from, to: fresh(from, () => draw(random)) });
  }
  return { changes, kept };
}

/** The MBR disk signature as a number (from sfdisk's 0x%08x spelling). */
export function mbrSignatureOf(id: string): number {
  return Number.parseInt(id.replace(/^0x/i, ''), 16) >>> 0;
}

/** The old -> new names that text files use: filesystem UUIDs, GPT PARTUUIDs, MBR PARTUUIDs (SIGNATURE-NN). */
export function idRenames(ids: NewIds, mbrPartitions: readonly number[] = []): Array<{ readonly from: string; readonly to: string }> {
  const renames: Array<{ from: string; to: string }> = [];
  for (const change of ids.changes) {
    if (change.what === 'filesystem' || change.what === 'partition-guid') renames.push({ from: change.from, to: change.to });
    if (change.what === 'mbr-signature') {
      const [from, to] = [change.from, change.to].map((id) => id.replace(/^0x/i, '').toLowerCase().padStart(8, '0')) as [string, string];
      for (const number of mbrPartitions) {
        const suffix = `-${number.toString(16).padStart(2, '0')}`;
        renames.push({ from: `${from}${suffix}`, to: `${to}${suffix}` });
      }
    }
  }
  return renames;
}

/** The new id in the letter case the text used for the old one. */
function inCaseOf(found: string, to: string): string {
  if (found === found.toLowerCase()) return to.toLowerCase();
  if (found === found.toUpperCase()) return to.toUpperCase();
  return to;
}

const ID_CHARACTER = /[0-9A-Za-z-]/;

/**
 * Rewrites every whole-word mention of an old id (case-insensitive; bounded by characters that
 * cannot be part of an id) with its new one: UUID=..., PARTUUID=..., root=UUID=..., `search
 * --fs-uuid ...`, crypttab's source column. The text keeps its length.
 */
export function rewriteIdsInText(text: string, renames: ReadonlyArray<{ readonly from: string; readonly to: string }>): { text: string; replaced: number } {
  let out = text;
  let replaced = 0;
  for (const { from, to } of renames) {
    if (from.length === 0 || from.length !== to.length) continue;
    const lowerOut = out.toLowerCase();
    const needle = from.toLowerCase();
    let result = '';
    let at = 0;
    for (let index = lowerOut.indexOf(needle); index !== -1; index = lowerOut.indexOf(needle, index + needle.length)) {
      const before = out[index - 1];
      const after = out[index + needle.length];
      if ((before !== undefined && ID_CHARACTER.test(before)) || (after !== undefined && ID_CHARACTER.test(after))) continue;
      result += out.slice(at, index) + inCaseOf(out.slice(index, index + needle.length), to);
      at = index + needle.length;
      replaced++;
    }
    out = result + out.slice(at);
  }
  return { text: out, replaced };
}

/** The files of a copy's volumes that name ids: fstab, crypttab and GRUB's configurations (also the ESP's stub). */
export const ID_NAMING_FILES: readonly string[] = [
  '/etc/fstab', '/etc/crypttab', '/boot/grub/grub.cfg', '/grub/grub.cfg', '/boot/grub2/grub.cfg', '/grub2/grub.cfg',
];

/** Folders on an ESP whose subfolders may hold a GRUB stub grub.cfg (EFI/debian/grub.cfg, EFI/BOOT/grub.cfg). */
export const ESP_STUB_FOLDER = '/EFI';

/** The ids part of a plan as lines: which choice was made and, with new ids, old -> new. */
export function describeIds(ids: 'kept' | NewIds): string[] {
  if (ids === 'kept') return ['Ids: kept (the disk GUID or MBR signature, partition GUIDs and filesystem UUIDs are the source\'s: the copy replaces the source; give --new-ids when both stay in one machine).'];
  const name = (change: IdChange) => {
    if (change.what === 'disk-guid') return 'disk GUID';
    if (change.what === 'mbr-signature') return 'MBR disk signature';
    if (change.what === 'partition-guid') return `partition ${change.partition} GUID`;
    return `${change.partition === undefined ? 'the filesystem' : `partition ${change.partition}`} ${change.filesystem} ${change.filesystem === 'vfat' || change.filesystem === 'exfat' || change.filesystem === 'ntfs' ? 'serial' : 'UUID'}`;
  };
  return [
    `Ids: new (--new-ids; ${ID_NAMING_FILES.slice(0, 3).join(', ')} and GRUB's configurations inside the copy follow):`,
    ...ids.changes.map((change) => `  ${name(change)}: ${change.from} -> ${change.to}`),
    ...ids.kept.map((line) => `  ${line}`),
  ];
}

/** The step of a clone plan that gives the copy its new ids (before the table is written). */
export interface NewIdsStep {
  readonly kind: 'new-ids';
  readonly label: string;
  readonly ids: NewIds;
  /** Each volume of the copy: its partition, filesystem and bytes on the target. */
  readonly volumes: ReadonlyArray<{ readonly partition: number | undefined; readonly filesystem: string | undefined; readonly offset: number; readonly sizeBytes: number }>;
  /** Old -> new names of ids in the copy's text files. */
  readonly renames: ReadonlyArray<{ readonly from: string; readonly to: string }>;
}
