/**
 * The codec changes a few private methods of @msgpack/msgpack's Encoder and Decoder on its own
 * instances: the library offers no hook for what they do. These checks run when a codec is
 * made, so that a library release that renames a method fails there, loudly, instead of
 * letting values through the library's own way.
 */
export function requireMethods(target: object, names: readonly string[]): void {
  for (const name of names) {
    if (typeof (target as Record<string, unknown>)[name] !== 'function') {
      throw new Error(`@msgpack/msgpack: ${target.constructor.name}#${name} not found; update the codec for this release`);
    }
  }
}

/** Replaces private method `name` of `target` with `replace(original)`, on that instance only. */
export function replaceMethod<M>(target: object, name: string, replace: (original: M) => M): void {
  requireMethods(target, [name]);
  const methods = target as Record<string, unknown>;
  methods[name] = replace(methods[name] as M);
}

/** The decoder's stack of open arrays and maps (the library's StackPool), which the codec changes. */
export function decoderStack(decoder: object): object {
  const stack = (decoder as { stack?: unknown }).stack;
  if (typeof stack !== 'object' || stack === null) {
    throw new Error('@msgpack/msgpack: Decoder#stack not found; update the codec for this release');
  }
  return stack;
}
