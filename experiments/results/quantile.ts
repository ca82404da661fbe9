/**
 * The P² algorithm (Jain and Chlamtac, 1985): a running estimate of one quantile in five
 * numbers, whatever the number of observations. Exact for five observations or fewer.
 */
export class P2Quantile {
  readonly #p: number;
  readonly #q: number[] = [];
  readonly #n = [0, 1, 2, 3, 4];
  readonly #wanted: number[];
  readonly #step: number[];
  #count = 0;

  constructor(p: number) {
    this.#p = p;
    this.#wanted = [0, 2 * p, 4 * p, 2 + 2 * p, 4];
    this.#step = [0, p / 2, p, (1 + p) / 2, 1];
  }

  add(x: number): void {
    const q = this.#q;
    this.#count += 1;
    if (this.#count <= 5) {
      q.push(x);
      q.sort((a, b) => a - b);
      return;
    }
    const n = this.#n;
    let k: number;
    if (x < (q[0] ?? 0)) {
      q[0] = x;
      k = 0;
    } else if (x >= (q[4] ?? 0)) {
      q[4] = Math.max(q[4] ?? x, x);
      k = 3;
    } else {
      k = 0;
      while (k < 3 && x >= (q[k + 1] ?? 0)) k += 1;
    }
    for (let i = k + 1; i < 5; i++) n[i] = (n[i] ?? 0) + 1;
    for (let i = 0; i < 5; i++) this.#wanted[i] = (this.#wanted[i] ?? 0) + (this.#step[i] ?? 0);
    for (let i = 1; i <= 3; i++) {
      const d = (this.#wanted[i] ?? 0) - (n[i] ?? 0);
      const right = (n[i + 1] ?? 0) - (n[i] ?? 0);
      const left = (n[i - 1] ?? 0) - (n[i] ?? 0);
      if ((d >= 1 && right > 1) || (d <= -1 && left < -1)) {
        const s = Math.sign(d);
        const qi = q[i] ?? 0;
        const parabolic =
          qi +
          (s / ((n[i + 1] ?? 0) - (n[i - 1] ?? 0))) *
            (((n[i] ?? 0) - (n[i - 1] ?? 0) + s) * (((q[i + 1] ?? 0) - qi) / right) +
              ((n[i + 1] ?? 0) - (n[i] ?? 0) - s) * ((qi - (q[i - 1] ?? 0)) / -left));
        if ((q[i - 1] ?? 0) < parabolic && parabolic < (q[i + 1] ?? 0)) q[i] = parabolic;
        else {
          const j = i + s;
          q[i] = qi + (s * ((q[j] ?? 0) - qi)) / ((n[j] ?? 0) - (n[i] ?? 0));
        }
        n[i] = (n[i] ?? 0) + s;
      }
    }
  }

  /** The estimate; exact (nearest rank, interpolated) with five observations or fewer; NaN with none. */
  value(): number {
    const q = this.#q;
    if (this.#count === 0) return Number.NaN;
    if (this.#count <= 5) {
      const rank = this.#p * (q.length - 1);
      const lo = Math.floor(rank);
      const hi = Math.ceil(rank);
      return (q[lo] ?? 0) + ((q[hi] ?? 0) - (q[lo] ?? 0)) * (rank - lo);
    }
    return q[2] ?? Number.NaN;
  }
}
