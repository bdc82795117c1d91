import type { Attributes, Span } from '@opentelemetry/api';
import type { RpcMetrics } from './rpc-metrics.js';
import {
  ATTR_RPC_MESSAGE_ID,
  ATTR_RPC_MESSAGE_TYPE,
  ATTR_RPC_MESSAGE_UNCOMPRESSED_SIZE,
  ATTR_SKEIN_ITEMS_RECEIVED,
  ATTR_SKEIN_ITEMS_SENT,
  RPC_MESSAGE_EVENT,
} from './semconv.js';

/**
 * The items of one stream, each way, for its span and metrics: every item counted (and sized in
 * the metrics, per message as the conventions ask of streams), the first `maxEvents` each way
 * also an `rpc.message` span event.
 */
export class StreamTally {
  sent = 0;
  received = 0;

  constructor(
    private readonly span: Span,
    /** Undefined while metrics are off. */
    private readonly metrics: RpcMetrics | undefined,
    /**
     * The call, for the series its items are sized in: the one it is in flight under (a server's
     * `_OTHER` while its action is not known to be served), never a name a peer made up.
     */
    private readonly call: { readonly inFlight: Attributes | undefined },
    /** Where items go when the call is in no series (it ended before it was dispatched). */
    private readonly fallback: Attributes,
    /** Which way the requests go: a client sends them, a server receives them. */
    private readonly side: 'client' | 'server',
    private readonly maxEvents: number,
  ) {}

  itemSent(bytes: number): void {
    const id = ++this.sent;
    this.metrics?.item(this.side === 'client', bytes, this.call.inFlight ?? this.fallback);
    if (id <= this.maxEvents) this.event('SENT', id, bytes);
  }

  itemReceived(bytes: number): void {
    const id = ++this.received;
    this.metrics?.item(this.side === 'server', bytes, this.call.inFlight ?? this.fallback);
    if (id <= this.maxEvents) this.event('RECEIVED', id, bytes);
  }

  /**
   * The stream is over: its item counts go on the span (before it ends), and its messages per
   * RPC into the metrics under `attributes`, the call's as its end recorded it. The conventions
   * count messages, so the opening request and the answer count too: what `request.size` and
   * `response.size` recorded for the stream, one for one.
   */
  finish(attributes: Attributes): void {
    this.span.setAttribute(ATTR_SKEIN_ITEMS_SENT, this.sent);
    this.span.setAttribute(ATTR_SKEIN_ITEMS_RECEIVED, this.received);
    const requests = this.side === 'client' ? this.sent : this.received;
    const responses = this.side === 'client' ? this.received : this.sent;
    this.metrics?.streamFinished(attributes, requests + 1, responses + 1);
  }

  private event(type: 'SENT' | 'RECEIVED', id: number, bytes: number): void {
    this.span.addEvent(RPC_MESSAGE_EVENT, { [ATTR_RPC_MESSAGE_TYPE]: type, [ATTR_RPC_MESSAGE_ID]: id, [ATTR_RPC_MESSAGE_UNCOMPRESSED_SIZE]: bytes });
  }
}

/**
 * Either end of a stream: a client's StreamCall or a server's RequestStream. `received` is what
 * their connection calls with each item that arrives (true when it was taken), `write` what
 * their user calls to send one.
 */
export interface ItemCarrier {
  /** The item's msg at `bytes[msgAt, msgEnd)`, its blob at `[msgEnd, end)` of the received chunk. */
  received(bytes: Uint8Array, msgAt: number, msgEnd: number, end: number): boolean;
  write(msg?: Uint8Array, blob?: Uint8Array): Promise<void>;
}

const ignore = (): void => {};

/**
 * Counts the carrier's items into `tally`, by giving this one stream its own `received` and
 * `write` that count and call the class's: the connection and the user both hold the carrier
 * itself, so nothing else would see every item. An item counts as received when the stream took
 * it (arrived within credit), as sent once its write resolved (it is on the wire).
 */
export function tallyItems(carrier: ItemCarrier, tally: StreamTally): void {
  const received = carrier.received;
  const write = carrier.write;
  carrier.received = (bytes, msgAt, msgEnd, end) => {
    const taken = received.call(carrier, bytes, msgAt, msgEnd, end);
    if (taken) tally.itemReceived(end - msgAt);
    return taken;
  };
  carrier.write = (msg, blob) => {
    const written = write.call(carrier, msg, blob);
    written.then(() => tally.itemSent((msg?.length ?? 0) + (blob?.length ?? 0)), ignore);
    return written;
  };
}
