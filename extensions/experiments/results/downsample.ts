/** A point of a chart: time in ms, and value. */
export interface Point {
  t: number;
  v: number;
}

/**
 * Largest-Triangle-Three-Buckets (Steinarsson, 2013): `threshold` points out of `points`
 * (sorted by time) that keep the shape of the line, its peaks and dips included: the first
 * and last points, and from each bucket between them the point that makes the largest
 * triangle with the point kept before it and the mean of the next bucket. Linear in the
 * number of points; returns the input when it is no longer than `threshold`.
 */
export function lttb(points: readonly Point[], threshold: number): Point[] {
  const n = points.length;
  if (threshold >= n || threshold < 3) return [...points];
  const out: Point[] = [];
  const every = (n - 2) / (threshold - 2);
  let a = 0;
  const first = points[0];
  if (first !== undefined) out.push(first);
  for (let i = 0; i < threshold - 2; i++) {
    // The mean of the next bucket.
    const nextStart = Math.floor((i + 1) * every) + 1;
    const nextEnd = Math.min(Math.floor((i + 2) * every) + 1, n);
    let meanT = 0;
    let meanV = 0;
    for (let j = nextStart; j < nextEnd; j++) {
      const p = points[j];
      if (p === undefined) continue;
      meanT += p.t;
      meanV += p.v;
    }
    const count = Math.max(1, nextEnd - nextStart);
    meanT /= count;
    meanV /= count;
    // The point of this bucket with the largest triangle.
    const start = Math.floor(i * every) + 1;
    const end = Math.floor((i + 1) * every) + 1;
    const pa = points[a];
    if (pa === undefined) break;
    let best = start;
    let bestArea = -1;
    for (let j = start; j < end; j++) {
      const p = points[j];
      if (p === undefined) continue;
      const area = Math.abs((pa.t - meanT) * (p.v - pa.v) - (pa.t - p.t) * (meanV - pa.v));
      if (area > bestArea) {
        bestArea = area;
        best = j;
      }
    }
    const kept = points[best];
    if (kept !== undefined) out.push(kept);
    a = best;
  }
  const last = points[n - 1];
  if (last !== undefined) out.push(last);
  return out;
}
