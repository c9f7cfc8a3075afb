/**
 * Growing typed arrays for readers: one column of observations is three flat arrays (times,
 * values, source lines), never an object per row.
 */

/** A Float64Array that grows by doubling. */
export class GrowableFloat64 {
  private buf: Float64Array;
  length = 0;
  constructor(initialCapacity = 1024) {
    this.buf = new Float64Array(Math.max(16, initialCapacity));
  }
  push(v: number): void {
    if (this.length === this.buf.length) {
      const next = new Float64Array(this.buf.length * 2);
      next.set(this.buf);
      this.buf = next;
    }
    this.buf[this.length++] = v;
  }
  get(i: number): number {
    return this.buf[i];
  }
  /** A trimmed copy holding exactly `length` items. */
  toArray(): Float64Array {
    return this.buf.slice(0, this.length);
  }
}

/** An Int32Array that grows by doubling. */
export class GrowableInt32 {
  private buf: Int32Array;
  length = 0;
  constructor(initialCapacity = 1024) {
    this.buf = new Int32Array(Math.max(16, initialCapacity));
  }
  push(v: number): void {
    if (this.length === this.buf.length) {
      const next = new Int32Array(this.buf.length * 2);
      next.set(this.buf);
      this.buf = next;
    }
    this.buf[this.length++] = v;
  }
  /** A trimmed copy holding exactly `length` items. */
  toArray(): Int32Array {
    return this.buf.slice(0, this.length);
  }
}

/** The observations of one metric as they are read: time, value and source line per row. */
export class MetricColumn {
  readonly times = new GrowableFloat64();
  readonly values = new GrowableFloat64();
  readonly lines = new GrowableInt32();
  constructor(
    readonly metric: string,
    readonly unit: string,
  ) {}
  push(t: number, v: number, line: number): void {
    this.times.push(t);
    this.values.push(v);
    this.lines.push(line);
  }
  get length(): number {
    return this.times.length;
  }
}
