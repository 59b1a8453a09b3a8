// Crash safety of the image repository: backups and `forget --prune` SIGKILLed (whole process group,
// like a power cut) at seeded random moments spread over their run. After every kill the next
// commands must go on past the stale lock, `check --read-data` must pass, and every snapshot saved
// before must restore byte for byte as it did when it was saved.

import test, { type ExecutionContext } from 'ava';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { prng } from '../helpers/mutation.ts';
import {
  MiB,
  describe,
  doneSnapshotId,
  jsonEvents,
  lifeboat,
  listSnapshots,
  makeExt4Image,
  mutateTree,
  repoFiles,
  restoredSha256,
  sha256File,
  startLifeboat,
  writeMixedTree,
  type CliResult,
} from '../helpers/repository-harness.ts';

const SEED = 0x4c1fe;
const IMAGE_BYTES = 64 * MiB;
const TREE_BYTES = 24 * MiB;
const BACKUP_KILLS = 20;
const PRUNE_KILLS = 4;

/** A snapshot that must keep restoring to the same bytes. */
interface GoodSnapshot {
  readonly id: string;
  readonly sha256: string;
  readonly label: string;
}

/** Where a run is to be killed: after a delay, or at a fraction of a progress phase. */
type KillPlan = { kind: 'delay'; ms: number } | { kind: 'progress'; phase: 'backup' | 'verify' | 'prune'; fraction: number };

/** What happened to a run we meant to kill. */
interface KillOutcome {
  readonly result: CliResult;
  readonly killed: boolean;
  readonly elapsedMs: number;
  readonly at: string;
}

interface World {
  readonly dir: string;
  readonly tree: string;
  readonly source: string;
  readonly repo: string;
  readonly random: () => number;
  readonly good: GoodSnapshot[];
  typicalBackupMs: number;
}

function describePlan(plan: KillPlan): string {
  return plan.kind === 'delay' ? `after ${plan.ms} ms` : `at ${(plan.fraction * 100).toFixed(1)}% of ${plan.phase}`;
}

function pickBackupKill(random: () => number, typicalMs: number): KillPlan {
  const dice = random();
  if (dice < 0.5) return { kind: 'delay', ms: Math.round(20 + random() * Math.max(0, typicalMs * 0.95 - 20)) };
  return { kind: 'progress', phase: dice < 0.85 ? 'backup' : 'verify', fraction: random() };
}

/** Progress fraction of a --json progress line of `phase`, if it is one. */
function progressFraction(line: string, phase: string): number | undefined {
  const [event] = jsonEvents(line);
  if (event?.event !== 'progress' || event.phase !== phase) return undefined;
  const done = Number(event.bytesDone);
  const total = Number(event.bytesTotal);
  return total > 0 ? done / total : undefined;
}

/** Starts `args` and SIGKILLs its process group as `plan` says (or at the "done" event, whichever comes first). */
async function runAndKill(args: readonly string[], plan: KillPlan): Promise<KillOutcome> {
  let at = 'not killed';
  let timer: NodeJS.Timeout | undefined;
  const running = startLifeboat(args, (line) => {
    if (at !== 'not killed') return;
    const reached = plan.kind === 'progress' ? progressFraction(line, plan.phase) : undefined;
    if (plan.kind === 'progress' && reached !== undefined && reached >= plan.fraction) at = `${plan.phase} progress ${(reached * 100).toFixed(1)}%`;
    else if (jsonEvents(line)[0]?.event === 'done') at = 'done event';
    else return;
    running.kill();
  });
  if (plan.kind === 'delay') {
    timer = setTimeout(() => {
      if (at !== 'not killed') return;
      at = `${plan.ms} ms`;
      running.kill();
    }, plan.ms);
  }
  const result = await running.done;
  clearTimeout(timer);
  return { result, killed: result.signal === 'SIGKILL', elapsedMs: Date.now() - running.startedAt, at };
}

/** A backup that must complete; returns its snapshot id and how long it took. */
async function completeBackup(t: ExecutionContext, world: World, label: string): Promise<{ id: string; ms: number }> {
  const started = Date.now();
  const result = await lifeboat(['backup', 'partition', world.source, '-r', world.repo, '--json', '--note', label]);
  const ms = Date.now() - started;
  t.is(result.exitCode, 0, `backup ${label}: ${describe(result)}`);
  const id = doneSnapshotId(result.stdout);
  if (id === undefined) throw new Error(`backup ${label}: no done event with a snapshot id\n${describe(result)}`);
  return { id, ms };
}

/** Rebuilds the source image from the (mutated) tree; returns its SHA-256. */
async function rebuildSource(t: ExecutionContext, world: World, round: number): Promise<string> {
  const change = round === 0 ? 'initial tree' : await mutateTree(world.tree, world.random, round);
  await makeExt4Image(world.source, IMAGE_BYTES, world.tree);
  t.log(`round ${round}: source ${change}`);
  return sha256File(world.source);
}

/** A snapshot restored into a fresh file equals the source image it was taken from (mkfs -d leaves unused blocks zero). */
async function addGood(t: ExecutionContext, world: World, id: string, sourceSha: string, label: string): Promise<void> {
  const sha256 = await restoredSha256(world.repo, id, world.dir);
  t.is(sha256, sourceSha, `${label}: a fresh restore of ${id.slice(0, 8)} differs from the source image it was taken from`);
  world.good.push({ id, sha256, label });
}

/** `check --read-data` passes and every good snapshot restores to its recorded bytes. */
async function verifyRepository(t: ExecutionContext, world: World, after: string): Promise<void> {
  const started = Date.now();
  const check = await lifeboat(['check', '-r', world.repo, '--read-data']);
  t.is(check.exitCode, 0, `check --read-data after ${after}: ${describe(check)}`);
  const checkMs = Date.now() - started;
  for (const snapshot of world.good) {
    let sha256: string;
    try {
      sha256 = await restoredSha256(world.repo, snapshot.id, world.dir);
    } catch (error) {
      t.fail(`after ${after}: ${snapshot.label} (${snapshot.id.slice(0, 8)}) no longer restores: ${(error as Error).message}`);
      continue;
    }
    t.is(sha256, snapshot.sha256, `after ${after}: ${snapshot.label} (${snapshot.id.slice(0, 8)}) restores to different bytes`);
  }
  t.log(`  after ${after}: check ${checkMs} ms, ${world.good.length} snapshots restored in ${Date.now() - started - checkMs} ms`);
}

/** Snapshots listed now that the good set does not know: a killed run that got as far as saving its snapshot. */
async function adoptNewSnapshots(t: ExecutionContext, world: World, sourceSha: string, label: string): Promise<void> {
  const listed = await listSnapshots(world.repo);
  for (const entry of listed) {
    if (world.good.some((snapshot) => snapshot.id === entry.id)) continue;
    t.log(`  ${label}: the killed run saved snapshot ${entry.shortId}; it must be complete`);
    await addGood(t, world, entry.id, sourceSha, `${label} (saved before the kill)`);
  }
  for (const snapshot of world.good) t.true(listed.some((entry) => entry.id === snapshot.id), `${snapshot.label} (${snapshot.id.slice(0, 8)}) vanished from the list after ${label}`);
}

async function lockFiles(repo: string): Promise<string[]> {
  return repoFiles(repo, 'locks', '.json');
}

/** One round: change the source, back up, kill; then everything saved before must be intact. */
async function killedBackupRound(t: ExecutionContext, world: World, round: number): Promise<{ killed: boolean; staleLock: boolean }> {
  const sourceSha = await rebuildSource(t, world, round);
  const plan = pickBackupKill(world.random, world.typicalBackupMs);
  const locksBefore = await lockFiles(world.repo);
  const outcome = await runAndKill(['backup', 'partition', world.source, '-r', world.repo, '--json', '--note', `round ${round}`], plan);
  const locks = (await lockFiles(world.repo)).filter((file) => !locksBefore.includes(file));
  t.log(`round ${round}: kill planned ${describePlan(plan)}; ${outcome.killed ? `killed at ${outcome.at}` : `exited ${outcome.result.exitCode}`} after ${outcome.elapsedMs} ms; ${locks.length} new lock file(s) left`);
  if (!outcome.killed) {
    t.is(outcome.result.exitCode, 0, `round ${round}: a backup that was not killed must succeed: ${describe(outcome.result)}`);
    world.typicalBackupMs = outcome.elapsedMs;
  }
  await adoptNewSnapshots(t, world, sourceSha, `round ${round}`);
  await verifyRepository(t, world, `round ${round}`);
  return { killed: outcome.killed, staleLock: outcome.killed && locks.length > 0 };
}

/** A round whose backup runs to its end and joins the good set. */
async function completedBackupRound(t: ExecutionContext, world: World, round: number): Promise<void> {
  const sourceSha = await rebuildSource(t, world, round);
  const { id, ms } = await completeBackup(t, world, `round ${round}`);
  world.typicalBackupMs = ms;
  t.log(`round ${round}: complete backup ${id.slice(0, 8)} in ${ms} ms`);
  await addGood(t, world, id, sourceSha, `round ${round}`);
  await verifyRepository(t, world, `round ${round}`);
}

/** Forgets one snapshot (a run to its end, no prune); it leaves the good set. */
async function forgetSnapshot(t: ExecutionContext, world: World, victim: GoodSnapshot): Promise<void> {
  const result = await lifeboat(['forget', '-r', world.repo, victim.id]);
  t.is(result.exitCode, 0, `forget ${victim.label}: ${describe(result)}`);
  world.good.splice(world.good.indexOf(victim), 1);
  const listed = await listSnapshots(world.repo);
  t.false(listed.some((entry) => entry.id === victim.id), `${victim.label} is still listed after forget`);
}

function pickPruneKill(random: () => number, typicalMs: number): KillPlan {
  if (random() < 0.5) return { kind: 'delay', ms: Math.round(20 + random() * Math.max(0, typicalMs * 0.95 - 20)) };
  return { kind: 'progress', phase: 'prune', fraction: random() };
}

/** The pack and temporary files under data/, to see whether a killed prune had started changing them. */
async function dataFiles(repo: string): Promise<string> {
  return (await repoFiles(repo, 'data')).map((file) => path.basename(file)).join(',');
}

/** Forgets a snapshot, then runs `forget --prune` and kills it as `plan` says (or lets it finish when undefined). */
async function pruneRound(t: ExecutionContext, world: World, victim: GoodSnapshot, plan: KillPlan | undefined): Promise<{ killed: boolean; midPrune: boolean; ms: number }> {
  await forgetSnapshot(t, world, victim);
  const before = await dataFiles(world.repo);
  const outcome = await runAndKill(['forget', '-r', world.repo, '--prune', '--json'], plan ?? { kind: 'delay', ms: 3_600_000 });
  const midPrune = outcome.killed && (await dataFiles(world.repo)) !== before;
  const locks = await lockFiles(world.repo);
  t.log(`forget ${victim.label}, then forget --prune ${plan ? `to be killed ${describePlan(plan)}` : 'to its end'}: ${outcome.killed ? `killed at ${outcome.at}` : `exited ${outcome.result.exitCode}`} after ${outcome.elapsedMs} ms; ${outcome.killed ? `data/ ${midPrune ? 'changed (killed mid-prune)' : 'unchanged'}; ` : ''}${locks.length} lock file(s)`);
  if (!outcome.killed) t.is(outcome.result.exitCode, 0, `forget --prune: ${describe(outcome.result)}`);
  const listed = (await listSnapshots(world.repo)).map((entry) => entry.id).sort();
  t.deepEqual(listed, world.good.map((snapshot) => snapshot.id).sort(), 'prune changed the list of snapshots');
  await verifyRepository(t, world, `forget --prune after forgetting ${victim.label}`);
  return { killed: outcome.killed, midPrune, ms: outcome.elapsedMs };
}

test('SIGKILL at random moments of backups and of forget --prune never damages what was saved before', async (t) => {
  t.timeout(75 * 60_000);
  const dir = await mkdtemp(path.join(os.tmpdir(), 'lifeboat-crash-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  const world: World = {
    dir,
    tree: path.join(dir, 'tree'),
    source: path.join(dir, 'source.img'),
    repo: path.join(dir, 'repo'),
    random: prng(SEED),
    good: [],
    typicalBackupMs: 0,
  };
  await writeMixedTree(world.tree, world.random, TREE_BYTES);

  const firstSha = await rebuildSource(t, world, 0);
  const first = await completeBackup(t, world, 'round 0');
  t.log(`round 0: first backup ${first.id.slice(0, 8)} of a ${IMAGE_BYTES / MiB} MiB image (${TREE_BYTES / MiB} MiB of files) in ${first.ms} ms`);
  world.typicalBackupMs = first.ms;
  await addGood(t, world, first.id, firstSha, 'round 0');

  let kills = 0;
  let staleLocks = 0;
  for (let round = 1; kills < BACKUP_KILLS && round <= BACKUP_KILLS * 2; round++) {
    if (round % 4 === 0) {
      await completedBackupRound(t, world, round);
      continue;
    }
    const outcome = await killedBackupRound(t, world, round);
    if (outcome.killed) kills++;
    if (outcome.staleLock) staleLocks++;
  }
  t.true(kills >= BACKUP_KILLS, `only ${kills} backups were killed`);
  t.true(staleLocks > 0, 'no killed backup left a lock file in REPO/locks, so stale-lock detection was never exercised');

  // forget --prune: one run to its end to learn how long it takes, then kills spread over that time.
  const finished = await pruneRound(t, world, world.good[0]!, undefined);
  let pruneKills = 0;
  let midPruneKills = 0;
  for (let attempt = 0; (pruneKills < PRUNE_KILLS || midPruneKills === 0) && attempt < PRUNE_KILLS * 4; attempt++) {
    if (world.good.length < 3) await completedBackupRound(t, world, 100 + attempt);
    const victim = world.good[Math.floor(world.random() * (world.good.length - 1))]!;
    const outcome = await pruneRound(t, world, victim, pickPruneKill(world.random, finished.ms));
    if (outcome.killed) pruneKills++;
    if (outcome.midPrune) midPruneKills++;
  }
  t.true(pruneKills >= PRUNE_KILLS, `only ${pruneKills} forget --prune runs were killed`);
  t.true(midPruneKills > 0, 'no kill landed while prune was changing data/');

  // A prune run to its end removes what the killed runs left behind.
  const prune = await lifeboat(['forget', '-r', world.repo, '--prune']);
  t.is(prune.exitCode, 0, `forget --prune: ${describe(prune)}`);
  const temporary = (await repoFiles(world.repo, '')).filter((file) => file.endsWith('.tmp'));
  t.deepEqual(temporary, [], 'a completed prune leaves no *.tmp files (FORMAT.md: "removed by prune")');
  const afterPrune = await lifeboat(['check', '-r', world.repo, '--read-data']);
  t.is(afterPrune.exitCode, 0, `check --read-data after the completed prune: ${describe(afterPrune)}`);

  // Afterwards the repository takes a normal backup and everything is still sound; successful commands release their locks.
  const staleBefore = await lockFiles(world.repo);
  await completedBackupRound(t, world, 200);
  const locks = (await lockFiles(world.repo)).filter((file) => !staleBefore.includes(file));
  t.deepEqual(locks, [], `lock files left by successful commands: ${locks.join(', ')}`);
  t.log(`${kills} backup kills (${staleLocks} left a stale lock), ${pruneKills} prune kills (${midPruneKills} while data/ was changing)`);
});
