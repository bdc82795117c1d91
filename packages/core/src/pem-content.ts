import { pemLabels } from './pem-kind.js';

/**
 * Why a `tls.cert` or `tls.key` cannot be loaded, known before any TLS library reads it: no PEM
 * block at all (empty, or a file's path where its contents belong), or a key encrypted with a
 * passphrase, which TlsOptions has no option for. OpenSSL says only "no start line" or "bad
 * decrypt"; an empty certificate and key it loads as none, so a listener, or a reloadTls fed a
 * file caught mid-write, would refuse every handshake. Names the option, never its contents.
 */
export function unloadablePem(pem: string, option: 'tls.cert' | 'tls.key'): string | undefined {
  if (pemLabels(pem).length > 0) return option === 'tls.key' ? encryptedKey(pem) : undefined;
  if (pem.trim() === '') return `${option} is empty: give the PEM text (a file read while it was being written?)`;
  const path = looksLikePath(pem.trim()) ? ': it looks like a file path; give the file\'s contents (readFileSync(path, \'utf8\'))' : '';
  return `${option} holds no PEM block (-----BEGIN ...-----)${path}`;
}

/** One line with a directory separator or a PEM file's extension: what a path looks like. */
function looksLikePath(text: string): boolean {
  if (/[\r\n]/.test(text) || text.length > 4096) return false;
  // A PEM body pasted without its BEGIN line is base64, which has slashes too.
  if (text.length >= 64 && /^[A-Za-z0-9+/=]+$/.test(text)) return false;
  return /[\\/]/.test(text) || /\.(pem|crt|cer|key)$/i.test(text);
}

/** PKCS#8's `ENCRYPTED PRIVATE KEY`, or a traditional key with `Proc-Type: 4,ENCRYPTED`. */
function encryptedKey(pem: string): string | undefined {
  if (!pemLabels(pem).includes('ENCRYPTED PRIVATE KEY') && !/^Proc-Type:[ \t]*4,ENCRYPTED/m.test(pem)) return undefined;
  return 'tls.key is encrypted with a passphrase, which Skein does not take: give it decrypted (openssl pkey -in key.pem -out key-plain.pem)';
}
