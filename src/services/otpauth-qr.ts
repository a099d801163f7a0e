// The otpauth:// URL as a QR code, rendered on the server as SVG markup: no script, no image
// request to a third party (which would hand it the TOTP secret), nothing the page CSP must allow.
import { createRequire } from 'node:module';
import type QRCodeModule from 'qrcode';

/**
 * SVG markup for the setup page. The output is generated markup (paths and rects only), safe to
 * embed as-is; the URL itself never appears in it as text. The page must be `no-store`: the code
 * carries the secret.
 */
export async function otpauthQrSvg(url: string): Promise<string> {
  if (!url.startsWith('otpauth://')) throw new TypeError('otpauthQrSvg: expected an otpauth:// URL');
  // Level M (15 % recovery) keeps the symbol small enough for phone cameras at typical sizes.
  // Loaded on first use (the MFA setup page), not at every start-up.
  const QRCode = createRequire(import.meta.url)('qrcode') as typeof QRCodeModule;
  const svg = await QRCode.toString(url, { type: 'svg', errorCorrectionLevel: 'M', margin: 2 });
  // The library prefixes an XML declaration in some versions; inline SVG in HTML must not carry one.
  return svg.replace(/^<\?xml[^>]*>\s*/, '');
}
