// Mail over SMTP (`SMTP_URL`: smtp:// with STARTTLS when offered, or smtps://), with timeouts short
// enough that a dead server fails a send in seconds instead of holding it for minutes.
import { composeMail } from './compose.js';
import type { Mailer, MailMessage } from './index.js';
import { lazyTransport, type LazyTransport } from './transport.js';

export interface SmtpMailerOptions {
  readonly url: string;
  readonly from: string;
}

export class SmtpMailer implements Mailer {
  private readonly transport: LazyTransport;

  constructor(private readonly options: SmtpMailerOptions) {
    if (!/^smtps?:\/\//.test(options.url)) throw new TypeError('SmtpMailer: option "url" must be an smtp:// or smtps:// URL');
    this.transport = lazyTransport({
      url: options.url,
      connectionTimeout: 10_000,
      greetingTimeout: 10_000,
      socketTimeout: 30_000,
    });
  }

  async send(message: MailMessage): Promise<void> {
    await this.transport.get().sendMail(composeMail(this.options.from, message));
  }

  async close(): Promise<void> {
    this.transport.close();
  }
}
