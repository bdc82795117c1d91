import type { Logger } from '@skein/core';
import type { DiscoveryEntry, HeldLiveness } from '@skein/stream';
import { reason } from './reason.js';

/** The part of `ClusterMembership` that tells whether its members answer. */
export interface MemberStates {
  /**
   * Whether the member `id` of `type` answers (a connection to it up), and `watchStates`, how to
   * hear of changes to that and to the type's members (`changed` after each connection state
   * change and each member added or removed, until the function returned is called). With
   * both, a type's last member held past `lastLeaveGraceMs` that still answers stays until it no
   * longer does (`rpc.$cluster` has them). Without them, the grace's end removes it.
   */
  answers?(type: string, id: string): boolean;
  watchStates?(type: string, changed: () => void): () => void;
}

/**
 * How a type's held last member is watched once the grace is over (`LastLeaveHold`'s
 * `liveness`): through the cluster's `answers` and `watchStates`, or not at all when it lacks
 * either (the grace's end then removes the member, as before). A cluster that throws from them
 * (one of the application's making) neither ends the process from a timer nor keeps the member
 * for ever: the member counts as not answering, and goes.
 */
export function memberLiveness(cluster: MemberStates, type: string, logger: Logger): HeldLiveness<DiscoveryEntry> | undefined {
  if (!cluster.answers || !cluster.watchStates) return undefined;
  /** The watch could not be made: a member nobody watches is not kept on its answer. */
  let unwatched = false;
  return {
    answers: (held) => {
      if (unwatched) return false;
      try {
        return cluster.answers!(type, held.id) === true;
      } catch (err) {
        logger.warn({ type, id: held.id, reason: reason(err) }, 'asking the cluster whether a held member answers failed: it goes');
        return false;
      }
    },
    watch: (changed) => {
      try {
        return cluster.watchStates!(type, changed);
      } catch (err) {
        logger.warn({ type, reason: reason(err) }, "watching the cluster's member states failed: the held member goes");
        unwatched = true;
        queueMicrotask(changed);
        return () => void (unwatched = false);
      }
    },
  };
}
