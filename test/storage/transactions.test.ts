// storage.transaction() on every database: the work commits together, or not at all when it throws,
// including when a unique violation is what threw.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { UniqueViolationError, type Repositories } from '../../src/storage/index.js';
import { databaseTargets, type TestStorage } from '../helpers/databases.js';

const T0 = 1_750_000_000_000;

const newUser = (username: string) => ({ username, email: `${username}@example.test`, fullName: null, passwordHash: 'h', role: 'user' as const });

async function createWithSession(repos: Repositories, username: string) {
  const u = await repos.users.create(newUser(username), T0);
  const session = await repos.sessions.create({ id: `sess-${username}`, userId: u.id, kind: 'token', createdAt: T0, expiresAt: T0 + 1000, ip: null, userAgent: null, scope: '' });
  await repos.sessions.insertRefreshToken({ tokenHash: `rt-${username}`, sessionId: session.id, createdAt: T0, expiresAt: T0 + 1000 });
  await repos.audit.insert({ time: T0, action: 'login.success', userId: u.id, ip: null, userAgent: null, requestId: null, outcome: 'success', details: null });
  return u;
}

for (const target of databaseTargets) {
  describe.skipIf(!target.available)(`transactions on ${target.name}`, () => {
    let s: TestStorage;
    beforeAll(async () => {
      s = await target.open();
    });
    afterAll(() => s?.close());

    it('commits everything the work did, and returns its value', async () => {
      const result = await s.transaction(async (repos) => {
        const u = await createWithSession(repos, 'committed');
        // The transaction reads its own writes.
        expect((await repos.users.findByLogin('COMMITTED'))?.id).toBe(u.id);
        return u.id;
      });
      expect((await s.users.findById(result))?.username).toBe('committed');
      expect(await s.sessions.findById('sess-committed')).toMatchObject({ userId: result });
      expect(await s.sessions.findRefreshToken('rt-committed')).toMatchObject({ sessionId: 'sess-committed' });
      expect((await s.audit.list({ limit: 10, offset: 0, userId: result })).total).toBe(1);
    });

    it('rolls back everything when the work throws, and rethrows the same error', async () => {
      const boom = new Error('boom');
      let userId = 0;
      const thrown = await s.transaction(async (repos) => {
        userId = (await createWithSession(repos, 'rolledback')).id;
        await repos.users.update(userId, { role: 'admin' }, T0 + 1);
        throw boom;
      }).catch((err: unknown) => err);
      expect(thrown).toBe(boom);
      expect(userId).toBeGreaterThan(0);
      expect(await s.users.findById(userId)).toBeUndefined();
      expect(await s.users.findByLogin('rolledback')).toBeUndefined();
      expect(await s.sessions.findById('sess-rolledback')).toBeUndefined();
      expect(await s.sessions.findRefreshToken('rt-rolledback')).toBeUndefined();
      expect((await s.audit.list({ limit: 10, offset: 0, userId })).total).toBe(0);
      // The name is free again: nothing half-written holds it.
      await expect(s.transaction((repos) => createWithSession(repos, 'rolledback'))).resolves.toMatchObject({ username: 'rolledback' });
    });

    it('rolls back earlier writes when a later one hits a unique index', async () => {
      await s.users.create(newUser('taken'), T0);
      const before = (await s.users.list({ limit: 1000, offset: 0 })).total;
      const thrown = await s.transaction(async (repos) => {
        await repos.users.create(newUser('fresh'), T0);
        await repos.users.create({ ...newUser('TAKEN'), email: 'another@example.test' }, T0);
      }).catch((err: unknown) => err);
      expect(thrown).toBeInstanceOf(UniqueViolationError);
      expect(thrown).toMatchObject({ field: 'username' });
      expect(await s.users.findByLogin('fresh')).toBeUndefined();
      expect((await s.users.list({ limit: 1000, offset: 0 })).total).toBe(before);
    });

    it('other work goes on normally after a rollback', async () => {
      await s.transaction(async () => {
        throw new Error('first');
      }).catch(() => undefined);
      const u = await s.users.create(newUser('after'), T0);
      expect((await s.users.findById(u.id))?.username).toBe('after');
    });
  });
}

// Two transactions that take the same rows in opposite orders deadlock on PostgreSQL; it aborts one.
// That one is run again (the whole work, on a fresh transaction) and both commit, instead of a 500.
describe.skipIf(!databaseTargets.find((t) => t.name === 'postgres')!.available)('a deadlock on postgres', () => {
  let s: TestStorage;
  beforeAll(async () => {
    s = await databaseTargets.find((t) => t.name === 'postgres')!.open();
  });
  afterAll(() => s?.close());

  it('is run again: both transactions commit, the loser on its second attempt', async () => {
    const a = await s.users.create(newUser('deadlock_a'), T0);
    const b = await s.users.create(newUser('deadlock_b'), T0);
    let bothHoldFirstRow: () => void = () => undefined;
    let holding = 0;
    const barrier = new Promise<void>((resolve) => {
      bothHoldFirstRow = resolve;
    });
    const attempts = { first: 0, second: 0 };
    const crossed = (first: number, second: number, name: 'first' | 'second', fullName: string) => s.transaction(async (repos) => {
      attempts[name] += 1;
      await repos.users.update(first, { fullName }, T0 + 1);
      // Only the first attempts meet at the barrier; a retry runs straight through.
      if (attempts[name] === 1) {
        holding += 1;
        if (holding === 2) bothHoldFirstRow();
        await barrier;
      }
      await repos.users.update(second, { fullName }, T0 + 1);
      return name;
    });
    const results = await Promise.allSettled([crossed(a.id, b.id, 'first', 'by first'), crossed(b.id, a.id, 'second', 'by second')]);
    expect(results.map((r) => r.status)).toEqual(['fulfilled', 'fulfilled']);
    // One of them was aborted by PostgreSQL's deadlock detector and ran twice.
    expect(attempts.first + attempts.second).toBe(3);
    const retried = attempts.first === 2 ? 'by first' : 'by second';
    // The retried transaction committed last: it wrote both rows.
    expect((await s.users.findById(a.id))!.fullName).toBe(retried);
    expect((await s.users.findById(b.id))!.fullName).toBe(retried);
  });
});
