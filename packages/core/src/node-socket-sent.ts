/** The parts of a Node stream handle (libuv's) read here: not in Node's typings, so named here. */
interface NodeStreamHandle {
  /** Bytes handed to the handle's writes so far, counted as each write is dispatched. */
  readonly bytesWritten?: number;
  /** Bytes of those writes libuv still holds, not yet taken by the kernel. */
  readonly writeQueueSize?: number;
  /** A TLS handle's: the TCP (or pipe) handle its encrypted bytes go through. */
  readonly _parent?: NodeStreamHandle | null;
}

/** A `net.Socket` or `tls.TLSSocket`, as far as it is read here. */
interface NodeSocketLike {
  readonly _handle?: NodeStreamHandle | null;
}

/**
 * Bytes a Node socket's kernel has taken so far (ByteConn.sentBytes), or undefined where it cannot
 * be told (closed, or not a libuv stream: another runtime's `node:net`). Node's public counters
 * do not say it: `socket.bytesWritten` counts bytes still in its buffer, and `writableLength`
 * drops only when a whole write (one writev of a batch, megabytes to a slow reader) is done. Its
 * TCP handle does: what was dispatched to libuv, less what libuv still holds, grows as the
 * kernel takes bytes, however few. On TLS, the TCP handle beneath the TLS one (its `_parent`)
 * counts the encrypted bytes: the TLS handle's own count moves only when a whole write is done.
 * Read through the TLS handle, not the TLSSocket's `_parent` socket: a TLS client that
 * `tls.connect` made has no such socket (only a server's, made over an accepted one, has).
 * Read on demand (the server's tick, for a congested connection): nothing is counted per write.
 */
export function nodeSocketSentBytes(socket: unknown): number | undefined {
  // Deno's `node:net` has handles of the same names that it keeps otherwise (not checked against
  // its kernel): left out there, as a count that moved only per whole write would take a slow
  // reader for a frozen one. Its own sockets (runtime-deno) count what their writes took.
  if ((globalThis as { Deno?: unknown }).Deno !== undefined) return undefined;
  const s = socket as NodeSocketLike;
  const handle = s._handle?._parent ?? s._handle;
  const dispatched = handle?.bytesWritten;
  const queued = handle?.writeQueueSize;
  return typeof dispatched === 'number' && typeof queued === 'number' ? dispatched - queued : undefined;
}
