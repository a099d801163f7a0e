// The baseline every full-stack scenario is compared with: Fastify with no plugins and one route.
// Run as a child process by bench/run.mjs: `PORT=<port> node bench/bare-server.mjs`.
import Fastify from 'fastify';

const app = Fastify({ logger: false });
app.get('/bare', async () => ({ status: 'ok' }));

await app.listen({ host: '127.0.0.1', port: Number(process.env.PORT ?? 0) });
process.once('SIGTERM', () => void app.close().then(() => process.exit(0)));
