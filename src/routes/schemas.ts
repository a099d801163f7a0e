// TypeBox schemas shared by routes: they validate requests, shape responses (nothing outside a
// response schema is ever serialised, so a hash can never leak) and document the API.
import { Type, type Static } from 'typebox';
import { USERNAME_PATTERN } from '../services/users.js';
import type { Session, UserProfile } from '../storage/index.js';
import { MAX_EMAIL_LENGTH } from '../email-address.js';

export const Username = Type.String({ pattern: USERNAME_PATTERN, minLength: 3, maxLength: 50, description: '3–50 letters, digits or _' });
export const Email = Type.String({ format: 'email', maxLength: MAX_EMAIL_LENGTH });
/** The policy (length, common list, similarity) is checked by the service; this only bounds the size. */
export const Password = Type.String({ minLength: 1, maxLength: 1024 });
/** A password being set: the policy (docs) is checked by the service, whose 422s name each rule. */
export const NewPassword = Type.String({
  minLength: 1, maxLength: 1024,
  description: 'At least PASSWORD_MIN_LENGTH (default 8) and at most 128 characters, not on the common-password list, '
    + 'and neither containing nor equal to the username or email; otherwise 422 naming the rule',
});
export const FullName = Type.Union([Type.String({ maxLength: 200 }), Type.Null()]);

export const UserOut = Type.Object({
  id: Type.Integer(),
  username: Type.String(),
  email: Type.String(),
  full_name: Type.Union([Type.String(), Type.Null()]),
  role: Type.Union([Type.Literal('user'), Type.Literal('admin')]),
  is_active: Type.Boolean(),
  mfa_enabled: Type.Boolean(),
  created_at: Type.String({ format: 'date-time' }),
}, { $id: 'User' });
export type UserJson = Static<typeof UserOut>;

export function userJson(user: UserProfile): UserJson {
  return {
    id: user.id, username: user.username, email: user.email, full_name: user.fullName, role: user.role,
    is_active: user.isActive, mfa_enabled: user.mfaEnabled, created_at: new Date(user.createdAt).toISOString(),
  };
}

export const SessionOut = Type.Object({
  id: Type.String(),
  created_at: Type.String({ format: 'date-time' }),
  last_used_at: Type.String({ format: 'date-time' }),
  ip: Type.Union([Type.String(), Type.Null()]),
  user_agent: Type.Union([Type.String(), Type.Null()]),
  current: Type.Boolean(),
});

export function sessionJson(session: Session, currentId: string | undefined): Static<typeof SessionOut> {
  return {
    id: session.id, created_at: new Date(session.createdAt).toISOString(), last_used_at: new Date(session.lastUsedAt).toISOString(),
    ip: session.ip, user_agent: session.userAgent, current: session.id === currentId,
  };
}

export const TokenOut = Type.Object({
  access_token: Type.String(),
  refresh_token: Type.String(),
  token_type: Type.Literal('bearer'),
  expires_in: Type.Integer(),
  scope: Type.String(),
});

export const Detail = Type.Object({ detail: Type.String() }, { additionalProperties: true });
export const ValidationErrorOut = Type.Object({
  detail: Type.Array(Type.Object({ loc: Type.Array(Type.Union([Type.String(), Type.Integer()])), msg: Type.String(), type: Type.String() })),
});

/**
 * The path id of a user, session or key. No length bound of its own: the router's maxParamLength
 * answers a longer one 404, and any other that names nothing is 404 too (never a 422 for an id).
 */
export const IdParams = Type.Object({ id: Type.String() });

/**
 * The body of a route that reads none: nothing, or a JSON object without fields. A field is
 * unknown, so 422 as on every JSON route (contract: unknown fields are rejected, never dropped).
 */
export const NoFields = Type.Optional(Type.Object({}, { additionalProperties: false }));

/**
 * preValidation for NoFields routes: an absent body (an empty `text/plain` one is '') is checked as
 * the empty object. A JSON `null` is a body, and not an object: 422, like `[]` or `0`.
 */
export async function absentBodyAsEmpty(request: { body: unknown }): Promise<void> {
  if (request.body === undefined || request.body === '') request.body = {};
}

/** The error responses every authenticated JSON route can give, for the OpenAPI document. */
export const AUTH_ERRORS = { 401: Detail, 403: Detail, 422: ValidationErrorOut } as const;

/** OpenAPI `security` for routes that accept a bearer token (and, where allowed, an API key). */
type Security = readonly { readonly [scheme: string]: readonly string[] }[];
export const BEARER: Security = [{ OAuth2PasswordBearer: [] }, { HTTPBearer: [] }];
export const BEARER_OR_KEY: Security = [...BEARER, { APIKeyHeader: [] }, { APIKeyQuery: [] }];
