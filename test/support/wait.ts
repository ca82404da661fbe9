/**
 * Waiting for an event in a test: poll until `condition` holds, or fail after a deadline
 * generous enough for a busy 2-core machine. The poll interval is only how often the
 * condition is looked at; nothing is asserted before it holds.
 */
export async function waitUntil(
  condition: () => boolean,
  what: string,
  { timeoutMs = 30_000, pollMs = 20, detail = () => '' }: WaitOptions = {},
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline)
      throw new Error(`timed out after ${String(timeoutMs)} ms waiting for ${what} ${detail()}`);
    await new Promise((resolve) => setTimeout(resolve, pollMs));
  }
}

export interface WaitOptions {
  /** How long the event may take (default 30 s). */
  readonly timeoutMs?: number;
  /** How often the condition is checked (default 20 ms). */
  readonly pollMs?: number;
  /** More to say when the deadline passes. */
  readonly detail?: () => string;
}
