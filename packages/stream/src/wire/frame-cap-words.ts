/**
 * How a refusal names the largest frame the other side's transport carries, as its hello named it
 * (max_frame: the server's in kind 26 of its answer, the client's in kind 1): one wording wherever
 * a frame is refused over it (a request, item or head on the client; a reply, item, error or
 * reverse call on the server; a reverse answer), naming the options that set it. `whose` is who
 * carries it (`the server's`, or a peer's name and `'s`); `told` is the side whose hello said it.
 */
export function frameCapWords(whose: string, max: number, told: 'server' | 'client'): string {
  const hello = told === 'server' ? "its hello's answer" : 'its hello';
  return `the largest frame ${whose} transport carries, ${max} (${hello}: the ${told}'s maxWsMessageBytes over WebSocket, maxPendingFrameBytes over TCP)`;
}
