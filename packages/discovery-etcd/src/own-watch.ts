import type { Etcd3, WatchBuilder } from 'etcd3';

/**
 * A watch on a gRPC stream of its own (a namespace of the client, with no prefix, has its own
 * watch manager). etcd3 attaches the watches of one stream one at a time; a watch that etcd
 * refuses as it creates it (`created` and `canceled` at once: a role that may not read) never
 * lets the next one attach, so every later watch on that stream hangs, unconnected, without an
 * error. On the client's shared stream that would stop every watch of the application on it.
 * A stream whose watches are all canceled is closed by etcd3.
 */
export function ownWatch(client: Etcd3): WatchBuilder {
  return client.namespace('').watch();
}
