// Imports a Clonezilla image directory into a repository: the image is reconstructed, exactly as a
// restore writes it, into a sparse scratch file in the temporary folder (partclone's checksums are
// verified as it streams), then the scratch file is backed up as a disk (or partition) snapshot
// whose source names the image. A damaged image fails before the repository is opened for writing.

import { clonezillaSectorSize, clonezillaTargetBytes, planClonezillaRestore, type ClonezillaLayout, type ClonezillaSelection } from '../core/clonezilla/clonezilla-restore-plan.ts';
import type { ClonezillaScratch } from '../core/clonezilla/clonezilla-ports.ts';
import type { ProgressReporter } from '../core/progress.ts';
import type { SnapshotOptions, SnapshotSource } from '../core/repository/format.ts';
import type { RepositoryWriter } from '../core/repository/repository-port.ts';
import { backup, type BackupResult } from './backup.ts';
import { restoreClonezilla } from './restore-clonezilla.ts';
import type { ExternalProgram } from '../core/external-programs.ts';
import { programsForClonezillaPlan } from '../core/plan-programs.ts';

/** What to import and how to store it. */
export interface ImportClonezillaRequest extends SnapshotOptions {
  readonly layout: ClonezillaLayout;
  readonly selection: ClonezillaSelection;
  /** Makes the scratch disk file (io). */
  readonly createScratch: (sizeBytes: number, sectorSize: number) => Promise<ClonezillaScratch>;
  /** Opens and locks the repository for writing around `use` (created by the caller when needed). */
  readonly withRepository: <T>(use: (repository: RepositoryWriter) => Promise<T>) => Promise<T>;
  /** Stops between the image's steps and between chunks of the backup (LB_INPUT_STOPPED). */
  readonly signal?: AbortSignal;
  /** Refuses when a program the plan runs (mkswap, a decompressor) is missing, before the repository is touched. */
  readonly checkPrograms: (programs: readonly ExternalProgram[]) => Promise<void>;
}

/** Reconstructs the image into a scratch file and backs it up; the scratch file is always removed. */
export async function importClonezilla(request: ImportClonezillaRequest, reporter: ProgressReporter): Promise<BackupResult> {
  const { layout, selection } = request;
  const kind = selection.kind;
  const sizeBytes = clonezillaTargetBytes(selection);
  const sectorSize = clonezillaSectorSize(selection, layout);
  const scratch = await request.createScratch(sizeBytes, sectorSize);
  try {
    const name = selection.kind === 'disk' ? selection.disk.name : selection.partition.name;
    const plan = planClonezillaRestore(layout, selection, { path: `${layout.directory}:${name}`, sizeBytes, logicalSectorSize: sectorSize, fresh: true, description: 'a scratch file' });
    await request.checkPrograms(programsForClonezillaPlan(plan, layout));
    await restoreClonezilla({ plan, target: scratch.target, io: scratch.io, reporter, ...(request.signal ? { signal: request.signal } : {}) });
    const source = await scratch.openSource(kind);
    try {
      const facts: SnapshotSource = {
        path: selection.kind === 'disk' && layout.disks.length === 1 ? layout.directory : `${layout.directory}:${name}`,
        model: 'Clonezilla image',
        serial: '',
        sizeBytes: source.size,
        logicalSectorSize: sectorSize,
        physicalSectorSize: sectorSize,
        transport: 'file',
      };
      const imported = `Imported from the Clonezilla image ${layout.directory} (${name}).`;
      const note = request.note ? `${request.note} (${imported})` : imported;
      reporter.notice(`${name}: reconstructed from ${layout.directory}, every partclone checksum verified; backing it up.`);
      return await request.withRepository((repository) => backup({
        kind, source, facts, tags: request.tags, note, sectorBySector: false, compressionLevel: request.compressionLevel,
        verify: request.verify, host: request.host, lifeboatVersion: request.lifeboatVersion, ...(request.signal ? { signal: request.signal } : {}),
      }, repository, reporter));
    } finally {
      await source.close();
    }
  } finally {
    await scratch.remove();
  }
}
