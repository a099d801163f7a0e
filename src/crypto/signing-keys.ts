// The keys access tokens are signed with. HS256: the UTF-8 bytes of SECRET_KEY (contract), one key,
// no kid. EdDSA / ES256: key pairs kept in the database (private half encrypted), published in the
// JWKS with a kid; rotation adds a key and retires the old one, which keeps verifying until every
// token it signed has expired, so nobody is logged out.
import { createPrivateKey, createPublicKey, createSecretKey, randomBytes, type KeyObject } from 'node:crypto';
import { exportJWK, generateKeyPair, type JWK } from 'jose';
import type { JwtAlgorithm } from '../config/index.js';
import { decrypt, encrypt } from './encryption.js';

export interface StoredSigningKey {
  readonly kid: string;
  readonly algorithm: string;
  readonly privateJwk: string;
  readonly publicJwk: string;
  readonly createdAt: number;
  readonly retiredAt: number | null;
}

/** What the key ring needs from storage (SigningKeysRepository fits). */
export interface SigningKeyStore {
  list(algorithm: string): Promise<StoredSigningKey[]>;
  insert(key: Omit<StoredSigningKey, 'retiredAt'>): Promise<boolean>;
  retireOthers(algorithm: string, keep: string, now: number): Promise<void>;
  deleteRetiredBefore(before: number): Promise<void>;
}

/** A retired key is deleted this long after it stopped verifying: a private key nothing needs is only a liability. */
const RETIRED_KEY_KEPT_MS = 24 * 60 * 60_000;

export interface KeyRing {
  readonly algorithm: JwtAlgorithm;
  /** The key new tokens are signed with (HS256: the secret; otherwise the private half). */
  signingKey(): { readonly kid: string | undefined; readonly key: KeyObject };
  /** Verification material for a token's kid (HS256: the secret, kid ignored); undefined when unknown. */
  verificationKey(kid: string | undefined): Buffer | KeyObject | undefined;
  /** Public keys for /.well-known/jwks.json (none for HS256). */
  jwks(): { keys: JWK[] };
  /** Reloads from the store (another instance may have rotated). */
  reload(): Promise<void>;
}

export function hmacKeyRing(secretKey: string): KeyRing {
  const buffer = Buffer.from(secretKey, 'utf8');
  const secret = createSecretKey(buffer);
  return {
    algorithm: 'HS256',
    signingKey: () => ({ kid: undefined, key: secret }),
    verificationKey: () => buffer,
    jwks: () => ({ keys: [] }),
    reload: async () => undefined,
  };
}

interface LoadedKey {
  readonly kid: string;
  readonly publicKey: KeyObject;
  readonly publicJwk: JWK;
  readonly privateKey: KeyObject | undefined;
  readonly createdAt: number;
  readonly retiredAt: number | null;
}

export interface AsymmetricKeyRingOptions {
  readonly algorithm: 'EdDSA' | 'ES256';
  readonly store: SigningKeyStore;
  readonly encryptionKey: Buffer;
  readonly now: () => number;
  /** How long a retired key keeps verifying: at least the access-token lifetime. */
  readonly retiredKeyLifetimeMs: number;
}

async function newKey(options: AsymmetricKeyRingOptions): Promise<Omit<StoredSigningKey, 'retiredAt'>> {
  const { algorithm } = options;
  const pair = await generateKeyPair(algorithm, { extractable: true, ...(algorithm === 'EdDSA' ? { crv: 'Ed25519' } : {}) });
  const kid = randomBytes(12).toString('base64url');
  const privateJwk = JSON.stringify(await exportJWK(pair.privateKey));
  const publicJwk = { ...(await exportJWK(pair.publicKey)), kid, alg: algorithm, use: 'sig' };
  return {
    kid, algorithm, createdAt: options.now(),
    privateJwk: encrypt(options.encryptionKey, privateJwk, `signing-key:${kid}`),
    publicJwk: JSON.stringify(publicJwk),
  };
}

/**
 * The signing key's private half, sealed with a key derived from SECRET_KEY. A SECRET_KEY changed
 * since (a suspected leak, a lost dev secret file) cannot open it: said in one line that names the
 * variable and the way on, not as the cipher's own "unable to authenticate data".
 */
function unsealPrivateJwk(options: AsymmetricKeyRingOptions, key: { kid: string; privateJwk: string }): unknown {
  try {
    return JSON.parse(decrypt(options.encryptionKey, key.privateJwk, `signing-key:${key.kid}`));
  } catch {
    throw new Error(`SECRET_KEY is not the one the stored ${options.algorithm} signing key ${key.kid} was sealed with: set that SECRET_KEY again, `
      + 'or run `gatehouse rotate-signing-key` to make a new key (tokens the old one signed keep verifying until they expire)');
  }
}

export async function asymmetricKeyRing(options: AsymmetricKeyRingOptions): Promise<KeyRing> {
  let keys: LoadedKey[] = [];
  let active: LoadedKey | undefined;

  async function load(): Promise<void> {
    await options.store.deleteRetiredBefore(options.now() - options.retiredKeyLifetimeMs - RETIRED_KEY_KEPT_MS);
    let stored = await options.store.list(options.algorithm);
    if (!stored.some((k) => k.retiredAt === null)) {
      await options.store.insert(await newKey(options));
      stored = await options.store.list(options.algorithm);
    }
    const now = options.now();
    const usable = stored.filter((k) => k.retiredAt === null || now - k.retiredAt < options.retiredKeyLifetimeMs);
    // Every instance signs with the oldest live key, so two instances that raced to create one agree.
    const current = stored.find((k) => k.retiredAt === null)!;
    keys = await Promise.all(usable.map(async (k): Promise<LoadedKey> => {
      const publicJwk = JSON.parse(k.publicJwk) as JWK;
      const privateKey = k.kid === current.kid ? createPrivateKey({ key: unsealPrivateJwk(options, k) as never, format: 'jwk' }) : undefined;
      return { kid: k.kid, publicJwk, privateKey, publicKey: createPublicKey({ key: publicJwk as never, format: 'jwk' }), createdAt: k.createdAt, retiredAt: k.retiredAt };
    }));
    active = keys.find((k) => k.kid === current.kid);
  }

  await load();
  return {
    algorithm: options.algorithm,
    signingKey: () => ({ kid: active!.kid, key: active!.privateKey! }),
    verificationKey: (kid) => keys.find((k) => k.kid === kid)?.publicKey,
    jwks: () => ({ keys: keys.map((k) => k.publicJwk) }),
    reload: load,
  };
}

/** Adds a new signing key and retires the others (they keep verifying for `retiredKeyLifetimeMs`). */
export async function rotateSigningKey(options: AsymmetricKeyRingOptions): Promise<string> {
  const key = await newKey(options);
  await options.store.insert(key);
  await options.store.retireOthers(options.algorithm, key.kid, options.now());
  return key.kid;
}
