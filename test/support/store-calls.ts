// What a call cost the server: every function of its metadata store and its
// payload store, wrapped to record each call by name ("tokens.findDeviceToken",
// "payloads.read"), so a test can say a refusal touched neither.
import type { ServerContext } from '../../src/server/context.js';

const repositories = [
  'tokens',
  'trustRoots',
  'payloads',
  'releases',
  'rollouts',
  'devices',
  'deployments',
  'audit',
] as const;

export interface StoreCalls {
  // Each call made since recording began (or since the last clear), in order.
  readonly calls: string[];
  clear(): void;
  restore(): void;
}

// recordStoreCalls starts recording the store calls of a running server.
export function recordStoreCalls(context: ServerContext): StoreCalls {
  const calls: string[] = [];
  const undo: (() => void)[] = [];
  const wrap = (target: object, prefix: string) => {
    const functions = target as Record<string, unknown>;
    for (const [name, original] of Object.entries(functions)) {
      if (typeof original !== 'function') continue;
      const fn = original as (...args: unknown[]) => unknown;
      functions[name] = function (this: unknown, ...args: unknown[]) {
        calls.push(`${prefix}${name}`);
        return fn.apply(this, args);
      };
      undo.push(() => {
        functions[name] = original;
      });
    }
  };
  for (const name of repositories) wrap(context.store[name], `${name}.`);
  const store = context.store as unknown as Record<string, unknown>;
  const transaction = store.transaction;
  store.transaction = (...args: unknown[]) => {
    calls.push('transaction');
    return (transaction as (...a: unknown[]) => unknown).apply(context.store, args);
  };
  undo.push(() => {
    store.transaction = transaction;
  });
  wrap(context.payloads, 'payloadStore.');
  return {
    calls,
    clear: () => {
      calls.length = 0;
    },
    restore: () => {
      for (const step of undo.reverse()) step();
    },
  };
}
