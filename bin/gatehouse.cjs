#!/usr/bin/env node
// The gatehouse command: serve, migrate, create-admin, rotate-signing-key. Runs the start-up
// bundle of dist/ (scripts/rolldown.config.mjs): one module to load instead of hundreds.
//
// CommonJS on purpose: loading an ES module entry starts libuv's thread pool before any code of
// ours runs, and here the pool must start under our eyes. The threads that appear when it starts
// are exactly the pool's, where @node-rs/argon2 hashes; they get a lower scheduling priority
// (src/crypto/thread-priority.ts says why), so the event loop wins the CPU during a login storm.
'use strict';
const { existsSync, readdirSync, readlink } = require('node:fs');
const { getPriority, setPriority } = require('node:os');
const { join } = require('node:path');
const { pathToFileURL } = require('node:url');
const { setFlagsFromString } = require('node:v8');

/**
 * V8 lets the old generation grow to up to 4x what survived the last full collection before it
 * collects again. Under load, requests waiting on Redis are promoted and die there, so the heap
 * grew to ~185 MiB for ~25 MB live (docs/performance.md, "Memory"). A factor of 2 keeps peak RSS
 * near 145 MiB at the same requests per second (1.3x: 130 MiB, but ~20 % fewer requests). V8
 * reads the factor at every collection, so setting it here, before any allocation to speak of,
 * is as good as the command-line flag.
 */
const HEAP_GROWING_PERCENT = 100;
setFlagsFromString(`--heap-growing-percent=${HEAP_GROWING_PERCENT}`);

/** HASHING_NICE in src/crypto/thread-priority.ts. */
const HASHING_NICE = 10;

function lowerPoolPriority() {
  let before;
  try {
    before = new Set(readdirSync('/proc/self/task'));
  } catch {
    return; // not Linux: priorities stay as they are
  }
  // The first piece of pool work starts every pool thread before the call returns.
  readlink('/proc/thread-self', () => {});
  for (const tid of readdirSync('/proc/self/task')) {
    if (before.has(tid)) continue;
    try {
      if (getPriority(Number(tid)) < HASHING_NICE) setPriority(Number(tid), HASHING_NICE);
    } catch {
      // a thread that ended meanwhile, or a system that refuses: hashing keeps its priority
    }
  }
}

const entry = join(__dirname, '..', 'dist', 'gatehouse.bundle.mjs');
if (!existsSync(entry)) {
  process.stderr.write('gatehouse: dist/ is missing; run `npm run build` (or `npm start`, which builds it)\n');
  process.exit(1);
}
lowerPoolPriority();
import(pathToFileURL(entry).href).then(async ({ main }) => {
  const code = await main(process.argv.slice(2));
  process.exitCode = code;
  // Done (a drain finished, or a command): exit once the logs are out, even if a socket that nothing
  // waits for any more (a mail still talking to a slow SMTP server) would keep the process alive.
  setTimeout(() => process.exit(code), 2000).unref();
});
