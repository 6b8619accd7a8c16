// Every command and subcommand explains itself with --help, and exits 0 doing so.
import { type Command, CommanderError } from 'commander';
import { beforeAll, describe, expect, it } from 'vitest';
import { buildProgram } from '../../src/cli/program.js';
import { type CliResult, runCli } from './cli.js';

// The command tree main.ts parses.
const commandTree = buildProgram;

// commandPaths lists every command below `command`, parents before children.
function commandPaths(command: Command, prefix: readonly string[] = []): string[][] {
  return command.commands.flatMap((sub) => {
    const path = [...prefix, sub.name()];
    return [path, ...commandPaths(sub, path)];
  });
}

// helpOf runs "pendulum <path> --help" in this process, the way main.ts
// parses, and returns what commander printed and the exit code it asked for.
async function helpOf(
  path: readonly string[],
): Promise<{ code: number; out: string; err: string }> {
  const program = commandTree();
  let out = '';
  let err = '';
  const all = [program, ...paths.map((p) => find(program, p))];
  for (const command of all) {
    command.exitOverride().configureOutput({
      writeOut: (text) => {
        out += text;
      },
      writeErr: (text) => {
        err += text;
      },
    });
  }
  try {
    await program.parseAsync([...path, '--help'], { from: 'user' });
    return { code: -1, out, err };
  } catch (error) {
    if (!(error instanceof CommanderError)) throw error;
    return { code: error.exitCode, out, err };
  }
}

function find(program: Command, path: readonly string[]): Command {
  let command = program;
  for (const name of path) {
    const next = command.commands.find((sub) => sub.name() === name);
    if (next === undefined) throw new Error(`no command ${path.join(' ')}`);
    command = next;
  }
  return command;
}

const paths = commandPaths(commandTree());

describe('--help', () => {
  it('covers at least every command the README documents', () => {
    expect(paths.map((path) => path.join(' '))).toEqual(
      expect.arrayContaining([
        'keygen',
        'trust',
        'trust init',
        'trust show',
        'trust push',
        'release',
        'release create',
        'release publish',
        'release list',
        'rollout',
        'rollout create',
        'rollout list',
        'rollout status',
        'rollout pause',
        'rollout resume',
        'rollout abort',
        'audit',
        'devices',
        'devices list',
        'devices accept',
        'devices reject',
        'devices label',
        'server',
        'token',
        'token create',
        'agent',
        'agent floor',
        'agent floor show',
        'agent floor set',
        'sim',
        'sim init',
        'sim boot',
      ]),
    );
  });

  it.each(paths.map((path) => [path.join(' '), path]))(
    'works for "pendulum %s"',
    async (name, path) => {
      const result = await helpOf(path as string[]);
      expect(result.err).toBe('');
      expect(result.code).toBe(0);
      expect(result.out).toContain(`Usage: pendulum ${name}`);
    },
  );

  it('lists the options of a leaf command', async () => {
    const create = (await helpOf(['release', 'create'])).out;
    for (const option of [
      '--image',
      '--trust-root',
      '--class',
      '--sequence',
      '--key',
      '--irreversible',
      '--rollback-floor',
      '--out',
    ])
      expect(create).toContain(option);
    // The floor commands name the agent config they read.
    expect((await helpOf(['agent', 'floor', 'set'])).out).toContain('--config <file>');
    expect((await helpOf(['trust', 'push'])).out).toContain('PENDULUM_TOKEN');
  });
});

describe('the built command', () => {
  // Spawning costs a Node start-up each, so only a sample of the tree runs as
  // a real process: the top level, a group, a leaf and the nested ones.
  const sample = [[], ['release'], ['release', 'create'], ['token', 'create'], ['sim', 'boot']];
  let results: CliResult[];
  let unknownCommand: CliResult;
  let missingOption: CliResult;
  beforeAll(async () => {
    [unknownCommand, missingOption, ...results] = await Promise.all([
      runCli(['deploy']),
      runCli(['keygen']),
      ...sample.map((path) => runCli([...path, '--help'])),
    ]);
  });

  it('exits 0 and prints usage for --help at every level', () => {
    for (const [index, path] of sample.entries()) {
      const result = results[index];
      expect(result?.code, path.join(' ')).toBe(0);
      expect(result?.stdout).toContain(`Usage: pendulum ${path.join(' ')}`.trimEnd());
    }
  });

  it('lists every top-level command in "pendulum --help"', () => {
    const top = results[0]?.stdout ?? '';
    for (const command of commandTree().commands)
      expect(top).toMatch(new RegExp(`^  ${command.name()}\\b`, 'm'));
  });

  it('exits non-zero on an unknown command, naming it', () => {
    expect(unknownCommand.code).not.toBe(0);
    expect(unknownCommand.stderr).toContain("unknown command 'deploy'");
  });

  it('exits non-zero when a required option is missing, naming it', () => {
    expect(missingOption.code).not.toBe(0);
    expect(missingOption.stderr).toContain('--out');
  });
});
