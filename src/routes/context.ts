// The request → RequestContext bridge, so services never see HTTP types.
import type { FastifyRequest } from 'fastify';
import type { RequestContext } from '../services/context.js';

declare module 'fastify' {
  interface FastifyRequest {
    /** Arrival time on the app's clock (epoch ms), stamped in the first hook. */
    receivedAt: number;
    /** Its place in this process's arrival order, stamped with `receivedAt`. */
    arrival: number;
  }
}

export function contextOf(request: FastifyRequest): RequestContext {
  const ua = request.headers['user-agent'];
  return { ip: request.clientIp, userAgent: typeof ua === 'string' ? ua.slice(0, 512) : null, requestId: request.id, receivedAt: request.receivedAt, arrival: request.arrival };
}
