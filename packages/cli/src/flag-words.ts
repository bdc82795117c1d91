/**
 * Core's TLS errors name the options a program gives (`check tls.cert, tls.key`, `tls.key is not
 * the private key of tls.cert`); the CLI's user gave flags, so its lines name those instead. Only
 * the words this process made: a server's own (downstream) words are shown as they came.
 */
// Only where core writes an option's name, each phrase as core writes it (packages/core/src/tls.ts,
// pem-content.ts, pem-certificates.ts; runtime-deno's servername refusal). Anywhere else the same
// word is the operator's (a host, a socket path `unix:tls.key`, an etcd prefix), shown as typed: a
// pattern for "an option-like word" cannot tell `tls.key` the option from `tls.key` the host. A
// phrase missing here shows the option's name, no worse; flag-words-core-phrases.test.ts makes
// core's refusals for real and fails on one.
const CORE_PHRASES: readonly RegExp[] = [
  // unusableTls's refusals begin with the option they are about: `given: tls.cert holds ...`, `given: tls.ca[1]: ...`.
  /(?<=cannot use the certificate, key or CA given: )tls\.(?:cert|key|ca)(?=[ :[])/g,
  / is not the private key of tls\.cert: /g,
  / \(tls\.cert and tls\.key swapped\?\)/g,
  /check tls\.cert, tls\.key\b/g,
  /\btls\.cert and tls\.key go together: /g,
  /\ba TLS listener needs tls\.cert and tls\.key\b/g,
  /\btls\.requestCert needs tls\.ca: /g,
  /\btls\.servername is for connect; a listener serves its tls\.cert\b/g,
  /\ba client presents tls\.cert when the server asks\b/g,
  /^tls\.servername (?=\S+ with a client certificate: )/g,
];
const OPTION = /\btls\.(cert|key|ca|servername)\b/g;

export function inFlagWords(text: string): string {
  return CORE_PHRASES.reduce((out, phrase) => out.replace(phrase, (words) => words.replace(OPTION, '--$1')), text);
}
