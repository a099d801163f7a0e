// SMTP_URL's TLS, against real SMTP servers with smtp-server's own self-signed certificate (what a
// test or a relay on a private network presents): smtp:// upgrades with STARTTLS and delivers
// (opportunistic TLS: a certificate nobody can verify does not lose the mail); smtp://…?requireTLS=true
// and smtps:// verify it and refuse to send; smtps://…?tls.rejectUnauthorized=false delivers over TLS.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SmtpMailer } from '../../src/mail/smtp.js';
import { startSmtp, type TestSmtp } from '../helpers/smtp.js';

const MESSAGE = { to: 'someone@example.com', subject: 'Reset your Gatehouse password', text: 'https://gate.example.com/reset-password?token=abc' };

async function sendThrough(url: string): Promise<void> {
  const mailer = new SmtpMailer({ url, from: 'Gatehouse <no-reply@gatehouse.local>' });
  try {
    await mailer.send(MESSAGE);
  } finally {
    await mailer.close();
  }
}

describe('SMTP_URL and TLS', () => {
  let starttls: TestSmtp;
  let implicit: TestSmtp;
  beforeAll(async () => {
    starttls = await startSmtp();
    implicit = await startSmtp({ implicitTls: true });
  });
  afterAll(async () => {
    await starttls?.close();
    await implicit?.close();
  });

  it('smtp:// to a server offering STARTTLS: upgraded, and delivered although its certificate is self-signed', async () => {
    await sendThrough(starttls.url);
    const [mail] = await starttls.waitFor(1);
    expect(mail!.secure).toBe(true);
    expect(mail!.rcptTo).toEqual(['someone@example.com']);
    expect(mail!.text).toContain('token=abc');
  });

  it('smtp://…?requireTLS=true verifies the certificate: refused, nothing sent', async () => {
    const before = starttls.messages.length;
    await expect(sendThrough(`${starttls.url}?requireTLS=true`)).rejects.toThrow(/certificate/i);
    expect(starttls.messages.length).toBe(before);
  });

  it('smtps:// verifies the certificate; ?tls.rejectUnauthorized=false accepts a self-signed one', async () => {
    await expect(sendThrough(implicit.url)).rejects.toThrow(/certificate/i);
    expect(implicit.messages).toHaveLength(0);
    await sendThrough(`${implicit.url}?tls.rejectUnauthorized=false`);
    const [mail] = await implicit.waitFor(1);
    expect(mail!.secure).toBe(true);
  });
});
