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
