// Password-reset tokens and MFA recovery codes on every database: each is used at most once, a reset
// token not after its expiry, and outstanding ones die together.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { databaseTargets, type TestStorage } from '../helpers/databases.js';

const T0 = 1_750_000_000_000;
const HOUR = 3_600_000;

for (const target of databaseTargets) {
  describe.skipIf(!target.available)(`credentials repositories on ${target.name}`, () => {
    let s: TestStorage;
    let seq = 0;
    beforeAll(async () => {
      s = await target.open();
    });
    afterAll(() => s?.close());

    async function user(): Promise<number> {
      seq += 1;
      return (await s.users.create({ username: `cred${seq}`, email: `cred${seq}@example.test`, fullName: null, passwordHash: 'h', role: 'user' }, T0)).id;
    }

    describe('password reset tokens', () => {
      it('stores a token and consumes it once', async () => {
        const userId = await user();
        await s.passwordResets.insert({ tokenHash: 'reset-1', userId, createdAt: T0, expiresAt: T0 + HOUR });
        expect(await s.passwordResets.find('reset-1')).toEqual({ tokenHash: 'reset-1', userId, createdAt: T0, expiresAt: T0 + HOUR, usedAt: null });
        expect(await s.passwordResets.consume('reset-1', T0 + 10)).toBe(true);
        expect(await s.passwordResets.consume('reset-1', T0 + 20)).toBe(false);
        expect((await s.passwordResets.find('reset-1'))?.usedAt).toBe(T0 + 10);
        expect(await s.passwordResets.consume('reset-unknown', T0)).toBe(false);
        expect(await s.passwordResets.find('reset-unknown')).toBeUndefined();
      });

      it('is never consumed at or after its expiry', async () => {
        const userId = await user();
        await s.passwordResets.insert({ tokenHash: 'reset-exp', userId, createdAt: T0, expiresAt: T0 + HOUR });
        expect(await s.passwordResets.consume('reset-exp', T0 + HOUR)).toBe(false);
        expect(await s.passwordResets.consume('reset-exp', T0 + 2 * HOUR)).toBe(false);
        expect((await s.passwordResets.find('reset-exp'))?.usedAt).toBeNull();
        expect(await s.passwordResets.consume('reset-exp', T0 + HOUR - 1)).toBe(true);
      });

      it('only one of two racing consumers wins', async () => {
        await s.passwordResets.insert({ tokenHash: 'reset-race', userId: await user(), createdAt: T0, expiresAt: T0 + HOUR });
        const results = await Promise.all([s.passwordResets.consume('reset-race', T0 + 1), s.passwordResets.consume('reset-race', T0 + 2)]);
        expect(results.filter(Boolean)).toHaveLength(1);
      });

      it("invalidateForUser kills that user's outstanding tokens and nobody else's", async () => {
        const userId = await user();
        const other = await user();
        await s.passwordResets.insert({ tokenHash: 'reset-a', userId, createdAt: T0, expiresAt: T0 + HOUR });
        await s.passwordResets.insert({ tokenHash: 'reset-b', userId, createdAt: T0 + 1, expiresAt: T0 + HOUR });
        await s.passwordResets.insert({ tokenHash: 'reset-other', userId: other, createdAt: T0, expiresAt: T0 + HOUR });
        await s.passwordResets.invalidateForUser(userId, T0 + 5);
        expect(await s.passwordResets.consume('reset-a', T0 + 6)).toBe(false);
        expect(await s.passwordResets.consume('reset-b', T0 + 6)).toBe(false);
        expect(await s.passwordResets.consume('reset-other', T0 + 6)).toBe(true);
      });

      it('counts tokens requested since a time', async () => {
        const userId = await user();
        for (const [i, at] of [T0, T0 + HOUR, T0 + 2 * HOUR].entries()) {
          await s.passwordResets.insert({ tokenHash: `reset-count-${i}`, userId, createdAt: at, expiresAt: at + HOUR });
        }
        expect(await s.passwordResets.countRecent(userId, T0 + HOUR)).toBe(2);
        expect(await s.passwordResets.countRecent(userId, T0)).toBe(3);
        expect(await s.passwordResets.countRecent(await user(), T0)).toBe(0);
      });
    });

    describe('recovery codes', () => {
      it('replaces the set, consumes each code once, and counts what is left', async () => {
        const userId = await user();
        await s.recoveryCodes.replace(userId, ['rc-1', 'rc-2', 'rc-3'], T0);
        expect(await s.recoveryCodes.countUnused(userId)).toBe(3);
        expect(await s.recoveryCodes.consume(userId, 'rc-2', T0 + 1)).toBe(true);
        expect(await s.recoveryCodes.consume(userId, 'rc-2', T0 + 2)).toBe(false);
        expect(await s.recoveryCodes.consume(userId, 'rc-unknown', T0 + 2)).toBe(false);
        expect(await s.recoveryCodes.countUnused(userId)).toBe(2);
      });

      it("a code is only good for its own user", async () => {
        const owner = await user();
        const other = await user();
        await s.recoveryCodes.replace(owner, ['rc-owned'], T0);
        expect(await s.recoveryCodes.consume(other, 'rc-owned', T0 + 1)).toBe(false);
        expect(await s.recoveryCodes.countUnused(owner)).toBe(1);
      });

      it('replace drops every old code, used or not', async () => {
        const userId = await user();
        await s.recoveryCodes.replace(userId, ['old-1', 'old-2'], T0);
        await s.recoveryCodes.consume(userId, 'old-1', T0 + 1);
        await s.recoveryCodes.replace(userId, ['new-1', 'new-2', 'new-3', 'new-4'], T0 + 2);
        expect(await s.recoveryCodes.countUnused(userId)).toBe(4);
        expect(await s.recoveryCodes.consume(userId, 'old-2', T0 + 3)).toBe(false);
        expect(await s.recoveryCodes.consume(userId, 'new-4', T0 + 3)).toBe(true);
        await s.recoveryCodes.replace(userId, [], T0 + 4);
        expect(await s.recoveryCodes.countUnused(userId)).toBe(0);
      });

      it('only one of two racing uses of a code wins', async () => {
        const userId = await user();
        await s.recoveryCodes.replace(userId, ['rc-race'], T0);
        const results = await Promise.all([s.recoveryCodes.consume(userId, 'rc-race', T0 + 1), s.recoveryCodes.consume(userId, 'rc-race', T0 + 2)]);
        expect(results.filter(Boolean)).toHaveLength(1);
        expect(await s.recoveryCodes.countUnused(userId)).toBe(0);
      });
    });

    describe('password reset requests (the mails a 202 promised)', () => {
      it('are due from their time, taken by one claimant at a time, retried, finished, and forgotten a day on', async () => {
        const userId = await user();
        await s.resetRequests.record({ userId, requestId: 'req-1', createdAt: T0 });
        await s.resetRequests.record({ userId: null, requestId: 'req-2', createdAt: T0 + 1 });
        expect(await s.resetRequests.due(T0 - 1, 10)).toEqual([]);
        const [first, second] = await s.resetRequests.due(T0 + 1, 10);
        expect(first).toMatchObject({ userId, requestId: 'req-1', createdAt: T0, attempts: 0, nextAttemptAt: T0 });
        expect(second).toMatchObject({ userId: null, requestId: 'req-2' });
        // Two instances see it due; one takes it.
        const claims = await Promise.all([s.resetRequests.claim(first!, T0 + 60_000), s.resetRequests.claim(first!, T0 + 60_000)]);
        expect(claims.sort()).toEqual([false, true]);
        expect((await s.resetRequests.due(T0 + 1, 10)).map((r) => r.requestId)).toEqual(['req-2']);
        // A failed attempt waits for its retry time, counting the attempt.
        await s.resetRequests.retryAt(first!.id, T0 + 5_000);
        expect((await s.resetRequests.due(T0 + 5_000, 10))[0]).toMatchObject({ requestId: 'req-1', attempts: 1 });
        // A start on one box takes up everything unfinished at once.
        await s.resetRequests.claim((await s.resetRequests.due(T0 + 5_000, 10))[0]!, T0 + 70_000);
        await s.resetRequests.releaseAll(T0 + 6_000);
        expect((await s.resetRequests.due(T0 + 6_000, 10)).map((r) => r.requestId)).toEqual(['req-1', 'req-2']);
        await s.resetRequests.finish(first!.id, T0 + 7_000);
        await s.resetRequests.finish(second!.id, T0 + 7_000);
        expect(await s.resetRequests.due(T0 + HOUR, 10)).toEqual([]);
        expect(await s.resetRequests.claim(first!, T0 + HOUR)).toBe(false);
        expect(await s.resetRequests.pruneFinished(T0 + 7_000)).toBe(0);
        expect(await s.resetRequests.pruneFinished(T0 + 7_001)).toBe(2);
      });
    });
  });
}
