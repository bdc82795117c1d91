import type net from 'node:net';
import { sleep, waitFor } from './wait.js';

/**
 * Until `socket`'s send queue stops moving (the peer's kernel buffers are full: it is not
 * reading) or empties (it read everything): ten samples in a row alike, `pause` apart (20 ms by
 * default). The peer is often another process: a wrong "stopped" only leaves more queued, so a
 * check that the queue stays non-empty may miss a runtime that reads on, never fail one that stops.
 */
export async function sendQueueSettled(socket: net.Socket, pause: () => Promise<unknown> = () => sleep(20), timeoutMs = 20_000): Promise<void> {
  let last = -1;
  let still = 0;
  await waitFor(
    async () => {
      await pause();
      const now = socket.writableLength;
      still = now === last ? still + 1 : 0;
      last = now;
      return still >= 10 || now === 0;
    },
    { what: 'the send queue to settle', timeoutMs },
  );
}
