/**
 * Core's TLS errors name the options a program gives (`check tls.cert, tls.key`, `tls.key is not
 * the private key of tls.cert`); the CLI's user gave flags, so its lines name those instead. Only
 * the words this process made: a server's own (downstream) words are shown as they came.
 */
// Not a part of a host name or path an error quotes (tls.ca.example.com, api.tls.cert.internal,
// tls.ca:443, /etc/ssl/tls.key): those are the operator's, shown as typed.
const TLS_OPTION = /(?<![\w./\\-])tls\.(cert|key|ca|servername)(?![\w.-]|:\d)/g;
/** The end of a list of options (`check tls.cert, tls.key`): the next word is an option too. */
const AFTER_AN_OPTION = /(?<![\w./\\-])tls\.(cert|key|ca|servername)(,| and| or) $/;

export function inFlagWords(text: string): string {
  return text.replace(TLS_OPTION, (word: string, name: string, at: number) => (quotedLast(text, word, at) ? word : `--${name}`));
}

// A lone name that ends the message is a host as Node quotes it (`getaddrinfo ENOTFOUND tls.ca`);
// the last of a list of options is not.
const quotedLast = (text: string, word: string, at: number): boolean => at + word.length === text.length && !AFTER_AN_OPTION.test(text.slice(0, at));
