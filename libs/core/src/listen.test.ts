import { connect, createServer, type Server } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { listenOn } from './listen.ts';

const servers: Server[] = [];
const server = (): Server => {
  const s = createServer((socket) => socket.end(`${servers.indexOf(s)}`));
  servers.push(s);
  return s;
};
afterEach(async () => {
  await Promise.all(servers.splice(0).map((s) => new Promise((resolve) => s.close(resolve))));
});

describe('listenOn', () => {
  it('refuses a port someone holds, exclusive or shared', async () => {
    const port = await listenOn(server(), 0, '127.0.0.1');
    await expect(listenOn(server(), port, '127.0.0.1')).rejects.toMatchObject({ code: 'EADDRINUSE' });
    await expect(listenOn(server(), port, '127.0.0.1', 'shared')).rejects.toMatchObject({ code: 'EADDRINUSE' });
  });

  it('lets a successor take over a shared port beside its holder, and nobody else', async () => {
    const holder = server();
    const port = await listenOn(holder, 0, '127.0.0.1', 'shared');
    // Not beside it without taking over: a second instance on another data directory is refused.
    await expect(listenOn(server(), port, '127.0.0.1', 'shared')).rejects.toMatchObject({ code: 'EADDRINUSE' });
    expect(await listenOn(server(), port, '127.0.0.1', 'take-over')).toBe(port);
    // Once the holder lets go, the successor has every connection.
    await new Promise((resolve) => holder.close(resolve));
    const answer = await new Promise<string>((resolve, reject) => {
      const socket = connect(port, '127.0.0.1');
      let text = '';
      socket.on('data', (d: Buffer) => (text += d.toString()));
      socket.on('end', () => resolve(text));
      socket.on('error', reject);
    });
    expect(answer).toBe('2');
  });

  it('cannot take over a port whose holder does not share it', async () => {
    const port = await listenOn(server(), 0, '127.0.0.1');
    await expect(listenOn(server(), port, '127.0.0.1', 'take-over')).rejects.toMatchObject({ code: 'EADDRINUSE' });
  });
});
