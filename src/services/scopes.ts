// OAuth2 scopes (RFC 6749 §3.3): what a token or API key may do, never beyond the owner's role.
import { HttpError } from '../errors/http-error.js';
import type { Role } from '../storage/index.js';

export const SCOPES = ['profile:read', 'profile:write', 'admin'] as const;
export type Scope = (typeof SCOPES)[number];

export function isScope(value: string): value is Scope {
  return (SCOPES as readonly string[]).includes(value);
}

/** The scopes a role can hold. */
export function scopesForRole(role: Role): Scope[] {
  return role === 'admin' ? [...SCOPES] : ['profile:read', 'profile:write'];
}

/**
 * Grants the requested scopes that the role allows; all of them when none are requested.
 * An unknown scope is an error (RFC 6749 §5.2 invalid_scope); a known one above the role is
 * simply not granted (§3.3: the server may issue fewer scopes than requested).
 */
export function grantScopes(requested: string | undefined, role: Role): Scope[] {
  const allowed = scopesForRole(role);
  const names = (requested ?? '').split(' ').filter(Boolean);
  if (names.length === 0) return allowed;
  const unknown = names.filter((n) => !isScope(n));
  if (unknown.length > 0) throw new HttpError('INVALID_SCOPE', { extra: { error: 'invalid_scope' } });
  return allowed.filter((s) => names.includes(s));
}

/** Scopes a session keeps when its tokens are refreshed: narrowed if the role lost some since. */
export function currentScopes(granted: string, role: Role): Scope[] {
  const allowed = scopesForRole(role);
  return granted.split(' ').filter((s): s is Scope => (allowed as string[]).includes(s));
}
