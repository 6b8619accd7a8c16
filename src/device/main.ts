// The agent's composition root: build the adapters the config names, load
// (or start) the journal, run the loop.
import { mkdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { type Logger, pino } from 'pino';
import { PendulumError } from '../errors.js';
import { parseSignedFile, verifyPinnedTrustRoot } from '../trust/index.js';
import { type LoopResult, runAgent } from './agent.js';
import { type AgentState, factoryState, parseAgentState } from './agent-state.js';
import { createBootloader } from './bootloaders/registry.js';
import { type AgentConfig, rollbackFloorFile } from './config.js';
import { loadOrCreateDeviceKey } from './device-key.js';
import { runHealthChecks } from './health.js';
import { createJournal } from './journal.js';
import { commandReboot } from './reboot.js';
import { createRollbackFloorStore, type RollbackFloorStore } from './rollback-floor.js';
import { createRuntime } from './runtime.js';
import { createSlot } from './slots/registry.js';
import type { SlotName } from './slots/slot.js';
import { createGrpcSource } from './source/grpc.js';

export interface AgentRunOptions {
  readonly once: boolean;
  readonly signal: AbortSignal;
  readonly log?: Logger;
}

// runAgentFromConfig starts the agent described by an agent.toml.
export async function runAgentFromConfig(
  config: AgentConfig,
  options: AgentRunOptions,
): Promise<LoopResult> {
  const log =
    options.log ?? pino({ level: config.log_level }, pino.destination({ fd: 2, sync: true }));
  await mkdir(config.device.state_dir, { recursive: true });
  const key = await loadOrCreateDeviceKey(
    config.device.key ?? join(config.device.state_dir, 'device.key'),
  );
  const slots: Record<SlotName, ReturnType<typeof createSlot>> = {
    A: createSlot('A', config.slots.A),
    B: createSlot('B', config.slots.B),
  };
  const bootloader = createBootloader(config.bootloader);
  const journal = createJournal(join(config.device.state_dir, 'journal.json'), (value, source) => {
    try {
      return parseAgentState(value);
    } catch (error) {
      throw new PendulumError('STATE_CORRUPT', `${source}: not an agent journal`, {
        context: { file: source },
        cause: error,
      });
    }
  });
  const stored = await journal.load();
  const initial = stored ?? (await factoryFresh(config, await bootloader.booted()));
  const rollbackFloor = createRollbackFloorStore(rollbackFloorFile(config));
  // Before the first journal is saved, so a power cut in between repeats this.
  if (stored === undefined) await createFloor(rollbackFloor, config.device.factory_sequence, log);
  await rollbackFloor.read().then(
    (floor) => log.info({ floor }, 'anti-rollback floor'),
    // The agent still checks in, so the fleet sees the device, and refuses every offer.
    (error: unknown) => log.error(PendulumError.from(error).message),
  );
  const source = await createGrpcSource({
    address: config.server.address,
    caFile: config.server.ca,
    tls: {
      ...(config.server.pinned_cert === undefined ? {} : { pinnedCert: config.server.pinned_cert }),
      ...(config.server.tls_name === undefined ? {} : { name: config.server.tls_name }),
      ...(config.server.client_cert === undefined ? {} : { clientCert: config.server.client_cert }),
      ...(config.server.client_key === undefined ? {} : { clientKey: config.server.client_key }),
    },
    key,
    classId: config.device.class_id,
    enrolmentToken: config.device.enrolment_token,
    callTimeoutMs: config.server.call_timeout,
    maxMessageBytes: config.server.max_message,
    now: () => new Date(),
  });
  log.info(
    {
      device: key.keyId,
      class: config.device.class_id,
      server: config.server.address,
      state: initial.machine.name,
    },
    'pendulum agent starting',
  );
  const rt = createRuntime({
    settings: {
      deviceId: key.keyId,
      classId: config.device.class_id,
      syncEveryBytes: config.download.sync_every,
      progressEveryMs: config.download.progress_every,
      downloadIdleMs: config.download.idle_timeout,
      downloadMinBytesPerSec: config.download.min_rate,
      downloadMinRateWindowMs: config.download.min_rate_window,
      downloadDeadlineMs: config.download.deadline,
      inventory: config.device.inventory,
      periodicHealthEveryMs: config.health.periodic_every,
    },
    slots,
    bootloader,
    source,
    rollbackFloor,
    checkHealth: (env, deadlineAt, signal) =>
      runHealthChecks(
        config.health.checks.map((c) => ({
          name: c.name,
          command: c.command,
          timeoutMs: c.timeout,
        })),
        { deadlineAt, env, signal },
      ),
    reboot: commandReboot(config.reboot.command, config.reboot.timeout, log),
    now: () => Date.now(),
    log,
    signal: options.signal,
    journal,
    initial,
  });
  if (stored === undefined) await rt.save(initial);
  try {
    return await runAgent(rt, {
      once: options.once,
      pollIntervalMs: config.poll.interval,
      jitter: config.poll.jitter,
      backoff: { minMs: config.poll.backoff_min, maxMs: config.poll.backoff_max },
      rebootGraceMs: config.reboot.grace,
      ...(config.server.watch
        ? {
            watch: {
              minIntervalMs: config.server.watch_min_interval,
              firstEventTimeoutMs: config.server.call_timeout,
            },
          }
        : {}),
    });
  } finally {
    source.close();
  }
}

// factoryFresh reads and checks the provisioned trust root for a device's first start.
async function factoryFresh(config: AgentConfig, booted: SlotName): Promise<AgentState> {
  let text: string;
  try {
    text = await readFile(config.device.trust_root, 'utf8');
  } catch (error) {
    throw new PendulumError(
      'CONFIG_INVALID',
      `cannot read trust root ${config.device.trust_root}`,
      {
        context: { file: config.device.trust_root },
        cause: error,
      },
    );
  }
  const root = verifyPinnedTrustRoot(parseSignedFile(text, config.device.trust_root));
  return factoryState({
    booted,
    version: config.device.factory_version,
    sequence: config.device.factory_sequence,
    trustRoot: root.signed,
  });
}

// createFloor starts a factory-fresh device's floor at its factory release;
// a floor that survived a reset of the journal is kept as it is.
async function createFloor(store: RollbackFloorStore, floor: number, log: Logger): Promise<void> {
  try {
    if (await store.create(floor)) log.info({ floor, file: store.path }, 'anti-rollback floor set');
    else log.info({ file: store.path }, 'anti-rollback floor kept from before the reset');
  } catch (error) {
    // Reading it fails closed below; nothing here may pretend the floor is 0.
    log.error({ err: error }, `cannot create the anti-rollback floor ${store.path}`);
  }
}
