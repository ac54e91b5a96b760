// Shared by the operations tests: the example config of issue 8 exactly as the issue gives it, and a
// loopback HTTP server that records healthcheck pings and webhook calls.

import http from 'node:http';
import type { AddressInfo } from 'node:net';

export const EXAMPLE = `profiles:
  home:
    repository: /srv/backups/home
    password-file: /etc/repo/home.pass
    sources: [/home]
    exclude: ["*.tmp", "node_modules"]
    tags: [home]
    retention: { keep-daily: 30, keep-weekly: 26, keep-monthly: 84 }
    schedule: "0 * * * *"
    window: "00:00-23:59"
    objectives: { rpo: 1h, rto: 4h }
    hooks: { before: ["sync"], on-failure: ["logger repo backup failed"] }
    monitoring: { healthcheck: "https://hc.example.com/ping/UUID" }
    copy-to: ["s3:https://s3.example.com/bucket/home"]
    check: { read-data-subset: 5%, every: 7d }
  postgres:
    repository: /srv/backups/db
    password-file: /etc/repo/db.pass
    databases:
      - { type: postgresql, name: app, host: 127.0.0.1, port: 5432, user: backup }
    schedule: "30 2 * * *"
    retention: { keep-daily: 7, keep-monthly: 12 }
`;

export interface Ping {
  method: string;
  path: string;
  body: string;
  contentType?: string;
}

/** A real HTTP server on loopback that records every request (healthcheck pings, webhook calls). */
export async function pingServer(): Promise<{ url: string; pings: Ping[]; close: () => Promise<void> }> {
  const pings: Ping[] = [];
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      pings.push({
        method: req.method ?? '',
        path: req.url ?? '',
        body: Buffer.concat(chunks).toString('utf8'),
        contentType: req.headers['content-type'],
      });
      res.writeHead(200, { 'content-type': 'text/plain' });
      res.end('OK');
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    pings,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

/** Paths of the pings without their query (the run id). */
export function pingPaths(pings: Ping[]): string[] {
  return pings.map((p) => p.path.replace(/\?.*$/, ''));
}
