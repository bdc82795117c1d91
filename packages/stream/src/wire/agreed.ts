/**
 * The extensions a connection's hello agreed, as both sides read them. Undefined on a
 * connection without them (a razor v1 peer): then no extension frame is ever sent on it.
 */
export interface Agreed {
  /** Cancel frames. */
  readonly cancel: boolean;
  /** Call heads: the largest head the server reads; 0 when not agreed. */
  readonly maxHead: number;
  /** Streams: the credit a new stream starts with, each way; undefined when not agreed. */
  readonly streams: StreamWindows | undefined;
}

export interface StreamWindows {
  /** Bytes the client may send on a new stream before the server grants more (the server's receive window). */
  readonly toServer: number;
  /** Bytes the server may send on a new stream before the client grants more (the client's receive window). */
  readonly toClient: number;
}

/** The default receive window of a stream, each way. */
export const DEFAULT_STREAM_WINDOW = 1024 * 1024;
