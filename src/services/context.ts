// What a use case knows about the request that caused it, without any HTTP types.

export interface RequestContext {
  readonly ip: string;
  readonly userAgent: string | null;
  readonly requestId: string;
  /** When the request arrived (epoch ms): tells a concurrent refresh from a replayed one. */
  readonly receivedAt: number;
  /** Its place in this process's arrival order (src/arrival-order.ts), where the app stamps one. */
  readonly arrival?: number;
}

/** Minimal structured logger (pino and Fastify's logger fit). */
export interface Logger {
  info(obj: object, msg?: string): void;
  warn(obj: object, msg?: string): void;
}
