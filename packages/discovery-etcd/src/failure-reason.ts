import type { Etcd3 } from 'etcd3';
import { endpointsOf } from './etcd-endpoints.js';
import { grpcReason } from './reason.js';

/**
 * Why a call on `client` failed, for a status reason, a log line or an error: gRPC's words
 * without the empty "Resolution note:" they end some with. A call etcd3 did not even make
 * because its circuit breaker is open (earlier calls on the same client failed: a registration's
 * write, another watch's read) is said as that, naming the members: cockatiel's bare
 * `Execution prevented because the circuit breaker is open` named no etcd and read as one of
 * Skein's own pools' breakers.
 */
export function failureReason(err: unknown, client: Etcd3): string {
  if (!brokenCircuit(err)) return grpcReason(err);
  const where = endpointsOf(client);
  return `etcd3's circuit breaker for etcd${where ? ` at ${where.join(', ')}` : ''} is open: earlier calls on this client failed, and it makes none until its pause is over (${grpcReason(err)})`;
}

/** cockatiel's BrokenCircuitError, as etcd3 throws it (a dependency of etcd3's, not importable here). */
function brokenCircuit(err: unknown): boolean {
  return typeof err === 'object' && err !== null && (err as { isBrokenCircuitError?: unknown }).isBrokenCircuitError === true;
}
