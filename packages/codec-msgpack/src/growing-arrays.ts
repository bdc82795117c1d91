import type { Decoder } from '@msgpack/msgpack';
import { decoderStack, replaceMethod, requireMethods } from './private-methods.js';

interface ArrayState {
  size: number;
}

interface DecoderStack {
  top(): ArrayState;
}

type PushArray = (this: DecoderStack, size: number) => void;

/**
 * Slots made up front: a small array (a fixarray's up to 15 items) is made at its size, as the
 * library makes it. Nesting goes maxDepth levels deep (decode-depth.ts), 100 by default and
 * more if asked: more slots would again let a few bytes claim much.
 */
const PREALLOCATED = 16;

/**
 * Makes `decoder` grow each array as its items arrive, so that memory follows the bytes
 * received. The library makes an array of the length its header claims before reading an item:
 * 3 bytes claim 65 535 items (512 KiB), and a message of such headers, each nested in the one
 * before, claims that much per 3 bytes (a 3 KB message took over 500 MB).
 */
export function growArrays(decoder: Decoder): Decoder {
  const stack = decoderStack(decoder);
  requireMethods(stack, ['top']);
  replaceMethod<PushArray>(stack, 'pushArrayState', (push) =>
    function (size) {
      // The library fills the array in order (`array[position] = item`): a longer one grows.
      push.call(this, Math.min(size, PREALLOCATED));
      this.top().size = size;
    },
  );
  return decoder;
}
