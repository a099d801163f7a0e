// Mail over SMTP, with timeouts short enough that a dead server fails a send in seconds instead of
// holding it for minutes. `smtps://` is TLS from the first byte, its certificate verified. `smtp://`
// upgrades with STARTTLS when the server offers it, as opportunistic TLS (RFC 7435): encrypted against
// a passive listener, the certificate not verified — whoever could present a false one could as well
// strip the STARTTLS offer, so refusing an unverifiable certificate (a test server's, a relay's
// self-signed one) would only lose the mail. `smtp://…?requireTLS=true` demands STARTTLS with a
// verified certificate; other nodemailer options may be given the same way (`?tls.rejectUnauthorized=false`
// for an smtps:// server with a self-signed certificate).
import { composeMail } from './compose.js';
import type { Mailer, MailMessage } from './index.js';
import { lazyTransport, type LazyTransport } from './transport.js';

export interface SmtpMailerOptions {
  readonly url: string;
  readonly from: string;
}

/** `smtp://` without `requireTLS=true`: STARTTLS if offered, its certificate taken as it comes. */
function opportunisticTls(url: string): boolean {
  const parsed = new URL(url);
  return parsed.protocol === 'smtp:' && parsed.searchParams.get('requireTLS') !== 'true';
}

export class SmtpMailer implements Mailer {
  private readonly transport: LazyTransport;

  constructor(private readonly options: SmtpMailerOptions) {
    if (!/^smtps?:\/\//.test(options.url)) throw new TypeError('SmtpMailer: option "url" must be an smtp:// or smtps:// URL');
    this.transport = lazyTransport({
      url: options.url,
      // The URL's own options come after these: its `tls.*` or `requireTLS` wins.
      ...(opportunisticTls(options.url) ? { tls: { rejectUnauthorized: false } } : {}),
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
