// Keys of a remote JWKS (RFC 7517), fetched from configuration only, cached for a fixed time on an
// injected clock, fetched again (once, shared by every waiting request) when a token names an unknown
// `kid`, with a cooldown so that random kids cannot turn us into a load generator against the issuer.
import { importJWK, type CryptoKey, type JWK } from 'jose';
import { TokenRejected } from '../crypto/access-tokens.js';
import { callIssuer, IssuerUnavailable } from './remote-json.js';

export interface RemoteKeySetOptions {
  /** For logs and errors: the issuer these keys belong to. */
  readonly issuer: string;
  readonly url: string;
  /** Pinned algorithms: a key is only ever used with one of these (RFC 8725 §3.1). */
  readonly algorithms: readonly string[];
  readonly timeoutMs: number;
  readonly cacheMaxAgeMs: number;
  readonly cooldownMs: number;
  readonly now: () => number;
}

/** After a failed fetch, requests answer 503 at once for this long instead of each waiting out a timeout. */
const FAILURE_BACKOFF_MS = 1000;

/** Which keys can verify which algorithm (RFC 7518 §3.1, RFC 8037 §3.1). */
function fits(jwk: JWK, alg: string): boolean {
  if (jwk.use !== undefined && jwk.use !== 'sig') return false;
  if (jwk.key_ops !== undefined && !jwk.key_ops.includes('verify')) return false;
  if (jwk.alg !== undefined && jwk.alg !== alg) return false;
  if (alg === 'EdDSA') return jwk.kty === 'OKP' && jwk.crv === 'Ed25519';
  if (alg === 'ES256') return jwk.kty === 'EC' && jwk.crv === 'P-256';
  if (alg === 'ES384') return jwk.kty === 'EC' && jwk.crv === 'P-384';
  if (alg === 'ES512') return jwk.kty === 'EC' && jwk.crv === 'P-521';
  if (/^(RS|PS)(256|384|512)$/.test(alg)) return jwk.kty === 'RSA';
  return false;
}

export class RemoteKeySet {
  private keys: JWK[] = [];
  private fetchedAt: number | undefined;
  private lastAttemptAt = Number.NEGATIVE_INFINITY;
  private lastFailure: { at: number; error: IssuerUnavailable } | undefined;
  private inflight: Promise<void> | undefined;
  private readonly imported = new Map<JWK, Map<string, Promise<CryptoKey | Uint8Array>>>();

  constructor(private readonly options: RemoteKeySetOptions) {}

  /**
   * The key for a token's protected header. Only `alg` and `kid` are read: `jku`, `jwk`, `x5u` and
   * `x5c` name keys chosen by whoever made the token and are never followed (RFC 8725 §3.10).
   * Throws TokenRejected for a key the issuer does not publish, IssuerUnavailable when it must be asked and cannot.
   */
  async keyFor(header: { alg?: unknown; kid?: unknown }): Promise<CryptoKey | Uint8Array> {
    const alg = typeof header.alg === 'string' ? header.alg : '';
    if (!this.options.algorithms.includes(alg)) throw new TokenRejected(`algorithm ${alg || 'missing'} not allowed`);
    const kid = typeof header.kid === 'string' ? header.kid : undefined;
    const now = this.options.now();

    let refreshed = false;
    if (this.fetchedAt === undefined || now - this.fetchedAt >= this.options.cacheMaxAgeMs) {
      await this.refresh();
      refreshed = true;
    }
    let jwk = this.find(kid, alg);
    // An unknown kid may be a key the issuer has just rotated in (RFC 7517 §5 lets a set change).
    if (!jwk && !refreshed && kid !== undefined && now - this.lastAttemptAt >= this.options.cooldownMs) {
      await this.refresh();
      jwk = this.find(kid, alg);
    }
    if (!jwk) throw new TokenRejected(kid === undefined ? 'no single key fits a token without kid' : 'unknown key id');
    return this.importKey(jwk, alg);
  }

  private find(kid: string | undefined, alg: string): JWK | undefined {
    const candidates = this.keys.filter((k) => (kid === undefined || k.kid === kid) && fits(k, alg));
    // Without a kid the choice must be unambiguous; with one, kids are unique within a sane set.
    return candidates.length === 1 ? candidates[0] : undefined;
  }

  private importKey(jwk: JWK, alg: string): Promise<CryptoKey | Uint8Array> {
    let byAlg = this.imported.get(jwk);
    if (!byAlg) this.imported.set(jwk, (byAlg = new Map()));
    let key = byAlg.get(alg);
    if (!key) {
      key = importJWK(jwk, alg).catch(() => {
        throw new TokenRejected('published key cannot be imported');
      });
      byAlg.set(alg, key);
    }
    return key;
  }

  /** One fetch at a time; everyone who needs fresh keys waits on the same one. */
  private refresh(): Promise<void> {
    const now = this.options.now();
    if (this.lastFailure && now - this.lastFailure.at < FAILURE_BACKOFF_MS) return Promise.reject(this.lastFailure.error);
    this.inflight ??= this.fetchKeys().finally(() => {
      this.inflight = undefined;
    });
    return this.inflight;
  }

  private async fetchKeys(): Promise<void> {
    const { issuer, url, timeoutMs, now } = this.options;
    this.lastAttemptAt = now();
    try {
      const answer = await callIssuer({ issuer, url, timeoutMs });
      if (answer.status !== 200) throw new IssuerUnavailable(issuer, `JWKS answered ${answer.status}`);
      const keys = (answer.json as { keys?: unknown } | undefined)?.keys;
      if (!Array.isArray(keys)) throw new IssuerUnavailable(issuer, 'JWKS is not a key set');
      // Keys we cannot judge (no kty, private halves) are skipped, not trusted.
      this.keys = keys.filter((k): k is JWK => typeof k === 'object' && k !== null && typeof (k as JWK).kty === 'string' && !('d' in k));
      this.imported.clear();
      this.fetchedAt = now();
      this.lastFailure = undefined;
    } catch (err) {
      const error = err instanceof IssuerUnavailable ? err : new IssuerUnavailable(issuer, 'JWKS fetch failed');
      // Keys still within their age keep working; stale ones are not stretched (they may have been
      // withdrawn): the next request past the age asks again, and answers 503 if it cannot.
      this.lastFailure = { at: now(), error };
      throw error;
    }
  }
}
