// HttpError: the one error type handlers throw for anything a client should see.
import { ERRORS, type ErrorCode } from './catalogue.js';

/** One item of a FastAPI-shaped 422 body. */
export interface ValidationIssue {
  readonly loc: readonly (string | number)[];
  readonly msg: string;
  readonly type: string;
}

export interface HttpErrorOptions {
  /** Replaces the catalogue's detail; must never carry a secret or internal detail. */
  readonly detail?: string;
  readonly headers?: Readonly<Record<string, string>>;
  /** Extra top-level body fields, e.g. `{ error: 'mfa_required' }`. */
  readonly extra?: Readonly<Record<string, unknown>>;
  /** For VALIDATION_FAILED: the FastAPI-shaped list. */
  readonly issues?: readonly ValidationIssue[];
  readonly cause?: unknown;
}

export class HttpError extends Error {
  override readonly name = 'HttpError';
  readonly status: number;
  readonly detail: string;
  readonly headers: Readonly<Record<string, string>>;
  readonly extra: Readonly<Record<string, unknown>>;
  readonly issues: readonly ValidationIssue[] | undefined;

  constructor(readonly code: ErrorCode, options: HttpErrorOptions = {}) {
    const entry = ERRORS[code];
    super(options.detail ?? entry.detail, { cause: options.cause });
    this.status = entry.status;
    this.detail = options.detail ?? entry.detail;
    this.headers = options.headers ?? {};
    this.extra = options.extra ?? {};
    this.issues = options.issues;
  }
}

/** A 422 for one field, in the FastAPI shape: `invalid(['body', 'password'], 'Password is too common', 'value_error')`. */
export function invalid(loc: readonly (string | number)[], msg: string, type = 'value_error'): HttpError {
  return new HttpError('VALIDATION_FAILED', { issues: [{ loc, msg, type }] });
}

/** Raised by storage or limits when a backing service does not answer; rendered as 503. */
export class ServiceUnavailableError extends HttpError {
  constructor(readonly dependency: 'database' | 'redis' | 'issuer' | 'mail', cause?: unknown) {
    super('SERVICE_UNAVAILABLE', { cause, headers: { 'retry-after': '5' } });
  }
}
