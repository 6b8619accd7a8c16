// Who is calling: devices by their short-lived token, people and CI by an API
// token with a role. One table says which role each method needs.
import type { DescMethod } from '@bufbuild/protobuf';
import type { Metadata } from '@grpc/grpc-js';
import { invariant, PendulumError } from '../errors.js';
import { bearerToken } from '../rpc/auth.js';
import { createReadCache } from './cache/read-cache.js';
import type { Store } from './store/index.js';
import { isTokenShaped } from './store/tokens.js';

export const roles = ['viewer', 'publisher', 'admin'] as const;
export type Role = (typeof roles)[number];

export interface DevicePrincipal {
  readonly deviceId: string;
  readonly classId: string;
}

export interface ApiPrincipal {
  readonly tokenId: string;
  readonly name: string;
  readonly role: Role;
}

// The least role each publisher/fleet method needs; a method missing here is refused.
export const requiredRole: Readonly<Record<string, Role>> = {
  'pendulum.v1.PublisherService.UploadPayload': 'publisher',
  'pendulum.v1.PublisherService.PublishRelease': 'publisher',
  'pendulum.v1.PublisherService.ListReleases': 'viewer',
  'pendulum.v1.PublisherService.PutTrustRoot': 'admin',
  'pendulum.v1.FleetService.CreateRollout': 'publisher',
  'pendulum.v1.FleetService.ListRollouts': 'viewer',
  'pendulum.v1.FleetService.GetRolloutStatus': 'viewer',
  'pendulum.v1.FleetService.ListAuditLog': 'viewer',
  'pendulum.v1.FleetService.PauseRollout': 'publisher',
  'pendulum.v1.FleetService.ResumeRollout': 'publisher',
  'pendulum.v1.FleetService.AbortRollout': 'publisher',
  'pendulum.v1.FleetService.SetDeviceLabels': 'admin',
  'pendulum.v1.FleetService.ListDevices': 'viewer',
  'pendulum.v1.FleetService.AcceptDevice': 'admin',
  'pendulum.v1.FleetService.RejectDevice': 'admin',
  'pendulum.v1.FleetService.PreauthorizeDevice': 'admin',
  'pendulum.v1.FleetService.DecommissionDevice': 'admin',
  'pendulum.v1.FleetService.CreateEnrolmentToken': 'admin',
};

// apiAuthorizer checks an API token and the role the method needs.
export function apiAuthorizer(store: Store) {
  return async (method: DescMethod, metadata: Metadata): Promise<ApiPrincipal> => {
    const token = bearerToken(metadata);
    if (token === undefined)
      throw new PendulumError(
        'UNAUTHENTICATED',
        'missing API token (authorization: Bearer <token>)',
      );
    // Only a token that could be ours costs a database read.
    const found = isTokenShaped(token, 'api') ? await store.tokens.findApiToken(token) : undefined;
    if (found === undefined)
      throw new PendulumError('UNAUTHENTICATED', 'unknown or revoked API token');
    const name = `${method.parent.typeName}.${method.name}`;
    const needed = requiredRole[name];
    if (needed === undefined)
      throw new PendulumError('PERMISSION_DENIED', `${name} is open to no API role`);
    if (roles.indexOf(found.role as Role) < roles.indexOf(needed)) {
      throw new PendulumError(
        'PERMISSION_DENIED',
        `${name} needs the ${needed} role; token "${found.name}" has ${found.role}`,
      );
    }
    return { tokenId: found.id, name: found.name, role: found.role as Role };
  };
}

// Device tokens checked recently, at most: a fleet polling every five minutes
// with a short cache_ttl stays far below it.
const maxCachedDeviceTokens = 100_000;

// deviceAuthorizer checks a device token; Authenticate is the one open method.
// A token found valid is trusted for `cacheTtlMs` without asking the store
// again (never past its expiry): a device rejected or decommissioned through
// this server is refused at once, through another replica within cacheTtlMs.
export function deviceAuthorizer(store: Store, now: () => Date, cacheTtlMs = 0) {
  const sessions = createReadCache<string, DevicePrincipal & { expiresAtMs: number }>({
    ttlMs: cacheTtlMs,
    version: () => store.changes.deviceAccess,
    maxEntries: maxCachedDeviceTokens,
  });
  const lookup = async (token: string) => {
    const found = await store.tokens.findDeviceToken(token, now());
    if (found === undefined)
      throw new PendulumError(
        'UNAUTHENTICATED',
        'device token unknown or expired; authenticate again',
      );
    const device = await store.devices.get(found.deviceId);
    if (device === undefined || device.admission !== 'accepted') {
      throw new PendulumError('PERMISSION_DENIED', `device ${found.deviceId} is not admitted`);
    }
    return {
      deviceId: found.deviceId,
      classId: device.classId,
      expiresAtMs: Date.parse(found.expiresAt),
    };
  };
  return async (method: DescMethod, metadata: Metadata): Promise<DevicePrincipal | undefined> => {
    if (method.localName === 'authenticate') return undefined;
    const token = bearerToken(metadata);
    if (token === undefined)
      throw new PendulumError('UNAUTHENTICATED', 'missing device token; call Authenticate first');
    // Only a token that could be ours costs a database read.
    if (!isTokenShaped(token, 'device'))
      throw new PendulumError(
        'UNAUTHENTICATED',
        'device token unknown or expired; authenticate again',
      );
    let session = await sessions.get(token, () => lookup(token));
    if (session !== undefined && session.expiresAtMs <= now().getTime())
      session = await sessions.fresh(token, () => lookup(token));
    invariant(session !== undefined, 'a device token lookup returns a session or throws');
    return { deviceId: session.deviceId, classId: session.classId };
  };
}

// requireDevice narrows the principal of a device method other than Authenticate.
export function requireDevice(principal: DevicePrincipal | undefined): DevicePrincipal {
  if (principal === undefined) throw new PendulumError('UNAUTHENTICATED', 'device token required');
  return principal;
}
