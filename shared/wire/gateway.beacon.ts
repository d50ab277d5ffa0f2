/**
 * The beacon a gateway publishes on `gw.<id>.alive` (subjects.gatewayHeartbeat)
 * every third of ROOM_GATEWAY_TIMEOUT_MS: while it comes, the room service keeps
 * that gateway's members; when it stops, they are let go.
 *
 * What must hold: the gateway id is the subject's, not the payload's (a beacon is
 * a liveness signal, so any message on the subject counts, also one from a gateway
 * of an older version whose payload had no `type`).
 */
import { subjects } from './subjects.js';

const decoder = new TextDecoder();

/** A gateway's beacon. */
export interface GatewayBeacon {
  type: 'gateway_alive';
  /** The gateway's id (GATEWAY_ID). */
  gateway: string;
  /** Client connections open on it now. */
  connections: number;
}

/** The subject and payload of the beacon of `gateway`. */
export function encodeGatewayBeacon(
  gateway: string,
  connections: number,
): { subject: string; beacon: GatewayBeacon } {
  return {
    subject: subjects.gatewayHeartbeat(gateway),
    beacon: { type: 'gateway_alive', gateway, connections },
  };
}

/**
 * Reads a beacon that arrived on `subject` (a match of subjects.gatewayHeartbeatAll).
 * Tolerant: a payload that is not a beacon still says its gateway is alive.
 */
export function readGatewayBeacon(subject: string, data: Uint8Array): GatewayBeacon {
  const gateway = subject.split('.')[1] ?? '';
  let connections = 0;
  try {
    const payload = JSON.parse(decoder.decode(data)) as Partial<GatewayBeacon> | null;
    if (typeof payload?.connections === 'number') connections = payload.connections;
  } catch {
    // Not JSON: still a sign of life.
  }
  return { type: 'gateway_alive', gateway, connections };
}
