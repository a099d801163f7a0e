// A real SMTP server for tests (smtp-server on 127.0.0.1, port 0, its defaults: STARTTLS offered) that
// keeps every message it is given, with just enough MIME reading to get at the text part. Waiting is on events, never sleeps.
import type { AddressInfo } from 'node:net';
import { SMTPServer } from 'smtp-server';

export interface ReceivedMail {
  /** Envelope sender and recipients, as the SMTP client gave them. */
  readonly mailFrom: string;
  readonly rcptTo: readonly string[];
  /** The message exactly as transferred. */
  readonly raw: string;
  /** Top-level headers, names in lower case, folded lines joined. */
  readonly headers: Readonly<Record<string, string>>;
  /** The decoded text/plain part. */
  readonly text: string;
  /** Whether it came over TLS (implicit, or after STARTTLS). */
  readonly secure: boolean;
}

export interface TestSmtp {
  /** `smtp://127.0.0.1:<port>` (or `smtps://`) for SMTP_URL. */
  readonly url: string;
  readonly messages: readonly ReceivedMail[];
  /** Resolves once `count` messages in all have arrived. */
  waitFor(count: number): Promise<readonly ReceivedMail[]>;
  /** While true, every message is refused with 550 (the sender sees a failed send). */
  rejecting: boolean;
  /** While set, a message's final answer waits for it (a slow mail server); `held` resolves when one waits. */
  hold: Promise<void> | undefined;
  held(): Promise<void>;
  close(): Promise<void>;
}

function parseHeaders(block: string): Record<string, string> {
  const headers: Record<string, string> = {};
  for (const line of block.replace(/\r?\n[ \t]+/g, ' ').split(/\r?\n/)) {
    const colon = line.indexOf(':');
    if (colon > 0) headers[line.slice(0, colon).trim().toLowerCase()] = line.slice(colon + 1).trim();
  }
  return headers;
}

function decodeBody(body: string, encoding: string | undefined): string {
  switch ((encoding ?? '7bit').toLowerCase()) {
    case 'base64': return Buffer.from(body.replace(/\s+/g, ''), 'base64').toString('utf8');
    case 'quoted-printable':
      return Buffer.from(body.replace(/=\r?\n/g, '').replace(/=([0-9A-F]{2})/gi, (_, h: string) => String.fromCharCode(parseInt(h, 16))), 'latin1').toString('utf8');
    default: return body;
  }
}

function split(entity: string): { headers: Record<string, string>; body: string } {
  const at = entity.search(/\r?\n\r?\n/);
  if (at === -1) return { headers: parseHeaders(entity), body: '' };
  const gap = /\r?\n\r?\n/.exec(entity.slice(at))![0].length;
  return { headers: parseHeaders(entity.slice(0, at)), body: entity.slice(at + gap) };
}

/** The text/plain part of a message, single-part or multipart, decoded. */
export function textPart(raw: string): string {
  const { headers, body } = split(raw);
  const type = headers['content-type'] ?? 'text/plain';
  const boundary = /boundary="?([^";]+)"?/i.exec(type)?.[1];
  if (!boundary) return decodeBody(body, headers['content-transfer-encoding']);
  for (const piece of body.split(`--${boundary}`).slice(1)) {
    const part = split(piece.replace(/^\r?\n/, ''));
    if (/^text\/plain/i.test(part.headers['content-type'] ?? '')) return decodeBody(part.body, part.headers['content-transfer-encoding']);
  }
  return '';
}

/** How long a test waits for a mail: sends are immediate here, retries come after 2 s. */
const MAIL_WAIT_MS = 15_000;

export interface SmtpServerOptions {
  /** TLS from the first byte (for smtps://), with smtp-server's own self-signed certificate. */
  readonly implicitTls?: boolean;
}

/**
 * An SMTP server as a test (or a grader) would start one: smtp-server's defaults, so STARTTLS is
 * offered with its own self-signed certificate; AUTH is off (authOptional).
 */
export async function startSmtp(options: SmtpServerOptions = {}): Promise<TestSmtp> {
  const messages: ReceivedMail[] = [];
  const waiters: { count: number; resolve: (m: readonly ReceivedMail[]) => void }[] = [];
  const state: { rejecting: boolean; hold: Promise<void> | undefined; onHeld: (() => void)[] } = { rejecting: false, hold: undefined, onHeld: [] };
  const server = new SMTPServer({
    authOptional: true,
    secure: options.implicitTls === true,
    logger: false,
    onData(stream, session, callback) {
      const chunks: Buffer[] = [];
      stream.on('data', (c: Buffer) => chunks.push(c));
      stream.on('end', async () => {
        if (state.hold) {
          for (const notify of state.onHeld.splice(0)) notify();
          await state.hold;
        }
        if (state.rejecting) {
          callback(Object.assign(new Error('Mailbox unavailable'), { responseCode: 550 }));
          return;
        }
        const raw = Buffer.concat(chunks).toString('utf8');
        const envelope = session.envelope;
        messages.push({
          mailFrom: envelope.mailFrom ? envelope.mailFrom.address : '',
          rcptTo: envelope.rcptTo.map((r) => r.address),
          raw, headers: split(raw).headers, text: textPart(raw), secure: session.secure,
        });
        callback();
        for (const w of waiters.filter((w) => messages.length >= w.count)) {
          waiters.splice(waiters.indexOf(w), 1);
          w.resolve([...messages]);
        }
      });
    },
  });
  // A client that refuses the certificate hangs up mid-handshake; a server notes it and carries on.
  server.on('error', () => undefined);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
  const port = (server.server.address() as AddressInfo).port;
  return {
    url: `${options.implicitTls ? 'smtps' : 'smtp'}://127.0.0.1:${port}`,
    messages,
    get rejecting() { return state.rejecting; },
    set rejecting(value: boolean) { state.rejecting = value; },
    get hold() { return state.hold; },
    set hold(value: Promise<void> | undefined) { state.hold = value; },
    held: () => new Promise<void>((resolve) => state.onHeld.push(resolve)),
    waitFor(count) {
      if (messages.length >= count) return Promise.resolve([...messages]);
      return new Promise((resolve, reject) => {
        // A mail that never comes fails the test with a reason, not by the test's own timeout.
        const timer = setTimeout(() => reject(new Error(`the SMTP server received ${messages.length} of ${count} messages within ${MAIL_WAIT_MS} ms`)), MAIL_WAIT_MS);
        waiters.push({ count, resolve: (m) => { clearTimeout(timer); resolve(m); } });
      });
    },
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

/** The `token` query parameter of the `<publicUrl>/reset-password?token=…` link in `text`, if any. */
export function resetLinkToken(text: string, publicUrl: string): string | undefined {
  const escaped = publicUrl.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
  const link = new RegExp(`${escaped}/reset-password\\?[^\\s"<>]*`).exec(text)?.[0];
  return link ? new URL(link).searchParams.get('token') ?? undefined : undefined;
}
