// Mail without a mail server: each message is written as an RFC 5322 `.eml` file under
// DATA_DIR/outbox, readable only by the server's user (a reset mail holds a live token).
import { randomBytes } from 'node:crypto';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { composeMail } from './compose.js';
import type { Mailer, MailMessage } from './index.js';
import { lazyTransport } from './transport.js';
import { makeDirectory } from '../config/make-directory.js';

export interface OutboxMailerOptions {
  readonly directory: string;
  readonly from: string;
}

export class OutboxMailer implements Mailer {
  // nodemailer's stream transport composes the complete raw message without sending it.
  private readonly transport = lazyTransport({ streamTransport: true, buffer: true, newline: 'windows' });

  constructor(private readonly options: OutboxMailerOptions) {
    if (!options.directory) throw new TypeError('OutboxMailer: option "directory" is required');
  }

  async send(message: MailMessage): Promise<void> {
    const info = await this.transport.get().sendMail(composeMail(this.options.from, message));
    makeDirectory(this.options.directory);
    // Sortable by time, never colliding, never overwriting ('wx').
    const name = `${new Date().toISOString().replace(/[:.]/g, '-')}-${randomBytes(6).toString('hex')}.eml`;
    await writeFile(join(this.options.directory, name), info.message as Buffer, { mode: 0o600, flag: 'wx' });
  }

  async close(): Promise<void> {
    this.transport.close();
  }
}
