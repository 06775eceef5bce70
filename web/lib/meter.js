// Throughput and time left over a sliding window, so the estimate follows
// the current speed rather than the average since the start.

const WINDOW_MS = 2000;

export class Meter {
  /** @param {number} total bytes expected */
  constructor(total) {
    this.total = total;
    this.start = performance.now();
    this.samples = [{ t: this.start, bytes: 0 }];
    this.bytes = 0;
  }

  /** @param {number} bytes consumed so far */
  update(bytes) {
    const t = performance.now();
    this.bytes = bytes;
    this.samples.push({ t, bytes });
    while (this.samples.length > 2 && t - this.samples[1].t > WINDOW_MS) this.samples.shift();
  }

  /** Bytes per second over the window (0 until there is enough to tell). */
  get rate() {
    const first = this.samples[0];
    const last = this.samples[this.samples.length - 1];
    const dt = (last.t - first.t) / 1000;
    return dt > 0.05 ? (last.bytes - first.bytes) / dt : 0;
  }

  /** Seconds left at the current rate (Infinity while unknown). */
  get secondsLeft() {
    const r = this.rate;
    return r > 0 ? (this.total - this.bytes) / r : Infinity;
  }

  get fraction() {
    return this.total > 0 ? Math.min(1, this.bytes / this.total) : 1;
  }

  /** Average bytes per second since the start. */
  get averageRate() {
    const dt = (performance.now() - this.start) / 1000;
    return dt > 0 ? this.bytes / dt : 0;
  }
}
