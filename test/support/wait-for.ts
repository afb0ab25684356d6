/**
 * Bounded polling for tests against real, eventually consistent systems (an apiserver, an
 * operator, a reloading service): the probe runs until it returns something other than
 * undefined/false, a thrown probe counts as "not yet", and the timeout fails the test with what
 * was awaited and the last error.
 *
 * @example
 * ```ts
 * const ready = await waitFor('Ready True', async () => (await readStatus()).ready || undefined, 20_000);
 * ```
 */
import assert from 'node:assert/strict';

export async function waitFor<T>(
  what: string,
  probe: () => T | undefined | false | Promise<T | undefined | false>,
  timeoutMs = 20_000,
  intervalMs = 150,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let lastError: unknown;
  for (;;) {
    const value = await Promise.resolve()
      .then(probe)
      .catch((error: unknown) => {
        lastError = error;
        return undefined;
      });
    if (value !== undefined && value !== false) return value;
    if (Date.now() > deadline)
      assert.fail(
        `timed out after ${timeoutMs} ms waiting for ${what}${lastError === undefined ? '' : ` (last error: ${String(lastError)})`}`,
      );
    await new Promise((resolve) => setTimeout(resolve, intervalMs));
  }
}
