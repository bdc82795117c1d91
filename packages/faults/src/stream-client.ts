/**
 * A stream client child: opens one stream through a real FailoverPool, drives it as its kind
 * asks (stream-drive.ts) and prints its progress, then how it ended; started by a scenario on a
 * NetLab host (partitions) or to be frozen (SIGSTOP) while its server writes. Params as JSON in
 * argv[2] (stream-client-params.ts).
 */
import { RpcError } from '@skein/core';
import { nodeRuntime } from '@skein/runtime-node';
import { FailoverPool } from '@skein/stream';
import { tcpTransport } from '@skein/transport-tcp';
import type { StreamClientParams, StreamClientResult } from './stream-client-params.js';
import { StreamDrive } from './stream-drive.js';
import { encodeOrder } from './stream-order.js';

const params = JSON.parse(process.argv[2] ?? '{}') as StreamClientParams;
const pool = new FailoverPool({ ...params.pool, transport: tcpTransport(nodeRuntime), servers: params.servers });
const { order } = params;
const timeout = params.timeoutMs === undefined ? {} : { timeoutMs: params.timeoutMs };
const stream = pool.openStream(order.kind, encodeOrder(order), { idempotent: order.idempotent, ...timeout });
const drive = new StreamDrive(stream, order.kind, params.items, order.paceMs, params.readLimit ?? Infinity);
let told = -1;
// Progress as it comes, polled: the drive has no events, and a line per change is cheap at these sizes.
const watch = setInterval(() => {
  if (drive.progress !== told) console.log(`progress ${(told = drive.progress)}`);
}, 10);
await drive.done;
clearInterval(watch);
const err = drive.error;
const result: StreamClientResult = {
  received: drive.received.length,
  inOrder: drive.inOrder,
  written: drive.written,
  ...(err instanceof RpcError ? { code: err.codeName, retry: err.retry, message: err.message } : err !== undefined ? { code: String(err) } : {}),
};
console.log(`progress ${drive.progress}`);
console.log(`ended ${JSON.stringify(result)}`);
await pool.close();
