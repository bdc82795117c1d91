/**
 * Counts the u32-LE length + payload frames that bytes complete, without keeping or copying any
 * of them: the raw echo's client only needs to know how many replies came. State carries over
 * between reads (a header or a payload cut across them).
 */
export class FrameCounter {
  /** Header bytes seen of the current frame (0..4), its length so far, payload bytes still due. */
  headerHave = 0;
  length = 0;
  bodyLeft = 0;

  /** How many frames `bytes[from, to)` completes. */
  count(bytes, from, to) {
    let frames = 0;
    let at = from;
    while (at < to) {
      if (this.headerHave < 4) {
        this.length += bytes[at++] * 2 ** (8 * this.headerHave++);
        if (this.headerHave < 4) continue;
        this.bodyLeft = this.length;
      } else {
        const take = Math.min(this.bodyLeft, to - at);
        at += take;
        this.bodyLeft -= take;
      }
      if (this.bodyLeft === 0) {
        frames++;
        this.headerHave = 0;
        this.length = 0;
      }
    }
    return frames;
  }
}
