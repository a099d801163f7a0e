// The OpenAPI document and the interactive docs page (Swagger UI, vendored from node_modules and
// started by a nonce'd script, so the page keeps the strict CSP).
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import type { FastifyPluginAsync } from 'fastify';
import { assetUrl } from '../pages/assets/index.js';
import { escapeHtml } from '../pages/html.js';
import { registerAssets } from './static-assets.js';

const require = createRequire(import.meta.url);
const swaggerDir = dirname(require.resolve('swagger-ui-dist/package.json'));

const INIT = `window.addEventListener('load', function () {
  window.ui = SwaggerUIBundle({
    url: '/openapi.json',
    dom_id: '#swagger-ui',
    deepLinking: true,
    persistAuthorization: false,
    tryItOutEnabled: true,
  });
});
`;

function docsPage(nonce: string): string {
  const n = escapeHtml(nonce);
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Gatehouse API</title>
<link rel="icon" type="image/svg+xml" href="${escapeHtml(assetUrl('icon'))}">
<link rel="stylesheet" href="/docs/assets/swagger-ui.css">
</head>
<body>
<div id="swagger-ui"></div>
<script nonce="${n}" src="/docs/assets/swagger-ui-bundle.js"></script>
<script nonce="${n}" src="/docs/assets/init.js"></script>
</body>
</html>
`;
}

export const docsRoutes: FastifyPluginAsync = async (app) => {
  app.get('/openapi.json', { schema: { hide: true } }, async () => app.swagger());

  // Swagger UI sets style attributes, which a style nonce cannot cover; scripts stay nonce-only.
  app.get('/docs', { schema: { hide: true }, config: { page: { styleUnsafeInline: true } } }, async (_request, reply) =>
    reply.type('text/html; charset=utf-8').send(docsPage(reply.cspNonce)));

  registerAssets(app, [
    { url: '/docs/assets/swagger-ui.css', type: 'text/css; charset=utf-8', source: { file: join(swaggerDir, 'swagger-ui.css') } },
    { url: '/docs/assets/swagger-ui-bundle.js', type: 'text/javascript; charset=utf-8', source: { file: join(swaggerDir, 'swagger-ui-bundle.js') } },
    { url: '/docs/assets/init.js', type: 'text/javascript; charset=utf-8', source: { text: INIT } },
  ]);
};
