// What passes for an email address outside the API's schemas (CLI, bootstrap, federated
// identities): one shape, and the lengths RFC 5321 §4.5.3.1 allows (a local part of at most 64
// octets, a path of at most 256, so an address of at most 254), as FastAPI's EmailStr judges them.

import { fullFormats } from 'ajv-formats/dist/formats.js';

export const MAX_EMAIL_LENGTH = 254;
export const MAX_EMAIL_LOCAL_PART = 64;

export function withinEmailLengths(address: string): boolean {
  return address.length <= MAX_EMAIL_LENGTH && address.lastIndexOf('@') <= MAX_EMAIL_LOCAL_PART;
}

/**
 * The API schemas' `email` format (ajv-formats, full mode), so the CLI, start-up bootstrap and
 * federated identities accept exactly the addresses registration does: no `example.com.` or
 * `-example.com`, which a loose something@domain.tld shape let through.
 */
const EMAIL_SHAPE = fullFormats.email as RegExp;

export function isEmailAddress(address: string): boolean {
  return withinEmailLengths(address) && EMAIL_SHAPE.test(address);
}

/**
 * The address as it is kept and mailed to: the domain in lower case (domains are case-insensitive,
 * and mail software lower-cases them on the way out, so a `To:` would not match what the user JSON
 * shows), the local part exactly as given (RFC 5321 lets it be case-sensitive). As FastAPI's EmailStr
 * normalises it.
 */
export function normalizeEmail(address: string): string {
  const at = address.lastIndexOf('@');
  return at < 0 ? address : address.slice(0, at + 1) + address.slice(at + 1).toLowerCase();
}
