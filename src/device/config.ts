// Every agent setting, limit and default, in one place; see README "Agent
// configuration". Paths are resolved against the config file's directory.
import { dirname, isAbsolute, join, resolve } from 'node:path';
import { z } from 'zod';
import { duration, size, timer } from '../config/fields.js';
import { loadTomlFile } from '../config/load.js';

const command = z.array(z.string().min(1)).min(1);

const slotSchema = z.object({ type: z.literal('raw'), device: z.string().min(1) }).strict();

// Bootloader tools (grub-editenv, fw_printenv, fw_setenv, efibootmgr) get this long per run.
const toolTimeout = duration.default('10s');
// The kernel command line, where the bootloader names the booted slot (pendulum.slot=).
const cmdline = z.string().min(1).default('/proc/cmdline');
const bootEntry = z
  .string()
  .regex(/^[0-9A-Fa-f]{4}$/, 'expected a boot entry number of four hex digits, such as "0001"');

const bootloaderSchema = z.discriminatedUnion('type', [
  z
    .object({ type: z.literal('simulated'), env: z.string().min(1), cmdline: z.string().min(1) })
    .strict(),
  z
    .object({
      type: z.literal('grub'),
      // The GRUB environment block grub.cfg loads and saves (exactly 1024 bytes).
      env: z.string().min(1),
      // native: the agent rewrites the block in place; grub-editenv: through the tool.
      tool: z.enum(['native', 'grub-editenv']).default('native'),
      cmdline,
      timeout: toolTimeout,
    })
    .strict(),
  z
    .object({
      type: z.literal('u-boot'),
      // fw_env.config: where the environment is, e.g. "/boot/uboot.env 0x0 0x4000".
      config: z.string().min(1).default('/etc/fw_env.config'),
      // Boots a committed slot gets before the boot script falls back (BOOT_<slot>_LEFT).
      // At most 9: the boot script counts in one digit (see uboot.ts).
      attempts: z.number().int().min(1).max(9).default(3),
      cmdline,
      timeout: toolTimeout,
    })
    .strict(),
  z
    .object({
      type: z.literal('efi'),
      // The UEFI boot entry (Boot####) of each slot.
      entries: z
        .object({ A: bootEntry, B: bootEntry })
        .strict()
        .refine(
          (e) => e.A.toUpperCase() !== e.B.toUpperCase(),
          'slots A and B need different boot entries',
        ),
      timeout: toolTimeout,
    })
    .strict(),
]);

export const agentConfigSchema = z
  .object({
    server: z
      .object({
        // host:port of the pendulum server.
        address: z.string().min(1),
        // PEM CA bundle; when set the agent speaks TLS and checks the server against it.
        ca: z.string().optional(),
        // PEM certificate the server must present exactly (instead of, or with, a CA).
        pinned_cert: z.string().optional(),
        // The name the server's certificate carries, when `address` is not it.
        tls_name: z.string().min(1).optional(),
        // PEM certificate and key for servers that require mutual TLS.
        client_cert: z.string().optional(),
        client_key: z.string().optional(),
        // Deadline of each unary call.
        call_timeout: duration.default('30s'),
        // Largest gRPC message the agent reads (an offer, or one download chunk).
        max_message: size.default('8MiB'),
        // Keep a Watch stream open while idle, so the server can ask for a
        // check-in at once (a new rollout, say) instead of at the next poll.
        // Polling goes on either way.
        watch: z.boolean().default(true),
        // The least wait before the agent reopens a Watch stream, and between
        // a check-in and the next one a Watch event asks for. Streams that
        // fail or are refused back off exponentially from it up to poll.interval.
        watch_min_interval: timer.default('1s'),
      })
      .strict(),
    device: z
      .object({
        class_id: z.string().min(1).max(128),
        // Where the agent keeps its journal and (by default) its key: on the
        // data partition shared by both slots, never inside a slot.
        state_dir: z.string().min(1),
        // The device's Ed25519 key; created on first start when missing.
        key: z.string().optional(),
        // The anti-rollback floor (default <state_dir>/rollback-floor): kept apart
        // from the journal so it can live where a factory reset does not reach.
        rollback_floor_file: z.string().min(1).optional(),
        // An enrolment token (`pendulum devices enrol-token`): admits the device
        // on its first contact without an operator. Not needed for a device
        // whose key was preauthorized.
        enrolment_token: z.string().min(1).max(256).optional(),
        // The trust root provisioned at the factory (JSON of the signed envelope).
        trust_root: z.string().min(1),
        // What the factory image is, until the first update is committed.
        factory_version: z.string().min(1).default('0.0.0'),
        factory_sequence: z.number().int().nonnegative().default(0),
        inventory: z.record(z.string()).default({}),
      })
      .strict(),
    slots: z.object({ A: slotSchema, B: slotSchema }).strict(),
    bootloader: bootloaderSchema,
    poll: z
      .object({
        // Used until the server says otherwise.
        interval: duration.default('5m'),
        // ± fraction of the interval added at random, so a fleet does not poll in step.
        jitter: z.number().min(0).max(1).default(0.2),
        // Exponential backoff after errors, between these bounds.
        backoff_min: duration.default('5s'),
        backoff_max: duration.default('10m'),
      })
      .strict()
      .default({}),
    download: z
      .object({
        // Sync the slot and record the offset at least this often, for resume.
        sync_every: size.default('8MiB'),
        // Send a progress report at most this often.
        progress_every: duration.default('2s'),
        // Give up on a download stream that sends nothing for this long (it resumes later).
        idle_timeout: duration.default('60s'),
        // Slow retrieval: a payload stream that brings less than `min_rate` bytes
        // per second over any full `min_rate_window`, or is not done within
        // `deadline` of its first request, fails the deployment (TOO_SLOW).
        min_rate: size.default('1KiB'),
        min_rate_window: timer.default('5m'),
        deadline: timer.default('6h'),
      })
      .strict()
      .default({}),
    reboot: z
      .object({
        command: command.default(['systemctl', 'reboot']),
        timeout: duration.default('30s'),
        // How long to wait for the system to go down after the command returns.
        grace: duration.default('5m'),
      })
      .strict()
      .default({}),
    health: z
      .object({
        checks: z
          .array(
            z
              .object({ name: z.string().min(1), command, timeout: duration.default('30s') })
              .strict(),
          )
          .default([]),
        // How often an idle agent reruns the checks on the release it
        // committed (post-commit health, reported at every check-in); "0s": never.
        periodic_every: duration.default('10m'),
      })
      .strict()
      .default({}),
    log_level: z
      .enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'])
      .default('info'),
  })
  .strict();

export type AgentConfig = z.output<typeof agentConfigSchema>;

// loadAgentConfig reads agent.toml and resolves its relative paths.
export async function loadAgentConfig(path: string): Promise<AgentConfig> {
  const config = await loadTomlFile(path, agentConfigSchema);
  const base = dirname(resolve(path));
  const at = (p: string) => (isAbsolute(p) ? p : resolve(base, p));
  return {
    ...config,
    server: {
      ...config.server,
      ca: config.server.ca === undefined ? undefined : at(config.server.ca),
      pinned_cert:
        config.server.pinned_cert === undefined ? undefined : at(config.server.pinned_cert),
      client_cert:
        config.server.client_cert === undefined ? undefined : at(config.server.client_cert),
      client_key: config.server.client_key === undefined ? undefined : at(config.server.client_key),
    },
    device: {
      ...config.device,
      state_dir: at(config.device.state_dir),
      key: at(config.device.key ?? `${config.device.state_dir}/device.key`),
      rollback_floor_file: at(rollbackFloorFile(config)),
      trust_root: at(config.device.trust_root),
    },
    slots: {
      A: { ...config.slots.A, device: at(config.slots.A.device) },
      B: { ...config.slots.B, device: at(config.slots.B.device) },
    },
    bootloader: resolveBootloaderPaths(config.bootloader, at),
  };
}

// rollbackFloorFile is where the agent keeps its anti-rollback floor.
export function rollbackFloorFile(config: AgentConfig): string {
  return config.device.rollback_floor_file ?? join(config.device.state_dir, 'rollback-floor');
}

function resolveBootloaderPaths(
  bootloader: AgentConfig['bootloader'],
  at: (path: string) => string,
): AgentConfig['bootloader'] {
  switch (bootloader.type) {
    case 'simulated':
    case 'grub':
      return { ...bootloader, env: at(bootloader.env), cmdline: at(bootloader.cmdline) };
    case 'u-boot':
      return { ...bootloader, config: at(bootloader.config), cmdline: at(bootloader.cmdline) };
    case 'efi':
      return bootloader;
  }
}
