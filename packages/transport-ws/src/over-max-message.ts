import { CloseCode } from './close-codes.js';

/**
 * The close reason for a ws error: for ws's own refusal of a message over its maxPayload
 * ("Max payload size exceeded", code WS_ERR_UNSUPPORTED_MESSAGE_LENGTH), the option that set it,
 * so that the line logged for the connection names what to raise; '' for any other (the error's
 * own message is read then, errorForClose).
 */
export function wsErrorReason(err: Error, maxWsMessageBytes: number): string {
  if ((err as { code?: unknown }).code !== 'WS_ERR_UNSUPPORTED_MESSAGE_LENGTH') return '';
  return `${err.message}: a WebSocket message is over maxWsMessageBytes (${maxWsMessageBytes})`;
}

/** uWebSockets.js's words for a message over its maxPayloadLength (it closes 1006 with them, not 1009). */
const UWS_TOO_BIG = 'Received too big message';

/**
 * The close reason a uWS server's connection reports: for uWS's own refusal of a message over
 * its maxPayloadLength (1006 "Received too big message"), the option that set it, as
 * wsErrorReason does for ws; any other reason as it came.
 */
export function uwsCloseReason(code: number, reason: string, maxWsMessageBytes: number): string {
  if (code !== CloseCode.Abnormal || reason !== UWS_TOO_BIG) return reason;
  return `${reason}: a WebSocket message is over maxWsMessageBytes (${maxWsMessageBytes})`;
}
