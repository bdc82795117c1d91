import type * as Uws from 'uWebSockets.js';
import { UwsUnavailableError } from './uws-error.js';

export type UwsModule = typeof Uws;

/** The package name uwsTransport loads by default. */
export const UWS_MODULE = 'uWebSockets.js';

const INSTALL =
  'Install a native build for this runtime, e.g. `npm install uWebSockets.js@npm:@trufflesuite/uws-js-unofficial` ' +
  '(Node 16/18/20 binaries on npm) or the official build from GitHub (`npm install uNetworking/uWebSockets.js#<tag>`), ' +
  'or use wsTransport() instead.';

/**
 * Loads uWebSockets.js on first use (it is an optional peer dependency, and a native addon: a
 * CommonJS `require` is the only way to load it from ESM). `name` is a parameter so the error
 * paths can be exercised with a module that does not exist, or with the fallback directly.
 */
export async function loadUws(name: string = UWS_MODULE): Promise<UwsModule> {
  // Imported here so browser bundles of this package never see node:module.
  const { createRequire } = await import('node:module');
  const require = createRequire(import.meta.url);
  let mod: unknown;
  try {
    mod = require(name);
  } catch (err) {
    throw new UwsUnavailableError(`uwsTransport needs ${name}, which could not be loaded (${(err as Error).message.split('\n')[0]}). ${INSTALL}`, {
      cause: err,
    });
  }
  if (isFallback(mod)) {
    throw new UwsUnavailableError(
      `${name} loaded its pure-JavaScript fallback, not the native server: the @trufflesuite build falls back to ws ` +
        `when it has no binary for this runtime (${abi()}) or when UWS_USE_FALLBACK is set. It would be slower than ` +
        `wsTransport(), so it is refused. ${INSTALL}`,
    );
  }
  return mod as UwsModule;
}

/**
 * The native addon exports SSLApp, getParts and the compressor constants; the @trufflesuite
 * fallback (its dist/index.js) exports only App, _cfg, us_listen_socket_close and
 * us_socket_local_port. The official package has no fallback: it throws on load instead.
 */
function isFallback(mod: unknown): boolean {
  const m = mod as Partial<Record<'App' | 'SSLApp' | 'getParts' | 'DISABLED', unknown>> | null;
  return !m || typeof m.App !== 'function' || typeof m.SSLApp !== 'function' || typeof m.getParts !== 'function' || typeof m.DISABLED !== 'number';
}

function abi(): string {
  const p = (globalThis as { process?: { platform?: string; arch?: string; versions?: Record<string, string | undefined> } }).process;
  return `${p?.platform}-${p?.arch}, module ABI ${p?.versions?.modules}`;
}
