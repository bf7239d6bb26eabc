import { once } from 'node:events';
import { createServer, type AddressInfo } from 'node:net';
import { describe, expect, it } from 'vitest';
import { addressInUseLine } from './listen-error.ts';

describe('addressInUseLine', () => {
  it('names the address and port Node could not bind, and the remedy', async () => {
    const first = createServer().listen(0, '127.0.0.1');
    await once(first, 'listening');
    const { port } = first.address() as AddressInfo;
    const second = createServer().listen(port, '127.0.0.1');
    const [error] = await once(second, 'error');
    first.close();
    expect(addressInUseLine(error, 'pick another with --port')).toBe(
      `error: 127.0.0.1:${port} is already in use, most likely by another ztshd (a second pnpm start?): stop that one, or pick another with --port\n`,
    );
    expect(addressInUseLine(new Error('wrapped', { cause: error }), 'x')).toMatch(`127.0.0.1:${port} is already in use`);
  });

  it('says nothing of other errors', () => {
    expect(addressInUseLine(Object.assign(new Error('no'), { code: 'EACCES' }), 'x')).toBeUndefined();
    expect(addressInUseLine(undefined, 'x')).toBeUndefined();
    expect(addressInUseLine('EADDRINUSE', 'x')).toBeUndefined();
  });
});
