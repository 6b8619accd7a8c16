// This process's writes, counted per kind of data that caches in front of the
// store keep: a cache tagged with a count is stale once the count moves.
// Another replica's writes move it only when the fleet change log tells of
// them (watch/change-feed.ts); such caches also expire by age (cache_ttl).
export interface StoreChanges {
  // Rollouts created, advanced, paused, resumed or aborted.
  rollouts: number;
  // Trust roots stored.
  trustRoots: number;
  // Devices whose admission changed or whose tokens were revoked.
  deviceAccess: number;
}

// createStoreChanges starts every count at zero.
export function createStoreChanges(): StoreChanges {
  return { rollouts: 0, trustRoots: 0, deviceAccess: 0 };
}
