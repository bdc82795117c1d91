/**
 * Attribute names from OpenTelemetry's RPC semantic conventions (the experimental set up to
 * v1.37 that gRPC and most RPC instrumentations emit), and Skein's own under `rpc.skein.*` as
 * the conventions suggest for a system's specifics (cf. `rpc.grpc.status_code`).
 */
export const ATTR_RPC_SYSTEM = 'rpc.system';
export const ATTR_RPC_SERVICE = 'rpc.service';
export const ATTR_RPC_METHOD = 'rpc.method';
export const ATTR_SERVER_ADDRESS = 'server.address';
export const ATTR_SERVER_PORT = 'server.port';
export const ATTR_NETWORK_PEER_ADDRESS = 'network.peer.address';
export const ATTR_NETWORK_PEER_PORT = 'network.peer.port';
export const ATTR_NETWORK_TRANSPORT = 'network.transport';
export const ATTR_ERROR_TYPE = 'error.type';
/** The built-in error's code number (ErrorCode), on calls that failed with one. */
export const ATTR_SKEIN_ERROR_CODE = 'rpc.skein.error_code';
/**
 * On a client span, whether the failed call may have run, as the client's RpcError says
 * (`retry`): `safe` it never ran on the server, `idempotent` it may have, `never` not to be
 * tried again (its handler answered, or its caller gave it up). A refusal unrun reads apart from
 * the same code passed on by a handler that ran (`Overloaded` safe, `Overloaded` idempotent).
 */
export const ATTR_SKEIN_ERROR_RETRY = 'rpc.skein.error_retry';
/** The method's own error, when it travelled as a number. */
export const ATTR_SKEIN_CUSTOM_ERROR = 'rpc.skein.custom_error';
/** The Skein transport a server call came in on: `tcp`, `ws`... */
export const ATTR_SKEIN_TRANSPORT = 'rpc.skein.transport';

/** A stream's items each way (the opening request and the answer not counted): set on its span when it ends. */
export const ATTR_SKEIN_ITEMS_SENT = 'rpc.skein.stream.items_sent';
export const ATTR_SKEIN_ITEMS_RECEIVED = 'rpc.skein.stream.items_received';

/** The conventions' per-message span event, for a stream's items: type, id (from 1 each way), size. */
export const RPC_MESSAGE_EVENT = 'rpc.message';
export const ATTR_RPC_MESSAGE_TYPE = 'rpc.message.type';
export const ATTR_RPC_MESSAGE_ID = 'rpc.message.id';
export const ATTR_RPC_MESSAGE_UNCOMPRESSED_SIZE = 'rpc.message.uncompressed_size';

export const RPC_SYSTEM = 'skein';

/** `error.type` of a method's own (custom) error. */
export const CUSTOM_ERROR_TYPE = 'custom';
