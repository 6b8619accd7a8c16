// The agent's persisted state: one JSON file replaced atomically, so that a
// power cut leaves either the previous state or the new one, never a mix.
import { readFile } from 'node:fs/promises';
import { errnoCode, InvariantError, PendulumError } from '../errors.js';
import { writeFileAtomic } from '../fs/atomic-write.js';

export interface Journal<T> {
  // load returns the saved state, or undefined when nothing was ever saved.
  load(): Promise<T | undefined>;
  // save replaces the saved state durably.
  save(value: T): Promise<void>;
}

// createJournal keeps a value of type T in the JSON file at `path`;
// `validate` checks what is read back and throws when it is not a T.
export function createJournal<T>(
  path: string,
  validate: (value: unknown, source: string) => T,
): Journal<T> {
  return {
    async load() {
      let text: string;
      try {
        text = await readFile(path, 'utf8');
      } catch (error) {
        // Only `path` is read: a temp file a crash left beside it is never a state.
        if (errnoCode(error) === 'ENOENT') return undefined;
        throw corrupt(
          path,
          `cannot read journal ${path}: ${errnoCode(error) ?? 'I/O error'}`,
          error,
        );
      }
      let value: unknown;
      try {
        value = JSON.parse(text);
      } catch (error) {
        throw corrupt(path, `journal ${path} is not valid JSON`, error);
      }
      try {
        return validate(value, path);
      } catch (error) {
        if (error instanceof InvariantError) throw error;
        const reason = error instanceof Error ? error.message : String(error);
        throw corrupt(path, `journal ${path} is invalid: ${reason}`, error);
      }
    },
    async save(value) {
      await writeFileAtomic(path, `${JSON.stringify(value, null, 2)}\n`);
    },
  };
}

function corrupt(file: string, message: string, cause: unknown): PendulumError {
  return new PendulumError('STATE_CORRUPT', message, { context: { file }, cause });
}
