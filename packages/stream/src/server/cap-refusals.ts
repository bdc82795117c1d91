import { ErrorCode } from '@skein/core';
import { HELLO_SEQ } from '../wire/hello.js';
import { errorResponse } from '../wire/responses.js';
import type { KindCap } from './conn-census.js';

/** The option whose cap refused a connection at accept: the server's own, or a kind's. */
export type Cap = KindCap | 'maxConnections';

/** Who a cap refuses: the server's own cap, any connection; a kind's, one of that kind. */
const WHO: Record<Cap, string> = {
  maxConnections: 'connection',
  'clients.maxConnections': 'client',
  'peers.maxConnections': 'peer',
  'clients.maxConnectionsPerAddress': 'client',
  'peers.maxConnectionsPerAddress': 'peer',
};

/**
 * Why a connection refused at a cap, at accept, is closed (rpc-server.ts `refuse`): the words
 * name the option to raise, never its value, and say that nothing sent on it ran, as the
 * server read nothing of it.
 */
const refusal = (cap: Cap): Uint8Array =>
  errorResponse(HELLO_SEQ, ErrorCode.Overloaded, `connection limit reached (${cap}): the server refused this ${WHO[cap]} before reading anything from it, so nothing sent on it ran`);

/**
 * The one frame a connection refused at accept is sent before its close: the answer to a
 * hello, `rpc_overloaded:<why>` with seq 0, as a connection sent away from probation gets
 * (docs/protocol.md, The hello), sent without reading the hello, which a Skein client sends
 * first. Such a client reads it as a refusal of the connection, so that its calls fail
 * Overloaded, unrun, rather than IO "may have run". A razor v1 client never sends seq 0 and
 * drops an answer to no call of its own: it sees the close, as before. Made once per cap: a
 * flood at the cap costs an accept, one small write and a close each, and no read.
 */
export const CAP_REFUSALS: Readonly<Record<Cap, Uint8Array>> = {
  maxConnections: refusal('maxConnections'),
  'clients.maxConnections': refusal('clients.maxConnections'),
  'peers.maxConnections': refusal('peers.maxConnections'),
  'clients.maxConnectionsPerAddress': refusal('clients.maxConnectionsPerAddress'),
  'peers.maxConnectionsPerAddress': refusal('peers.maxConnectionsPerAddress'),
};
