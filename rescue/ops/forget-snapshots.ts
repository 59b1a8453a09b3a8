// `forget` removes snapshots by id or by a retention policy; `--prune` then deletes the chunks no
// remaining snapshot uses. Prune writes new packs and a new index before it deletes anything, so
// a kill at any moment leaves every remaining snapshot restorable.

import { LifeboatError } from '../core/errors.ts';
import type { ProgressReporter } from '../core/progress.ts';
import { manifestTreeIds, type IndexPack } from '../core/repository/format.ts';
import type { RepositoryMaintenance, StoredSnapshot } from '../core/repository/repository-port.ts';
import { applyRetention, type RetentionDecision, type RetentionPolicy } from '../core/repository/retention.ts';
import { describeSnapshotGroup, snapshotGroupKey } from '../core/repository/snapshot-groups.ts';
import { loadContent } from './restore.ts';
import { filesSnapshotBlobs } from './snapshot-file-tree.ts';

/** A decision with the snapshot's group (what it is a backup of, in words) and time. */
export type GroupedDecision = RetentionDecision & { readonly group: string; readonly time: string };

/** What forget decided (and, unless dry run, did). */
export interface ForgetReport {
  /** In groups (the policy applies within each), newest first within a group. */
  readonly decisions: GroupedDecision[];
  readonly removed: string[];
  readonly prune: PruneReport | undefined;
}

/** What prune removed. */
export interface PruneReport {
  readonly packsDeleted: number;
  readonly packsRewritten: number;
  readonly bytesFreed: number;
  readonly tempFilesDeleted: number;
}

/** Groups snapshots by what they are a backup of (core/repository/snapshot-groups.ts). */
export function snapshotGroup(snapshot: StoredSnapshot): string {
  return snapshotGroupKey(snapshot.manifest);
}

/** The decisions ordered by group, each with its group in words and its time. */
function groupDecisions(decisions: readonly RetentionDecision[], snapshots: readonly StoredSnapshot[]): GroupedDecision[] {
  const byId = new Map(snapshots.map((snapshot) => [snapshot.id, snapshot]));
  const order = new Map<string, number>();
  const grouped = decisions.map((decision) => {
    const manifest = byId.get(decision.id)?.manifest;
    const key = manifest ? snapshotGroupKey(manifest) : '';
    if (!order.has(key)) order.set(key, order.size);
    return { ...decision, key, group: manifest ? describeSnapshotGroup(manifest) : '?', time: manifest?.time ?? '' };
  });
  grouped.sort((a, b) => (order.get(a.key) ?? 0) - (order.get(b.key) ?? 0) || b.time.localeCompare(a.time));
  return grouped.map(({ key: _key, ...decision }) => decision);
}

/** Decides (ids named, or the policy) and removes the forgotten manifests unless dryRun. */
export async function forgetSnapshots(repository: RepositoryMaintenance, options: { ids: readonly string[]; policy: RetentionPolicy; dryRun: boolean; prune: boolean }, reporter: ProgressReporter): Promise<ForgetReport> {
  const snapshots = await repository.listSnapshots();
  let decisions: RetentionDecision[];
  if (options.ids.length > 0) {
    const named = new Set(options.ids);
    decisions = snapshots.map((snapshot) => ({ id: snapshot.id, keep: !named.has(snapshot.id), reasons: named.has(snapshot.id) ? [] : ['not named'] }));
  } else {
    decisions = applyRetention(snapshots.map((snapshot) => ({ id: snapshot.id, time: snapshot.manifest.time, group: snapshotGroup(snapshot) })), options.policy);
  }
  const removed = decisions.filter((decision) => !decision.keep).map((decision) => decision.id);
  if (!options.dryRun) for (const id of removed) await repository.removeSnapshot(id);
  const prune = options.prune ? await pruneRepository(repository, { dryRun: options.dryRun, forgotten: new Set(options.dryRun ? removed : []) }, reporter) : undefined;
  return { decisions: groupDecisions(decisions, snapshots), removed, prune };
}

/** Chunk and tree ids that the remaining snapshots use, with the bases of the delta blobs among them. */
async function liveBlobs(repository: RepositoryMaintenance, ignore: ReadonlySet<string>): Promise<Set<string>> {
  const { snapshots, problems } = await repository.scanSnapshots();
  if (problems[0]) throw new LifeboatError('LB_REPO_SNAPSHOT_CORRUPT', { detail: `Prune refused: ${problems[0].message} Its chunks cannot be told apart; forget it first or restore the file.` });
  const live = new Set<string>();
  for (const { id, manifest } of snapshots) {
    if (ignore.has(id)) continue;
    for (const tree of manifestTreeIds(manifest)) live.add(tree);
    if (manifest.kind === 'files') {
      const blobs = await filesSnapshotBlobs(repository, manifest);
      for (const blob of [...blobs.trees, ...blobs.data]) live.add(blob);
    }
    for (const content of [...manifest.regions.map((region) => region.content), ...manifest.volumes.map((volume) => volume.content)]) {
      const loaded = await loadContent(repository, content, manifest.chunkBytes);
      for (const chunk of loaded.chunks.values()) live.add(chunk);
    }
  }
  // A delta blob needs its base, even when no remaining snapshot uses the base itself.
  for (const id of [...live]) {
    const base = repository.locateBlob(id)?.base;
    if (base !== undefined) live.add(base);
  }
  return live;
}

/** Deletes unused chunks: drops packs no snapshot uses, rewrites packs partly used. */
export async function pruneRepository(repository: RepositoryMaintenance, options: { dryRun: boolean; forgotten: ReadonlySet<string> }, reporter: ProgressReporter): Promise<PruneReport> {
  const live = await liveBlobs(repository, options.forgotten);
  const onDisk = await repository.listPackFiles();
  const keep: IndexPack[] = [];
  const drop: string[] = [];
  const rewrite: IndexPack[] = [];
  for (const pack of repository.indexedPacks().values()) {
    const used = pack.blobs.filter((blob) => live.has(blob.id) && repository.locateBlob(blob.id)?.pack === pack.id);
    if (used.length === pack.blobs.length) keep.push(pack);
    else if (used.length === 0) drop.push(pack.id);
    else rewrite.push(pack);
  }
  const leftovers = [...onDisk.keys()].filter((id) => !repository.indexedPacks().has(id));
  // A manifest cut short by a power cut is replaced by its complete twin before temp files go.
  const twins = repository.cutShortFiles().map((file) => `${file}.tmp`);
  // Empty index files and manifests (writes a power cut interrupted on FAT) go with the temp files.
  const temps = [...(await repository.listTempFiles()).filter((file) => !twins.includes(file)), ...repository.unfinishedFiles()];
  const freed = [...drop, ...leftovers].reduce((sum, id) => sum + (onDisk.get(id) ?? 0), 0);
  const report: PruneReport = { packsDeleted: drop.length + leftovers.length, packsRewritten: rewrite.length, bytesFreed: freed, tempFilesDeleted: temps.length };
  if (options.dryRun) return report;
  await repository.putTwinsInPlace();
  // Progress in bytes of the packs read and rewritten (the renderers print it as bytes).
  const rewriteBytes = rewrite.reduce((sum, pack) => sum + pack.size, 0);
  let done = 0;
  for (const pack of rewrite) {
    const { bytes } = await repository.readPack(pack.id);
    for (const blob of pack.blobs) {
      if (live.has(blob.id) && repository.locateBlob(blob.id)?.pack === pack.id) await repository.copyStoredBlob(blob, bytes.subarray(blob.offset, blob.offset + blob.length));
    }
    done += pack.size;
    reporter.progress({ phase: 'prune', bytesDone: done, bytesTotal: rewriteBytes, item: pack.id.slice(0, 8) });
  }
  const oldIndexes = repository.indexFiles().map((name) => `index/${name}`);
  await repository.flush();
  const keptIndex = keep.length > 0 ? await repository.writeIndex(keep) : undefined;
  const fresh = new Set([keptIndex, ...repository.writtenIndexes()].filter((name) => name !== undefined).map((name) => `index/${name}`));
  await repository.removeFiles(oldIndexes.filter((file) => !fresh.has(file)));
  // A repacked pack can come out byte-identical to a pack an interrupted prune already wrote (same
  // blobs, same order): same name, same file. Such a pack is live again and must not be deleted.
  const written = new Set(repository.writtenPacks().map((pack) => pack.id));
  const doomed = [...drop, ...leftovers, ...rewrite.map((pack) => pack.id)].filter((id) => !written.has(id));
  await repository.removeFiles(doomed.map((id) => repository.packFile(id)));
  await repository.removeFiles(temps);
  return report;
}
