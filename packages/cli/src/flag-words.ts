/**
 * Core's TLS errors name the options a program gives (`check tls.cert, tls.key`, `tls.key is not
 * the private key of tls.cert`); the CLI's user gave flags, so its lines name those instead. Only
 * the words this process made: a server's own (downstream) words are shown as they came.
 */
// Not a part of a host name or path an error quotes (tls.ca.example.com, api.tls.cert.internal,
// tls.ca:443, /etc/ssl/tls.key, a message ending in one): those are the operator's, shown as typed.
const TLS_OPTION = /(?<![\w./\\-])tls\.(cert|key|ca|servername)(?![\w.-]|:\d|$)/g;

export function inFlagWords(text: string): string {
  return text.replace(TLS_OPTION, '--$1');
}
