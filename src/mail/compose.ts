// The one way a message is composed for every transport: From, To, Subject, and text and HTML
// parts that stay byte-exact where they can (7bit), so a mailed link arrives as it was written.
import type { SendMailOptions } from 'nodemailer';
import type { MailMessage } from './index.js';

/** Printable ASCII (and tabs) on lines of at most 998 octets: valid as 7bit (RFC 5322 §2.1.1, RFC 2045 §2.7). */
function sevenBitSafe(text: string): boolean {
  return /^[\t\x20-\x7e\r\n]*$/.test(text) && !/\r(?!\n)/.test(text) && text.split('\r\n').every((line) => line.length <= 998);
}

/**
 * A text part that reaches the reader byte for byte. nodemailer quoted-printable-encodes any line
 * over 76 characters, which splits a long link with soft breaks and writes `=` as `=3D`: mail
 * clients decode that, but tools that scan the raw message (and people reading an .eml) then do
 * not see the link as sent. ASCII content within the 998-octet limit goes out as plain 7bit.
 */
function part(content: string, type: string): { raw: string } | string {
  const crlf = content.replace(/\r?\n/g, '\r\n');
  if (!sevenBitSafe(crlf)) return content;
  return { raw: `Content-Type: ${type}; charset=utf-8\r\nContent-Transfer-Encoding: 7bit\r\n\r\n${crlf}` };
}

/** The nodemailer message. A raw part is only possible inside a multipart, hence the HTML twin. */
export function composeMail(from: string, message: MailMessage): SendMailOptions {
  const html = message.html ?? `<pre>${escapeHtml(message.text)}</pre>`;
  return {
    from, to: message.to, subject: message.subject,
    text: part(message.text, 'text/plain') as SendMailOptions['text'],
    html: part(html, 'text/html') as SendMailOptions['html'],
  };
}

export function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}
