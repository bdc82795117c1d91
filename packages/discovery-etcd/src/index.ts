/**
 * @skein/discovery-etcd: service discovery on etcd v3, behind @skein/stream's `Discovery` and
 * `Registrar` contracts.
 *
 * A server registers its entry as the key `<prefix>/<type>/<id>` with the JSON value `{ address,
 * weight, meta }`, under a lease with a short TTL that etcd3 keeps alive; if the server dies the
 * keepalives stop and etcd deletes the key when the lease expires. A graceful close revokes the
 * lease first, which deletes the key at once, so clients stop routing to the server before it
 * goes. A client reads the whole prefix once (the view at revision R) and watches it from R + 1;
 * a watch that breaks resumes from the revision after the last change it applied, so a change is
 * neither lost nor applied twice. While etcd cannot be reached the client keeps the membership it
 * knew, says so in a log line and in `status()` (stale since when, and why), and tries again with
 * jittered backoff. The events feed a FailoverPool (`followDiscovery` from @skein/stream) or a
 * `createCluster` cluster (`followClusterDiscovery` here). Membership changes never wait for
 * calls in flight: a server that leaves finishes its calls while new ones go elsewhere.
 *
 * Built on the `etcd3` client (Microsoft's, MIT): typed, maintained, and it already does leases
 * with keepalive, prefix watches from a revision over one multiplexed gRPC stream, and host
 * failover; the resume after a broken watch is ours (see prefix-watch.ts).
 */

// ── Clients: learn who is there ──────────────────────────────────────────────────────────────
export { EtcdDiscovery } from './etcd-discovery.js';
export type { EtcdDiscoveryOptions } from './etcd-discovery.js';
export { followClusterDiscovery } from './cluster-follower.js';
export type { ClusterMembership, FollowClusterOptions } from './cluster-follower.js';
export type { MemberStates } from './member-liveness.js';
export { readEntries } from './read-entries.js';
export type { EntriesRead, ReadEntriesOptions, SkippedKey } from './read-entries.js';

// ── Servers: say you are there ───────────────────────────────────────────────────────────────
export { EtcdRegistrar } from './etcd-registrar.js';
export type { EtcdRegistrarOptions } from './etcd-registrar.js';

// ── The key layout, for tools that read or write entries themselves ────────────────────────
export { DEFAULT_PREFIX, decodeEntry, encodeValue, keyOf } from './etcd-entry.js';
