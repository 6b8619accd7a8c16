// Timing helpers: medians of repeated runs, and ratios against a baseline
// measured in the same run (this machine is shared and noisy).
import { execFileSync } from 'node:child_process';

// median is the middle of the values.
export function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)] ?? Number.NaN;
}

// timeRuns runs `fn` `runs` times and returns the median seconds.
export async function timeRuns(runs: number, fn: () => Promise<void> | void): Promise<number> {
  const seconds: number[] = [];
  for (let i = 0; i < runs; i++) {
    const start = process.hrtime.bigint();
    await fn();
    seconds.push(Number(process.hrtime.bigint() - start) / 1e9);
  }
  return median(seconds);
}

// shell runs a command (no shell), for baselines like dd and sha256sum.
export function run(file: string, args: readonly string[]): string {
  return execFileSync(file, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
}

// report prints one benchmark line: ours against the baseline.
export function report(
  name: string,
  ours: { label: string; value: number; unit: string },
  baseline: { label: string; value: number },
  higherIsBetter: boolean,
): void {
  const ratio = ours.value / baseline.value;
  const fmt = (v: number) => (v >= 100 ? v.toFixed(0) : v.toFixed(1));
  process.stdout.write(
    `${name}: ${ours.label} ${fmt(ours.value)} ${ours.unit} vs ${baseline.label} ${fmt(baseline.value)} ${ours.unit} → ratio ${ratio.toFixed(2)} (${higherIsBetter ? 'higher' : 'lower'} is better)\n`,
  );
}
