// AuditRepository on every database: append, newest first, filters by user and action, paging with
// a total that counts every match.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { NewAuditEvent } from '../../src/storage/index.js';
import { databaseTargets, type TestStorage } from '../helpers/databases.js';

const T0 = 1_750_000_000_000;

function event(action: string, userId: number | null, time: number, overrides: Partial<NewAuditEvent> = {}): NewAuditEvent {
  return { time, action, userId, ip: '203.0.113.7', userAgent: 'agent', requestId: `req-${time}`, outcome: 'success', details: null, ...overrides };
}

for (const target of databaseTargets) {
  describe.skipIf(!target.available)(`audit repository on ${target.name}`, () => {
    let s: TestStorage;
    // Ids of events in insertion order (user ids 90x name no real row: audit has no foreign key); the list is checked against this model.
    const model: { id: number; action: string; userId: number | null }[] = [];
    beforeAll(async () => {
      s = await target.open();
      const plan: [string, number | null][] = [
        ['login.success', 901], ['login.failure', 902], ['login.failure', null], ['logout', 901], ['login.success', 902],
        ['user.role_change', 901], ['login.failure', 901], ['apikey.create', 902], ['login.success', 901], ['lockout', 901],
      ];
      for (const [i, [action, userId]] of plan.entries()) {
        const e = await s.audit.insert(event(action, userId, T0 + i * 1000));
        model.push({ id: e.id, action, userId });
      }
    });
    afterAll(() => s?.close());

    const expected = (filter: (m: (typeof model)[number]) => boolean) => [...model].reverse().filter(filter).map((m) => m.id);

    it('insert returns the stored event with its details as an object', async () => {
      const e = await s.audit.insert(event('mfa.enable', 903, T0 + 99_000, { details: { method: 'totp', recovery_codes: 10 }, userAgent: 'u'.repeat(700), outcome: 'failure' }));
      expect(e).toEqual({
        id: expect.any(Number), time: T0 + 99_000, action: 'mfa.enable', userId: 903, ip: '203.0.113.7', userAgent: 'u'.repeat(512),
        requestId: `req-${T0 + 99_000}`, outcome: 'failure', details: { method: 'totp', recovery_codes: 10 },
      });
      expect(e.id).toBeGreaterThan(model.at(-1)!.id);
      model.push({ id: e.id, action: 'mfa.enable', userId: 903 });
      const { events } = await s.audit.list({ limit: 1, offset: 0 });
      expect(events).toEqual([e]);
      const anonymous = await s.audit.insert(event('login.failure', null, T0 + 100_000, { ip: null, userAgent: null, requestId: null }));
      expect(anonymous).toMatchObject({ userId: null, ip: null, userAgent: null, requestId: null, details: null });
      model.push({ id: anonymous.id, action: 'login.failure', userId: null });
    });

    it('lists newest first with the total', async () => {
      const { events, total } = await s.audit.list({ limit: 100, offset: 0 });
      expect(events.map((e) => e.id)).toEqual(expected(() => true));
      expect(total).toBe(model.length);
      expect(events.map((e) => e.time)).toEqual([...events.map((e) => e.time)].sort((a, b) => b - a));
    });

    it('filters by user, by action, and by both', async () => {
      const byUser = await s.audit.list({ limit: 100, offset: 0, userId: 901 });
      expect(byUser.events.map((e) => e.id)).toEqual(expected((m) => m.userId === 901));
      expect(byUser.total).toBe(6);
      const byAction = await s.audit.list({ limit: 100, offset: 0, action: 'login.failure' });
      expect(byAction.events.map((e) => e.id)).toEqual(expected((m) => m.action === 'login.failure'));
      expect(byAction.total).toBe(4);
      const both = await s.audit.list({ limit: 100, offset: 0, userId: 902, action: 'login.failure' });
      expect(both.events.map((e) => e.id)).toEqual(expected((m) => m.userId === 902 && m.action === 'login.failure'));
      expect(both.total).toBe(1);
      expect(await s.audit.list({ limit: 100, offset: 0, action: "login.failure' OR '1'='1" })).toEqual({ events: [], total: 0 });
      expect(await s.audit.list({ limit: 100, offset: 0, userId: 424242 })).toEqual({ events: [], total: 0 });
    });

    it('pages with limit and offset; total ignores the page', async () => {
      const all = expected((m) => m.userId === 901);
      const page1 = await s.audit.list({ limit: 4, offset: 0, userId: 901 });
      const page2 = await s.audit.list({ limit: 4, offset: 4, userId: 901 });
      expect(page1.events.map((e) => e.id)).toEqual(all.slice(0, 4));
      expect(page2.events.map((e) => e.id)).toEqual(all.slice(4));
      expect([page1.total, page2.total]).toEqual([6, 6]);
      expect(await s.audit.list({ limit: 4, offset: 50, userId: 901 })).toEqual({ events: [], total: 6 });
    });

    it('keeps events of a user after the user row is gone (no cascade)', async () => {
      const u = await s.users.create({ username: 'leaver', email: 'leaver@example.test', fullName: null, passwordHash: 'h', role: 'user' }, T0);
      await s.audit.insert(event('user.deactivate', u.id, T0 + 200_000));
      await s.handle.db.deleteFrom('users').where('id', '=', u.id).execute();
      expect((await s.audit.list({ limit: 10, offset: 0, userId: u.id })).total).toBe(1);
    });
  });
}
