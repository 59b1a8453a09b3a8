// Export the run logs and a system report as one .tar.gz archive: what support asks for. Used by
// `lifeboat logs export` and by the TUI's Logs action (both get the io wired in main.ts).

import { LifeboatError } from '../core/errors.ts';

/** One file of the system report (disks, kernel log, versions, firmware mode...). */
export interface ReportFile {
  readonly name: string;
  readonly text: string;
}

/** What exporting needs from the machine. */
export interface ExportLogsIo {
  /** The run logs to include (full paths), oldest first. */
  listLogs(): Promise<readonly { readonly name: string; readonly path: string }[]>;
  /** Gathers the system report; a tool that is missing or fails becomes a note in its file, never an error. */
  gatherSystemReport(): Promise<readonly ReportFile[]>;
  /** What is at a path now. */
  pathKind(path: string): Promise<'missing' | 'file' | 'folder' | 'other'>;
  /** Where the archive goes when no destination is named: the medium's data partition when mounted, else the current folder. */
  defaultDestination(): Promise<string>;
  /** Writes the archive: `top/logs/*`, `top/system/*`; replaces an existing file only when `overwrite`. */
  writeArchive(request: { archive: string; top: string; logs: readonly string[]; report: readonly ReportFile[]; overwrite: boolean }): Promise<{ bytes: number }>;
  hostName(): string;
  now(): Date;
}

/** What was written. */
export interface ExportLogsResult {
  readonly archive: string;
  readonly bytes: number;
  readonly logs: readonly string[];
  readonly reportFiles: readonly string[];
}

const ARCHIVE_SUFFIXES = ['.tar.gz', '.tgz'];

/** The archive's base name: lifeboat-logs-HOST-20261129T223001Z. */
export function archiveBaseName(host: string, time: Date): string {
  const stamp = time.toISOString().replace(/[-:]/g, '').replace(/\.\d{3}Z$/, 'Z');
  return `lifeboat-logs-${host.replace(/[^A-Za-z0-9.-]+/g, '-') || 'host'}-${stamp}`;
}

/** Exports logs and system report to `destination` (a folder, or a file named *.tar.gz / *.tgz). */
export async function exportLogs(request: { destination?: string; force: boolean }, io: ExportLogsIo): Promise<ExportLogsResult> {
  const destination = request.destination ?? (await io.defaultDestination());
  const base = archiveBaseName(io.hostName(), io.now());
  const kind = await io.pathKind(destination);
  const namesFile = ARCHIVE_SUFFIXES.some((suffix) => destination.endsWith(suffix));
  let archive: string;
  if (kind === 'folder') archive = `${destination.replace(/\/+$/, '')}/${base}.tar.gz`;
  else if (kind === 'other') throw new LifeboatError('LB_INPUT_USAGE', { detail: `${destination} is neither a folder nor a file.`, path: destination });
  else if (namesFile || kind === 'file') archive = destination;
  else throw new LifeboatError('LB_INPUT_USAGE', { detail: `The folder ${destination} does not exist; name an existing folder or a file ending in .tar.gz.`, path: destination });
  if (!request.force && (await io.pathKind(archive)) !== 'missing') {
    throw new LifeboatError('LB_INPUT_ARCHIVE_EXISTS', { detail: `${archive} is already there.`, path: archive });
  }
  const logs = await io.listLogs();
  const report = await io.gatherSystemReport();
  const { bytes } = await io.writeArchive({ archive, top: base, logs: logs.map((log) => log.path), report, overwrite: request.force });
  return { archive, bytes, logs: logs.map((log) => log.name), reportFiles: report.map((file) => file.name) };
}
