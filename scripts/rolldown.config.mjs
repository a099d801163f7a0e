// The start-up bundle: dist/ (tsc's output) and its dependencies in one ES module, so `gatehouse
// serve` starts in well under a second — Node 20 spends most of a cold start resolving and loading
// hundreds of small modules one by one (docs/benchmarks.md, start-up). The library entry points in
// package.json `exports` stay the unbundled dist/ files.
import { builtinModules } from 'node:module';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));
// Native addons, packages whose files are read at run time, and drivers loaded only on demand.
const keepOutside = ['better-sqlite3', '@node-rs/argon2', 'swagger-ui-dist', 'htmx.org', 'pg', 'pg-native', 'ioredis', 'nodemailer', 'qrcode'];

/**
 * Licence notices of bundled packages stay in the bundle, but their non-ASCII letters (authors'
 * names) are written as `\uXXXX` so the file stays ASCII (`charset` escapes code, not comments).
 */
function asciiLegalComments() {
  const legal = /\/\*![\s\S]*?\*\/|\/\/!.*$/gm;
  const escape = (text) => text.replace(/[^\x00-\x7f]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
  return {
    name: 'ascii-legal-comments',
    renderChunk: (code) => ({ code: code.replace(legal, escape), map: null }),
  };
}

export default {
  input: `${root}dist/cli/index.js`,
  platform: 'node',
  transform: { target: 'node20' },
  external: (id) => {
    if (id.startsWith('node:') || builtinModules.includes(id)) return true;
    if (id.startsWith('.') || id.startsWith('/')) return false;
    return keepOutside.some((p) => id === p || id.startsWith(`${p}/`));
  },
  output: {
    file: `${root}dist/gatehouse.bundle.mjs`, format: 'esm', codeSplitting: false, sourcemap: false,
    // Whitespace and comments out, names and code as written (no compression, no mangling: stack
    // traces, plugin names and error classes read as in the source). ASCII only (page templates use HTML entities for typography): one non-ASCII
    // character anywhere makes V8 keep the whole source text as a two-byte string for the life of
    // the process. Together: a third of the size, less to parse at start-up, ~5 MiB less resident.
    minify: { compress: false, mangle: false, codegen: { removeWhitespace: true } },
    charset: 'ascii',
  },
  plugins: [asciiLegalComments()],
  logLevel: 'warn',
};
