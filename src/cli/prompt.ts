// Terminal input for the CLI: plain questions, hidden password entry (no echo), and stdin reading.
import { createInterface } from 'node:readline';
import { Writable } from 'node:stream';

export async function ask(question: string): Promise<string> {
  const rl = createInterface({ input: process.stdin, output: process.stderr, terminal: process.stdin.isTTY === true });
  try {
    return await new Promise<string>((resolve) => rl.question(question, resolve));
  } finally {
    rl.close();
  }
}

/** Asks without echoing what is typed (the prompt itself is shown). */
export async function askHidden(question: string): Promise<string> {
  let muted = false;
  const output = new Writable({
    write(chunk, _encoding, done) {
      if (!muted) process.stderr.write(chunk);
      done();
    },
  });
  const rl = createInterface({ input: process.stdin, output, terminal: process.stdin.isTTY === true });
  try {
    process.stderr.write(question);
    muted = true;
    const answer = await new Promise<string>((resolve) => rl.question('', resolve));
    return answer;
  } finally {
    muted = false;
    process.stderr.write('\n');
    rl.close();
  }
}

/** The first line of stdin (for --password-stdin), without its line ending. */
export async function readFirstLine(): Promise<string> {
  const rl = createInterface({ input: process.stdin, terminal: false });
  try {
    for await (const line of rl) return line.replace(/\r$/, '');
    return '';
  } finally {
    rl.close();
  }
}
