// Serves a fixed set of vendored files (from node_modules or our own constants) from memory.
// No directory is ever exposed: only the exact URLs listed here exist.
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import type { FastifyInstance } from 'fastify';

export interface Asset {
  readonly url: string;
  readonly type: string;
  /** An absolute file path, or the content itself. */
  readonly source: { readonly file: string } | { readonly text: string };
}

const ONE_DAY = 'public, max-age=86400';

export function registerAssets(app: FastifyInstance, assets: readonly Asset[]): void {
  for (const asset of assets) {
    let cached: { body: Buffer; etag: string } | undefined;
    const load = () => {
      if (!cached) {
        const body = 'file' in asset.source ? readFileSync(asset.source.file) : Buffer.from(asset.source.text);
        cached = { body, etag: `"${createHash('sha256').update(body).digest('base64url').slice(0, 27)}"` };
      }
      return cached;
    };
    app.get(asset.url, { schema: { hide: true }, config: { cacheControl: ONE_DAY }, logLevel: 'warn' }, async (request, reply) => {
      const { body, etag } = load();
      reply.header('etag', etag).type(asset.type);
      if (request.headers['if-none-match'] === etag) return reply.code(304).send();
      return reply.send(body);
    });
  }
}
