/**
 * The decoder of the wire's own strings (string actions, a call head's metadata keys and values),
 * one for all of them. `fatal`: invalid UTF-8 is refused, never read as U+FFFD, so two different
 * byte strings never read as one name or token. `ignoreBOM`: a leading U+FEFF is kept as the
 * character it is; a TextDecoder drops it by default, so metadata `"\uFEFFx"` sent would arrive
 * as `"x"`.
 */
export const strictUtf8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });
