import { ErrorCode, RpcError } from '@skein/core';
import { CALLED_AS_UNARY } from './called-as-unary.js';
import type { StreamKind } from './define.js';

// A call that reached a method of another shape than the one it was made for: the client's
// definition and the server's differ (a method changed from unary to streaming, or back). The
// server refuses it before its handler runs, with InvalidArgument, whose words reach the
// caller: run, it would answer a question nobody asked (a unary handler's result read as the
// end of an empty stream) or wait for items that never come.

const SHAPE: Readonly<Record<StreamKind, string>> = { server: 'a server stream', client: 'a client stream', both: 'a bidirectional stream' };

const SKEW = "do the client's and the server's definitions of it differ?";

/** A stream opened on a unary method. */
export const openedAsStream = (action: string): RpcError =>
  new RpcError(ErrorCode.InvalidArgument, `${action}: a unary method on the server, opened as a stream: ${SKEW}`);

/** A streaming method called without a stream: a unary call (a razor v1 client can make no other). */
export const calledAsUnary = (action: string, kind: StreamKind): RpcError =>
  new RpcError(ErrorCode.InvalidArgument, `${action}: ${SHAPE[kind]} ${CALLED_AS_UNARY}: ${SKEW}`);

/** A client or bidirectional stream opened with an argument, as only a server stream is. */
export const openedWithArgument = (action: string, kind: StreamKind): RpcError =>
  new RpcError(ErrorCode.InvalidArgument, `${action}: ${SHAPE[kind]} on the server, opened with an argument as a server stream is: ${SKEW}`);

/**
 * A stream opened as another kind than the server's (the client's stub says which, in its
 * open's `skein-stream` entry): what the wire cannot show, as a stream that opens with nothing
 * is a server stream without an argument, a client stream or a bidirectional one alike.
 */
export const openedAsOtherStream = (action: string, kind: StreamKind, sent: StreamKind): RpcError =>
  new RpcError(ErrorCode.InvalidArgument, `${action}: ${SHAPE[kind]} on the server, opened as ${SHAPE[sent]}: ${SKEW}`);

/** A `skein-stream` entry that names no kind of stream: the name is reserved for what a stub sends. */
export const unknownStreamKind = (action: string, key: string, sent: string): RpcError =>
  new RpcError(ErrorCode.InvalidArgument, `${action}: metadata '${key}' is ${JSON.stringify(sent)}, not 'server', 'client' or 'both' (the name is reserved for the kind of stream a Skein client opens)`);
