// gatehouse rotate-signing-key: a new EdDSA/ES256 signing key; the previous one stays published and
// keeps verifying until every token it signed has expired, so nobody is signed out. Running
// instances pick the new key up when they meet its kid (or within a minute).
import { systemClock } from '../clock.js';
import { loadConfig } from '../config/index.js';
import { deriveKeys } from '../crypto/secrets.js';
import { rotateSigningKey } from '../crypto/signing-keys.js';
import { openStorage } from '../storage/index.js';

export async function rotateSigningKeyCommand(): Promise<number> {
  const { config } = loadConfig(process.env);
  if (config.jwtAlgorithm === 'HS256') {
    process.stderr.write('gatehouse: JWT_ALGORITHM is HS256, whose key is SECRET_KEY; there is no key pair to rotate\n');
    return 1;
  }
  const storage = await openStorage(config.databaseUrl);
  try {
    const kid = await rotateSigningKey({
      algorithm: config.jwtAlgorithm, store: storage.signingKeys, encryptionKey: deriveKeys(config.secretKey).encryption,
      now: () => systemClock.now(), retiredKeyLifetimeMs: 2 * config.accessTokenExpireMinutes * 60_000,
    });
    process.stdout.write(`new ${config.jwtAlgorithm} signing key ${kid}\n`);
    return 0;
  } finally {
    await storage.close();
  }
}
