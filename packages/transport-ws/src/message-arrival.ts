/** What a connection's socket asks about the message under way on a `ws` WebSocket. */
export interface MessageArrival {
  /** Part of a message has arrived and is held. */
  midMessage(): boolean;
  /** The payload bytes of the message under way received so far: progress, for the read timeout. */
  messageBytes(): number;
  /** What is held of the message under way: what the listener's budget is charged. */
  heldBytes(): number;
  /** Some fragments of a message have arrived and the rest is awaited: a control frame then ends nothing held. */
  betweenFragments(): boolean;
}
