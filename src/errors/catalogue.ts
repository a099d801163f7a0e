// The error catalogue: every error a client can see, by code. Handlers throw `new HttpError(code)`;
// only the error handler turns these into bodies. `docs/errors.md` lists every code (a test checks it).

export interface CatalogueEntry {
  readonly status: number;
  readonly detail: string;
}

export const ERRORS = {
  BAD_REQUEST: { status: 400, detail: 'Bad Request' },
  UNSTORABLE_TEXT: { status: 400, detail: 'The request holds text that cannot be stored (a NUL character or half a character)' },
  MISSING_HOST: { status: 400, detail: 'An HTTP/1.1 request needs a Host header' },
  DUPLICATE_HOST: { status: 400, detail: 'A request may carry only one Host header' },
  EXPECTATION_FAILED: { status: 417, detail: 'Expectation Failed: only "Expect: 100-continue" is supported' },
  HTTPS_REQUIRED: { status: 400, detail: 'HTTPS required' },
  UNSUPPORTED_GRANT_TYPE: { status: 400, detail: 'Unsupported grant type' },
  INVALID_SCOPE: { status: 400, detail: 'Unknown scope requested' },
  NOT_AUTHENTICATED: { status: 401, detail: 'Not authenticated' },
  INVALID_TOKEN: { status: 401, detail: 'Could not validate credentials' },
  INVALID_CREDENTIALS: { status: 401, detail: 'Incorrect username or password' },
  MFA_REQUIRED: { status: 401, detail: 'A valid two-factor code is required' },
  INVALID_REFRESH_TOKEN: { status: 401, detail: 'Invalid or expired refresh token' },
  INACTIVE_USER: { status: 403, detail: 'Inactive user' },
  INSUFFICIENT_PERMISSIONS: { status: 403, detail: 'Insufficient permissions' },
  INSUFFICIENT_SCOPE: { status: 403, detail: 'Insufficient scope' },
  API_KEY_FORBIDDEN: { status: 403, detail: 'API keys cannot be used for this action' },
  WRONG_PASSWORD: { status: 403, detail: 'Incorrect password' },
  CSRF_FAILED: { status: 403, detail: 'CSRF token missing or invalid' },
  ORIGIN_REJECTED: { status: 403, detail: 'Origin not allowed' },
  NOT_FOUND: { status: 404, detail: 'Not Found' },
  METHOD_NOT_ALLOWED: { status: 405, detail: 'Method Not Allowed' },
  USERNAME_TAKEN: { status: 409, detail: 'Username already registered' },
  EMAIL_TAKEN: { status: 409, detail: 'Email already registered' },
  LAST_ADMIN: { status: 409, detail: 'The last active administrator cannot be demoted or deactivated' },
  MFA_ALREADY_ENABLED: { status: 409, detail: 'Two-factor authentication is already enabled' },
  MFA_NOT_ENABLED: { status: 409, detail: 'Two-factor authentication is not enabled' },
  REQUEST_TIMEOUT: { status: 408, detail: 'Request Timeout' },
  PAYLOAD_TOO_LARGE: { status: 413, detail: 'Request body too large' },
  UNSUPPORTED_MEDIA_TYPE: { status: 415, detail: 'Unsupported Media Type' },
  VALIDATION_FAILED: { status: 422, detail: 'Validation failed' },
  HEADERS_TOO_LARGE: { status: 431, detail: 'Request header fields too large' },
  RATE_LIMITED: { status: 429, detail: 'Too many requests' },
  ACCOUNT_LOCKED: { status: 429, detail: 'Too many failed sign-in attempts; try again later' },
  INTERNAL: { status: 500, detail: 'Internal Server Error' },
  SERVICE_UNAVAILABLE: { status: 503, detail: 'Service temporarily unavailable' },
  OVERLOADED: { status: 503, detail: 'Server is busy; retry shortly' },
  INVALID_API_KEY: { status: 401, detail: 'Invalid or expired API key' },
  INVALID_RESET_TOKEN: { status: 400, detail: 'Invalid or expired password reset token' },
  INVALID_MFA_CODE: { status: 400, detail: 'Invalid two-factor code' },
  MFA_SETUP_REQUIRED: { status: 409, detail: 'Start two-factor setup first' },
  MFA_REAUTH_FAILED: { status: 403, detail: 'Incorrect password or two-factor code' },
  MFA_CURRENT_CODE_REQUIRED: { status: 403, detail: 'Two-factor authentication is on: send current_code, a code from your current authenticator or a recovery code' },
} as const satisfies Record<string, CatalogueEntry>;

export type ErrorCode = keyof typeof ERRORS;
