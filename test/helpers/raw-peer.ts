import net from 'node:net';
import { ClientHandshake } from '../../src/protocol/handshake.js';

/** A raw TCP peer of an RTMP server: optionally completes the handshake, then writes whatever the test says. */
export async function rawPeer(
  port: number,
  handshake: boolean,
): Promise<{ socket: net.Socket; closed: Promise<void> }> {
  const socket = net.connect(port, '127.0.0.1');
  socket.on('error', () => {});
  const closed = new Promise<void>((r) => socket.once('close', () => r()));
  await new Promise<void>((r) => socket.once('connect', () => r()));
  if (handshake) {
    const hs = new ClientHandshake();
    socket.write(hs.start());
    await new Promise<void>((resolve) => {
      const onData = (d: Buffer) => {
        const step = hs.push(d);
        for (const o of step.output) socket.write(o);
        if (step.done) {
          socket.off('data', onData);
          resolve();
        }
      };
      socket.on('data', onData);
    });
  }
  return { socket, closed };
}
