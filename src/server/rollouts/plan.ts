// A rollout's plan as the store keeps it (JSON), checked on the way in and on
// the way out: phases, who is selected beyond the class, when it pauses by
// itself, and when devices may activate.
import { z } from 'zod';
import { PendulumError } from '../../errors.js';
import { parseWindow, type WindowSpec } from '../../schedule/window.js';
import type { HealthWatch } from './health-watch.js';
import { checkPhases, type FailureThreshold, type Phase } from './phases.js';

export interface RolloutPlan {
  readonly phases: readonly Phase[];
  readonly tags: readonly string[];
  readonly groups: readonly string[];
  readonly deviceIds: readonly string[];
  readonly threshold: FailureThreshold | undefined;
  readonly window: WindowSpec | undefined;
  readonly healthWatch?: HealthWatch | undefined;
}

// The plan of a rollout made without one: everyone in the class at once.
export const wholeClassPlan: RolloutPlan = {
  phases: [{ percent: 100, minSoakMs: 0 }],
  tags: [],
  groups: [],
  deviceIds: [],
  threshold: undefined,
  window: undefined,
};

const threshold = z.discriminatedUnion('kind', [
  z
    .object({
      kind: z.literal('ratio'),
      ratio: z.number().min(0).max(1),
      minFinished: z.number().int().min(1),
    })
    .strict(),
  z.object({ kind: z.literal('count'), count: z.number().int().min(1) }).strict(),
]);
const names = z.array(z.string().min(1).max(128)).max(1000);
const planSchema = z
  .object({
    phases: z.array(z.object({ percent: z.number(), minSoakMs: z.number().int() }).strict()),
    tags: names,
    groups: names,
    deviceIds: z.array(z.string().regex(/^[0-9a-f]{64}$/)).max(100_000),
    threshold: threshold.optional(),
    window: z
      .object({ cron: z.string(), durationMs: z.number().int(), timezone: z.string() })
      .strict()
      .optional(),
    healthWatch: z
      .object({
        watchMs: z
          .number()
          .int()
          .min(60_000)
          .max(30 * 86_400_000),
        maxRestarts: z.number().int().min(0).max(1000),
        threshold,
      })
      .strict()
      .optional(),
  })
  .strict();

// checkPlan refuses a plan a rollout cannot follow (INVALID_ARGUMENT).
export function checkPlan(plan: RolloutPlan): RolloutPlan {
  const parsed = planSchema.safeParse(plan);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw new PendulumError(
      'INVALID_ARGUMENT',
      `rollout plan: ${issue?.path.join('.') || 'plan'} ${issue?.message ?? 'is invalid'}`,
      { context: { field: issue?.path.join('.') ?? 'plan' } },
    );
  }
  checkPhases(plan.phases);
  if (plan.window !== undefined) parseWindow(plan.window);
  return plan;
}

// encodePlan is the JSON the store keeps.
export function encodePlan(plan: RolloutPlan): string {
  return JSON.stringify(checkPlan(plan));
}

// decodePlan reads a stored plan; '{}' (a rollout from before plans) is the
// whole class at once. Anything else that does not check is STATE_CORRUPT.
export function decodePlan(text: string, rolloutId: string): RolloutPlan {
  if (text === '{}') return wholeClassPlan;
  try {
    const value = planSchema.parse(JSON.parse(text));
    return checkPlan({
      ...value,
      threshold: value.threshold,
      window: value.window,
      healthWatch: value.healthWatch,
    });
  } catch (error) {
    throw new PendulumError(
      'STATE_CORRUPT',
      `rollout ${rolloutId}: its stored plan does not check`,
      {
        context: { rolloutId },
        cause: error,
      },
    );
  }
}
