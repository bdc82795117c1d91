import type { Metadata } from '@skein/stream';
import type { CallInfo } from './call-info.js';

/**
 * What a server filter is told of a call (`ServerFilter`): a CallInfo whose `metadata` is always
 * there, as the server always has it (`{}` when the client sent none), so that an auth filter
 * reads `info.metadata.authorization` with no `?.` or `!`.
 */
export interface ServerCallInfo extends CallInfo {
  readonly side: 'server';
  /** As the client sent it; empty (`{}`) when it sent none. */
  readonly metadata: Metadata;
}
