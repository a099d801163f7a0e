// TOTP for tests: codes computed from the secret the server handed out (with otpauth, as an
// authenticator app would), and turning MFA on through the real routes.
import { expect } from 'vitest';
import { Secret, TOTP } from 'otpauth';
import type { GatehouseApp } from '../../src/app.js';
import type { Clock } from '../../src/clock.js';
import { bearer } from './auth.js';

const STEP_MS = 30_000;

/** The code an authenticator shows at `atMs` (RFC 6238: SHA-1, 6 digits, 30 s). */
export function totpCode(secret: string, atMs: number): string {
  return TOTP.generate({ secret: Secret.fromBase32(secret), algorithm: 'SHA1', digits: 6, period: 30, timestamp: atMs });
}

/** The code of the step `offset` steps from the one at `atMs` (-1: previous, 1: next). */
export function stepCode(secret: string, atMs: number, offset: number): string {
  return totpCode(secret, atMs + offset * STEP_MS);
}

export interface MfaSetup {
  readonly secret: string;
  readonly otpauth_url: string;
}

export async function setupTotp(app: GatehouseApp, accessToken: string): Promise<MfaSetup> {
  const res = await app.inject({ method: 'POST', url: '/api/v1/auth/mfa/totp/setup', headers: bearer(accessToken) });
  expect(res.statusCode, res.body).toBe(200);
  return res.json<MfaSetup>();
}

/** Setup and enable with the current code; returns the secret and the ten recovery codes. */
export async function enableTotp(app: GatehouseApp, accessToken: string, clock: Clock): Promise<MfaSetup & { recovery_codes: string[] }> {
  const setup = await setupTotp(app, accessToken);
  const res = await app.inject({
    method: 'POST', url: '/api/v1/auth/mfa/totp/enable', headers: bearer(accessToken), payload: { code: totpCode(setup.secret, clock.now()) },
  });
  expect(res.statusCode, res.body).toBe(200);
  return { ...setup, recovery_codes: res.json<{ recovery_codes: string[] }>().recovery_codes };
}

/** Unit of the FakeClock in these tests. */
export const TOTP_STEP_MS = STEP_MS;
