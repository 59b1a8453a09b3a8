// Filesystems that others have broken: the 218 images of e2fsprogs' own test suite (most damaged on
// purpose; test/helpers/e2fs-corpus.ts says where they are and why they stay outside the repository).
// Every command that reads a filesystem runs over each image (test/helpers/e2fs-corpus-runner.ts,
// in-process through runCli, two processes at a time): disks --json, the reader's walk, ls -l and
// ls -l --json, get /, backup partition into a repository, get from that snapshot, check.
// - Each step ends in success or a coded error: never LB_INTERNAL, an error without a code, a stack
//   trace, a crash or a hang (a step still running after STEP_LIMIT_MS kills its process).
// - The used-block map is sound: the files read back out of the snapshot equal those read from the
//   image (a block the map left out reads as zeros from the snapshot).
// - Where e2fsck -fn calls an image clean (after replaying its journal on a copy with
//   e2fsck -E journal_only -fy when it needs recovery), get / gives the files debugfs rdump gives:
//   content, type, mode, owner, mtime and symlink targets, which is what rdump keeps (not device
//   nodes, fifos or sockets). Where the reference itself is wrong, REFERENCE_WRONG says so per image;
//   where Lifeboat does not read what debugfs reads, LIFEBOAT_DIFFERS says why.
// The summary test logs how many images ended in success or which codes, how many compared equal.

import test from 'ava';
import { execa } from 'execa';
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { copyFile, lstat, mkdir, mkdtemp, open, readdir, readFile, readlink, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { PROJECT_ROOT } from '../../builder/paths.ts';
import { listE2fsCorpus, unpackE2fsImage } from '../helpers/e2fs-corpus.ts';
import type { CorpusStep, CorpusStepResult } from '../helpers/e2fs-corpus-runner.ts';

/** A step still running after this long is a hang (the slowest, get of f_many_subdirs' 130,000 entries, takes ~40 s of CPU). */
const STEP_LIMIT_MS = 300_000;
/** e2fsck -fn loops for minutes on a few images (f_illitable_flexbg, f_misstable): those are not compared. */
const REFERENCE_LIMIT_MS = 60_000;
const RUNNERS = 2;
const IMAGES_PER_RUNNER = 8;
const STEPS: readonly CorpusStep[] = ['disks', 'tree', 'ls', 'get', 'init', 'backup', 'snapshot-get', 'check'];
const RUNNER = path.join(PROJECT_ROOT, 'test', 'helpers', 'e2fs-corpus-runner.ts');

/**
 * Images e2fsck calls clean where the reference (debugfs rdump, or e2fsck's replay before it) does
 * not give the files as they are: what it does differently, and the paths left out of the comparison.
 */
const REFERENCE_WRONG: Readonly<Record<string, { readonly reason: string; readonly paths: RegExp }>> = {
  d_inline_dump: { reason: 'rdump writes an inline-data file\'s whole inline area (60 bytes of i_block), not its size (/shortfile is 20 bytes)', paths: /^\/shortfile$/ },
  f_journal: { reason: 'e2fsck -E journal_only also moves the visible journal file /journal to the hidden inode 8 (e2fsck_move_ext3_journal); the replayed filesystem itself still names it', paths: /^\/journal$/ },
};

/**
 * Images whose used-block map misses a block the files need, where no map read from the bitmaps can
 * know it: the bitmap and the group's free count agree on a lie that only a walk of every inode
 * (e2fsck's pass 1) finds. The map trusts the bitmaps, as partclone does.
 */
const MAP_MISSES: Readonly<Record<string, string>> = {
  f_bitmaps: 'the block bitmap marks block 12, /lost+found\'s folder block, free (e2fsck: block bitmap differences -12), and group 0\'s free count (78) agrees; the snapshot lacks it, so /lost+found cannot be read from the snapshot (it is empty on the image)',
};

/** Images e2fsck calls clean and debugfs reads, where Lifeboat does not read some entries as debugfs does: why. */
const LIFEBOAT_DIFFERS: Readonly<Record<string, { readonly reason: string; readonly paths: RegExp }>> = {
  j_recover_fast_commit: { reason: 'the journal\'s fast-commit area is not replayed (a notice says so): /a reads as the last full commit left it; e2fsck replays fast commits', paths: /^\/a\/(old|data|new)$/ },
};

/** How one image's step ended, or why it did not. */
type StepOutcome = CorpusStepResult | { readonly image: string; readonly step: CorpusStep; readonly failed: string };

/** What e2fsck and debugfs say of one image. */
interface Reference {
  /** e2fsck -fn's exit code on the image (or its replayed copy); undefined when it did not finish. */
  readonly fsckExit: number | undefined;
  readonly replayed: boolean;
  /** rdump's folder when e2fsck called the image clean. */
  readonly rdump?: string;
  readonly note?: string;
}

interface ImageResults {
  readonly steps: Map<CorpusStep, StepOutcome>;
  readonly reference: Reference;
}

const corpus = await listE2fsCorpus().then((names) => ({ names }), (error: unknown) => ({ error: error as Error }));

if ('error' in corpus) {
  test('the e2fsprogs test images are there', (t) => {
    t.fail(corpus.error.message);
  });
} else {
  const names = corpus.names;
  let work = '';
  const results = new Map<string, { promise: Promise<ImageResults>; resolve: (value: ImageResults) => void }>();
  for (const name of names) {
    let resolve!: (value: ImageResults) => void;
    const promise = new Promise<ImageResults>((done) => (resolve = done));
    results.set(name, { promise, resolve });
  }
  const timing = { started: 0, runners: 0, references: 0 };
  let everything: Promise<void> = Promise.resolve();

  test.before(async () => {
    work = await mkdtemp(path.join(os.tmpdir(), 'lifeboat-e2fs-corpus-'));
    await mkdir(path.join(work, 'img'));
    await mkdir(path.join(work, 'ref'));
    timing.started = performance.now();
    for (const name of names) await unpackE2fsImage(name, imagePath(name));
    everything = runEverything(names).catch((error: unknown) => {
      for (const name of names) results.get(name)!.resolve({ steps: new Map(STEPS.map((step) => [step, { image: name, step, failed: `the corpus run failed: ${String(error)}` }])), reference: { fsckExit: undefined, replayed: false } });
    });
  });

  test.after.always(async () => {
    if (work) await rm(work, { recursive: true, force: true });
  });

  function imagePath(name: string): string {
    return path.join(work, 'img', `${name}.img`);
  }

  /** Runs the Lifeboat side and the reference side of every image; resolves each image as soon as both are in. */
  async function runEverything(all: readonly string[]): Promise<void> {
    const steps = new Map<string, Map<CorpusStep, StepOutcome>>(all.map((name) => [name, new Map()]));
    const references = new Map<string, Reference>();
    const settle = (name: string) => {
      const reference = references.get(name);
      const done = steps.get(name)!;
      if (reference && done.has('check')) results.get(name)!.resolve({ steps: done, reference });
    };
    const lifeboatSide = (async () => {
      const started = performance.now();
      const chunks: string[][] = [];
      for (let at = 0; at < all.length; at += IMAGES_PER_RUNNER) chunks.push(all.slice(at, at + IMAGES_PER_RUNNER));
      await pool(chunks, RUNNERS, (chunk) => runChunk(chunk, (name, outcome) => {
        steps.get(name)!.set(outcome.step, outcome);
        settle(name);
      }));
      timing.runners = performance.now() - started;
    })();
    const referenceSide = (async () => {
      const started = performance.now();
      await pool(all, 1, async (name) => {
        references.set(name, await reference(name));
        settle(name);
      });
      timing.references = performance.now() - started;
    })();
    await Promise.all([lifeboatSide, referenceSide]);
  }

  async function pool<T>(items: readonly T[], width: number, work: (item: T) => Promise<void>): Promise<void> {
    let next = 0;
    await Promise.all(Array.from({ length: width }, async () => {
      while (next < items.length) await work(items[next++]!);
    }));
  }

  /** Runs images through runner processes; a hang or crash costs the step it hit, the rest of the images go on in a new process. */
  async function runChunk(chunk: readonly string[], report: (name: string, outcome: StepOutcome) => void): Promise<void> {
    let remaining = [...chunk];
    while (remaining.length > 0) {
      const { current, reason } = await runProcess(remaining, report);
      if (!current) return;
      const name = path.basename(current.image, '.img');
      report(name, { image: current.image, step: current.step, failed: reason });
      for (const step of STEPS.slice(STEPS.indexOf(current.step) + 1)) report(name, { image: current.image, step, failed: `not run: ${current.step} failed before it` });
      remaining = remaining.slice(remaining.indexOf(name) + 1);
    }
  }

  /** One runner process over `names`; returns the step it was in when it hung or died (none when it finished). */
  function runProcess(names: readonly string[], report: (name: string, outcome: StepOutcome) => void): Promise<{ current?: { image: string; step: CorpusStep }; reason: string }> {
    return new Promise((resolve) => {
      const { LIFEBOAT_PASSWORD: _password, ...inherited } = process.env;
      const child = spawn(process.execPath, [RUNNER, path.join(work, 'out'), ...names.map(imagePath)], {
        cwd: PROJECT_ROOT,
        env: { ...inherited, LIFEBOAT_LOG_DIR: path.join(work, 'logs'), LIFEBOAT_TMPDIR: path.join(work, 'tmp') },
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      let current: { image: string; step: CorpusStep } | undefined;
      let finished = false;
      let hung: string | undefined;
      let stderr = '';
      let timer: NodeJS.Timeout | undefined;
      child.stderr.setEncoding('utf8').on('data', (text: string) => (stderr = (stderr + text).slice(-4000)));
      createInterface({ input: child.stdout }).on('line', (line) => {
        const parsed = JSON.parse(line) as { start?: { image: string; step: CorpusStep }; done?: CorpusStepResult; finished?: boolean };
        if (parsed.start) {
          current = parsed.start;
          clearTimeout(timer);
          timer = setTimeout(() => {
            hung = `still running after ${STEP_LIMIT_MS / 1000} s: a hang`;
            child.kill('SIGKILL');
          }, STEP_LIMIT_MS);
        } else if (parsed.done) {
          clearTimeout(timer);
          current = undefined;
          report(path.basename(parsed.done.image, '.img'), parsed.done);
        } else if (parsed.finished) finished = true;
      });
      child.on('close', (code, signal) => {
        clearTimeout(timer);
        if (finished && code === 0) resolve({ reason: '' });
        else resolve({ ...(current ? { current } : {}), reason: hung ?? `the process ended (exit ${code}, signal ${signal}) inside the step: ${stderr}` });
      });
    });
  }

  async function run(command: string, args: readonly string[]): Promise<{ exitCode: number | undefined; output: string }> {
    const result = await execa(command, args, { reject: false, timeout: REFERENCE_LIMIT_MS, all: true, stdin: 'ignore' });
    return { exitCode: result.timedOut ? undefined : result.exitCode, output: String(result.all ?? '') };
  }

  /** e2fsck -fn (on a copy replayed by e2fsck -E journal_only -fy when the journal needs recovery), then rdump when clean. */
  async function reference(name: string): Promise<Reference> {
    let image = imagePath(name);
    const replayed = await needsRecovery(image);
    if (replayed) {
      const copy = path.join(work, 'ref', `${name}.replayed.img`);
      await copyFile(image, copy);
      const replay = await run('e2fsck', ['-E', 'journal_only', '-fy', copy]);
      if (replay.exitCode === undefined || replay.exitCode >= 4) return { fsckExit: replay.exitCode, replayed, note: `e2fsck -E journal_only -fy exited ${replay.exitCode}` };
      image = copy;
    }
    const fsck = await run('e2fsck', ['-fn', image]);
    if (fsck.exitCode !== 0) return { fsckExit: fsck.exitCode, replayed };
    const rdump = path.join(work, 'ref', name);
    await mkdir(rdump);
    const dumped = await run('debugfs', ['-R', `rdump / ${rdump}`, image]);
    if (dumped.exitCode !== 0) return { fsckExit: 0, replayed, note: `debugfs exited ${dumped.exitCode}: ${dumped.output.slice(0, 500)}` };
    if (/Filesystem not open/.test(dumped.output)) return { fsckExit: 0, replayed, note: `debugfs cannot open it: ${dumped.output.slice(0, 300)}` };
    return { fsckExit: 0, replayed, rdump };
  }

  async function needsRecovery(image: string): Promise<boolean> {
    const handle = await open(image, 'r');
    try {
      const sb = Buffer.alloc(1024);
      await handle.read(sb, 0, 1024, 1024);
      return sb.readUInt16LE(0x38) === 0xef53 && (sb.readUInt32LE(0x60) & 0x4) !== 0;
    } finally {
      await handle.close();
    }
  }

  /** What one image came to: the problems the test fails on, the code of each step, the debugfs comparison. */
  interface Verdict {
    readonly problems: string[];
    readonly codes: Map<CorpusStep, string>;
    readonly compared: 'equal' | 'different' | string;
    readonly notes: string[];
  }
  const verdicts = new Map<string, Promise<Verdict>>();
  const verdictOf = (name: string): Promise<Verdict> => {
    let pending = verdicts.get(name);
    if (!pending) verdicts.set(name, (pending = judge(name)));
    return pending;
  };

  async function judge(name: string): Promise<Verdict> {
    const { steps, reference } = await results.get(name)!.promise;
    const verdict: Verdict = { problems: [], codes: new Map(), compared: '', notes: [] };
    for (const step of STEPS) checkStep(verdict, name, steps.get(step) ?? { image: name, step, failed: 'no result' });
    const got = path.join(work, 'out', name, 'get');
    const get = steps.get('get');
    const backup = steps.get('backup');
    const snapshot = steps.get('snapshot-get');
    if (get && 'exitCode' in get && backup && 'exitCode' in backup && backup.exitCode === 0 && snapshot && 'exitCode' in snapshot && !snapshot.skipped) {
      const fromSnapshot = await describeFolder(path.join(work, 'out', name, 'snapshot-get'));
      const fromImage = await describeFolder(got);
      const differences = [...new Set([...fromSnapshot.keys(), ...fromImage.keys()])].filter((at) => fromSnapshot.get(at) !== fromImage.get(at));
      // Entries not restored are named on `note: PATH:` lines: the snapshot must leave out the same ones, with the same exit code.
      const noted = (text: string) => [...text.matchAll(/^note: (\/.*?): /gm)].map((match) => match[1]).sort().join(', ');
      if (noted(snapshot.stderr) !== noted(get.stderr)) differences.push(`entries not restored: from the snapshot [${noted(snapshot.stderr)}], from the image [${noted(get.stderr)}]`);
      if (snapshot.exitCode !== get.exitCode) differences.push(`exit ${snapshot.exitCode} from the snapshot, ${get.exitCode} from the image`);
      const misses = MAP_MISSES[name];
      if (misses) {
        verdict.notes.push(`the used-block map misses blocks: ${misses}`);
        if (differences.length === 0) verdict.problems.push(`${name} is in MAP_MISSES but its snapshot now reads as the image: remove it from the table`);
      } else if (differences.length > 0) verdict.problems.push(`the files read back out of the snapshot differ from those read from the image (the used-block map misses blocks they need): ${differences.slice(0, 5).join(', ')}`);
    }
    let compared: string;
    if (reference.rdump) compared = await compareWithDebugfs(verdict, name, got, reference.rdump, get);
    else compared = `not compared: e2fsck -fn ${reference.fsckExit === undefined ? 'did not finish' : `exited ${reference.fsckExit}`}${reference.note ? `; ${reference.note}` : ''}`;
    return { ...verdict, compared };
  }

  for (const name of names) {
    test(name, async (t) => {
      t.timeout(60 * 60_000); // results arrive as the corpus run reaches this image
      const verdict = await verdictOf(name);
      t.log(`${[...verdict.codes].map(([step, code]) => `${step} ${code}`).join(', ')}; debugfs: ${verdict.compared}`);
      for (const note of verdict.notes) t.log(note);
      t.deepEqual(verdict.problems, []);
    });
  }

  test('summary: outcomes of every step over the corpus, and the comparison with debugfs', async (t) => {
    t.timeout(60 * 60_000);
    const all = await Promise.all(names.map(async (name) => ({ name, verdict: await verdictOf(name) })));
    await everything;
    const clean = all.filter(({ verdict }) => [...verdict.codes.values()].every((code) => code.startsWith('ok'))).length;
    t.log(`${clean} of ${names.length} images: every step ended in success`);
    const byStep = new Map<string, Map<string, number>>();
    for (const { verdict } of all) {
      for (const [step, code] of verdict.codes) {
        const counts = byStep.get(step) ?? new Map<string, number>();
        counts.set(code, (counts.get(code) ?? 0) + 1);
        byStep.set(step, counts);
      }
    }
    for (const [step, counts] of byStep) t.log(`${step}: ${[...counts].sort((a, b) => b[1] - a[1]).map(([code, count]) => `${count} ${code}`).join(', ')}`);
    const equal = all.filter(({ verdict }) => verdict.compared === 'equal').length;
    const compared = all.filter(({ verdict }) => verdict.compared === 'equal' || verdict.compared === 'different').length;
    t.log(`debugfs rdump: ${compared} images e2fsck calls clean and debugfs reads were compared, ${equal} equal (${Object.keys(REFERENCE_WRONG).length + Object.keys(LIFEBOAT_DIFFERS).length} with paths left out, see the tables)`);
    t.log(`time: Lifeboat side ${(timing.runners / 1000).toFixed(0)} s (${RUNNERS} processes), e2fsck/debugfs side ${(timing.references / 1000).toFixed(0)} s`);
    t.is(all.length, names.length);
    t.true(compared >= 50, `at least 50 images compared with debugfs (${compared})`);
  });

  function checkStep(verdict: Verdict, name: string, outcome: StepOutcome): void {
    const what = `${name} ${outcome.step}`;
    if ('failed' in outcome) {
      verdict.codes.set(outcome.step, 'FAILED');
      verdict.problems.push(`${what}: ${outcome.failed}`);
      return;
    }
    if (outcome.alarms.length > 0) verdict.problems.push(`${what}: LB_INTERNAL or a stack trace in the output: ${outcome.alarms.join(' | ').slice(0, 1500)}`);
    if (outcome.exitCode === 0) {
      verdict.codes.set(outcome.step, outcome.skipped ? 'left out' : outcome.step === 'backup' && /sector by sector/.test(outcome.stdout) ? 'ok (sector by sector)' : 'ok');
      return;
    }
    const code = /lifeboat: (LB_[A-Z0-9_]+):/.exec(outcome.stderr)?.[1] ?? /"code":"(LB_[A-Z0-9_]+)"/.exec(outcome.stderr)?.[1] ?? /^(LB_[A-Z0-9_]+): /m.exec(outcome.stderr)?.[1];
    verdict.codes.set(outcome.step, code ?? 'NO CODE');
    if (!code) verdict.problems.push(`${what}: exit ${outcome.exitCode} without an error code: ${outcome.stderr.slice(0, 500)}`);
    else if (code === 'LB_INTERNAL') verdict.problems.push(`${what}: ${outcome.stderr.slice(0, 500)}`);
  }

  /** What rdump keeps of each entry below `root`: kind, content, target, mode, owner, mtime in whole seconds. */
  async function describeFolder(root: string, options: { rdumpKinds?: boolean } = {}): Promise<Map<string, string>> {
    const found = new Map<string, string>();
    const visit = async (folder: string, prefix: string): Promise<void> => {
      let names: string[];
      try {
        names = (await readdir(folder)).sort();
      } catch {
        return;
      }
      for (const entry of names) {
        const full = path.join(folder, entry);
        const at = `${prefix}/${entry}`;
        const stat = await lstat(full);
        const owner = `${(stat.mode & 0o7777).toString(8)} ${stat.uid}:${stat.gid} ${Math.floor(stat.mtimeMs / 1000)}`;
        if (stat.isSymbolicLink()) found.set(at, `link -> ${await readlink(full)}`);
        else if (stat.isDirectory()) {
          found.set(at, `dir ${owner}`);
          await visit(full, at);
        } else if (stat.isFile()) found.set(at, `file ${stat.size} ${createHash('sha256').update(await readFile(full)).digest('hex').slice(0, 16)} ${owner}`);
        else if (!options.rdumpKinds) found.set(at, `special ${stat.mode.toString(8)} ${stat.rdev} ${owner}`);
      }
    };
    await visit(root, '');
    return found;
  }

  async function compareWithDebugfs(verdict: Verdict, name: string, got: string, rdump: string, get: StepOutcome | undefined): Promise<string> {
    const differs = LIFEBOAT_DIFFERS[name];
    const wrong = REFERENCE_WRONG[name];
    if (wrong) verdict.notes.push(`left out of the comparison: ${wrong.reason}`);
    if (differs) verdict.notes.push(`left out of the comparison: ${differs.reason}`);
    if (!differs && !(get && 'exitCode' in get && get.exitCode === 0)) {
      verdict.problems.push(`e2fsck calls ${name} clean and debugfs reads it: get / must restore everything (${get && 'stderr' in get ? get.stderr.slice(-600) : ''})`);
    }
    const ours = await describeFolder(got, { rdumpKinds: true });
    const theirs = await describeFolder(rdump, { rdumpKinds: true });
    const skip = (at: string) => (wrong?.paths.test(at) ?? false) || (differs?.paths.test(at) ?? false);
    const differences: string[] = [];
    for (const at of new Set([...ours.keys(), ...theirs.keys()])) {
      if (skip(at)) continue;
      if (ours.get(at) !== theirs.get(at)) differences.push(`${at}: lifeboat ${ours.get(at) ?? 'missing'} | debugfs ${theirs.get(at) ?? 'missing'}`);
    }
    if (differences.length > 0) verdict.problems.push(`get / differs from debugfs rdump: ${differences.slice(0, 10).join('; ')}`);
    if (theirs.size > 0 && ours.size === 0) verdict.problems.push('get / restored nothing where debugfs restored files');
    return differences.length === 0 ? 'equal' : 'different';
  }
}
