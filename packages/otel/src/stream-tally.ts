import type { Attributes, Span } from '@opentelemetry/api';
import type { ItemObserver } from '@skein/stream';
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
 * also an `rpc.message` span event. The stream tells it of each (`observe`): as it takes one
 * from the peer (arrived within credit), and as one of this side goes on the wire.
 */
export class StreamTally implements ItemObserver {
  private itemsSent = 0;
  private itemsReceived = 0;

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

  sent(bytes: number): void {
    const id = ++this.itemsSent;
    this.metrics?.item(this.side === 'client', bytes, this.call.inFlight ?? this.fallback);
    if (id <= this.maxEvents) this.event('SENT', id, bytes);
  }

  received(bytes: number): void {
    const id = ++this.itemsReceived;
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
    this.span.setAttribute(ATTR_SKEIN_ITEMS_SENT, this.itemsSent);
    this.span.setAttribute(ATTR_SKEIN_ITEMS_RECEIVED, this.itemsReceived);
    const requests = this.side === 'client' ? this.itemsSent : this.itemsReceived;
    const responses = this.side === 'client' ? this.itemsReceived : this.itemsSent;
    this.metrics?.streamFinished(attributes, requests + 1, responses + 1);
  }

  private event(type: 'SENT' | 'RECEIVED', id: number, bytes: number): void {
    this.span.addEvent(RPC_MESSAGE_EVENT, { [ATTR_RPC_MESSAGE_TYPE]: type, [ATTR_RPC_MESSAGE_ID]: id, [ATTR_RPC_MESSAGE_UNCOMPRESSED_SIZE]: bytes });
  }
}
