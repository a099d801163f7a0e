// Raw bytes to a listening server and everything it answered, for the requests an HTTP client
// library refuses to send (missing Host, huge or conflicting headers, odd framing).
import { connect } from 'node:net';

export function rawExchange(port: number, bytes: string): Promise<string> {
  return new Promise<string>((resolve, reject) => {
    const socket = connect(port, '127.0.0.1', () => socket.end(bytes));
    let data = '';
    socket.on('data', (chunk) => { data += chunk; });
    socket.on('close', () => resolve(data));
    socket.on('error', (err) => (data ? resolve(data) : reject(err)));
  });
}
