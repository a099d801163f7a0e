// The headers comparison: bare Fastify plus one security-headers plugin, chosen by argv[2].
//   helmet            @fastify/helmet with a static CSP (the same deny-all policy Gatehouse sends on API routes)
//   security-headers  Gatehouse's own plugin from dist/plugins/security-headers.js, `{ hsts: false }`
// HSTS is off on both sides: the bench speaks plain HTTP and Gatehouse only sends it in production.
import Fastify from 'fastify';

const variant = process.argv[2];
const app = Fastify({ logger: false });

if (variant === 'helmet') {
  const { default: helmet } = await import('@fastify/helmet');
  await app.register(helmet, {
    contentSecurityPolicy: { useDefaults: false, directives: { defaultSrc: ["'none'"], frameAncestors: ["'none'"] } },
    strictTransportSecurity: false,
  });
} else if (variant === 'security-headers') {
  const { securityHeaders } = await import(new URL('../dist/plugins/security-headers.js', import.meta.url).href);
  await app.register(securityHeaders, { hsts: false });
} else {
  process.stderr.write('usage: node bench/headers-server.mjs helmet|security-headers\n');
  process.exit(2);
}

app.get('/bare', async () => ({ status: 'ok' }));

await app.listen({ host: '127.0.0.1', port: Number(process.env.PORT ?? 0) });
process.once('SIGTERM', () => void app.close().then(() => process.exit(0)));
