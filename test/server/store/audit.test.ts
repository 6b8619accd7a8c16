import { sql } from 'kysely';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { Store } from '../../../src/server/store/index.js';
import { at, forEachBackend, openTempStore, type TempStore } from './temp-store.js';

forEachBackend((backend) => {
  let temp: TempStore;
  let store: Store;

  beforeEach(async () => {
    temp = await openTempStore(backend);
    store = temp.store;
  });
  afterEach(async () => temp.cleanup());

  describe('audit log', () => {
    it('lists the latest entries newest first, with their detail intact', async () => {
      for (let i = 0; i < 5; i++) {
        await store.audit.append({
          actor: 'token:ci',
          action: 'release.publish',
          subject: `r${i}`,
          detail: { sequence: i, tags: ['a'] },
          now: at(i),
        });
      }
      const entries = await store.audit.list({ limit: 3 });
      expect(entries.map((e) => e.subject)).toEqual(['r4', 'r3', 'r2']);
      expect(entries[0]).toMatchObject({
        actor: 'token:ci',
        action: 'release.publish',
        at: at(4).toISOString(),
        detail: { sequence: 4, tags: ['a'] },
      });
    });
  });

  it('finds entries by subject, actor and action prefix, and pages back by id', async () => {
    const rows = [
      ['token:ci', 'release.publish', 'r1'],
      ['token:ops', 'rollout.create', 'x1'],
      ['server:rollout-controller', 'rollout.advance', 'x1'],
      ['token:ops', 'rollout.abort', 'x1'],
      ['token:ops', 'rollouts.odd', 'x2'],
      ['token:ops', 'device.accepted', 'd1'],
    ] as const;
    for (const [i, [actor, action, subject]] of rows.entries())
      await store.audit.append({ actor, action, subject, detail: {}, now: at(i) });
    const actions = (entries: { action: string }[]) => entries.map((e) => e.action);
    expect(actions(await store.audit.list({ limit: 10, subject: 'x1' }))).toEqual([
      'rollout.abort',
      'rollout.advance',
      'rollout.create',
    ]);
    expect(actions(await store.audit.list({ limit: 10, actionPrefix: 'rollout.' }))).toEqual([
      'rollout.abort',
      'rollout.advance',
      'rollout.create',
    ]);
    expect(
      actions(await store.audit.list({ limit: 10, actor: 'token:ops', actionPrefix: 'rollout' })),
    ).toEqual(['rollouts.odd', 'rollout.abort', 'rollout.create']);
    const page1 = await store.audit.list({ limit: 2 });
    const page2 = await store.audit.list({ limit: 2, beforeId: page1.at(-1)?.id ?? 0 });
    expect(actions(page2)).toEqual(['rollout.abort', 'rollout.advance']);
    // A prefix with LIKE's wildcards matches only itself.
    expect(await store.audit.list({ limit: 10, actionPrefix: 'rollout%' })).toEqual([]);
  });

  it('refuses to rewrite or delete history, in the database itself', async () => {
    await store.audit.append({
      actor: 'token:ci',
      action: 'release.publish',
      subject: 'r1',
      detail: {},
      now: at(0),
    });
    // The schema types forbid it; raw SQL is what someone at a prompt would type.
    const rewrite = sql`UPDATE audit_log SET actor = 'token:nobody'`.execute(store.db);
    await expect(rewrite).rejects.toThrow(/append-only/);
    await expect(store.db.deleteFrom('audit_log').execute()).rejects.toThrow(/append-only/);
    expect((await store.audit.list({ limit: 10 })).map((e) => e.actor)).toEqual(['token:ci']);
  });
});
