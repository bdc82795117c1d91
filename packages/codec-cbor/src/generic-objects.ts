import { withoutStack } from '@skein/core';
import { addExtension } from 'cbor-x';

/** Tag 27 (http://cbor.schmorp.de/generic-object): `[name, message, options]`, cbor-x's Error and RegExp. */
const GENERIC_OBJECT = 27;

/**
 * Whether the codec decoding now reads no RegExp: set by a Skein codec around its cbor-x
 * decodes (cbor-codec.ts), false for any other cbor-x user's, which read them as before.
 */
export const regExpGate = { refuse: false };

/**
 * The refusal of a RegExp. Making one parses its source at once, and some sources cost far more
 * than their bytes: 20 KB of `\p{L}` with the `u` flag took V8 1.0–1.3 s, 1 MB of it 39 s,
 * all of it blocking the event loop, where cbor-x reads a MB of anything else in milliseconds.
 */
const refusedRegExp = (): Error =>
  new Error("tag 27 RegExp: not read, as making one can block the process for as long as a peer likes; set the codec's regExps option to read them from peers you trust");

/**
 * cbor-x's reader of tag 27: `RegExp(source, flags)` for the name `RegExp` (unless refused),
 * `Error(message, options)` for any other, as cbor-x does (the name of another property of a
 * plain object, `constructor` or `toString`, made cbor-x call that, a boxed value or a string;
 * here an Error as for any other name), with no stack trace. The stack cbor-x's Error captured
 * named only cbor-x's own frames, and capturing it made each Error cost 7 µs and 500 bytes: a
 * 1.5 MB message of 524,000 of them, within maxContainers, took 4.3 s of CPU and held 272 MB,
 * where as many empty maps took 0.5 s and 67 MB.
 */
function readGenericObject(data: unknown): unknown {
  // Read as cbor-x reads it, whatever it is: indexed (null and undefined throw), the name made a key.
  const fields = data as { [i: number]: unknown };
  const [name, message, options] = [fields[0], fields[1], fields[2]];
  if (String(name) === 'RegExp') {
    if (regExpGate.refuse) throw refusedRegExp();
    return RegExp(message as string, options as string);
  }
  return withoutStack(() => Error(message as string, options as ErrorOptions));
}

let installed = false;

/**
 * Replaces cbor-x's reader of tag 27 with readGenericObject. cbor-x keeps tag readers in one
 * table for the whole process, so this also serves any other cbor-x user there.
 */
export function installGenericObjects(): void {
  if (installed) return;
  installed = true;
  const register = addExtension as (extension: { tag: number; decode(value: unknown): unknown }) => void;
  register({ tag: GENERIC_OBJECT, decode: readGenericObject });
}
