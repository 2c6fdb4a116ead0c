// Duration quantiles in bounded memory: exact (every value kept) up to a few thousand values,
// then a DDSketch (1% relative error, a few KB whatever the count). Most commands in most logs
// stay exact; a command with a million runs costs no more than one with five thousand.
import { DDSketch } from '@datadog/sketches-js';

const EXACT_UP_TO = 4096;

export interface DurationSummary {
  count: number;
  p50: number | null;
  p95: number | null;
  max: number | null;
  /** False once the values were folded into the sketch (quantiles then within 1%). */
  exact: boolean;
}

export class DurationStats {
  private values: number[] | undefined = [];
  private sketch: DDSketch | undefined;
  private maxMs = -Infinity;
  count = 0;

  add(ms: number): void {
    this.count++;
    if (ms > this.maxMs) this.maxMs = ms;
    if (this.values) {
      this.values.push(ms);
      if (this.values.length <= EXACT_UP_TO) return;
      this.sketch = new DDSketch({ relativeAccuracy: 0.01 });
      for (const v of this.values) this.sketch.accept(v);
      this.values = undefined;
      return;
    }
    this.sketch?.accept(ms);
  }

  summary(): DurationSummary {
    if (this.count === 0) return { count: 0, p50: null, p95: null, max: null, exact: true };
    return { count: this.count, p50: this.quantile(0.5), p95: this.quantile(0.95), max: this.maxMs, exact: this.values !== undefined };
  }

  private quantile(q: number): number {
    if (this.values) {
      // Nearest rank: a value that really occurred.
      const sorted = [...this.values].sort((a, b) => a - b);
      return sorted[Math.min(sorted.length, Math.max(1, Math.ceil(q * sorted.length))) - 1];
    }
    const v = this.sketch?.getValueAtQuantile(q) ?? 0;
    return Math.min(this.maxMs, Math.round(v));
  }
}
