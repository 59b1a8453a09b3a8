// npm run bench:media: the media figures of issue 2, measured side by side in one run.
//  - ISO size, cold build (empty cache: kernel downloaded) and warm rebuild (kernel cached);
//  - boot to "ready" (the unattended run's first marker) under QEMU/TCG, BIOS and UEFI, for
//    Lifeboat's ISO and for a grub-mkrescue ISO of the same kernel, initramfs and grub.cfg.
// Wall times on a shared 2-core machine are noisy: each boot is run RUNS times, the median shown.

import { mkdtemp, rm, stat } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { execa } from 'execa';
import { buildLinux } from '../builder/build-linux.ts';
import { DIST_DIR } from '../builder/paths.ts';
import { RUN_MARKERS } from '../rescue/core/kernel-cmdline.ts';
import { TEST_RUN_APPEND } from '../test/helpers/media.ts';
import { bootVm, type Firmware } from '../test/helpers/qemu.ts';

const RUNS = Number(process.env.BENCH_RUNS ?? 3);
const MiB = 1024 * 1024;
const quiet = () => undefined;

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)] ?? NaN;
}

async function timeBuild(output: string, cache: string): Promise<number> {
  const started = Date.now();
  await buildLinux({ output, kernel: undefined, cache, compressionLevel: undefined, append: TEST_RUN_APPEND, menuTimeout: 1 }, quiet);
  return (Date.now() - started) / 1000;
}

async function bootToReady(iso: string, firmware: Firmware): Promise<number> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'lifeboat-bench-'));
  try {
    const disk = path.join(dir, 'disk.img');
    await execa('truncate', ['-s', '64M', disk]);
    const result = await bootVm({ firmware, medium: { kind: 'cdrom', file: iso }, disks: [{ file: disk, serial: 'BENCH' }], timeoutMs: 300_000, until: new RegExp(RUN_MARKERS.begin) });
    if (result.matchedAfterSeconds === undefined) throw new Error(`${iso} did not reach ready on ${firmware}`);
    return result.matchedAfterSeconds;
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

/** The baseline: grub-mkrescue over the same payload (kernel, initramfs, grub.cfg, markers), taken from our ISO. */
async function buildBaseline(ours: string, output: string): Promise<void> {
  const staging = await mkdtemp(path.join(os.tmpdir(), 'lifeboat-mkrescue-'));
  try {
    await execa('xorriso', ['-osirrox', 'on', '-indev', ours, '-extract', '/boot/vmlinuz', `${staging}/boot/vmlinuz`, '-extract', '/boot/initrd.zst', `${staging}/boot/initrd.zst`,
      '-extract', '/boot/grub/grub.cfg', `${staging}/boot/grub/grub.cfg`, '-extract', '/.disk', `${staging}/.disk`]);
    await execa('grub-mkrescue', ['-o', output, staging]);
  } finally {
    await rm(staging, { recursive: true, force: true });
  }
}

const benchDir = path.join(DIST_DIR, 'bench');
await rm(benchDir, { recursive: true, force: true });
const coldCache = await mkdtemp(path.join(os.tmpdir(), 'lifeboat-cold-cache-'));
const iso = path.join(benchDir, 'lifeboat.iso');
console.log('building (cold: empty cache, kernel downloaded with apt-get)...');
const cold = await timeBuild(iso, coldCache);
console.log('building again (warm: kernel cached)...');
const warm = await timeBuild(iso, coldCache);
await rm(coldCache, { recursive: true, force: true });
const isoBytes = (await stat(iso)).size;

const baseline = path.join(benchDir, 'grub-mkrescue.iso');
await buildBaseline(iso, baseline);
const baselineBytes = (await stat(baseline)).size;

const rows: Array<[string, number, number]> = [];
for (const firmware of ['seabios', 'ovmf'] as const) {
  const ours: number[] = [];
  const theirs: number[] = [];
  for (let run = 0; run < RUNS; run += 1) {
    ours.push(await bootToReady(iso, firmware));
    theirs.push(await bootToReady(baseline, firmware));
  }
  rows.push([firmware, median(ours), median(theirs)]);
}

const line = (label: string, value: string) => console.log(`${label.padEnd(44)} ${value}`);
console.log('\nLifeboat media figures (issue 2)');
line('ISO size', `${(isoBytes / MiB).toFixed(1)} MiB (goal <= 100 MiB; grub-mkrescue of the same payload: ${(baselineBytes / MiB).toFixed(1)} MiB, ratio ${(isoBytes / baselineBytes).toFixed(2)})`);
line('  for scale', 'Clonezilla live ~450 MB, SystemRescue ~900 MB, Rescuezilla ~1.1 GB (published sizes)');
line('cold build (empty cache, kernel download)', `${cold.toFixed(1)} s`);
line('warm rebuild (kernel cached)', `${warm.toFixed(1)} s (goal <= 60 s)`);
for (const [firmware, ours, theirs] of rows) {
  line(`boot to ready, ${firmware} CD, median of ${RUNS}`, `${ours.toFixed(1)} s vs grub-mkrescue ${theirs.toFixed(1)} s (ratio ${(ours / theirs).toFixed(2)})`);
}
