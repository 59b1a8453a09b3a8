// Runs async work over a stream of items with bounded concurrency: how backup and restore keep
// reads, hashing, (de)compression and writes overlapping without holding the whole disk in memory.

/** Runs `work` over items with at most `limit` at once; the first failure stops the run and is thrown. */
export async function forEachLimited<T>(items: AsyncIterable<T> | Iterable<T>, limit: number, work: (item: T) => Promise<void>): Promise<void> {
  const running = new Set<Promise<void>>();
  let failure: { error: unknown } | undefined;
  for await (const item of items) {
    if (failure) break;
    const task = work(item).catch((error: unknown) => {
      failure ??= { error };
    });
    running.add(task);
    void task.finally(() => running.delete(task));
    if (running.size >= limit) await Promise.race(running);
  }
  await Promise.all(running);
  if (failure) throw failure.error;
}
