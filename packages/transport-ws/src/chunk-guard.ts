import type { Duplex } from 'node:stream';
import { FrameError } from '@skein/core';
import type { MessageConn } from './message-conn.js';

/** Chunks a frame may arrive in before their average length is looked at. */
const FREE_CHUNKS = 64;
/**
 * The least average chunk of a frame still arriving. Real networks deliver at least a few hundred
 * bytes a read (a TCP segment, a TLS record); ws holds about 200 bytes of heap per chunk besides
 * its bytes, so this keeps what a frame under way holds within about twice what arrived.
 */
const MIN_AVERAGE_CHUNK = 256;

/**
 * ws keeps each chunk of a frame still arriving as a Buffer of its own until the frame is whole,
 * and up to 262,144 of them: a peer that dribbled a large frame a byte per TCP segment made the
 * server hold about 200 bytes of heap per byte it sent (some 50 MiB for 256 KiB). The guard
 * counts the chunks and bytes read since the last whole message or control frame, and drops a
 * connection whose chunks, past FREE_CHUNKS, average under MIN_AVERAGE_CHUNK bytes: that
 * connection alone, at once (a close frame would leave it reading for ws's close timeout).
 */
export class ChunkGuard {
  private chunks = 0;
  private bytes = 0;

  /**
   * Watches what `socket` delivers to ws. Its listener goes before ws's own, so a chunk that
   * completes a message is counted before the message resets the count. ws's owner calls
   * `reset` on each message, ping and pong.
   */
  constructor(
    socket: Duplex,
    private readonly conn: MessageConn,
  ) {
    socket.prependListener('data', this.data);
  }

  /** A whole message or control frame arrived: ws holds no read of it any more. */
  readonly reset = (): void => {
    this.chunks = this.bytes = 0;
  };

  private readonly data = (chunk: Uint8Array): void => {
    this.bytes += chunk.length;
    if (++this.chunks <= FREE_CHUNKS || this.chunks * MIN_AVERAGE_CHUNK <= this.bytes) return;
    this.conn.abort(
      new FrameError(`the peer sent ${this.bytes} bytes of a message in ${this.chunks} reads, under ${MIN_AVERAGE_CHUNK} bytes a read: each read costs more memory than it carries`),
    );
  };
}
