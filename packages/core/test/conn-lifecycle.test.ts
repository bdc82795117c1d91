import { describe, expect, it } from 'vitest';
import { ConnLifecycle, ErrorCode, RpcError, type LifecycleHandlers } from '../src/index.js';

interface LetterHandlers extends LifecycleHandlers {
  letter(c: string): void;
}

/**
 * The smallest real adapter: it receives words and delivers them a letter at a time, so a pause
 * can stop it inside a word. What the transport would do is driven by the test.
 */
class Letters extends ConnLifecycle<LetterHandlers, string> {
  at = 0;
  ends = 0;
  transportClosed: (Error | undefined)[] = [];

  arrive(word: string): void {
    this.received(word);
  }
  peerEnds(): void {
    this.endReceived();
  }
  transportGone(err?: Error): void {
    this.gone(err);
  }
  drainNow(): void {
    this.drained();
  }
  end(): void {
    this.ends++;
  }
  protected consume(word: string): boolean {
    for (;;) {
      if (this.at === word.length) {
        this.at = 0;
        return true;
      }
      if (this.paused || this.stopped) return false;
      this.handlers!.letter(word[this.at++]!);
    }
  }
  protected closeTransport(err: Error | undefined): void {
    this.transportClosed.push(err);
  }
}

/** Binds `conn`, logging what each handler is told, in order; `onLetter` runs after each letter. */
function bind(conn: Letters, onLetter: (c: string) => void = () => {}, withEnd = true): string[] {
  const log: string[] = [];
  conn.bind({
    letter: (c) => {
      log.push(c);
      onLetter(c);
    },
    drain: () => log.push('drain'),
    close: (err) => log.push(`close(${err?.message ?? ''})`),
    ...(withEnd && { end: () => log.push('end') }),
  });
  return log;
}

const microtasks = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

describe('ConnLifecycle', () => {
  it('holds what arrives before bind and delivers it, in order, at bind', () => {
    const conn = new Letters('peer');
    conn.arrive('ab');
    conn.arrive('c');
    conn.peerEnds();
    const log = bind(conn);
    expect(log).toEqual(['a', 'b', 'c', 'end']);
  });

  it('stops at once on a pause inside a word, and goes on from there only after resume() returns', async () => {
    const conn = new Letters('peer');
    const log = bind(conn, (c) => c === 'b' && conn.pause());
    conn.arrive('abcd');
    conn.arrive('ef');
    expect(log).toEqual(['a', 'b']);
    conn.resume();
    expect(log).toEqual(['a', 'b']);
    await microtasks();
    expect(log).toEqual(['a', 'b', 'c', 'd', 'e', 'f']);
  });

  it('holds everything past bind when paused before it, until resume()', async () => {
    const conn = new Letters('peer');
    conn.pause();
    conn.arrive('ab');
    const log = bind(conn);
    conn.arrive('c');
    expect(log).toEqual([]);
    conn.resume();
    await microtasks();
    expect(log).toEqual(['a', 'b', 'c']);
  });

  it('reports the peer end after the data held before it, not while paused', async () => {
    const conn = new Letters('peer');
    const log = bind(conn);
    conn.pause();
    conn.arrive('xy');
    conn.peerEnds();
    expect(log).toEqual([]);
    conn.resume();
    await microtasks();
    expect(log).toEqual(['x', 'y', 'end']);
  });

  it('ends this side too when the peer ends and there is no end handler', () => {
    const conn = new Letters('peer');
    bind(conn, () => {}, false);
    conn.peerEnds();
    expect(conn.ends).toBe(1);
  });

  it('reports a clean close after the data held before it', async () => {
    const conn = new Letters('peer');
    const log = bind(conn);
    conn.pause();
    conn.arrive('ok');
    conn.transportGone();
    expect(log).toEqual([]);
    conn.resume();
    await microtasks();
    expect(log).toEqual(['o', 'k', 'close()']);
  });

  it('drops what is held and reports a failed close at once, even while paused', () => {
    const conn = new Letters('peer');
    const log = bind(conn);
    conn.pause();
    conn.arrive('lost');
    conn.peerEnds();
    conn.transportGone(new Error('reset'));
    expect(log).toEqual(['close(reset)']);
  });

  it('fails the connection with the error a handler throws, reports that over the transport error, once', () => {
    const conn = new Letters('peer');
    const bug = new Error('bug');
    const log = bind(conn, (c) => {
      if (c === 'b') throw bug;
    });
    conn.arrive('abc');
    expect(conn.transportClosed).toEqual([bug]);
    conn.arrive('late');
    conn.transportGone(new Error('reset'));
    conn.transportGone();
    conn.close();
    expect(log).toEqual(['a', 'b', 'close(bug)']);
  });

  it('close() stops delivery, closes the transport once, and the close follows when it is gone', () => {
    const conn = new Letters('peer');
    const log = bind(conn);
    conn.pause();
    conn.arrive('held');
    conn.close();
    conn.close();
    expect(conn.transportClosed).toEqual([undefined]);
    expect(log).toEqual([]);
    conn.transportGone();
    conn.transportGone();
    expect(log).toEqual(['close()']);
  });

  it('reports a close that came before bind, at bind', () => {
    const conn = new Letters('peer');
    conn.arrive('ab');
    conn.transportGone();
    expect(bind(conn)).toEqual(['a', 'b', 'close()']);
  });

  it('fails the connection with the error a drain handler throws', () => {
    const conn = new Letters('peer');
    const bug = new Error('drain bug');
    conn.bind({ letter: () => {}, drain: () => { throw bug; }, close: () => {} });
    conn.drainNow();
    expect(conn.transportClosed).toEqual([bug]);
  });

  it('refuses a second bind with InvalidArgument', () => {
    const conn = new Letters('peer');
    bind(conn);
    const second = (() => {
      try {
        bind(conn);
      } catch (err) {
        return err;
      }
    })();
    expect(RpcError.is(second, ErrorCode.InvalidArgument)).toBe(true);
    expect((second as Error).message).toBe('connection to peer is already bound');
  });
});
