// The declarative description of the Linux medium (images/linux/profile.json), validated.

import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { PROJECT_ROOT } from './paths.ts';

/** Folder of the Linux medium's profile, module list and root filesystem overlay. */
export const LINUX_IMAGE_DIR = path.join(PROJECT_ROOT, 'images', 'linux');

/** What images/linux/profile.json holds. */
export interface LinuxProfile {
  readonly isoVolumeId: string;
  readonly dataLabel: string;
  readonly usbWaitSeconds: number;
  readonly menuTimeoutSeconds: number;
  readonly kernelArguments: string;
  readonly terminfo: readonly string[];
}

function requireString(value: unknown, key: string, pattern: RegExp): string {
  if (typeof value !== 'string' || !pattern.test(value)) throw new Error(`profile.json: ${key} must match ${pattern}`);
  return value;
}

function requireInteger(value: unknown, key: string, max: number): number {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < 0 || value > max) throw new Error(`profile.json: ${key} must be 0..${max}`);
  return value;
}

/** Parses and checks a profile (volume id and label rules of ISO 9660 and FAT/exFAT). */
export function parseLinuxProfile(json: unknown): LinuxProfile {
  const data = (json ?? {}) as Record<string, unknown>;
  const terminfo = data.terminfo;
  if (!Array.isArray(terminfo) || !terminfo.every((name) => typeof name === 'string' && /^[\w.+-]+$/.test(name))) {
    throw new Error('profile.json: terminfo must be a list of terminal names');
  }
  return {
    isoVolumeId: requireString(data.isoVolumeId, 'isoVolumeId', /^[A-Z0-9_]{1,32}$/),
    dataLabel: requireString(data.dataLabel, 'dataLabel', /^[A-Z0-9_-]{1,11}$/),
    usbWaitSeconds: requireInteger(data.usbWaitSeconds, 'usbWaitSeconds', 120),
    menuTimeoutSeconds: requireInteger(data.menuTimeoutSeconds, 'menuTimeoutSeconds', 600),
    kernelArguments: requireString(data.kernelArguments, 'kernelArguments', /^[^\n"]*$/),
    terminfo: terminfo as string[],
  };
}

/** Reads the Linux medium's profile. */
export async function readLinuxProfile(): Promise<LinuxProfile> {
  return parseLinuxProfile(JSON.parse(await readFile(path.join(LINUX_IMAGE_DIR, 'profile.json'), 'utf8')));
}

/** Replaces @NAME@ placeholders; an unknown or unfilled placeholder is an error, not a silent blank. */
export function renderTemplate(text: string, values: Readonly<Record<string, string | number>>): string {
  const rendered = text.replace(/@([A-Z][A-Z0-9_]*)@/g, (whole, name: string) => {
    const value = values[name];
    if (value === undefined) throw new Error(`template placeholder ${whole} has no value`);
    return String(value);
  });
  return rendered;
}
