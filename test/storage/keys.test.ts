// Signing keys and external identities on every database: a kid is inserted once (a racing process
// loses quietly), rotation retires the others, and an (issuer, subject) pair links to one user only.
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { asymmetricKeyRing, rotateSigningKey } from '../../src/crypto/signing-keys.js';
import { databaseTargets, type TestStorage } from '../helpers/databases.js';

const T0 = 1_750_000_000_000;

for (const target of databaseTargets) {
  describe.skipIf(!target.available)(`signing keys and identities on ${target.name}`, () => {
    let s: TestStorage;
    let seq = 0;
    beforeAll(async () => {
      s = await target.open();
    });
    afterAll(() => s?.close());

    async function user(): Promise<number> {
      seq += 1;
      return (await s.users.create({ username: `idp${seq}`, email: `idp${seq}@example.test`, fullName: null, passwordHash: 'h', role: 'user' }, T0)).id;
    }

    const key = (kid: string, algorithm: string, createdAt: number) => ({ kid, algorithm, privateJwk: `enc(${kid})`, publicJwk: `{"kid":"${kid}"}`, createdAt });

    it('inserts a key once: a duplicate kid returns false and changes nothing', async () => {
      expect(await s.signingKeys.insert(key('ed-1', 'EdDSA', T0))).toBe(true);
      expect(await s.signingKeys.insert({ ...key('ed-1', 'EdDSA', T0 + 5), privateJwk: 'other' })).toBe(false);
      expect(await s.signingKeys.list('EdDSA')).toEqual([
        { kid: 'ed-1', algorithm: 'EdDSA', privateJwk: 'enc(ed-1)', publicJwk: '{"kid":"ed-1"}', createdAt: T0, retiredAt: null },
      ]);
    });

    it('lists one algorithm, oldest first; retireOthers keeps one and leaves other algorithms alone', async () => {
      await s.signingKeys.insert(key('ed-3', 'EdDSA', T0 + 30));
      await s.signingKeys.insert(key('ed-2', 'EdDSA', T0 + 20));
      await s.signingKeys.insert(key('es-1', 'ES256', T0 + 10));
      expect((await s.signingKeys.list('EdDSA')).map((k) => k.kid)).toEqual(['ed-1', 'ed-2', 'ed-3']);
      await s.signingKeys.retireOthers('EdDSA', 'ed-2', T0 + 100);
      const retired = Object.fromEntries((await s.signingKeys.list('EdDSA')).map((k) => [k.kid, k.retiredAt]));
      expect(retired).toEqual({ 'ed-1': T0 + 100, 'ed-2': null, 'ed-3': T0 + 100 });
      expect((await s.signingKeys.list('ES256'))[0]?.retiredAt).toBeNull();
      // Already-retired keys keep their original retirement time.
      await s.signingKeys.retireOthers('EdDSA', 'ed-3', T0 + 200);
      const again = Object.fromEntries((await s.signingKeys.list('EdDSA')).map((k) => [k.kid, k.retiredAt]));
      expect(again).toEqual({ 'ed-1': T0 + 100, 'ed-2': T0 + 200, 'ed-3': T0 + 100 });
    });

    it('deletes keys retired before a time, never current ones', async () => {
      await s.signingKeys.insert(key('es-2', 'ES256', T0 + 11));
      await s.signingKeys.retireOthers('ES256', 'es-2', T0 + 150);
      await s.signingKeys.deleteRetiredBefore(T0 + 151);
      expect((await s.signingKeys.list('EdDSA')).map((k) => k.kid)).toEqual(['ed-2']);
      expect((await s.signingKeys.list('ES256')).map((k) => k.kid)).toEqual(['es-2']);
    });

    it('two processes racing to create the same kid: exactly one insert wins', async () => {
      const results = await Promise.all([s.signingKeys.insert(key('race-1', 'ES256', T0)), s.signingKeys.insert(key('race-1', 'ES256', T0))]);
      expect(results.filter(Boolean)).toHaveLength(1);
    });

    it('links an external identity once; the same pair never moves to another user', async () => {
      const alice = await user();
      const mallory = await user();
      const issuer = 'https://idp.example.test';
      expect(await s.identities.findUserId(issuer, 'sub-1')).toBeUndefined();
      expect(await s.identities.link(issuer, 'sub-1', alice, T0)).toBe(true);
      expect(await s.identities.link(issuer, 'sub-1', mallory, T0 + 1)).toBe(false);
      expect(await s.identities.link(issuer, 'sub-1', alice, T0 + 2)).toBe(false);
      expect(await s.identities.findUserId(issuer, 'sub-1')).toBe(alice);
      // The subject is only unique within its issuer.
      expect(await s.identities.link('https://other-idp.example.test', 'sub-1', mallory, T0)).toBe(true);
      expect(await s.identities.findUserId('https://other-idp.example.test', 'sub-1')).toBe(mallory);
      expect(await s.identities.findUserId(issuer, 'SUB-1')).toBeUndefined();
    });

    it('an identity link goes with its user', async () => {
      const u = await user();
      await s.identities.link('https://idp.example.test', 'sub-gone', u, T0);
      await s.handle.db.deleteFrom('users').where('id', '=', u).execute();
      expect(await s.identities.findUserId('https://idp.example.test', 'sub-gone')).toBeUndefined();
      await expect(s.identities.link('https://idp.example.test', 'sub-ghost', u, T0)).rejects.toThrow();
    });
  });
}

// The key ring over the store: a rotation keeps the old key verifying for its lifetime; a day after
// that the retired row (its sealed private half) is deleted at the next load, never the live one.
for (const target of databaseTargets) {
  describe.skipIf(!target.available)(`the EdDSA key ring on ${target.name}`, () => {
    let s: TestStorage;
    beforeAll(async () => {
      s = await target.open();
    });
    afterAll(() => s?.close());

    it('a retired key verifies for its lifetime, then its row is deleted a day later; the live key stays', async () => {
      let now = T0;
      const options = { algorithm: 'EdDSA' as const, store: s.signingKeys, encryptionKey: randomBytes(32), now: () => now, retiredKeyLifetimeMs: 30 * 60_000 };
      const ring = await asymmetricKeyRing(options);
      const first = ring.signingKey().kid!;
      const second = await rotateSigningKey(options);
      await ring.reload();
      expect(ring.signingKey().kid).toBe(second);
      expect(ring.verificationKey(first)).toBeDefined();
      now += 31 * 60_000;
      await ring.reload();
      expect(ring.verificationKey(first)).toBeUndefined();
      expect((await s.signingKeys.list('EdDSA')).map((k) => k.kid)).toContain(first);
      now += 24 * 60 * 60_000;
      await ring.reload();
      expect((await s.signingKeys.list('EdDSA')).map((k) => k.kid)).toEqual([second]);
      expect(ring.signingKey().kid).toBe(second);
    });
  });
}
