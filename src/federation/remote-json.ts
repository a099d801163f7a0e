// One bounded call to an issuer: a deadline over connect, headers and body together, a cap on the
// body's size, no redirects. An issuer that is down, slow or answers nonsense becomes IssuerUnavailable
// (a 503 for its tokens), never a hang and never an accept.

/** The issuer could not be asked (down, timed out, refused our client, answered garbage). For logs: `reason`. */
export class IssuerUnavailable extends Error {
  override readonly name = 'IssuerUnavailable';
  constructor(readonly issuer: string, readonly reason: string) {
    super(`issuer ${issuer} unavailable: ${reason}`);
  }
}

export interface RemoteCall {
  readonly issuer: string;
  readonly url: string;
  readonly timeoutMs: number;
  /** A JWKS or an introspection answer is small; a huge body is a fault, not data (default 256 KiB). */
  readonly maxBytes?: number;
  readonly method?: 'GET' | 'POST';
  readonly headers?: Readonly<Record<string, string>>;
  readonly body?: string;
}

export interface RemoteAnswer {
  readonly status: number;
  /** Parsed JSON; undefined when the body was not JSON. */
  readonly json: unknown;
}

const DEFAULT_MAX_BYTES = 256 * 1024;

async function readCapped(response: Response, maxBytes: number): Promise<string> {
  if (!response.body) return '';
  const reader = response.body.getReader();
  const chunks: Uint8Array[] = [];
  let size = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    size += value.byteLength;
    if (size > maxBytes) {
      await reader.cancel().catch(() => undefined);
      throw new RangeError(`body over ${maxBytes} bytes`);
    }
    chunks.push(value);
  }
  return Buffer.concat(chunks).toString('utf8');
}

/** Calls the issuer; resolves with any HTTP status, rejects only with IssuerUnavailable. */
export async function callIssuer(call: RemoteCall): Promise<RemoteAnswer> {
  // AbortSignal.timeout bounds the whole exchange: a black-holed connection, a server that sends
  // headers and then stalls, a body that trickles in. fetch alone would wait for the OS's TCP timeout.
  const signal = AbortSignal.timeout(call.timeoutMs);
  try {
    return await exchange(call, signal);
  } catch (err) {
    // Typically a pooled keep-alive socket the issuer closed just as we reused it. One more try, on the
    // same deadline, is safe: fetching a JWKS and introspecting a token both only read.
    if (!signal.aborted && describe(err) === 'ECONNRESET') {
      try {
        return await exchange(call, signal);
      } catch (again) {
        err = again;
      }
    }
    const reason = signal.aborted ? `no answer within ${call.timeoutMs} ms` : describe(err);
    throw new IssuerUnavailable(call.issuer, reason);
  }
}

async function exchange(call: RemoteCall, signal: AbortSignal): Promise<RemoteAnswer> {
  const response = await fetch(call.url, {
    method: call.method ?? 'GET',
    headers: { accept: 'application/json', ...call.headers },
    body: call.body,
    signal,
    // A redirect would send us (and, for introspection, our client secret) somewhere not configured.
    redirect: 'error',
  });
  const text = await readCapped(response, call.maxBytes ?? DEFAULT_MAX_BYTES);
  let json: unknown;
  try {
    json = text === '' ? undefined : JSON.parse(text);
  } catch {
    json = undefined;
  }
  return { status: response.status, json };
}

/** A short reason for the log: the network error's code, never a body or a secret. */
function describe(err: unknown): string {
  const cause = (err as { cause?: { code?: unknown; message?: unknown } })?.cause;
  if (cause && typeof cause.code === 'string') return cause.code;
  if (err instanceof RangeError) return err.message;
  return err instanceof Error ? err.name : 'fetch failed';
}
