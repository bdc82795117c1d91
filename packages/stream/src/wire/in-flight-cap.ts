import { EMPTY_BYTES } from '@skein/core';
import { HelloKind, readU32Value, u32Entry, type HelloEntry } from './hello.js';

/**
 * The server's in-flight cap (docs/protocol.md, "The hello"), as HTTP/2's
 * SETTINGS_MAX_CONCURRENT_STREAMS: a server holds a request past its `maxInFlightPerConn` and
 * stops reading that connection until a slot frees, so a client whose window is over the cap
 * would have its keepalive pings go unread behind slow calls and drop a healthy connection. A
 * client that offers the kind (empty) keeps its window within the cap the answer names. A server
 * answers it only to a client that offered it; razor v1 peers and older Skein servers never see it.
 *
 * - hello kind IN_FLIGHT_CAP_KIND. Offer: empty. Answer: max_in_flight u32, the connection's
 *   kind's `maxInFlightPerConn` when the hello is answered.
 */
export const IN_FLIGHT_CAP_KIND = HelloKind.InFlightCap;

/** The offer's entry: empty. */
export const IN_FLIGHT_CAP_OFFER: HelloEntry = { kind: IN_FLIGHT_CAP_KIND, value: EMPTY_BYTES };

/** The answer's entry: the cap. */
export function inFlightCapEntry(maxInFlight: number): HelloEntry {
  return u32Entry(IN_FLIGHT_CAP_KIND, maxInFlight);
}

/**
 * The answer's cap, at least 1: a window of 0 (from a broken server) would hold every call
 * unsent until its timeout, where one call at a time still works. Throws HelloError when short.
 */
export function readInFlightCap(value: Uint8Array): number {
  return Math.max(1, readU32Value(IN_FLIGHT_CAP_KIND, value));
}
