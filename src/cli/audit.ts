// pendulum audit: read the append-only audit log, newest first.
import { timestampDate } from '@bufbuild/protobuf/wkt';
import type { Command } from 'commander';
import { FleetService } from '../gen/pendulum/v1/fleet_pb.js';
import { type ConnectionOptions, connect, positiveInt, print, withConnection } from './common.js';

// registerAudit adds `audit`.
export function registerAudit(program: Command): void {
  withConnection(
    program
      .command('audit')
      .description(
        'who changed what, when: rollouts, releases, device admission, tokens (newest first)',
      ),
  )
    .option('--subject <id>', 'only changes of this rollout, release, device or token', '')
    .option('--actor <actor>', 'only changes by this actor, e.g. token:ci', '')
    .option('--action <prefix>', 'only actions starting with this, e.g. "rollout."', '')
    .option('--limit <n>', 'at most this many', positiveInt('--limit'), 50)
    .option(
      '--before <id>',
      'only entries older than this id (to page back)',
      positiveInt('--before'),
    )
    .option('--json', 'print one JSON object per line', false)
    .action(
      async (
        options: ConnectionOptions & {
          subject: string;
          actor: string;
          action: string;
          limit: number;
          before?: number;
          json: boolean;
        },
      ) => {
        const { client, close } = await connect(FleetService, options);
        try {
          const { entries } = await client.listAuditLog({
            subject: options.subject,
            actor: options.actor,
            actionPrefix: options.action,
            limit: options.limit,
            beforeId: BigInt(options.before ?? 0),
          });
          for (const e of entries) {
            const at = e.at === undefined ? '' : timestampDate(e.at).toISOString();
            if (options.json) {
              print(
                JSON.stringify({
                  id: Number(e.id),
                  at,
                  actor: e.actor,
                  action: e.action,
                  subject: e.subject,
                  detail: JSON.parse(e.detailJson),
                }),
              );
            } else {
              print(`${e.id}  ${at}  ${e.actor}  ${e.action}  ${e.subject}  ${e.detailJson}`);
            }
          }
          if (entries.length === 0 && !options.json) print('no audit entries');
        } finally {
          close();
        }
      },
    );
}
