import type { Decoder } from '@msgpack/msgpack';
import { decoderStack, replaceMethod, requireMethods } from './private-methods.js';

type Decode = (this: Decoder, bytes: Uint8Array) => unknown;

interface HeldMessage {
  bytes: Uint8Array;
  view: DataView;
}

const EMPTY_BYTES = new Uint8Array(0);
const EMPTY_VIEW = new DataView(EMPTY_BYTES.buffer);

/**
 * Makes `decoder` let go of each message once it is read. The library's decoder keeps a view of
 * the last bytes it read (so the whole buffer they are in), and after a failed decode the arrays
 * and maps it had begun, until its next decode. The decoders of Map and Set payloads are kept,
 * one per level of nesting (nesting.ts), and a level may see no message for long: a peer
 * sending its messages deepest first would pin one per level, 100 frames.
 */
export function releaseMessages(decoder: Decoder): Decoder {
  const stack = decoderStack(decoder);
  requireMethods(stack, ['reset']);
  const held = decoder as unknown as HeldMessage;
  if (!(held.view instanceof DataView)) throw new Error('@msgpack/msgpack: Decoder#view not found; update the codec for this release');
  let busy = false;
  replaceMethod<Decode>(decoder, 'decode', (decode) =>
    function (bytes) {
      // Re-entered (the library then reads with a copy of itself): the outer decode still reads.
      if (busy) return decode.call(this, bytes);
      busy = true;
      try {
        return decode.call(this, bytes);
      } catch (e) {
        // The states of the arrays and maps begun hold what was read of them.
        (stack as { reset(): void }).reset();
        throw e;
      } finally {
        busy = false;
        held.bytes = EMPTY_BYTES;
        held.view = EMPTY_VIEW;
      }
    },
  );
  return decoder;
}

/** Makes `decoder` let go of the message it was reading, and of the arrays and maps it had begun (after a failed read). */
export function letGo(decoder: Decoder): void {
  (decoderStack(decoder) as { reset(): void }).reset();
  const held = decoder as unknown as HeldMessage;
  held.bytes = EMPTY_BYTES;
  held.view = EMPTY_VIEW;
}
