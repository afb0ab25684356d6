/**
 * Runs reloads one at a time, latest request wins: a request while a reload runs is remembered
 * (replacing any earlier one still waiting), and exactly one more reload runs after the current
 * one. So two compiles never race, a burst of changes costs at most two reloads, and since each
 * reload reads the source when it starts, the last one always sees the last change — an older
 * result can never be applied after a newer one.
 *
 * @example
 * ```ts
 * const reload = coalesceReloads(async (trigger: string) => { await compileAndApply(trigger); });
 * void reload('event'); void reload('event'); // the second waits, then runs once
 * await reload('start');                      // resolves once no request is left waiting
 * ```
 */
export function coalesceReloads<T>(run: (request: T) => Promise<void>): (request: T) => Promise<void> {
  let loop: Promise<void> | undefined;
  let pending: { request: T } | undefined;
  return (request) => {
    pending = { request }; // the latest request wins
    loop ??= (async () => {
      while (pending !== undefined) {
        const next = pending.request;
        pending = undefined;
        // A failed reload is the runner's to report; it must not stop the ones after it.
        await run(next).catch(() => undefined);
      }
      loop = undefined;
    })();
    return loop;
  };
}
