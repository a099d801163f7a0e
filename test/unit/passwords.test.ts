// Password hashing with real argon2 and real bcryptjs: PHC parameters, imports from passlib/FastAPI, malformed hashes, the event loop, shedding.
import { hash as argon2Hash } from '@node-rs/argon2';
import bcrypt from 'bcryptjs';
import { describe, expect, it } from 'vitest';
import { createPasswordHasher } from '../../src/crypto/passwords.js';
import { HttpError } from '../../src/errors/http-error.js';

const hasher = createPasswordHasher();

/** The FastAPI security tutorial's user "johndoe": this passlib bcrypt hash is of "secret". */
const FASTAPI_TUTORIAL_HASH = '$2b$12$EixZaYVK1fsbw1ZfbX3OXePaWxn96p36WQoeG6Lruj3vjPGga31lW';

async function rejection(promise: Promise<unknown>): Promise<unknown> {
  return promise.then(() => { throw new Error('expected a rejection'); }, (error: unknown) => error);
}

function expectOverloaded(error: unknown): void {
  expect(error).toBeInstanceOf(HttpError);
  expect((error as HttpError).code).toBe('OVERLOADED');
  expect((error as HttpError).status).toBe(503);
  expect((error as HttpError).headers['retry-after']).toBe('1');
}

describe('argon2id', () => {
  it('hashes to an argon2id PHC string with OWASP parameters and a fresh salt, and verifies', async () => {
    const stored = await hasher.hash('correct horse battery staple');
    expect(stored).toMatch(/^\$argon2id\$v=19\$m=19456,t=2,p=1\$[A-Za-z0-9+/]{22}\$[A-Za-z0-9+/]{43}$/);
    expect(await hasher.hash('correct horse battery staple')).not.toBe(stored);
    expect(await hasher.verify(stored, 'correct horse battery staple')).toEqual({ ok: true, needsRehash: false });
    expect(await hasher.verify(stored, 'correct horse battery stapl')).toEqual({ ok: false, needsRehash: false });
    expect(await hasher.verify(stored, 'Correct horse battery staple')).toEqual({ ok: false, needsRehash: false });
  });

  it('uses stronger parameters when configured', async () => {
    const strong = createPasswordHasher({ memoryCost: 47_104, timeCost: 3 });
    const stored = await strong.hash('pw-under-test');
    expect(stored).toMatch(/^\$argon2id\$v=19\$m=47104,t=3,p=1\$/);
    expect(await strong.verify(stored, 'pw-under-test')).toEqual({ ok: true, needsRehash: false });
    // A hash made at the default cost is weaker than this hasher's: verify, then ask for a rehash.
    expect(await strong.verify(await hasher.hash('pw-under-test'), 'pw-under-test')).toEqual({ ok: true, needsRehash: true });
    // …but a stronger hash does not need rehashing by the default hasher.
    expect(await hasher.verify(stored, 'pw-under-test')).toEqual({ ok: true, needsRehash: false });
  });

  it('asks for a rehash of argon2i and of weaker argon2id hashes', async () => {
    const argon2i = await argon2Hash('legacy-pass', { algorithm: 1, memoryCost: 19_456, timeCost: 2 });
    expect(argon2i).toMatch(/^\$argon2i\$/);
    expect(await hasher.verify(argon2i, 'legacy-pass')).toEqual({ ok: true, needsRehash: true });
    const weak = await argon2Hash('legacy-pass', { algorithm: 2, memoryCost: 4_096, timeCost: 1 });
    expect(await hasher.verify(weak, 'legacy-pass')).toEqual({ ok: true, needsRehash: true });
    expect(await hasher.verify(weak, 'wrong-pass')).toEqual({ ok: false, needsRehash: false });
  });

  it('normalises with NFKC, so compatibility forms of the same password verify', async () => {
    const stored = await hasher.hash('ｓｅｃｒｅｔ-１２３'); // full-width, as some IMEs type it
    expect(await hasher.verify(stored, 'secret-123')).toEqual({ ok: true, needsRehash: false });
    const composed = await hasher.hash('caf\u00e9-au-lait');
    expect(await hasher.verify(composed, 'cafe\u0301-au-lait')).toEqual({ ok: true, needsRehash: false });
  });

  it('hashes up to 128 characters, refuses to hash more, and never verifies more', async () => {
    const longest = '🔐'.repeat(128);
    const stored = await hasher.hash(longest);
    expect(await hasher.verify(stored, longest)).toEqual({ ok: true, needsRehash: false });
    await expect(hasher.hash('🔐'.repeat(129))).rejects.toThrow(new TypeError('password is longer than 128 characters'));
    await expect(hasher.hash('x'.repeat(1_000_000))).rejects.toThrow(TypeError);
    expect(await hasher.verify(stored, `${longest}x`)).toEqual({ ok: false, needsRehash: false });
    await expect(hasher.verifyDummy('x'.repeat(1_000_000))).resolves.toBeUndefined();
  });
});

describe('bcrypt imported from passlib/FastAPI apps', () => {
  it('verifies the FastAPI tutorial hash of "secret" and asks for a rehash', async () => {
    expect(await hasher.verify(FASTAPI_TUTORIAL_HASH, 'secret')).toEqual({ ok: true, needsRehash: true });
    expect(await hasher.verify(FASTAPI_TUTORIAL_HASH, 'Secret')).toEqual({ ok: false, needsRehash: false });
    expect(await hasher.verify(FASTAPI_TUTORIAL_HASH, '')).toEqual({ ok: false, needsRehash: false });
  });

  it('verifies $2a$ and $2y$ hashes made with bcryptjs', async () => {
    for (const prefix of ['$2a$', '$2y$', '$2b$']) {
      const salt = bcrypt.genSaltSync(10).replace(/^\$2b\$/, prefix);
      const stored = bcrypt.hashSync('imported pässword', salt);
      expect(stored.startsWith(`${prefix}10$`)).toBe(true);
      expect(await hasher.verify(stored, 'imported pässword'), prefix).toEqual({ ok: true, needsRehash: true });
      expect(await hasher.verify(stored, 'imported password'), prefix).toEqual({ ok: false, needsRehash: false });
    }
  });

  it('refuses passwords over bcrypt\'s 72 bytes instead of ignoring the rest', async () => {
    const first72 = 'é'.repeat(36); // 72 bytes of UTF-8
    const stored = bcrypt.hashSync(first72, 4);
    expect(await hasher.verify(stored, first72)).toEqual({ ok: true, needsRehash: true });
    // bcrypt alone would say yes here: it only reads 72 bytes.
    expect(bcrypt.compareSync(`${first72}anything`, stored)).toBe(true);
    expect(await hasher.verify(stored, `${first72}anything`)).toEqual({ ok: false, needsRehash: false });
  });

  it('does not verify a bcrypt hash whose cost would pin a worker', async () => {
    const stored = bcrypt.hashSync('secret', 4).replace(/^\$2b\$04\$/, '$2b$31$');
    expect(await hasher.verify(stored, 'secret')).toEqual({ ok: false, needsRehash: false });
  });
});

describe('malformed and unknown hashes', () => {
  it('answer not ok and never throw', async () => {
    const broken = ['', 'secret', '$argon2id$', '$argon2id$v=19$m=19456,t=2,p=1$garbage', '$argon2id$v=19$m=abc,t=2,p=1$c2FsdHNhbHQ$aGFzaA',
      '$2b$12$tooShort', '$2x$12$EixZaYVK1fsbw1ZfbX3OXePaWxn96p36WQoeG6Lruj3vjPGga31lW',
      '$pbkdf2-sha256$29000$N2bs/R8DwDhnDGGMEQIAAA$ZB7v4Zs3uUQ2y2/KPvYmJkkUsKPBqL7LFSwbsOxwI0k',
      '$argon2id$v=19$m=4194304,t=2,p=1$c2FsdHNhbHRzYWx0$aGFzaGhhc2hoYXNoaGFzaGhhc2hoYXNoaGFzaGhhc2g'];
    for (const stored of broken) {
      expect(await hasher.verify(stored, 'secret'), stored).toEqual({ ok: false, needsRehash: false });
    }
  });

  it('cost a real verify: they take a slot in the hashing queue like one', async () => {
    const gated = createPasswordHasher({ concurrency: 1, maxQueue: 0 });
    const busy = gated.hash('occupies the only slot');
    expectOverloaded(await rejection(gated.verify('not-a-hash', 'secret')));
    expectOverloaded(await rejection(gated.verifyDummy('secret')));
    await busy;
    expect(await gated.verify('not-a-hash', 'secret')).toEqual({ ok: false, needsRehash: false });
    await expect(gated.verifyDummy('secret')).resolves.toBeUndefined();
  });
});

describe('off the event loop, with bounded concurrency', () => {
  it('keeps the event loop turning while argon2 and bcrypt run', async () => {
    let ticks = 0;
    let running = true;
    const spin = (): void => { ticks += 1; if (running) setImmediate(spin); };
    setImmediate(spin);
    const stored = await hasher.hash('batch-password');
    const work = await Promise.all([
      ...Array.from({ length: 4 }, () => hasher.hash('batch-password')),
      hasher.verify(stored, 'batch-password'),
      hasher.verifyDummy('batch-password'),
      hasher.verify(FASTAPI_TUTORIAL_HASH, 'secret'),
    ]);
    running = false;
    expect(work).toHaveLength(7);
    // Synchronous hashing would leave no turn of the loop until the batch ended; bcryptjs on the main thread
    // yields only every 100 ms. Off the loop, the loop turns many times per hash.
    expect(ticks).toBeGreaterThan(100);
  });

  it('keeps the event loop turning during a bcrypt verify alone (bcryptjs runs on a worker thread)', async () => {
    let ticks = 0;
    let running = true;
    const spin = (): void => { ticks += 1; if (running) setImmediate(spin); };
    setImmediate(spin);
    const result = await hasher.verify(FASTAPI_TUTORIAL_HASH, 'secret'); // cost 12: hundreds of ms of CPU
    running = false;
    expect(result).toEqual({ ok: true, needsRehash: true });
    expect(ticks).toBeGreaterThan(100); // bcryptjs's own async compare here turns the loop about 5 times
  });

  it('with concurrency 1 and maxQueue 1, of three at once exactly the last is shed with 503 + Retry-After', async () => {
    const small = createPasswordHasher({ concurrency: 1, maxQueue: 1 });
    const results = await Promise.allSettled([small.hash('first-pass'), small.hash('second-pass'), small.hash('third-pass')]);
    expect(results.map((r) => r.status)).toEqual(['fulfilled', 'fulfilled', 'rejected']);
    expectOverloaded((results[2] as PromiseRejectedResult).reason);
    const [first, second] = results as PromiseFulfilledResult<string>[];
    expect(await small.verify(first!.value, 'first-pass')).toEqual({ ok: true, needsRehash: false });
    expect(await small.verify(second!.value, 'second-pass')).toEqual({ ok: true, needsRehash: false });
  });

  it('sheds verify and verifyDummy too when the line is full', async () => {
    const small = createPasswordHasher({ concurrency: 1, maxQueue: 1 });
    const stored = await small.hash('known-pass');
    const results = await Promise.allSettled([small.verify(stored, 'known-pass'), small.verifyDummy('x-pass'),
      small.verify(stored, 'known-pass'), small.verify(FASTAPI_TUTORIAL_HASH, 'secret')]);
    expect(results.map((r) => r.status)).toEqual(['fulfilled', 'fulfilled', 'rejected', 'rejected']);
    for (const r of results.slice(2)) expectOverloaded((r as PromiseRejectedResult).reason);
  });
});

describe('options', () => {
  it('refuse parameters below OWASP\'s argon2id minimum and nonsense values, naming the option', () => {
    expect(() => createPasswordHasher({ memoryCost: 4_096 })).toThrow(/memoryCost and timeCost/);
    expect(() => createPasswordHasher({ timeCost: 1 })).toThrow(/memoryCost and timeCost/);
    expect(() => createPasswordHasher({ concurrency: 0 })).toThrow(new TypeError('concurrency must be a positive integer'));
    expect(() => createPasswordHasher({ parallelism: 0.5 })).toThrow(new TypeError('parallelism must be a positive integer'));
    expect(() => createPasswordHasher({ maxQueue: -1 })).toThrow(new TypeError('maxQueue must be a non-negative integer'));
    expect(() => createPasswordHasher({ memoryCost: 7_168, timeCost: 5 })).not.toThrow();
  });
});
