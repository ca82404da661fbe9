import { InFlight } from '../../kit/deadline.ts';
import { TimeoutError } from '../../kit/errors.ts';

/** What fetching an exposition needs; injectable for tests. */
export type Fetch = (
  url: string,
  init: { headers: Record<string, string>; signal: AbortSignal },
) => Promise<Response>;

/** Largest exposition read from a target (Prometheus' `body_size_limit` is unlimited; ours is not). */
export const MAX_EXPOSITION_BYTES = 64 * 1024 * 1024;

/** An exposition as a target sent it. */
export interface Exposition {
  readonly contentType: string;
  readonly text: string;
}

/**
 * The receiver's only I/O: one GET of a target's exposition, with a deadline on the whole
 * exchange (connecting, headers and body: a target that answers a byte a second is cut
 * off at the deadline), a bound on the body's size, and at most one request in flight per
 * target (a target still answering the previous scrape gets no second request).
 */
export class ExpositionClient {
  readonly #fetch: Fetch;
  readonly #inFlight = new InFlight();
  readonly #maxBytes: number;

  constructor(fetchImpl: Fetch = fetch, maxBytes = MAX_EXPOSITION_BYTES) {
    this.#fetch = fetchImpl;
    this.#maxBytes = maxBytes;
  }

  /** GETs `url` within `timeoutMs`; throws on a non-2xx answer, a timeout or an oversized body. */
  get(url: string, accept: string, timeoutMs: number): Promise<Exposition> {
    return this.#inFlight.run(url, () => this.#get(url, accept, timeoutMs));
  }

  async #get(url: string, accept: string, timeoutMs: number): Promise<Exposition> {
    const signal = AbortSignal.timeout(timeoutMs);
    try {
      const response = await this.#fetch(url, { headers: { accept }, signal });
      if (!response.ok) {
        await response.body?.cancel().catch(() => undefined);
        throw new Error(`HTTP ${String(response.status)} ${response.statusText}`);
      }
      const contentType = response.headers.get('content-type') ?? '';
      return { contentType, text: await this.#readBody(response) };
    } catch (error) {
      if (signal.aborted) throw new TimeoutError(`GET ${url}`, timeoutMs, { cause: error });
      throw error;
    }
  }

  async #readBody(response: Response): Promise<string> {
    const body = response.body;
    if (body === null) return '';
    const decoder = new TextDecoder();
    let size = 0;
    let text = '';
    // Leaving the loop early (the throw) cancels the stream: nothing more is read.
    for await (const chunk of body as unknown as AsyncIterable<Uint8Array>) {
      size += chunk.byteLength;
      if (size > this.#maxBytes)
        throw new Error(`exposition over ${String(this.#maxBytes)} bytes: not read further`);
      text += decoder.decode(chunk, { stream: true });
    }
    return text + decoder.decode();
  }
}
