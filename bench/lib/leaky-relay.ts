/**
 * A TCP relay in front of a real server that leaks on purpose: for every connection it ever
 * relayed it keeps `--keep-bytes` of memory (written, so the pages count in its RSS) after
 * the connection has closed. With `--keep-bytes 0` it keeps nothing. It runs in a process of
 * its own, so a soak can sample its RSS by PID and the leak verdict has a known answer.
 *
 *   node dist/bench/lib/leaky-relay.js --target-port 1935 [--target-host 127.0.0.1] [--keep-bytes 131072] [--port 0]
 *
 * Prints `listening PORT` once it accepts connections; stops on SIGTERM or SIGINT. Run with
 * `--expose-gc` it collects garbage every second, so its RSS follows what it keeps rather than
 * V8 sizing its heap over the first minute of traffic (which a short test would take for growth).
 */
import net from 'node:net';
import { argValue } from './env.js';

const targetHost = argValue('target-host') ?? '127.0.0.1';
const targetPort = Number(argValue('target-port'));
const keepBytes = Number(argValue('keep-bytes') ?? 128 * 1024);
const port = Number(argValue('port') ?? 0);

if (!Number.isInteger(targetPort) || targetPort <= 0 || !Number.isInteger(keepBytes) || keepBytes < 0) {
  process.stderr.write('usage: leaky-relay --target-port PORT [--target-host HOST] [--keep-bytes N] [--port P]\n');
  process.exit(2);
}

/** What the relay never gives back: one block per connection relayed. */
const kept: Buffer[] = [];
let relayed = 0;

const server = net.createServer((client) => {
  relayed++;
  // Filled, not only allocated: untouched pages would not show in the RSS.
  if (keepBytes > 0) kept.push(Buffer.alloc(keepBytes, 0xa5));
  const upstream = net.connect({ host: targetHost, port: targetPort });
  client.setNoDelay(true);
  upstream.setNoDelay(true);
  client.pipe(upstream);
  upstream.pipe(client);
  const end = () => {
    client.destroy();
    upstream.destroy();
  };
  client.on('error', end);
  upstream.on('error', end);
  client.on('close', end);
  upstream.on('close', end);
});

server.listen(port, '127.0.0.1', () => {
  process.stdout.write(`listening ${(server.address() as net.AddressInfo).port}\n`);
});

const collect = (globalThis as { gc?: () => void }).gc;
if (collect !== undefined) setInterval(collect, 1000).unref();

const stop = () => {
  process.stderr.write(`relayed ${relayed} connections, keeping ${kept.length * keepBytes} bytes\n`);
  process.exit(0);
};
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
