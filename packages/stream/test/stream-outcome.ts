import { ErrorCode, RpcError } from '@skein/core';
import { within } from '@skein/test-utils';
import type { StreamCall } from '../src/index.js';

/** Whether `s` ran (its handler's first item came) or how it failed: what the stream-budget tests decide by. */
export async function ran(s: StreamCall): Promise<'ran' | RpcError> {
  try {
    const first = await within(s[Symbol.asyncIterator]().next(), 10_000, 'the stream to run or fail');
    return first.done ? new RpcError(ErrorCode.Internal, 'ended without an item') : 'ran';
  } catch (err) {
    return err as RpcError;
  }
}
