// `pendulum rollout status`: one rollout's progress as a table, once or as a
// live view that redraws until the rollout is done or aborted.
import { durationMs, timestampDate } from '@bufbuild/protobuf/wkt';
import type { Command } from 'commander';
import {
  FleetService,
  type GetRolloutStatusResponse,
  RolloutState,
  type StageCounts,
} from '../gen/pendulum/v1/fleet_pb.js';
import { type ConnectionOptions, connect, print, withConnection } from './common.js';
import { durationOption } from './time-options.js';

const columns = [
  ['pending', 'pending'],
  ['downloading', 'downloading'],
  ['installed', 'installed'],
  ['committed', 'committed'],
  ['failed', 'failed'],
  ['rolledBack', 'rolled back'],
] as const;

// registerRolloutStatus adds `rollout status <id> [--watch]`.
export function registerRolloutStatus(rollout: Command): void {
  withConnection(
    rollout
      .command('status <rollout-id>')
      .description(
        'per phase: devices pending, downloading, installed, committed, failed, rolled back; failure reasons; time per stage',
      ),
  )
    .option('--watch', 'redraw until every selected device finished or the rollout ends', false)
    .option(
      '--interval <duration>',
      'how often --watch redraws',
      durationOption('--interval'),
      2000,
    )
    .action(
      async (
        rolloutId: string,
        options: ConnectionOptions & { watch: boolean; interval: number },
      ) => {
        const { client, close } = await connect(FleetService, options);
        const live = options.watch && process.stdout.isTTY === true;
        try {
          for (;;) {
            const status = await client.getRolloutStatus({ rolloutId });
            const frame = renderStatus(status, new Date());
            // A terminal redraws in place; a pipe or file gets one frame after another.
            process.stdout.write(live ? `\x1b[H\x1b[2J${frame}` : `${frame}`);
            if (!options.watch || isDone(status)) return;
            if (!live) print();
            await new Promise((resolve) => setTimeout(resolve, options.interval));
          }
        } finally {
          close();
        }
      },
    );
}

// isDone: the rollout ended, or every selected device finished in its last phase.
export function isDone(status: GetRolloutStatusResponse): boolean {
  const rollout = status.rollout;
  if (rollout === undefined || rollout.state === RolloutState.ABORTED) return true;
  const total = status.total;
  if (total === undefined || !status.phases.every((p) => p.open)) return false;
  return total.committed + total.failed + total.rolledBack >= status.selected;
}

// renderStatus formats one frame.
export function renderStatus(status: GetRolloutStatusResponse, now: Date): string {
  const lines: string[] = [];
  const r = status.rollout;
  if (r !== undefined) {
    const since =
      r.phaseStarted === undefined
        ? ''
        : `, started ${ago(now.getTime() - timestampDate(r.phaseStarted).getTime())} ago`;
    lines.push(
      `rollout ${r.id}  ${r.version} (sequence ${r.sequence})  ${RolloutState[r.state].toLowerCase()}  phase ${r.currentPhase + 1}/${r.phases.length}${since}`,
    );
    if (r.pauseReason !== '') lines.push(`paused itself: ${r.pauseReason}`);
  }
  const total = status.total;
  const finished = total === undefined ? 0 : total.committed;
  lines.push(
    `selected ${status.selected} devices; ${finished} committed ${bar(finished, status.selected)}`,
  );
  const header = ['phase', 'share', 'open', 'devices', ...columns.map(([, title]) => title)];
  const rows = status.phases.map((phase, index) => [
    String(index + 1),
    `${phase.percent} %`,
    phase.open ? 'yes' : 'no',
    String(phase.devices),
    ...counts(phase.counts),
  ]);
  rows.push([
    'total',
    '',
    '',
    String(status.phases.reduce((n, p) => n + p.devices, 0)),
    ...counts(total),
  ]);
  lines.push(...table([header, ...rows]));
  if (r?.healthWatch !== undefined)
    lines.push(
      `post-commit health: ${status.unhealthy} of ${status.watched} watched devices unhealthy`,
    );
  const reasons = Object.entries(status.failureReasons).sort((a, b) => b[1] - a[1]);
  lines.push(
    `failures: ${reasons.length === 0 ? 'none' : reasons.map(([code, n]) => `${code} ${n}`).join(', ')}`,
  );
  const times = status.stageTimes
    .filter((t) => t.samples > 0)
    .map((t) => {
      const p50 = t.p50 === undefined ? 0 : durationMs(t.p50);
      const p90 = t.p90 === undefined ? 0 : durationMs(t.p90);
      return `${t.stage.replaceAll('_', ' ')} ${ago(p50)} / ${ago(p90)} (${t.samples})`;
    });
  lines.push(
    `time per stage, p50 / p90 (deployments): ${times.length === 0 ? '-' : times.join('; ')}`,
  );
  return `${lines.join('\n')}\n`;
}

function counts(c: StageCounts | undefined): string[] {
  return columns.map(([key]) => String(c?.[key] ?? 0));
}

// table right-aligns every column but the first.
function table(rows: string[][]): string[] {
  const widths = rows[0]?.map((_, i) => Math.max(...rows.map((row) => row[i]?.length ?? 0))) ?? [];
  return rows.map((row) =>
    row
      .map((cell, i) => (i === 0 ? cell.padEnd(widths[i] ?? 0) : cell.padStart(widths[i] ?? 0)))
      .join('  ')
      .trimEnd(),
  );
}

function bar(done: number, of: number, width = 30): string {
  const filled = of === 0 ? 0 : Math.round((done / of) * width);
  return `[${'#'.repeat(filled)}${'.'.repeat(width - filled)}]`;
}

// ago formats milliseconds as "850ms", "12.5s", "3m 4s", "2h 5m", "1d 3h".
function ago(ms: number): string {
  if (ms < 1000) return `${Math.round(ms)}ms`;
  const s = ms / 1000;
  if (s < 60) return `${Math.round(s * 10) / 10}s`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m}m ${Math.round(s % 60)}s`;
  const h = Math.floor(m / 60);
  if (h < 24) return `${h}h ${m % 60}m`;
  return `${Math.floor(h / 24)}d ${h % 24}h`;
}
