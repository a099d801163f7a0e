// Access tokens: short-lived JWTs (RFC 7519, profile of RFC 9068). Signed and verified with
// fast-jwt, synchronously on the event loop: a signature costs microseconds, while jose's WebCrypto
// path queued every login's signature on the libuv pool behind the argon2 hashes and imported the
// key anew each time (docs/performance.md). Exactly one algorithm is accepted: the configured one.
import { randomBytes, type KeyObject } from 'node:crypto';
import { createSigner, createVerifier } from 'fast-jwt';
import type { KeyRing } from './signing-keys.js';

export interface AccessClaims {
  readonly sub: string;
  readonly sid: string;
  readonly jti: string;
  readonly iat: number;
  readonly exp: number;
  readonly iss: string;
  readonly aud: string;
  readonly type: 'access';
  readonly roles: readonly string[];
  readonly scope: string;
  /** The user's authorisation version when issued; a role change or deactivation bumps it. */
  readonly ver: number;
  /**
   * Present (true) when the token holds every scope of its role because its session follows the
   * role (none was asked for): after a role change it holds the new role's scopes, as a refresh would.
   */
  readonly scope_follows_role?: true;
}

export interface AccessTokenInput {
  readonly userId: number;
  readonly sessionId: string;
  readonly roles: readonly string[];
  readonly scope: string;
  readonly authzVersion: number;
  /** The session follows its user's role: the token's scope is every scope of that role. */
  readonly scopeFollowsRole?: boolean;
  /** The end of the session (epoch ms): the token expires then if that comes before its usual lifetime. */
  readonly notAfter?: number;
}

/** Why a token was refused; for logs only — clients always see the same 401. */
export class TokenRejected extends Error {
  override readonly name = 'TokenRejected';
  constructor(readonly reason: string) {
    super(reason);
  }
}

export interface AccessTokenOptions {
  readonly keys: KeyRing;
  readonly issuer: string;
  readonly audience: string;
  readonly ttlSeconds: number;
  readonly now: () => number;
}

type VerifierSync = (token: string) => unknown;
type SignerSync = (payload: Record<string, unknown>) => string;

const JWT_SHAPE = /^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*$/;

/** Every segment as an encoder writes it: no padding, and no stray bits in a last character. */
export function isCanonicalJwt(token: string): boolean {
  return token.split('.').every((segment) => Buffer.from(segment, 'base64url').toString('base64url') === segment);
}

function headerOf(token: string): { alg?: unknown; kid?: unknown } {
  let header: unknown;
  try {
    header = JSON.parse(Buffer.from(token.slice(0, token.indexOf('.')), 'base64url').toString('utf8'));
  } catch {
    throw new TokenRejected('malformed header');
  }
  // RFC 7515 §4: the header is a JSON object; `null`, arrays and strings parse but are not headers.
  if (typeof header !== 'object' || header === null || Array.isArray(header)) throw new TokenRejected('malformed header');
  return header as { alg?: unknown; kid?: unknown };
}

/** At most one key reload per this interval, however many unknown kids arrive (no reload storm). */
const RELOAD_INTERVAL_MS = 5000;

/** Verified tokens remembered (oldest forgotten first): a few megabytes at most (tokens are ≤ 4 KiB). */
const VERIFIED_CACHE_SIZE = 2000;

export class AccessTokens {
  /** Weakly held: keys dropped by a reload take their verifiers with them. */
  private verifiers = new WeakMap<object, VerifierSync>();
  private readonly signers = new WeakMap<KeyObject, SignerSync>();
  private readonly verified = new Map<string, Record<string, unknown>>();
  private reloading: Promise<void> | undefined;
  private lastReload = 0;

  constructor(private readonly options: AccessTokenOptions) {}

  get ttlSeconds(): number {
    return this.options.ttlSeconds;
  }

  async issue(input: AccessTokenInput): Promise<{ token: string; claims: AccessClaims }> {
    const { keys, issuer, audience, ttlSeconds } = this.options;
    const iat = Math.floor(this.options.now() / 1000);
    const exp = Math.min(iat + ttlSeconds, input.notAfter === undefined ? Infinity : Math.floor(input.notAfter / 1000));
    const claims: AccessClaims = {
      sub: String(input.userId), sid: input.sessionId, jti: randomBytes(16).toString('base64url'),
      iat, exp, iss: issuer, aud: audience, type: 'access',
      roles: [...input.roles], scope: input.scope, ver: input.authzVersion,
      ...(input.scopeFollowsRole ? { scope_follows_role: true as const } : {}),
    };
    const token = this.signer()({ ...claims });
    return { token, claims };
  }

  /** The signer of the current signing key (header `alg`, `typ: JWT` and its `kid`), made once per key. */
  private signer(): SignerSync {
    const { kid, key } = this.options.keys.signingKey();
    let signer = this.signers.get(key);
    if (signer) return signer;
    signer = createSigner({
      // fast-jwt takes the HMAC secret as bytes and a private key as PEM.
      key: key.type === 'secret' ? key.export() : key.export({ type: 'pkcs8', format: 'pem' }).toString(),
      algorithm: this.options.keys.algorithm as never,
      ...(kid ? { kid } : {}),
    }) as SignerSync;
    this.signers.set(key, signer);
    return signer;
  }

  /** Returns the claims of a valid access token, or throws TokenRejected. */
  verify(token: string): AccessClaims {
    // A client sends the same token many times: its verified payload is remembered under the exact
    // token text (no hash that could collide), and only the time checks run again.
    const known = this.verified.get(token);
    if (known) return this.checkClaims(known);
    if (token.length > 4096 || !JWT_SHAPE.test(token)) throw new TokenRejected('not a JWT');
    // One token, one spelling: base64url leaves spare low bits in a segment's last character, and
    // decoders ignore them, so `…4` and `…5` would both verify. Only the canonical text is accepted
    // (RFC 7515 §2: no padding, no spare bits), so a token is the same string wherever it is remembered.
    if (!isCanonicalJwt(token)) throw new TokenRejected('not canonical base64url');
    // The header may name a key id, never a key: jku, jwk, x5u and x5c are not read (RFC 8725 §3.10).
    // HS256 has one key, so its header is not even parsed here (the verifier checks `alg`).
    const header = this.options.keys.algorithm === 'HS256' ? {} : headerOf(token);
    const kid = typeof header.kid === 'string' ? header.kid : undefined;
    const verifier = this.verifierFor(kid);
    let payload: Record<string, unknown>;
    try {
      payload = verifier(token) as Record<string, unknown>;
    } catch (err) {
      throw new TokenRejected(`signature or claims: ${(err as { code?: string }).code ?? 'invalid'}`);
    }
    const claims = this.checkClaims(payload);
    if (this.verified.size >= VERIFIED_CACHE_SIZE) this.verified.delete(this.verified.keys().next().value!);
    this.verified.set(token, payload);
    return claims;
  }

  /**
   * Like verify, but a kid this instance does not know yet (another instance rotated the key)
   * triggers one reload of the key ring before the token is refused.
   */
  async verifyWithReload(token: string): Promise<AccessClaims> {
    try {
      return this.verify(token);
    } catch (err) {
      if (!(err instanceof TokenRejected) || err.reason !== 'unknown key id') throw err;
      await this.reloadKeys();
      return this.verify(token);
    }
  }

  /** Reloads the key ring (throttled and shared by concurrent callers). */
  async reloadKeys(force = false): Promise<void> {
    const now = this.options.now();
    if (!force && now - this.lastReload < RELOAD_INTERVAL_MS) return this.reloading;
    this.lastReload = now;
    this.reloading = this.options.keys.reload().then(() => this.resetVerifiers());
    return this.reloading;
  }

  private verifierFor(kid: string | undefined): VerifierSync {
    const key = this.options.keys.verificationKey(kid);
    if (!key) throw new TokenRejected('unknown key id');
    // Cached per key, never per header kid: HS256 ignores the kid, and a verifier per attacker-chosen
    // kid (each with its own 10 000-entry cache) would grow memory without bound.
    let verifier = this.verifiers.get(key);
    if (verifier) return verifier;
    verifier = createVerifier({
      key: Buffer.isBuffer(key) ? key : key.export({ type: 'spki', format: 'pem' }).toString(),
      algorithms: [this.options.keys.algorithm as never],
      allowedIss: this.options.issuer,
      allowedAud: this.options.audience,
      requiredClaims: ['exp', 'iat', 'sub', 'jti', 'sid', 'iss', 'aud'],
      // Time is checked below against the injected clock; the library checks signature and claims.
      ignoreExpiration: true,
      ignoreNotBefore: true,
      // Verified tokens are remembered above, by their exact text; a second (hashing) cache adds cost only.
      cache: false,
    });
    this.verifiers.set(key, verifier);
    return verifier;
  }

  /** Forgets per-key verifiers (after a key reload or rotation). */
  resetVerifiers(): void {
    this.verifiers = new WeakMap();
    this.verified.clear();
  }

  private checkClaims(p: Record<string, unknown>): AccessClaims {
    // RFC 9068 §4: a token that is not an access token (e.g. a refresh token) is never accepted here.
    if (p.type !== 'access') throw new TokenRejected('not an access token');
    const now = this.options.now() / 1000;
    if (typeof p.exp !== 'number' || p.exp <= now) throw new TokenRejected('expired');
    if (typeof p.iat !== 'number' || p.iat > now + 60) throw new TokenRejected('issued in the future');
    // RFC 7519 §4.1.5: never before nbf (ours carry none; a token minted elsewhere with SECRET_KEY may).
    if (p.nbf !== undefined && (typeof p.nbf !== 'number' || p.nbf > now + 60)) throw new TokenRejected('not yet valid');
    if (p.exp - p.iat > this.options.ttlSeconds + 60) throw new TokenRejected('lifetime longer than configured');
    // A user id as this server writes it: no sign, no leading zero ("02" is not user 2's subject).
    if (typeof p.sub !== 'string' || !/^[1-9]\d{0,14}$/.test(p.sub)) throw new TokenRejected('bad subject');
    if (typeof p.sid !== 'string' || typeof p.jti !== 'string') throw new TokenRejected('bad ids');
    const roles = Array.isArray(p.roles) ? p.roles.filter((r): r is string => typeof r === 'string') : [];
    // Absent in tokens minted elsewhere with SECRET_KEY (version 0); when present, what we write.
    const ver = p.ver === undefined ? 0 : p.ver;
    if (typeof ver !== 'number' || !Number.isSafeInteger(ver) || ver < 0) throw new TokenRejected('bad version');
    return {
      sub: p.sub, sid: p.sid, jti: p.jti, iat: p.iat, exp: p.exp, iss: String(p.iss), aud: String(p.aud),
      type: 'access', roles, scope: typeof p.scope === 'string' ? p.scope : '', ver,
      ...(p.scope_follows_role === true ? { scope_follows_role: true as const } : {}),
    };
  }
}
