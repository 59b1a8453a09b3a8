// `check`: proves a repository restorable. Always: every index and manifest parses and matches
// its hash, every chunk a snapshot names is indexed, every indexed pack exists with its full size.
// With readData: every pack is read whole, checked against its name, and every blob in it is
// decrypted, decompressed and hashed. Leftovers of interrupted runs are reported, not failures.

import { toLifeboatError } from '../core/errors.ts';
import { throwIfStopped, type ProgressReporter } from '../core/progress.ts';
import { manifestTreeIds, type IndexPack } from '../core/repository/format.ts';
import type { RepositoryMaintenance } from '../core/repository/repository-port.ts';
import { loadContent } from './restore.ts';
import { pageCacheNotice } from './snapshot-common.ts';
import { filesSnapshotBlobs } from './snapshot-file-tree.ts';

/** A problem found by check (its code says what kind). */
export interface CheckProblem {
  readonly code: string;
  readonly detail: string;
}

/** What check found. */
export interface CheckReport {
  readonly snapshots: number;
  readonly packs: number;
  readonly blobsRead: number;
  readonly problems: CheckProblem[];
  /** Things worth knowing that are not damage (leftover packs and temp files). */
  readonly info: string[];
}

const MAX_PROBLEMS_PER_PACK = 20;

function problemOf(error: unknown): CheckProblem {
  const coded = toLifeboatError(error);
  return { code: coded.code, detail: coded.message };
}

/** Every chunk id the snapshots need, and problems reading their trees. */
async function checkSnapshots(repository: RepositoryMaintenance, problems: CheckProblem[], signal: AbortSignal | undefined): Promise<number> {
  const { snapshots, problems: broken } = await repository.scanSnapshots();
  for (const error of broken) problems.push(problemOf(error));
  for (const { id, manifest } of snapshots) {
    throwIfStopped(signal, 'the check');
    const missing = new Set<string>();
    for (const tree of manifestTreeIds(manifest)) if (!repository.hasBlob(tree)) missing.add(tree);
    if (missing.size === 0) {
      try {
        for (const content of [...manifest.regions.map((region) => region.content), ...manifest.volumes.map((volume) => volume.content)]) {
          const loaded = await loadContent(repository, content, manifest.chunkBytes);
          for (const chunk of loaded.chunks.values()) if (!repository.hasBlob(chunk)) missing.add(chunk);
        }
        if (manifest.kind === 'files') {
          const blobs = await filesSnapshotBlobs(repository, manifest);
          for (const blob of [...blobs.trees, ...blobs.data]) if (!repository.hasBlob(blob)) missing.add(blob);
        }
      } catch (error) {
        problems.push({ ...problemOf(error), detail: `Snapshot ${id.slice(0, 8)}: ${problemOf(error).detail}` });
      }
    }
    if (missing.size > 0) problems.push({ code: 'LB_REPO_INDEX_MISSING', detail: `Snapshot ${id.slice(0, 8)} refers to ${missing.size} chunk(s) no index lists, e.g. ${[...missing][0]}.` });
  }
  return snapshots.length;
}

async function readAllData(repository: RepositoryMaintenance, packs: IndexPack[], onDisk: Map<string, number>, reporter: ProgressReporter, problems: CheckProblem[], signal: AbortSignal | undefined, throughCache: { count: number }): Promise<number> {
  const total = packs.reduce((sum, pack) => sum + pack.size, 0);
  let done = 0;
  let blobsRead = 0;
  for (const pack of packs) {
    throwIfStopped(signal, 'the check');
    if (!onDisk.has(pack.id)) continue;
    const raw = await repository.readPackFile(pack.id);
    let failures = 0;
    for (const [index, blob] of pack.blobs.entries()) {
      if (index % 64 === 0) throwIfStopped(signal, 'the check');
      if (blob.offset + blob.length > raw.length) continue;
      try {
        await repository.openBlob(blob, raw.subarray(blob.offset, blob.offset + blob.length), pack.id);
        blobsRead++;
      } catch (error) {
        if (failures++ < MAX_PROBLEMS_PER_PACK) problems.push(problemOf(error));
      }
    }
    if (failures === 0 && raw.length >= pack.size) {
      try {
        if (!(await repository.verifyPack(pack.id)).fromDevice) throughCache.count++;
      } catch (error) {
        problems.push(problemOf(error));
      }
    }
    done += pack.size;
    reporter.progress({ phase: 'check', bytesDone: done, bytesTotal: total, item: pack.id.slice(0, 8) });
  }
  return blobsRead;
}

/** Checks the repository; problems are returned as data (the command turns them into an exit code). A stop (`signal`) ends it with LB_INPUT_STOPPED; it writes nothing. */
export async function checkRepository(repository: RepositoryMaintenance, options: { readData: boolean; signal?: AbortSignal }, reporter: ProgressReporter): Promise<CheckReport> {
  const problems: CheckProblem[] = repository.loadProblems.map((problem) => ({ code: problem.code, detail: problem.detail }));
  const info: string[] = [];
  const onDisk = await repository.listPackFiles();
  const packs = [...repository.indexedPacks().values()];
  for (const pack of packs) {
    const size = onDisk.get(pack.id);
    if (size === undefined) problems.push({ code: 'LB_REPO_PACK_MISSING', detail: `Pack ${pack.id} (${pack.blobs.length} chunks) is missing.` });
    else if (size < pack.size) problems.push({ code: 'LB_REPO_PACK_TRUNCATED', detail: `Pack ${pack.id} has ${size} of its ${pack.size} bytes.` });
    else if (size > pack.size) problems.push({ code: 'LB_REPO_INVALID', detail: `Pack ${pack.id} has ${size} bytes, the index says ${pack.size}.` });
  }
  const unreferenced = [...onDisk.keys()].filter((id) => !repository.indexedPacks().has(id));
  if (unreferenced.length > 0) info.push(`${unreferenced.length} pack(s) no index lists (left by an interrupted backup; \`forget --prune\` removes them).`);
  const temps = await repository.listTempFiles();
  if (temps.length > 0) info.push(`${temps.length} temporary file(s) left by an interrupted run (\`forget --prune\` removes them).`);
  const snapshots = await checkSnapshots(repository, problems, options.signal);
  for (const file of repository.unfinishedFiles()) info.push(`${file} is empty: its writing was interrupted (a power cut on FAT), so nothing was saved in it; it is skipped (\`forget --prune\` removes it).`);
  for (const file of repository.cutShortFiles()) info.push(`${file} was cut short (a power cut on FAT); its complete copy ${file}.tmp, which matches its name, was read instead (\`forget --prune\` puts it in place).`);
  const throughCache = { count: 0 };
  const blobsRead = options.readData ? await readAllData(repository, packs, onDisk, reporter, problems, options.signal, throughCache) : 0;
  if (throughCache.count > 0) info.push(pageCacheNotice(throughCache.count, packs.filter((pack) => onDisk.has(pack.id)).length, 'The check', 'Packs written since the disk was plugged in may have come from the cache; unplug it and plug it in again before the check to read them from the device.'));
  return { snapshots, packs: packs.length, blobsRead, problems, info };
}

/** Rebuilds the index from the packs' own footers (after index files were lost); returns packs indexed and skipped. */
export async function rebuildIndex(repository: RepositoryMaintenance): Promise<{ packs: number; skipped: CheckProblem[] }> {
  const skipped: CheckProblem[] = [];
  const packs: IndexPack[] = [];
  for (const [id, size] of await repository.listPackFiles()) {
    try {
      const { blobs } = await repository.readPack(id);
      packs.push({ id, size, blobs });
    } catch (error) {
      skipped.push(problemOf(error));
    }
  }
  const old = repository.indexFiles().map((name) => `index/${name}`);
  const written = await repository.writeIndex(packs);
  await repository.removeFiles(old.filter((file) => file !== `index/${written}`));
  return { packs: packs.length, skipped };
}
