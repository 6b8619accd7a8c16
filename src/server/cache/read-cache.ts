// Values read from the store, reused while this process has not changed what
// they were read from (a StoreChanges count) and for at most `ttlMs` (what
// another replica changed). An entry is tagged with the count seen before
// its read, so a write racing the read leaves the entry stale, not wrong.
export interface ReadCacheOptions {
  readonly ttlMs: number;
  // The count of local writes this cache depends on.
  readonly version: () => number;
  // Past this many entries the oldest is dropped.
  readonly maxEntries: number;
}

export interface ReadCache<K, V> {
  // get returns the cached value, or loads it (an undefined result is not kept).
  get(key: K, load: () => Promise<V | undefined>): Promise<V | undefined>;
  // fresh loads and keeps the value, whatever is cached.
  fresh(key: K, load: () => Promise<V | undefined>): Promise<V | undefined>;
  // forget drops one entry.
  forget(key: K): void;
}

interface Entry<V> {
  readonly value: V;
  readonly version: number;
  readonly at: number;
}

// createReadCache makes an empty cache; ages are measured on the monotonic clock.
export function createReadCache<K, V>(options: ReadCacheOptions): ReadCache<K, V> {
  const entries = new Map<K, Entry<V>>();
  const fresh = async (key: K, load: () => Promise<V | undefined>) => {
    const version = options.version();
    const at = performance.now();
    const value = await load();
    entries.delete(key);
    if (value === undefined || options.ttlMs <= 0) return value;
    if (entries.size >= options.maxEntries) {
      const oldest = entries.keys().next();
      if (oldest.done !== true) entries.delete(oldest.value);
    }
    entries.set(key, { value, version, at });
    return value;
  };
  return {
    async get(key, load) {
      const entry = entries.get(key);
      if (
        entry !== undefined &&
        entry.version === options.version() &&
        performance.now() - entry.at < options.ttlMs
      )
        return entry.value;
      return fresh(key, load);
    },
    fresh,
    forget(key) {
      entries.delete(key);
    },
  };
}
