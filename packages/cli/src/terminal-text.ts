/**
 * Characters a terminal acts on instead of showing: C0 controls (ESC starts colour, cursor,
 * title and clipboard sequences; CR and LF redraw or forge lines), DEL, C1 controls (U+009B is a
 * CSI of its own), the line and paragraph separators, and the bidirectional overrides and
 * isolates that reorder what follows. A server chooses its error details and its replies'
 * strings: printed raw, they could rewrite the user's screen.
 */
const CONTROLS = /[\u0000-\u001f\u007f-\u009f\u2028\u2029\u202a-\u202e\u2066-\u2069]/g;
/** The same without C0, which JSON.stringify already escapes (and whose LF indents its output). */
const BEYOND_JSON = /[\u007f-\u009f\u2028\u2029\u202a-\u202e\u2066-\u2069]/g;

const escape = (c: string): string => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`;

/** One line of text, every control written as its `\uXXXX` escape: shown, never acted on. */
export function terminalLine(text: string): string {
  return text.replace(CONTROLS, escape);
}

/**
 * JSON text with what JSON.stringify leaves raw escaped as well: still JSON, the same value
 * (these characters only occur inside its strings), and harmless on a terminal.
 */
export function terminalJson(json: string): string {
  return json.replace(BEYOND_JSON, escape);
}
