// A TCP port on 127.0.0.1 that nothing listens on right now, for servers the tests start on loopback
// (sshd, PostgreSQL). The port is released before it is returned, so a server that binds it later may
// in rare cases lose it to another process; the tests then fail loudly, never silently. Plain JavaScript (types in
// free-port.d.mts) so that bench scripts can import it too.
import net from 'node:net';

/** @returns {Promise<number>} */
export function freePort() {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.on('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = /** @type {net.AddressInfo} */ (srv.address());
      srv.close(() => resolve(port));
    });
  });
}
