// UsersRepository on every database: case-insensitive identity, authz versioning, the admin search
// (literal LIKE metacharacters, hostile input), the TOTP step compare-and-set, admin counts.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { UniqueViolationError, type NewUser } from '../../src/storage/index.js';
import { databaseTargets, type TestStorage } from '../helpers/databases.js';

const T0 = 1_750_000_000_000;

function newUser(username: string, overrides: Partial<NewUser> = {}): NewUser {
  return { username, email: `${username.toLowerCase()}@example.test`, fullName: null, passwordHash: `hash-of-${username}`, role: 'user', ...overrides };
}

async function rejection(promise: Promise<unknown>): Promise<unknown> {
  return promise.then(() => expect.unreachable('expected a rejection'), (err: unknown) => err);
}

for (const target of databaseTargets) {
  describe.skipIf(!target.available)(`users repository on ${target.name}`, () => {
    let s: TestStorage;
    beforeAll(async () => {
      s = await target.open();
    });
    afterAll(() => s?.close());

    it('creates a user with safe defaults and finds it by id', async () => {
      const u = await s.users.create(newUser('Alice', { fullName: 'Alice A.', email: 'Alice@Example.test' }), T0);
      expect(u).toEqual({
        id: expect.any(Number), username: 'Alice', email: 'Alice@Example.test', fullName: 'Alice A.', passwordHash: 'hash-of-Alice',
        role: 'user', isActive: true, authzVersion: 1, mfaEnabled: false, mfaSecret: null, mfaPendingSecret: null,
        mfaLastStep: null, createdAt: T0, updatedAt: T0,
      });
      expect(await s.users.findById(u.id)).toEqual(u);
      expect(await s.users.findById(u.id + 10_000)).toBeUndefined();
      const inactive = await s.users.create(newUser('Dormant', { isActive: false, role: 'admin' }), T0);
      expect(inactive).toMatchObject({ isActive: false, role: 'admin' });
    });

    it('reads the profile alone: exactly the user JSON fields, no hash or secret, as fresh as the row', async () => {
      const u = await s.users.create(newUser('Profiled', { fullName: 'Pro File' }), T0);
      await s.users.update(u.id, { mfaSecret: 'sealed-secret', mfaEnabled: true }, T0 + 1);
      expect(await s.users.findProfile(u.id)).toStrictEqual({
        id: u.id, username: 'Profiled', email: 'profiled@example.test', fullName: 'Pro File', role: 'user',
        isActive: true, mfaEnabled: true, createdAt: T0,
      });
      await s.users.update(u.id, { role: 'admin', isActive: false, fullName: null }, T0 + 2);
      expect(await s.users.findProfile(u.id)).toMatchObject({ role: 'admin', isActive: false, fullName: null });
      expect(await s.users.findProfile(u.id + 10_000)).toBeUndefined();
    });

    it('finds by login (username or email) without regard to case', async () => {
      const u = await s.users.create(newUser('CaseMix', { email: 'Case.Mix@Example.TEST' }), T0);
      for (const login of ['CaseMix', 'casemix', 'CASEMIX', 'case.mix@example.test', 'CASE.MIX@EXAMPLE.TEST']) {
        expect((await s.users.findByLogin(login))?.id, login).toBe(u.id);
      }
      expect(await s.users.findByLogin('casemi')).toBeUndefined();
      expect(await s.users.findByLogin('case.mix@example')).toBeUndefined();
      expect(await s.users.findByLogin('%')).toBeUndefined();
      expect((await s.users.findByEmail('CASE.mix@example.test'))?.id).toBe(u.id);
      expect(await s.users.findByEmail('nobody@example.test')).toBeUndefined();
    });

    it('folds case for A-Z only: a look-alike that lower-cases to ASCII (the Kelvin sign) finds nobody', async () => {
      const u = await s.users.create(newUser('kelvin', { email: 'kelvin@example.test' }), T0);
      expect((await s.users.findByLogin('KELVIN'))?.id).toBe(u.id);
      for (const login of ['\u212Aelvin', '\u212AELVIN', '\u212Aelvin@example.test', 'kelv\u0130n']) {
        expect(await s.users.findByLogin(login), login).toBeUndefined();
      }
      expect(await s.users.findByEmail('\u212Aelvin@example.test')).toBeUndefined();
      expect((await s.users.list({ q: '\u212A', limit: 50, offset: 0 })).total).toBe(0);
    });

    it('refuses a username or email that differs only in case, naming the field', async () => {
      await s.users.create(newUser('Bob', { email: 'bob@example.test' }), T0);
      const byName = await rejection(s.users.create(newUser('bOB', { email: 'other-bob@example.test' }), T0));
      expect(byName).toBeInstanceOf(UniqueViolationError);
      expect(byName).toMatchObject({ field: 'username' });
      const byEmail = await rejection(s.users.create(newUser('Robert', { email: 'BOB@Example.Test' }), T0));
      expect(byEmail).toBeInstanceOf(UniqueViolationError);
      expect(byEmail).toMatchObject({ field: 'email' });
      const other = await s.users.create(newUser('Carol'), T0);
      const byUpdate = await rejection(s.users.update(other.id, { email: 'Bob@EXAMPLE.test' }, T0 + 1));
      expect(byUpdate).toBeInstanceOf(UniqueViolationError);
      expect(byUpdate).toMatchObject({ field: 'email' });
      expect((await s.users.findById(other.id))?.email).toBe('carol@example.test');
    });

    it('updates each field; only role and activity changes bump authzVersion', async () => {
      const u = await s.users.create(newUser('Patchy'), T0);
      const steps: [Parameters<typeof s.users.update>[1], Record<string, unknown>, number][] = [
        [{ email: 'patchy2@example.test' }, { email: 'patchy2@example.test' }, 1],
        [{ fullName: 'Pat Chy' }, { fullName: 'Pat Chy' }, 1],
        [{ fullName: null }, { fullName: null }, 1],
        [{ passwordHash: 'new-hash' }, { passwordHash: 'new-hash' }, 1],
        [{ mfaPendingSecret: 'pending' }, { mfaPendingSecret: 'pending' }, 1],
        [{ mfaSecret: 'secret', mfaPendingSecret: null, mfaEnabled: true }, { mfaSecret: 'secret', mfaPendingSecret: null, mfaEnabled: true }, 1],
        [{ role: 'admin' }, { role: 'admin' }, 2],
        [{ isActive: false }, { isActive: false }, 3],
        [{ isActive: true, role: 'user' }, { isActive: true, role: 'user' }, 4],
      ];
      let now = T0;
      for (const [patch, expected, version] of steps) {
        now += 1000;
        const updated = await s.users.update(u.id, patch, now);
        expect(updated, JSON.stringify(patch)).toMatchObject({ ...expected, authzVersion: version, updatedAt: now, createdAt: T0 });
        expect(await s.users.findById(u.id)).toEqual(updated);
      }
      expect(await s.users.update(u.id + 10_000, { fullName: 'ghost' }, now)).toBeUndefined();
    });

    it('turning MFA off forgets the last accepted TOTP step, and no step is accepted while it is off', async () => {
      const u = await s.users.create(newUser('MfaOff'), T0);
      await s.users.update(u.id, { mfaEnabled: true, mfaSecret: 'x' }, T0);
      expect(await s.users.acceptTotpStep(u.id, 500, 'x')).toBe(true);
      const off = await s.users.update(u.id, { mfaEnabled: false, mfaSecret: null }, T0 + 1);
      expect(off).toMatchObject({ mfaEnabled: false, mfaSecret: null, mfaLastStep: null });
      // A sign-in that checked its code before the disable committed finds nothing to accept.
      expect(await s.users.acceptTotpStep(u.id, 501, 'x')).toBe(false);
      await s.users.update(u.id, { mfaEnabled: true, mfaSecret: 'y' }, T0 + 2);
      expect(await s.users.acceptTotpStep(u.id, 10, 'y')).toBe(true);
      // A new secret in force starts with no step used: the old one's steps say nothing of it.
      await s.users.update(u.id, { mfaSecret: 'z' }, T0 + 3);
      expect(await s.users.acceptTotpStep(u.id, 9, 'z')).toBe(true);
    });

    it('accepts a TOTP step once, the one just before the last only if unused, never an older one, only of the secret in force, and only one of two racing requests', async () => {
      const u = await s.users.create(newUser('Totp'), T0);
      await s.users.update(u.id, { mfaEnabled: true, mfaSecret: 'sealed' }, T0);
      expect(await s.users.acceptTotpStep(u.id, 100, 'sealed')).toBe(true);
      expect(await s.users.acceptTotpStep(u.id, 100, 'sealed')).toBe(false);
      expect(await s.users.acceptTotpStep(u.id, 98, 'sealed')).toBe(false);
      expect(await s.users.acceptTotpStep(u.id, 99, 'other')).toBe(false);
      expect(await s.users.acceptTotpStep(u.id, 99, 'sealed')).toBe(true);
      expect(await s.users.acceptTotpStep(u.id, 99, 'sealed')).toBe(false);
      expect(await s.users.acceptTotpStep(u.id, 101, 'other')).toBe(false);
      expect(await s.users.acceptTotpStep(u.id, 101, 'sealed')).toBe(true);
      // 100 was used before 101: the step just before the last, but not free.
      expect(await s.users.acceptTotpStep(u.id, 100, 'sealed')).toBe(false);
      expect(await s.users.acceptTotpStep(u.id, 103, 'sealed')).toBe(true);
      // 102 was skipped: free once.
      const racedBefore = await Promise.all([s.users.acceptTotpStep(u.id, 102, 'sealed'), s.users.acceptTotpStep(u.id, 102, 'sealed')]);
      expect(racedBefore.filter(Boolean)).toHaveLength(1);
      const raced = await Promise.all([s.users.acceptTotpStep(u.id, 200, 'sealed'), s.users.acceptTotpStep(u.id, 200, 'sealed')]);
      expect(raced.filter(Boolean)).toHaveLength(1);
      expect((await s.users.findById(u.id))?.mfaLastStep).toBe(200);
      expect(await s.users.acceptTotpStep(u.id + 10_000, 1, 'sealed')).toBe(false);
    });

    it('counts active admins only', async () => {
      const before = await s.users.countActiveAdmins();
      const a = await s.users.create(newUser('AdminOne', { role: 'admin' }), T0);
      expect(await s.users.countActiveAdmins()).toBe(before + 1);
      await s.users.create(newUser('AdminOff', { role: 'admin', isActive: false }), T0);
      await s.users.create(newUser('PlainUser'), T0);
      expect(await s.users.countActiveAdmins()).toBe(before + 1);
      await s.users.update(a.id, { isActive: false }, T0 + 1);
      expect(await s.users.countActiveAdmins()).toBe(before);
      await s.users.update(a.id, { isActive: true }, T0 + 2);
      await s.users.update(a.id, { role: 'user' }, T0 + 3);
      expect(await s.users.countActiveAdmins()).toBe(before);
    });

    it('lists users whose authorisation changed since a time, with their current version, role and activity', async () => {
      const changed = await s.users.create(newUser('Promoted'), T0);
      const switchedOff = await s.users.create(newUser('SwitchedOff'), T0);
      const profileOnly = await s.users.create(newUser('ProfileOnly'), T0);
      await s.users.update(changed.id, { role: 'admin' }, T0 + 5000);
      await s.users.update(switchedOff.id, { isActive: false }, T0 + 5000);
      await s.users.update(profileOnly.id, { fullName: 'Just a name' }, T0 + 5000);
      const since = await s.users.authzChangedSince(T0 + 5000);
      expect(since).toContainEqual({ userId: changed.id, version: 2, role: 'admin', active: true });
      expect(since).toContainEqual({ userId: switchedOff.id, version: 2, role: 'user', active: false });
      expect(since.map((r) => r.userId)).not.toContain(profileOnly.id);
      expect((await s.users.authzChangedSince(T0 + 5001)).map((r) => r.userId)).not.toContain(changed.id);
    });

    describe('list (admin search)', () => {
      // A private database: totals below count every user in it.
      let l: TestStorage;
      const ids: Record<string, number> = {};
      const names = ['Zeta_One', 'zetaXone', 'perc%ent', 'percXent', 'back\\slash', 'backslash', 'Omega'];
      beforeAll(async () => {
        l = await target.open();
        for (const [i, name] of names.entries()) {
          const email = `${name.replace(/[^A-Za-z]/g, '').toLowerCase()}${i}@List.Test`;
          ids[name] = (await l.users.create(newUser(name, { email }), T0)).id;
        }
      });
      afterAll(() => l?.close());
      const usernames = async (q: string | undefined, limit = 50, offset = 0) => {
        const { users, total } = await l.users.list({ q, limit, offset });
        return { names: users.map((u) => u.username), total };
      };

      it('without q lists everyone in id order with the total', async () => {
        const { users, total } = await l.users.list({ limit: 50, offset: 0 });
        expect(users.map((u) => u.username)).toEqual(names);
        expect(users.map((u) => u.id)).toEqual(names.map((n) => ids[n]));
        expect(total).toBe(names.length);
        expect(await usernames('')).toEqual({ names, total: names.length });
      });

      it('matches a substring of username or email without regard to case', async () => {
        expect(await usernames('ZETA')).toEqual({ names: ['Zeta_One', 'zetaXone'], total: 2 });
        expect(await usernames('mEg')).toEqual({ names: ['Omega'], total: 1 });
        expect(await usernames('OMEGA6@list')).toEqual({ names: ['Omega'], total: 1 });
        expect(await usernames('@LIST.test')).toEqual({ names, total: names.length });
        expect(await usernames('nobody-has-this')).toEqual({ names: [], total: 0 });
      });

      it('treats %, _ and \\ in q as literal characters', async () => {
        expect(await usernames('a_o')).toEqual({ names: ['Zeta_One'], total: 1 });
        expect(await usernames('_')).toEqual({ names: ['Zeta_One'], total: 1 });
        expect(await usernames('c%e')).toEqual({ names: ['perc%ent'], total: 1 });
        expect(await usernames('%')).toEqual({ names: ['perc%ent'], total: 1 });
        expect(await usernames('k\\s')).toEqual({ names: ['back\\slash'], total: 1 });
        expect(await usernames('\\')).toEqual({ names: ['back\\slash'], total: 1 });
        expect(await usernames('\\%')).toEqual({ names: [], total: 0 });
      });

      it('pages with limit and offset while total counts every match', async () => {
        const all = ['Zeta_One', 'zetaXone', 'perc%ent', 'percXent'];
        expect(await usernames('N', 2, 0)).toEqual({ names: all.slice(0, 2), total: 4 });
        expect(await usernames('N', 3, 2)).toEqual({ names: all.slice(2), total: 4 });
        expect(await usernames('N', 2, 100)).toEqual({ names: [], total: 4 });
        expect(await usernames(undefined, 3, 5)).toEqual({ names: names.slice(5), total: names.length });
      });

      it('SQL-looking input matches nothing and breaks nothing', async () => {
        for (const q of ["' OR 1=1 --", "' OR '1'='1", '"; DROP TABLE users; --', "x') UNION SELECT * FROM users --", "\\' OR 1=1 --"]) {
          expect(await usernames(q), q).toEqual({ names: [], total: 0 });
        }
        expect((await l.users.list({ limit: 50, offset: 0 })).total).toBe(names.length);
      });
    });
  });
}
