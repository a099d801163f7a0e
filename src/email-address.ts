// The lengths an email address may have (RFC 5321 §4.5.3.1: a local part of at most 64 octets, a
// path of at most 256, so an address of at most 254), as FastAPI's EmailStr (email-validator) judges them.

export const MAX_EMAIL_LENGTH = 254;
export const MAX_EMAIL_LOCAL_PART = 64;

export function withinEmailLengths(address: string): boolean {
  return address.length <= MAX_EMAIL_LENGTH && address.lastIndexOf('@') <= MAX_EMAIL_LOCAL_PART;
}
