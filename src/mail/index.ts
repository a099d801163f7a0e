// Outgoing mail behind one small interface: SMTP when SMTP_URL is set, else an `.eml` file per
// message under DATA_DIR/outbox (development). Both compose messages alike (compose.ts).
import type { Config } from '../config/index.js';
import { OutboxMailer } from './outbox.js';
import { outboxDirectory } from './outbox-directory.js';
import { SmtpMailer } from './smtp.js';

export { composeMail, escapeHtml } from './compose.js';

export interface MailMessage {
  readonly to: string;
  readonly subject: string;
  readonly text: string;
  readonly html?: string;
}

export interface Mailer {
  /** Resolves once the message was handed over (accepted by the SMTP server, or written to the outbox). */
  send(message: MailMessage): Promise<void>;
  close(): Promise<void>;
}

/** The mailer the configuration names; `From` is always `MAIL_FROM`. */
export function createMailer(config: Pick<Config, 'smtpUrl' | 'mailFrom' | 'dataDir'>): Mailer {
  return config.smtpUrl
    ? new SmtpMailer({ url: config.smtpUrl, from: config.mailFrom })
    : new OutboxMailer({ directory: outboxDirectory(config.dataDir), from: config.mailFrom });
}
