import { createRouter } from '@skein/stream';

/** Numeric actions of the stream-layer echo: the message alone, or message and blob. */
export const ECHO_MSG = 1;
export const ECHO_BLOB = 2;

export const echoRouter = () =>
  createRouter({
    [ECHO_MSG]: (req) => req.msg,
    [ECHO_BLOB]: (req) => ({ msg: req.msg, blob: req.blob }),
  });
