// What `repo ui` needs from the CLI to send snapshot contents: the writers `repo dump` uses, handed in (the CLI
// sits above this layer), so a download and a dump are the same bytes. Types only.

import type { Repository } from '../repository/repository.js';
import type { ResolvedPath } from '../restorer/index.js';
import type { StoredSnapshot } from '../snapshot/snapshot.js';
import type { TreeNode } from '../tree/node.js';

/** How the CLI writes a file's bytes and a directory as tar (cli/dump.ts), handed in so both serve the same bytes. */
export interface Dumper {
  file(
    repo: Repository,
    node: TreeNode,
    path: string,
    signal: AbortSignal,
    expected: undefined,
    out: NodeJS.WritableStream,
  ): Promise<void>;
  archive(
    repo: Repository,
    sn: StoredSnapshot,
    resolved: ResolvedPath,
    path: string,
    out: NodeJS.WritableStream,
    signal: AbortSignal,
    warn: (line: string) => void,
  ): Promise<number>;
}
