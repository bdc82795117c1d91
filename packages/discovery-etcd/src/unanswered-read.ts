import { GRPCDeadlineExceededError, type Etcd3 } from 'etcd3';
import { attemptBoundMs } from './attempt-deadline.js';
import { endpointsOf } from './etcd-endpoints.js';
import { READ_BOUND_MS } from './range-read.js';
import { failureReason } from './failure-reason.js';
import { grpcReason, reason } from './reason.js';

/**
 * Why a bounded read of `client` failed, for a status reason and a log line. One that etcd left
 * unanswered past its bound (an etcd that accepts and never answers: stopped with SIGSTOP, a
 * frozen host, a relay holding the connection) is said as that, naming the members, with gRPC's
 * words after: those are of the last attempt etcd3 made, sent past the deadline on a new channel
 * and failed at once (`Deadline exceeded after 0.000s, waiting for name resolution`), which alone
 * sent a reader looking at DNS. Any other failure (refused, a name that does not resolve) says
 * what it is already (`failureReason`: an open etcd3 breaker named as such).
 */
export function readReason(err: unknown, client: Etcd3): string {
  if (!unanswered(err)) return failureReason(err, client);
  const where = endpointsOf(client);
  const attemptMs = attemptBoundMs(client, READ_BOUND_MS);
  const within = attemptMs === READ_BOUND_MS ? `${READ_BOUND_MS} ms` : `${attemptMs} ms a member, ${READ_BOUND_MS} ms in all`;
  return `etcd${where ? ` at ${where.join(', ')}` : ''} did not answer a read within ${within} (gRPC: ${grpcReason(err)})`;
}

/** gRPC's DEADLINE_EXCEEDED, as etcd3 types it (or by its status text, an etcd3 of another copy). */
function unanswered(err: unknown): boolean {
  return err instanceof GRPCDeadlineExceededError || /^4 DEADLINE_EXCEEDED\b/.test(reason(err));
}
