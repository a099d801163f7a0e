// Terminal input for the CLI: plain questions, hidden password entry (no echo), and stdin reading.
// One line reader serves the whole command: with piped input, a reader opened per question would
// swallow the lines meant for the next questions into its own buffer and lose them when closed.
import { createInterface } from 'node:readline';
import { Writable } from 'node:stream';

export interface Prompt {
  /** Shows the question and returns the next line typed or piped. */
  ask(question: string): Promise<string>;
  /** The same, without echoing what is typed (the question itself is shown). */
  askHidden(question: string): Promise<string>;
  /** The next line of stdin without a question (for --password-stdin). */
  line(): Promise<string>;
  close(): void;
}

/** stdin ended before a question was answered. */
export class InputEndedError extends Error {
  override readonly name = 'InputEndedError';
}

export function openPrompt(): Prompt {
  let muted = false;
  const output = new Writable({
    write(chunk, _encoding, done) {
      if (!muted) process.stderr.write(chunk);
      done();
    },
  });
  const rl = createInterface({ input: process.stdin, output, terminal: process.stdin.isTTY === true });
  // The iterator queues lines that arrive before they are asked for.
  const lines = rl[Symbol.asyncIterator]();
  const next = async (): Promise<string> => {
    const { value, done } = await lines.next();
    if (done) throw new InputEndedError('input ended before every question was answered');
    return String(value).replace(/\r$/, '');
  };
  return {
    async ask(question) {
      process.stderr.write(question);
      return next();
    },
    async askHidden(question) {
      process.stderr.write(question);
      muted = true;
      try {
        return await next();
      } finally {
        muted = false;
        process.stderr.write('\n');
      }
    },
    line: next,
    close: () => rl.close(),
  };
}
