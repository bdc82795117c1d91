/**
 * Core's TLS errors name the options a program gives (`check tls.cert, tls.key`, `tls.key is not
 * the private key of tls.cert`); the CLI's user gave flags, so its lines name those instead. Only
 * the words this process made: a server's own (downstream) words are shown as they came.
 */
const TLS_OPTION = /\btls\.(cert|key|ca|servername)\b/g;

export function inFlagWords(text: string): string {
  return text.replace(TLS_OPTION, '--$1');
}
