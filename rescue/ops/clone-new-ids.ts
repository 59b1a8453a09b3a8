// `clone --new-ids` on the target, before its table is written: each filesystem of the copy gets
// its new id (FAT, exFAT, NTFS and swap by their boot sectors and headers, here; ext through io's
// tune2fs, which keeps its checksums right), then fstab, crypttab and GRUB's configurations inside
// the copy are rewritten in place to name the new ids (each new id is as long as the old, so every
// file keeps its length and its blocks). The source is never opened for writing here.

import type { ByteSource } from '../core/byte-source.ts';
import { sliceSource } from '../core/byte-source.ts';
import { withNewIds } from '../core/clone/clone-new-ids-plan.ts';
import type { ClonePlan } from '../core/clone/clone-plan.ts';
import { ESP_STUB_FOLDER, ID_NAMING_FILES, planNewIds, rewriteIdsInText, type NewIdsStep, type RandomBytes } from '../core/clone/new-ids.ts';
import { LifeboatError } from '../core/errors.ts';
import type { FileEntry, FileTree } from '../core/file-trees/file-tree.ts';
import { openFileTree } from '../core/file-trees/open-file-tree.ts';
import { walkPath } from '../core/file-trees/walk-path.ts';
import { probeFilesystem } from '../core/filesystems/probe-filesystem.ts';
import { serialRegions, withVolumeSerial } from '../core/filesystems/volume-serials.ts';
import type { PartitionTableInfo } from '../core/partition-table/partition-table.ts';
import type { ProgressReporter } from '../core/progress.ts';
import type { RestoreTarget } from './restore.ts';

/** Gives the ext2/3/4 filesystem at `offset` of the target a new UUID (io: e2fsck -fp, then tune2fs -U). */
export type SetExtUuid = (request: { readonly offset: number; readonly sizeBytes: number; readonly uuid: string }) => Promise<void>;

/** What the new-ids step runs with. */
export interface ApplyNewIdsOptions {
  readonly target: RestoreTarget;
  readonly step: NewIdsStep;
  readonly reporter: Pick<ProgressReporter, 'notice'>;
  readonly setExtUuid?: SetExtUuid;
}

const EXT = new Set(['ext2', 'ext3', 'ext4']);
/** Filesystems whose files Lifeboat rewrites in place (the copy's root, /boot and ESP). */
const EDITABLE = new Set(['ext2', 'ext3', 'ext4', 'vfat']);
/** A configuration file larger than this is not one of those named (left alone). */
const MAX_TEXT_BYTES = 1024 * 1024;

/** Gives each filesystem of the copy its new id. */
async function renewFilesystemIds(options: ApplyNewIdsOptions): Promise<void> {
  const { target, step } = options;
  for (const change of step.ids.changes) {
    if (change.what !== 'filesystem' || change.filesystem === undefined) continue;
    const volume = step.volumes.find((candidate) => candidate.partition === change.partition);
    if (!volume) continue;
    if (EXT.has(change.filesystem)) {
      if (!options.setExtUuid) throw new LifeboatError('LB_DEVICE_TOOL_MISSING', { detail: `No way to give the ${change.filesystem} filesystem of partition ${change.partition} its new UUID here.`, program: 'tune2fs' });
      await target.sync();
      await options.setExtUuid({ offset: volume.offset, sizeBytes: volume.sizeBytes, uuid: change.to });
      continue;
    }
    const boot = await target.read(volume.offset, 512);
    let written = 0;
    for (const region of serialRegions(change.filesystem, boot, volume.sizeBytes)) {
      const patched = withVolumeSerial(change.filesystem, await target.read(volume.offset + region.offset, region.length), change.to);
      if (!patched) continue;
      await target.write(volume.offset + region.offset, patched);
      written++;
    }
    if (written === 0) throw new LifeboatError('LB_FILESYSTEM_CORRUPT', { detail: `The ${change.filesystem} boot sector of partition ${change.partition ?? ''} has no volume id where it should; its id was not changed.`, partition: change.partition ?? null });
  }
  await target.sync();
}

/** The stub grub.cfg files on an ESP (EFI/NAME/grub.cfg). */
async function espStubs(tree: FileTree): Promise<string[]> {
  const efi = await walkPath(tree, ESP_STUB_FOLDER).catch(() => undefined);
  if (!efi || efi.entry.kind !== 'directory') return [];
  const folders = (await tree.list(efi.entry)).filter((entry) => entry.kind === 'directory');
  return folders.map((folder) => `${efi.path}/${folder.name}/grub.cfg`);
}

/** Rewrites one file in place when it names an old id; returns how many names it changed. */
async function rewriteFile(tree: FileTree, entry: FileEntry, volume: { offset: number }, target: RestoreTarget, renames: NewIdsStep['renames']): Promise<number> {
  if (entry.kind !== 'file' || entry.size === 0 || entry.size > MAX_TEXT_BYTES) return 0;
  const content = await tree.openFile(entry);
  const bytes = await content.read(0, content.size);
  const text = Buffer.from(bytes).toString('latin1');
  const rewritten = rewriteIdsInText(text, renames);
  if (rewritten.replaced === 0) return 0;
  const out = Buffer.from(rewritten.text, 'latin1');
  const ranges = await content.placedRanges?.();
  const covered = (ranges ?? []).reduce((sum, range) => sum + range.length, 0);
  if (!ranges || covered !== out.length) throw new LifeboatError('LB_FILESYSTEM_UNSUPPORTED', { detail: `The file's bytes are not stored plainly in blocks (inline or compressed), so Lifeboat cannot rewrite it in place.`, filesystem: tree.filesystem });
  for (const range of ranges) await target.write(volume.offset + range.at, out.subarray(range.offset, range.offset + range.length));
  return rewritten.replaced;
}

/** Rewrites fstab, crypttab and grub.cfg of each volume of the copy that holds them. */
async function rewriteCopyFiles(options: ApplyNewIdsOptions): Promise<void> {
  const { target, step, reporter } = options;
  const whole: ByteSource = { size: target.size, read: (offset, length) => target.read(offset, length) };
  for (const volume of step.volumes) {
    if (volume.filesystem === undefined || !EDITABLE.has(volume.filesystem)) continue;
    const tree = await openFileTree(sliceSource(whole, volume.offset, volume.sizeBytes)).catch(() => undefined);
    if (!tree) continue;
    const where = volume.partition === undefined ? 'the copy' : `partition ${volume.partition}`;
    for (const path of [...ID_NAMING_FILES, ...(volume.filesystem === 'vfat' ? await espStubs(tree) : [])]) {
      const found = await walkPath(tree, path).catch(() => undefined);
      if (!found) continue;
      try {
        const replaced = await rewriteFile(tree, found.entry, volume, target, step.renames);
        if (replaced > 0) reporter.notice(`${where}: ${found.path} names the new ids (${replaced} replaced).`);
      } catch (error) {
        const message = error instanceof Error ? error.message : String(error);
        reporter.notice(`${where}: ${found.path} was left as it is (${message}); edit it to name the new ids before booting the copy.`);
      }
    }
  }
  await target.sync();
}

/** Runs the new-ids step: new filesystem ids, then the copy's files that name ids follow. */
export async function applyNewIds(options: ApplyNewIdsOptions): Promise<void> {
  await renewFilesystemIds(options);
  await rewriteCopyFiles(options);
}

/** The plan with new ids for the copy: the source's ids probed (read-only), new ones drawn. */
export async function planCloneNewIds(options: { plan: ClonePlan; source: ByteSource; table: PartitionTableInfo | undefined; random: RandomBytes }): Promise<ClonePlan> {
  const { plan, source, table } = options;
  const volumes: Array<{ partition: number | undefined; filesystem: string | undefined; uuid: string | undefined }> = [];
  for (const step of plan.steps) {
    if (step.kind !== 'volume' && step.kind !== 'shrink-filesystem') continue;
    const probe = await probeFilesystem(sliceSource(source, step.volume.sourceOffset, step.volume.sourceBytes)).catch(() => undefined);
    volumes.push({ partition: step.volume.partition, filesystem: step.volume.filesystem, uuid: probe?.uuid });
  }
  const tableFacts = table && table.kind !== 'none' ? { kind: table.kind, id: table.id, partitions: table.partitions.filter((partition) => partition.kind !== 'extended' && (!plan.layout || plan.layout.partitions.some((placed) => placed.number === partition.number))) } : undefined;
  return withNewIds(plan, planNewIds({ ...(tableFacts ? { table: tableFacts } : {}), volumes, random: options.random }));
}
