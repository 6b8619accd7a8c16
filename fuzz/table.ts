// The campaign's table: per family, inputs and what became of them.
import { failures, type Tally } from './tally.js';

const columns = [
  'family',
  'inputs',
  'accepted',
  'refused',
  'crashes',
  'false acc.',
  'violations',
  'worker s',
];

// formatTable renders the tallies and a total row as aligned text.
export function formatTable(tallies: readonly Tally[]): string {
  const total = tallies.reduce(
    (sum, t) => ({
      inputs: sum.inputs + t.inputs,
      accepted: sum.accepted + t.accepted,
      refused: sum.refused + t.refused,
      crashes: sum.crashes + t.crashes,
      falseAcceptances: sum.falseAcceptances + t.falseAcceptances,
      violations: sum.violations + t.violations,
      ms: sum.ms + t.ms,
    }),
    { inputs: 0, accepted: 0, refused: 0, crashes: 0, falseAcceptances: 0, violations: 0, ms: 0 },
  );
  const row = (name: string, t: typeof total) => [
    name,
    n(t.inputs),
    n(t.accepted),
    n(t.refused),
    n(t.crashes),
    n(t.falseAcceptances),
    n(t.violations),
    (t.ms / 1000).toFixed(1),
  ];
  const rows = [columns, ...tallies.map((t) => row(t.family, t)), row('total', total)];
  const widths = columns.map((_, c) => Math.max(...rows.map((r) => (r[c] ?? '').length)));
  const line = (r: string[]) =>
    r
      .map((cell, c) => (c === 0 ? cell.padEnd(widths[c] ?? 0) : cell.padStart(widths[c] ?? 0)))
      .join('  ');
  const rule = widths.map((w) => '-'.repeat(w)).join('  ');
  const body = rows.slice(1, -1).map(line);
  return [line(columns), rule, ...body, rule, line(rows[rows.length - 1] ?? [])].join('\n');
}

// formatDetails lists, per family, what the inputs ended as (most frequent first).
export function formatDetails(tallies: readonly Tally[]): string {
  return tallies
    .map((t) => {
      const top = Object.entries(t.details)
        .sort((a, b) => b[1] - a[1])
        .slice(0, 6)
        .map(([key, count]) => `${key} ${((100 * count) / Math.max(1, t.inputs)).toFixed(1)}%`);
      return `  ${t.family}: ${top.join(', ')}`;
    })
    .join('\n');
}

// formatFailures gives fast-check's report of each family's first failures.
export function formatFailures(tallies: readonly Tally[]): string {
  return tallies
    .filter((t) => failures(t) > 0)
    .map((t) => `--- ${t.family}\n${t.reports.join('\n\n')}`)
    .join('\n\n');
}

function n(value: number): string {
  return value.toLocaleString('en-US');
}
