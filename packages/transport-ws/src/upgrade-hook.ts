import type { Logger } from '@skein/core';
import type { UpgradeRequest } from './options.js';

/** What to answer an upgrade request: accept it, 401, or 500 when the hook itself failed. */
export type Verdict = 'accept' | 'refuse' | 'error';

export const REFUSAL: Record<Exclude<Verdict, 'accept'>, { status: number; text: string }> = {
  refuse: { status: 401, text: 'Unauthorized' },
  error: { status: 500, text: 'Internal Server Error' },
};

/** Runs the server's upgrade hook; only a literal `true` accepts. */
export async function decide(
  hook: ((req: UpgradeRequest) => boolean | Promise<boolean>) | undefined,
  req: UpgradeRequest,
  logger: Logger,
): Promise<Verdict> {
  if (!hook) return 'accept';
  try {
    return (await hook(req)) === true ? 'accept' : 'refuse';
  } catch (err) {
    logger.warn({ err, url: req.url, remote: req.remoteAddress }, 'websocket upgrade hook threw; answering 500');
    return 'error';
  }
}
