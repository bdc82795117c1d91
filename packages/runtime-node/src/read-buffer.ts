import type net from 'node:net';
import { LONG_BYTES, uninitializedBytes } from '@skein/core';

/**
 * Whether client sockets read through `readInto`: on Node only. Bun's and Deno's `node:net` (where
 * this package may run too) call `onread`'s callback without the socket as `this`, and need not
 * keep Node's promise that the callback runs before the next read into the buffer: there the
 * sockets read the default way.
 */
export const OWN_READS = typeof (process.versions as { bun?: string }).bun !== 'string' && !('Deno' in globalThis);

/** As much as Node reads at once into the buffers it allocates itself. */
const READ_BYTES = 64 * 1024;

/** The buffer every socket that reads through `readInto` shares while its reads are short: made at the first connect. */
let shared: Uint8Array | undefined;

/**
 * The `onread` option that has a client socket read into one buffer shared by every such socket
 * in the process, handing `deliver` each read's bytes as a copy of their exact size.
 *
 * Node's own read path costs, per read, a 64 KiB allocation, a second allocation of the read's
 * size and a copy into it, and a pass through the Readable stream machinery before 'data' is
 * emitted; at one call in flight that is a good part of a round trip's CPU (docs/benchmarks.md,
 * "Issue 19: one call in flight on one CPU"). Here a short read costs the copy alone. Sharing
 * one buffer is safe because Node calls `callback` synchronously after each read, before any
 * other read into it, and the bytes leave it (copied) before `callback` returns: nothing
 * downstream ever holds a view of it, so received chunks stay ours for good, as the ByteConn
 * contract says. A socket whose read fills the buffer (bulk) reads into buffers of its own
 * instead, as Node does: a full one is handed on whole, uncopied, and the next read gets a fresh
 * one, so bulk data is not copied twice; a read that does not fill it (the kernel had no more)
 * sends the socket back to the shared buffer, so an idle socket holds no buffer of its own.
 * Node has no such option for the sockets a server accepts (nor for TLS): those read as before. One closure pair per connection: client connections are few.
 */
export function readInto(deliver: (this: net.Socket, bytes: Uint8Array) => void): net.OnReadOpts {
  shared ??= new Uint8Array(READ_BYTES);
  /** This socket's own buffer while its reads are long; undefined: it reads into `shared`. */
  let own: Uint8Array | undefined;
  return {
    // Called by Node once at the start, then after every read: the buffer the next read goes into.
    buffer: () => (own ??= shared!),
    callback(this: net.Socket, n: number, buffer: Uint8Array): boolean {
      if (buffer === shared) {
        // The shared buffer filled: more is waiting, so from the next read on this socket reads into its own.
        if (n === buffer.length) own = new Uint8Array(READ_BYTES);
        deliver.call(this, copyOut(buffer, n));
      } else if (n === buffer.length) {
        // A full buffer of its own is handed on whole (Node's zero-copy case); the next read gets a new one.
        own = new Uint8Array(READ_BYTES);
        deliver.call(this, buffer);
      } else {
        // Part of its own buffer: the kernel had no more, so the bulk may be over. Copied out and
        // let go: a socket that goes idle here must not keep 64 KiB of its own (it did, after
        // any read of 4 to 64 KiB: 200 idle clients held 12 MB).
        own = undefined;
        deliver.call(this, copyOut(buffer, n));
      }
      // Paused: reading stops here (false: Node's readStop). Node's resume() followed by pause()
      // in one tick still starts a read on the next (Readable's resume_ calls read(0), which in
      // onread mode starts the handle whatever the pause), and nothing else would stop it: a
      // paused client read on without bound, its bytes held by the connection (the conformance
      // kit's backpressure scenario). The default read path stops at the stream's high-water mark.
      return !this.isPaused();
    },
  };
}

/** The first `n` bytes of `buffer` in memory of their own, as a plain Uint8Array of exactly n bytes. */
function copyOut(buffer: Uint8Array, n: number): Uint8Array {
  // `slice` of a plain Uint8Array is a plain Uint8Array of its own memory.
  if (n < LONG_BYTES) return buffer.slice(0, n);
  // Long: into memory not zeroed first (zeroing would be a second pass over the bytes).
  const copy = uninitializedBytes(n);
  copy.set(buffer.subarray(0, n));
  return copy;
}
