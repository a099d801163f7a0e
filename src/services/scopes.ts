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

/** The names in a space-separated `scope` parameter (RFC 6749 §3.3); empty when none was sent. */
function scopeNames(requested: string | undefined): string[] {
  return (requested ?? '').split(' ').filter(Boolean);
}

/**
 * A session granted every scope its role allows (none was asked for: browser sign-ins, the token
 * endpoint without `scope`) follows the role: once promoted, its next refresh carries the new role's
 * scopes too, as its `roles` claim does. Stored as the session's scope; no scope name is `*`.
 */
export const EVERY_SCOPE_OF_ROLE = '*';
export type ScopeGrant = readonly Scope[] | typeof EVERY_SCOPE_OF_ROLE;

/**
 * Grants the requested scopes that the role allows; all of them (as the role has them then) when none are requested.
 * An unknown scope is an error (RFC 6749 §5.2 invalid_scope); a known one above the role is
 * simply not granted (§3.3: the server may issue fewer scopes than requested).
 */
export function grantScopes(requested: string | undefined, role: Role): ScopeGrant {
  const allowed = scopesForRole(role);
  const names = scopeNames(requested);
  if (names.length === 0) return EVERY_SCOPE_OF_ROLE;
  const unknown = names.filter((n) => !isScope(n));
  if (unknown.length > 0) throw new HttpError('INVALID_SCOPE', { extra: { error: 'invalid_scope' } });
  return allowed.filter((s) => names.includes(s));
}

/** Scopes a session holds when its tokens are issued: narrowed if the role lost some since. */
export function currentScopes(granted: string, role: Role): Scope[] {
  const allowed = scopesForRole(role);
  if (granted === EVERY_SCOPE_OF_ROLE) return allowed;
  return granted.split(' ').filter((s): s is Scope => (allowed as string[]).includes(s));
}

/**
 * RFC 6749 §6: a refresh may ask for the scopes its session holds or fewer (that access token only;
 * the session keeps its grant), never more — `invalid_scope`, checked before the token rotates.
 */
export function narrowScopes(held: readonly Scope[], requested: string | undefined): Scope[] {
  const names = scopeNames(requested);
  if (names.length === 0) return [...held];
  if (names.some((n) => !(held as readonly string[]).includes(n))) {
    throw new HttpError('INVALID_SCOPE', { detail: 'Scope not granted to this session', extra: { error: 'invalid_scope' } });
  }
  return held.filter((s) => names.includes(s));
}

/**
 * The scopes an access token issued before its user's role changed holds now: the new role's
 * when its session follows the role, else its own narrowed to what the new role allows — exactly
 * what the session's next refresh would carry.
 */
export function scopesAfterRoleChange(tokenScope: string, followsRole: boolean, role: string): Set<string> {
  return new Set(currentScopes(followsRole ? EVERY_SCOPE_OF_ROLE : tokenScope, role === 'admin' ? 'admin' : 'user'));
}
