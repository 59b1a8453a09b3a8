// The text `sfdisk -d` writes (Clonezilla keeps it as sda-pt.sf): header lines `key: value`, then one
// line per partition `/dev/sda1 : start=2048, size=20480, type=83, bootable`. Parsed here without
// sfdisk, so an image can be inspected on any machine; every number is checked to be a safe integer.

import { LifeboatError } from '../errors.ts';

/** One partition line of the dump. */
export interface SfdiskPartition {
  readonly device: string;
  /** First sector (in `unit`, which sfdisk always writes as sectors). */
  readonly start: number;
  readonly size: number;
  /** MBR type in hex ("83", "c") or a GPT type GUID. */
  readonly type: string;
  readonly bootable: boolean;
  readonly uuid: string | undefined;
  readonly name: string | undefined;
  readonly attrs: string | undefined;
}

/** The whole dump. */
export interface SfdiskDump {
  readonly label: string;
  readonly labelId: string | undefined;
  readonly device: string | undefined;
  readonly unit: string;
  readonly firstLba: number | undefined;
  readonly lastLba: number | undefined;
  readonly sectorSize: number;
  readonly tableLength: number | undefined;
  readonly partitions: readonly SfdiskPartition[];
}

const MAX_DUMP_CHARS = 1024 * 1024;
const MAX_PARTITIONS = 4096;

/** Parses `sfdisk -d` output; anything malformed is LB_DEVICE_MBR_INVALID with the line number. */
export function parseSfdiskDump(text: string): SfdiskDump {
  if (text.length > MAX_DUMP_CHARS) throw dumpError(0, `the dump is over ${MAX_DUMP_CHARS} characters`);
  const header = new Map<string, string>();
  const partitions: SfdiskPartition[] = [];
  text.split(/\r?\n/).forEach((raw, index) => {
    const line = raw.trim();
    const lineNumber = index + 1;
    if (line === '' || line.startsWith('#')) return;
    const partition = /^(\S+)\s*:\s*(.*)$/.exec(line);
    if (partition && partition[1]?.startsWith('/')) {
      if (partitions.length >= MAX_PARTITIONS) throw dumpError(lineNumber, 'too many partitions');
      partitions.push(parsePartition(partition[1], partition[2] ?? '', lineNumber));
      return;
    }
    const field = /^([a-z-]+):\s*(.*)$/.exec(line);
    if (!field?.[1]) throw dumpError(lineNumber, `cannot read "${line.slice(0, 80)}"`);
    header.set(field[1], field[2] ?? '');
  });
  const label = header.get('label');
  if (label === undefined) throw dumpError(0, 'no "label:" line');
  const sectorSize = header.has('sector-size') ? toNumber(header.get('sector-size') ?? '', 0, 'sector-size') : 512;
  if (sectorSize < 512 || sectorSize > 65536 || (sectorSize & (sectorSize - 1)) !== 0) throw dumpError(0, `sector-size ${sectorSize} is not a power of two from 512 to 65536`);
  const optional = (key: string) => (header.has(key) ? toNumber(header.get(key) ?? '', 0, key) : undefined);
  return {
    label,
    labelId: header.get('label-id'),
    device: header.get('device'),
    unit: header.get('unit') ?? 'sectors',
    firstLba: optional('first-lba'),
    lastLba: optional('last-lba'),
    sectorSize,
    tableLength: optional('table-length'),
    partitions,
  };
}

function parsePartition(device: string, rest: string, line: number): SfdiskPartition {
  const fields = new Map<string, string>();
  const flags = new Set<string>();
  for (const item of splitFields(rest, line)) {
    const equals = item.indexOf('=');
    if (equals === -1) flags.add(item);
    else fields.set(item.slice(0, equals).trim(), unquote(item.slice(equals + 1).trim(), line));
  }
  const start = toNumber(fields.get('start') ?? '', line, 'start');
  const size = toNumber(fields.get('size') ?? '', line, 'size');
  const type = fields.get('type') ?? fields.get('Id');
  if (type === undefined || !/^[0-9a-fA-F-]{1,36}$/.test(type)) throw dumpError(line, `partition ${device} has no valid type`);
  return { device, start, size, type, bootable: flags.has('bootable'), uuid: fields.get('uuid'), name: fields.get('name'), attrs: fields.get('attrs') };
}

/** Splits at commas outside double quotes. */
function splitFields(text: string, line: number): string[] {
  const items: string[] = [];
  let current = '';
  let quoted = false;
  for (let i = 0; i < text.length; i += 1) {
    const char = text[i] as string;
    if (char === '\\' && quoted) {
      current += char + (text[i + 1] ?? '');
      i += 1;
    } else if (char === '"') {
      quoted = !quoted;
      current += char;
    } else if (char === ',' && !quoted) {
      items.push(current.trim());
      current = '';
    } else current += char;
  }
  if (quoted) throw dumpError(line, 'an unclosed quote');
  if (current.trim() !== '') items.push(current.trim());
  return items.filter((item) => item !== '');
}

function unquote(value: string, line: number): string {
  if (!value.startsWith('"')) return value;
  if (!value.endsWith('"') || value.length < 2) throw dumpError(line, `bad quoted value ${value.slice(0, 80)}`);
  return value.slice(1, -1).replace(/\\x([0-9a-fA-F]{2})|\\(.)/g, (_, hex: string | undefined, char: string | undefined) => (hex ? String.fromCharCode(Number.parseInt(hex, 16)) : (char ?? '')));
}

function toNumber(text: string, line: number, what: string): number {
  if (!/^\d{1,16}$/.test(text.trim())) throw dumpError(line, `${what} "${text.slice(0, 40)}" is not a whole number`);
  const value = Number(text.trim());
  if (!Number.isSafeInteger(value)) throw dumpError(line, `${what} ${text} is too large`);
  return value;
}

function dumpError(line: number, detail: string): LifeboatError {
  return new LifeboatError('LB_DEVICE_MBR_INVALID', { detail: `sfdisk dump${line ? ` line ${line}` : ''}: ${detail}`, line });
}
