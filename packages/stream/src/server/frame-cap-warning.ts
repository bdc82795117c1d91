import type { FrameListener, Logger } from '@skein/core';
import { DEFAULT_LIMITS } from '../wire/limits.js';
import { largestRequestFrame } from '../wire/request-limits.js';
import type { KindLimits, KindSettings } from './conn-kind.js';

/**
 * At listen: one warn line when a kind's `limits` allow a request frame larger than the
 * listener's transport carries (FrameListener.maxFrameBytes: a WebSocket's maxWsMessageBytes,
 * TCP's maxPendingFrameBytes). A Skein client is told the transport's bound in the hello's answer
 * (kind 26's max_frame) and refuses such a call unsent; a razor v1 client or an older Skein one
 * sends it, and the transport closes its connection with every call on it. Said once, where it
 * can be fixed, rather than found by the first large call. A warning where limits were raised
 * past the defaults (the call they were raised for fails); at info where they were not (the
 * defaults over a WebSocket's default cap, or a cap lowered by choice): every default ws server
 * would otherwise warn at each listen of what it was told to be.
 */
export function warnOfFrameCap(kinds: KindSettings, listener: FrameListener, transport: string, logger: Logger): void {
  const cap = listener.maxFrameBytes;
  if (cap === undefined) return;
  // Peers have limits of their own only where the server tells them apart.
  const over = (kinds.admit ? [kinds.client, kinds.peer] : [kinds.client]).filter((k) => largestRequestFrame(k.limits) > cap);
  if (over.length === 0) return;
  const largest = Math.max(...over.map((k) => largestRequestFrame(k.limits)));
  const raised = largest > largestRequestFrame(DEFAULT_LIMITS);
  logger[raised ? 'warn' : 'info'](
    { address: listener.address, transport, maxFrameBytes: cap, largestRequestFrame: largest, kinds: over.map((k) => k.kind) },
    `the ${names(over)} limits allow a request frame of ${largest} bytes (limits.maxMessage + maxBlob + maxAction and a 32-byte header), over the largest the ${transport} transport carries, ${cap} (its maxWsMessageBytes over WebSocket, maxPendingFrameBytes over TCP): Skein clients refuse larger calls unsent (FrameTooLarge), older ones lose their connection to them; raise that transport option to at least ${largest}, or lower the limits`,
  );
}

function names(kinds: readonly KindLimits[]): string {
  return kinds.map((k) => (k.kind === 'client' ? 'clients\'' : 'peers\'')).join(' and ');
}
