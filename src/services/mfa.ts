// Two-factor sign-in with TOTP: setup (a pending secret), enable (first code → MFA on, ten recovery
// codes), disable (password and code), and the SecondFactor that sign-in asks. Secrets are
// encrypted at rest; each time step and each recovery code is accepted once.
import { decrypt, encrypt } from '../crypto/encryption.js';
import {
  hashRecoveryCode, isTotpShaped, matchTotpStep, newRecoveryCodes, newTotpSecret, normalizeRecoveryCode, otpauthUrl,
} from '../crypto/totp.js';
import { HttpError } from '../errors/http-error.js';
import type { Storage, User } from '../storage/index.js';
import type { AuditLog } from './audit.js';
import type { LoginThrottle, SecondFactor } from './authentication.js';
import { userAccountKey } from '../limits/lockout.js';
import type { RequestContext } from './context.js';

export { otpauthQrSvg } from './otpauth-qr.js';

export interface MfaServiceOptions {
  readonly storage: Storage;
  /** derivedKeys.encryption: the TOTP secret must be read back, so it is encrypted, not hashed. */
  readonly encryptionKey: Buffer;
  /** derivedKeys.recoveryCode. */
  readonly recoveryKey: Buffer;
  readonly audit: AuditLog;
  /** Wrong passwords and codes on disable count toward the account's lockout, like sign-in failures. */
  readonly throttle: LoginThrottle;
  readonly verifyPassword: (user: User, password: string) => Promise<boolean>;
  readonly now: () => number;
}

export interface TotpSetup {
  readonly secret: string;
  readonly otpauthUrl: string;
}

function notAuthenticated(): HttpError {
  return new HttpError('INVALID_TOKEN', { headers: { 'www-authenticate': 'Bearer error="invalid_token"' } });
}

export class MfaService implements SecondFactor {
  constructor(private readonly o: MfaServiceOptions) {}

  /** The AES-GCM context binds a sealed secret to its user: copied to another row, it fails to open. */
  private seal(userId: number, secret: string): string {
    return encrypt(this.o.encryptionKey, secret, `totp:${userId}`);
  }

  private open(userId: number, sealed: string): string {
    return decrypt(this.o.encryptionKey, sealed, `totp:${userId}`);
  }

  private async activeUser(userId: number): Promise<User> {
    const user = await this.o.storage.users.findById(userId);
    if (!user || !user.isActive) throw notAuthenticated();
    return user;
  }

  /**
   * A new pending secret. While MFA is on, the old secret stays in force (and sign-in keeps asking
   * for it) until a code for the new one is confirmed: setup never turns MFA off.
   */
  async setup(userId: number): Promise<TotpSetup> {
    const user = await this.activeUser(userId);
    const secret = newTotpSecret();
    await this.o.storage.users.update(user.id, { mfaPendingSecret: this.seal(user.id, secret) }, this.o.now());
    return { secret, otpauthUrl: otpauthUrl(secret, user.username) };
  }

  /**
   * Confirms the pending secret with one of its codes, switches MFA on (or over to the new secret)
   * and returns ten fresh recovery codes, shown this once; earlier codes stop working.
   * Switching while MFA is on also needs `currentCode`, a code of the factor in force (TOTP or
   * recovery): else whoever holds a session could swap the second factor for their own and
   * lock the owner out of it. Wrong ones count toward the lockout, like on disable.
   */
  async enable(userId: number, code: string, ctx: RequestContext, currentCode?: string): Promise<string[]> {
    const user = await this.activeUser(userId);
    if (!user.mfaPendingSecret) throw new HttpError(user.mfaEnabled ? 'MFA_ALREADY_ENABLED' : 'MFA_SETUP_REQUIRED');
    const pending = this.open(user.id, user.mfaPendingSecret);
    const step = matchTotpStep(pending, code.replace(/\s/g, ''), this.o.now());
    if (step === undefined) throw new HttpError('INVALID_MFA_CODE');
    if (user.mfaEnabled) await this.proveCurrentFactor(user, currentCode, ctx);
    const codes = newRecoveryCodes();
    const hashes = codes.map((c) => hashRecoveryCode(this.o.recoveryKey, user.id, normalizeRecoveryCode(c)!));
    const now = this.o.now();
    await this.o.storage.transaction(async (repos) => {
      // Compare-and-set on the pending secret: of two enables racing with one code (a double
      // click), one wins; the other must not hand out recovery codes that the winner replaced.
      const enabled = await repos.users.update(user.id, { mfaEnabled: true, mfaSecret: user.mfaPendingSecret, mfaPendingSecret: null }, now, { mfaPendingSecret: user.mfaPendingSecret! });
      if (!enabled) throw new HttpError('MFA_ALREADY_ENABLED');
      await repos.recoveryCodes.replace(user.id, hashes, now);
      // The enabling code is used up like any other (contract: each step only once): it cannot sign in too.
      await repos.users.acceptTotpStep(user.id, step, user.mfaPendingSecret!);
    });
    await this.o.audit.record('mfa.enable', ctx, { userId: user.id, outcome: 'success', details: { rotated: user.mfaEnabled } });
    return codes;
  }

  /** A code of the factor in force, before it is replaced (consumed like a sign-in's). */
  private async proveCurrentFactor(user: User, currentCode: string | undefined, ctx: RequestContext): Promise<void> {
    if (currentCode === undefined) throw new HttpError('MFA_CURRENT_CODE_REQUIRED');
    await this.reauthenticate(user, 'mfa.enable', ctx, () => this.verify(user, currentCode.trim(), ctx));
  }

  /**
   * Proof the caller holds what the account needs, behind the account's lockout: a failure is
   * audited under `action`, counts toward the lockout, and is one answer whatever was wrong.
   */
  private async reauthenticate(user: User, action: 'mfa.enable' | 'mfa.disable', ctx: RequestContext, proof: () => Promise<boolean>): Promise<void> {
    const attempt = await this.o.throttle.begin(userAccountKey(user.id), user.id, ctx);
    if (await proof()) return;
    await attempt.failed(() => this.o.audit.record(action, ctx, { userId: user.id, outcome: 'failure', ...(action === 'mfa.enable' ? { details: { rotated: true } } : {}) }));
    throw new HttpError('MFA_REAUTH_FAILED');
  }

  /** Turns MFA off with the password and a TOTP or recovery code; either wrong gets one answer. */
  async disable(userId: number, password: string, code: string, ctx: RequestContext): Promise<void> {
    const user = await this.activeUser(userId);
    if (!user.mfaEnabled) throw new HttpError('MFA_NOT_ENABLED');
    // The code is only tried (and consumed) once the password is right.
    await this.reauthenticate(user, 'mfa.disable', ctx, async () => (await this.o.verifyPassword(user, password)) && (await this.verify(user, code.trim(), ctx)));
    const now = this.o.now();
    await this.o.storage.transaction(async (repos) => {
      await repos.users.update(user.id, { mfaEnabled: false, mfaSecret: null, mfaPendingSecret: null }, now);
      await repos.recoveryCodes.replace(user.id, [], now);
    });
    await this.o.audit.record('mfa.disable', ctx, { userId: user.id, outcome: 'success' });
  }

  /**
   * SecondFactor for sign-in: a TOTP code of the current or previous step that no earlier request
   * used (RFC 6238 §5.2: "the verifier MUST NOT accept the second attempt of the OTP after the
   * successful validation has been issued for the first OTP"), or an unused recovery code.
   */
  async verify(user: User, code: string, _ctx: RequestContext): Promise<boolean> {
    if (!user.mfaEnabled || !user.mfaSecret) return false;
    const compact = code.replace(/\s/g, '');
    if (isTotpShaped(compact)) {
      const step = matchTotpStep(this.open(user.id, user.mfaSecret), compact, this.o.now());
      // Compare-and-set on the steps used: of two racing requests with one code, one wins.
      return step !== undefined && (await this.o.storage.users.acceptTotpStep(user.id, step, user.mfaSecret));
    }
    const normalized = normalizeRecoveryCode(code);
    if (!normalized) return false;
    return this.o.storage.recoveryCodes.consume(user.id, hashRecoveryCode(this.o.recoveryKey, user.id, normalized), this.o.now());
  }
}
