import { describe, expect, it } from 'vitest';
import { BatchBuffers } from './csv.ts';

const bytes = (length: number, fill: number): Uint8Array => new Uint8Array(length).fill(fill);

describe('the csv exporter batch buffers', () => {
  it('copies a batch into a buffer sized up to the next 16 KiB, the view its exact length', () => {
    const { buffer, data } = new BatchBuffers(1 << 20).take(bytes(40_000, 7));
    expect(buffer.length).toBe(49_152);
    expect(data.length).toBe(40_000);
    expect(data.buffer).toBe(buffer.buffer);
    expect(data.every((b) => b === 7)).toBe(true);
  });

  it('reuses a written batch buffer for a later batch that fits, the smallest that fits', () => {
    const buffers = new BatchBuffers(1 << 20);
    const small = buffers.take(bytes(50_000, 1)).buffer;
    const large = buffers.take(bytes(240_000, 2)).buffer;
    buffers.give(large);
    buffers.give(small);
    const next = buffers.take(bytes(51_000, 3));
    expect(next.buffer).toBe(small);
    expect(next.data.every((b) => b === 3)).toBe(true);
    expect(buffers.take(bytes(230_000, 4)).buffer).toBe(large);
    // None left that fits: a new one.
    const fresh = buffers.take(bytes(1_000, 5)).buffer;
    expect(fresh).not.toBe(small);
    expect(fresh).not.toBe(large);
  });

  it('keeps the largest spare buffers up to its budget in bytes', () => {
    // 32, 48, 64, 80, 112 and 128 KiB: a budget that holds the three largest.
    const buffers = new BatchBuffers((80 + 112 + 128) << 10);
    const taken = [1, 2, 3, 4, 5, 6].map((n) => buffers.take(bytes(n * 20_000, n)).buffer);
    for (const buffer of taken) buffers.give(buffer);
    // The three smallest were let go: a small batch now takes the smallest of the three kept.
    expect(buffers.take(bytes(10, 0)).buffer).toBe(taken[3]);
    expect(buffers.take(bytes(10, 0)).buffer).toBe(taken[4]);
    expect(buffers.take(bytes(10, 0)).buffer).toBe(taken[5]);
    expect(taken).not.toContain(buffers.take(bytes(10, 0)).buffer);
  });

  it('reuses every buffer of a burst of batches that fits the budget', () => {
    const buffers = new BatchBuffers(4 << 20);
    const burst = Array.from({ length: 50 }, (_, n) => buffers.take(bytes(34_000, n)).buffer);
    for (const buffer of burst) buffers.give(buffer);
    const next = Array.from({ length: 50 }, (_, n) => buffers.take(bytes(34_000, n)).buffer);
    expect(new Set(next)).toEqual(new Set(burst));
  });
});
