// The device's anti-rollback floor: no release with a lower sequence installs
// again. It lives in its own small file, apart from the journal, so that it
// survives a reset of the agent's state (a manufacturer can put it where a
// factory reset does not reach). A missing or damaged store never reads as 0:
// the agent refuses every offer until a person restores it (go-tuf
// CVE-2022-29173 is what trusting a reset counter looks like).
import { readFile, stat } from 'node:fs/promises';
import { errnoCode, invariant, PendulumError } from '../errors.js';
import { writeFileAtomic } from '../fs/atomic-write.js';
import { sha256, toHex } from '../trust/digest.js';

const formatTag = 'pendulum-rollback-floor';
const formatVersion = '1';

export interface RollbackFloorStore {
  readonly path: string;
  // read returns the floor; a missing or damaged store throws STATE_CORRUPT.
  read(): Promise<number>;
  // raise moves the floor up to `to`, never down, and returns the floor in force.
  raise(to: number): Promise<number>;
  // write replaces the floor (an operator restoring it, or a device's first start).
  write(floor: number): Promise<void>;
  // create writes `floor` only where no store exists at all; true when it wrote.
  create(floor: number): Promise<boolean>;
}

// createRollbackFloorStore keeps the floor in the file at `path`.
export function createRollbackFloorStore(path: string): RollbackFloorStore {
  const store: RollbackFloorStore = {
    path,
    async read() {
      let text: string;
      try {
        text = await readFile(path, 'utf8');
      } catch (error) {
        const errno = errnoCode(error);
        throw unusable(
          path,
          errno === 'ENOENT' ? 'is missing' : `cannot be read (${errno ?? 'I/O error'})`,
          error,
        );
      }
      return parseRollbackFloor(text, path);
    },
    async raise(to) {
      const current = await store.read();
      if (to <= current) return current;
      await store.write(to);
      return to;
    },
    async write(floor) {
      await writeFileAtomic(path, formatRollbackFloor(floor));
    },
    async create(floor) {
      try {
        await stat(path);
        return false;
      } catch (error) {
        // Anything there, even unreadable, is kept: reading it fails closed.
        if (errnoCode(error) !== 'ENOENT') return false;
      }
      await store.write(floor);
      return true;
    },
  };
  return store;
}

// formatRollbackFloor is the file's text: format tag, floor, and the SHA-256 of what precedes it.
export function formatRollbackFloor(floor: number): string {
  invariant(Number.isSafeInteger(floor) && floor >= 0, `rollback floor ${floor} is not a count`);
  const body = `${formatTag} ${formatVersion} ${floor}`;
  return `${body} ${checksum(body)}\n`;
}

// parseRollbackFloor reads the file's text back; anything but an intact floor is STATE_CORRUPT.
export function parseRollbackFloor(text: string, path: string): number {
  const [tag, version, floor, sum, ...rest] = text.split(' ');
  if (tag !== formatTag) throw unusable(path, 'is not a pendulum rollback floor file');
  if (version !== formatVersion)
    throw unusable(path, `has format version ${version ?? '(none)'}, not ${formatVersion}`);
  if (floor === undefined || sum === undefined || !sum.endsWith('\n'))
    throw unusable(path, 'is truncated');
  if (rest.length > 0 || sum !== `${checksum(`${tag} ${version} ${floor}`)}\n`)
    throw unusable(path, 'fails its checksum');
  const value = Number(floor);
  if (!/^(0|[1-9][0-9]*)$/.test(floor) || !Number.isSafeInteger(value))
    throw unusable(path, `holds "${floor}", not a floor`);
  return value;
}

function checksum(body: string): string {
  return toHex(sha256(new TextEncoder().encode(body)));
}

// unusable is the error that stops every update, saying how to restore the store.
function unusable(path: string, problem: string, cause?: unknown): PendulumError {
  return new PendulumError(
    'STATE_CORRUPT',
    `anti-rollback floor store ${path} ${problem}; the agent refuses every update until it is restored: ` +
      'put back a copy of the file, or run "pendulum agent floor set <sequence> --config <agent.toml>" ' +
      'with the sequence of the release this device has committed (the highest safe floor: no older release installs, every newer one still does)',
    { context: { file: path }, cause },
  );
}
