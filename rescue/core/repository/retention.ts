// Which snapshots `forget` keeps: restic's policy model. Snapshots are grouped by what they are a
// backup of (kind and source disk), and within each group a snapshot is kept when any rule keeps
// it. Every snapshot is complete on its own, so forgetting one never breaks another.

/** How many snapshots each rule keeps; undefined rules keep nothing. */
export interface RetentionPolicy {
  readonly keepLast?: number;
  readonly keepDaily?: number;
  readonly keepWeekly?: number;
  readonly keepMonthly?: number;
}

/** What the policy needs to know of a snapshot. */
export interface RetentionCandidate {
  readonly id: string;
  readonly time: string;
  readonly group: string;
}

/** A snapshot and why it is kept (empty reasons: it is forgotten). */
export interface RetentionDecision {
  readonly id: string;
  readonly keep: boolean;
  readonly reasons: readonly string[];
}

/** True when no rule is set (forget would then remove everything: callers refuse that). */
export function isEmptyPolicy(policy: RetentionPolicy): boolean {
  return !policy.keepLast && !policy.keepDaily && !policy.keepWeekly && !policy.keepMonthly;
}

function isoWeek(date: Date): string {
  const day = new Date(Date.UTC(date.getUTCFullYear(), date.getUTCMonth(), date.getUTCDate()));
  const weekday = day.getUTCDay() || 7;
  day.setUTCDate(day.getUTCDate() + 4 - weekday);
  const yearStart = Date.UTC(day.getUTCFullYear(), 0, 1);
  const week = Math.ceil(((day.getTime() - yearStart) / 86_400_000 + 1) / 7);
  return `${day.getUTCFullYear()}-W${String(week).padStart(2, '0')}`;
}

const BUCKETS: ReadonlyArray<{ rule: keyof RetentionPolicy; name: string; bucket: (date: Date) => string }> = [
  { rule: 'keepLast', name: 'last', bucket: () => '' },
  { rule: 'keepDaily', name: 'daily', bucket: (date) => date.toISOString().slice(0, 10) },
  { rule: 'keepWeekly', name: 'weekly', bucket: isoWeek },
  { rule: 'keepMonthly', name: 'monthly', bucket: (date) => date.toISOString().slice(0, 7) },
];

/** Applies the policy; returns one decision per snapshot, newest first within each group. */
export function applyRetention(snapshots: readonly RetentionCandidate[], policy: RetentionPolicy): RetentionDecision[] {
  const groups = new Map<string, RetentionCandidate[]>();
  for (const snapshot of snapshots) groups.set(snapshot.group, [...(groups.get(snapshot.group) ?? []), snapshot]);
  const decisions: RetentionDecision[] = [];
  for (const members of groups.values()) {
    const newestFirst = [...members].sort((a, b) => Date.parse(b.time) - Date.parse(a.time) || b.id.localeCompare(a.id));
    const reasons = new Map<string, string[]>(newestFirst.map((snapshot) => [snapshot.id, []]));
    for (const { rule, name, bucket } of BUCKETS) {
      const limit = policy[rule] ?? 0;
      const seen = new Set<string>();
      let counter = 0;
      for (const snapshot of newestFirst) {
        if (counter >= limit) break;
        const key = rule === 'keepLast' ? snapshot.id : bucket(new Date(snapshot.time));
        if (seen.has(key)) continue;
        seen.add(key);
        counter++;
        reasons.get(snapshot.id)?.push(name === 'last' ? 'last' : `${name} ${key}`);
      }
    }
    for (const snapshot of newestFirst) {
      const why = reasons.get(snapshot.id) ?? [];
      decisions.push({ id: snapshot.id, keep: why.length > 0, reasons: why });
    }
  }
  return decisions;
}
