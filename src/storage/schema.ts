// Table shapes as Kysely sees them. Times are epoch milliseconds (BIGINT / INTEGER) and flags are
// 0/1 integers, so both dialects store and return the same values.
import type { Generated, Insertable, Selectable } from 'kysely';

export interface UsersTable {
  id: Generated<number>;
  username: string;
  email: string;
  full_name: string | null;
  password_hash: string;
  role: string;
  is_active: number;
  /** Bumped on role change and deactivation: access tokens carrying an older value are refused. */
  authz_version: number;
  mfa_enabled: number;
  /** TOTP secret, encrypted with a key derived from SECRET_KEY. */
  mfa_secret: string | null;
  /** Secret from setup, waiting for its first code before it becomes mfa_secret. */
  mfa_pending_secret: string | null;
  /** Last TOTP time step accepted: a step is never accepted twice (RFC 6238 §5.2). */
  mfa_last_step: number | null;
  /** The step accepted before mfa_last_step, when it was the one just before it (migration 005). */
  mfa_previous_step: number | null;
  created_at: number;
  updated_at: number;
}

export interface SessionsTable {
  id: string;
  user_id: number;
  /** 'token' (OAuth2 / JSON clients) or 'browser' (cookie login). */
  kind: string;
  created_at: number;
  last_used_at: number;
  /** Absolute end: created_at + SESSION_MAX_DAYS, however often the refresh token rotates. */
  expires_at: number;
  revoked_at: number | null;
  revoked_reason: string | null;
  ip: string | null;
  user_agent: string | null;
  /** Scopes granted at sign-in (space separated); refreshes keep them. */
  scope: string;
}

export interface RefreshTokensTable {
  /** HMAC of the opaque token; the token itself is never stored. */
  token_hash: string;
  session_id: string;
  created_at: number;
  expires_at: number;
  /** Set when this token was exchanged; presenting it again is reuse. */
  rotated_at: number | null;
}

export interface ApiKeysTable {
  id: string;
  user_id: number;
  name: string;
  prefix: string;
  secret_hash: string;
  /** JSON array of scope names. */
  scopes: string;
  created_at: number;
  expires_at: number | null;
  last_used_at: number | null;
  revoked_at: number | null;
}

export interface AuditEventsTable {
  id: Generated<number>;
  time: number;
  action: string;
  user_id: number | null;
  ip: string | null;
  user_agent: string | null;
  request_id: string | null;
  outcome: string;
  /** Small JSON object with non-secret context (e.g. the new role). */
  details: string | null;
}

export interface PasswordResetTokensTable {
  token_hash: string;
  user_id: number;
  created_at: number;
  expires_at: number;
  used_at: number | null;
}

export interface PasswordResetRequestsTable {
  id: Generated<number>;
  user_id: number | null;
  request_id: string | null;
  created_at: number;
  attempts: Generated<number>;
  next_attempt_at: number;
  done_at: number | null;
}

export interface RecoveryCodesTable {
  id: Generated<number>;
  user_id: number;
  code_hash: string;
  created_at: number;
  used_at: number | null;
}

export interface SigningKeysTable {
  kid: string;
  algorithm: string;
  /** Private JWK, encrypted with a key derived from SECRET_KEY. */
  private_jwk: string;
  public_jwk: string;
  created_at: number;
  /** Retired keys still verify (and stay published) until their tokens have expired. */
  retired_at: number | null;
}

export interface ExternalIdentitiesTable {
  issuer: string;
  subject: string;
  user_id: number;
  created_at: number;
}

export interface Database {
  users: UsersTable;
  sessions: SessionsTable;
  refresh_tokens: RefreshTokensTable;
  api_keys: ApiKeysTable;
  audit_events: AuditEventsTable;
  password_reset_tokens: PasswordResetTokensTable;
  password_reset_requests: PasswordResetRequestsTable;
  recovery_codes: RecoveryCodesTable;
  signing_keys: SigningKeysTable;
  external_identities: ExternalIdentitiesTable;
}

export type UserRow = Selectable<UsersTable>;
export type NewUserRow = Insertable<UsersTable>;
export type SessionRow = Selectable<SessionsTable>;
export type RefreshTokenRow = Selectable<RefreshTokensTable>;
export type ApiKeyRow = Selectable<ApiKeysTable>;
export type AuditEventRow = Selectable<AuditEventsTable>;
export type PasswordResetTokenRow = Selectable<PasswordResetTokensTable>;
export type SigningKeyRow = Selectable<SigningKeysTable>;
