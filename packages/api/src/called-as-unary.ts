/**
 * The words of the server's refusal of a streaming method called without a stream (a unary call:
 * the client's definition of the method differs from the server's, or the caller makes unary
 * calls only, as `skein call` does): `Feed.watch: a server stream on the server, called as a
 * unary method: ...`, with `InvalidArgument`.
 *
 * A built-in error carries nothing on the wire but its code and its words (`docs/protocol.md`,
 * Errors), so its words are how a client tells this refusal from another InvalidArgument
 * (`err.code === ErrorCode.InvalidArgument && err.message.includes(CALLED_AS_UNARY)`). They are
 * part of the protocol: servers of every version since the refusal came send them, and clients
 * match them, so they stay as they are (a test pins them).
 */
export const CALLED_AS_UNARY = 'on the server, called as a unary method';
