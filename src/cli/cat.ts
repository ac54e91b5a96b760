// `repo cat TYPE [ID]`: prints one repository object in decrypted form (config, snapshot, tree, index, pack header, blob, key file).
// Never prints key material: there is no masterkey type, and key files are shown without their sealed `data`.

import type { Command } from 'commander';
import { NotFoundError, RepoError } from '../core/errors.js';
import { idFromHex, idToHex, isIdHex } from '../core/id.js';
import { AAD_INDEX } from '../repository/aad.js';
import { Compression, type BlobEntry, type BlobType } from '../repository/blob.js';
import { decodeIndex } from '../repository/index-file.js';
import { publicConfig } from '../repository/config.js';
import { parseKeyFile } from '../repository/keys.js';
import { headerLengthFromTrailer, parsePackHeader } from '../repository/pack.js';
import { verifyStorageId, type Repository } from '../repository/repository.js';
import { resolveSnapshotPath } from '../restorer/index.js';
import { findSnapshot } from '../snapshot/snapshot.js';
import { Env, withRepository, writeTo } from './context.js';
import { resolveIdPrefix, splitSnapshotPath } from './parse.js';

const TYPES = ['config', 'snapshot', 'tree', 'index', 'pack', 'blob', 'key'] as const;
type CatType = (typeof TYPES)[number];

export function registerCat(program: Command): void {
  program
    .command('cat')
    .description('print a repository object in decrypted form')
    .argument('<type>', `one of: ${TYPES.join(', ')}`)
    .argument('[id]', 'object id or unique prefix; for snapshot also "latest"; for tree also SNAPSHOT:PATH')
    .addHelpText('after', "\nJSON objects are printed indented; `cat blob` writes the blob's raw bytes.")
    .action((type: string, id: string | undefined, _flags: unknown, c: Command) => runCat(Env.from(c), type, id));
}

function entryJson(e: BlobEntry): Record<string, unknown> {
  return {
    id: idToHex(e.id),
    type: e.type,
    offset: e.offset,
    length: e.storedLength,
    uncompressed_length: e.rawLength,
    compression: e.compression === Compression.Zstd ? 'zstd' : 'none',
  };
}

const pretty = (v: unknown) => JSON.stringify(v, null, 2);

async function treeIdOf(repo: Repository, arg: string): Promise<string> {
  if (arg.includes(':')) {
    const { ref, path } = splitSnapshotPath(arg);
    const sn = await findSnapshot(repo, ref);
    const r = await resolveSnapshotPath(repo, sn, path ?? '');
    if (r.treeId === undefined)
      throw new RepoError('INVALID_ARGUMENT', `${path} is a ${r.node!.type}, not a directory: it has no tree`);
    return r.treeId;
  }
  if (isIdHex(arg) && repo.index.has('tree', idFromHex(arg))) return arg;
  try {
    return (await findSnapshot(repo, arg)).tree;
  } catch (err) {
    if (isIdHex(arg) && err instanceof NotFoundError)
      throw new NotFoundError(`tree ${arg} is not in the index`, { tree: arg });
    throw err;
  }
}

/** Finds a blob by full id or unique prefix, data blobs before tree blobs. */
function findBlob(repo: Repository, arg: string): { type: BlobType; id: Buffer } {
  if (isIdHex(arg)) {
    const id = idFromHex(arg);
    for (const type of ['data', 'tree'] as const) if (repo.index.has(type, id)) return { type, id };
    throw new NotFoundError(`blob ${arg} is not in the index`, { blob: arg });
  }
  if (!/^[0-9a-f]{1,63}$/.test(arg))
    throw new RepoError('INVALID_ARGUMENT', `invalid blob id ${JSON.stringify(arg.slice(0, 80))}`);
  const found = new Map<string, { type: BlobType; id: Buffer }>();
  for (const e of repo.index.entries()) {
    const hex = idToHex(e.id);
    if (hex.startsWith(arg) && !found.has(hex)) found.set(hex, { type: e.type, id: e.id });
  }
  if (found.size === 0) throw new NotFoundError(`no blob with id ${arg}`, { blob: arg });
  if (found.size > 1) throw new RepoError('AMBIGUOUS', `blob id prefix ${arg} matches ${found.size} blobs`);
  const [only] = found.values();
  return repo.index.has('data', only.id) ? { type: 'data', id: only.id } : only;
}

async function runCat(env: Env, typeArg: string, id: string | undefined): Promise<void> {
  if (typeArg === 'masterkey')
    throw new RepoError('INVALID_ARGUMENT', 'cat masterkey is not supported: repo never prints key material');
  if (!(TYPES as readonly string[]).includes(typeArg)) {
    throw new RepoError('INVALID_ARGUMENT', `unknown type ${JSON.stringify(typeArg)}: use one of ${TYPES.join(', ')}`);
  }
  const type = typeArg as CatType;
  if (type === 'config' && id !== undefined) throw new RepoError('INVALID_ARGUMENT', 'cat config takes no id');
  if (type !== 'config' && id === undefined) throw new RepoError('INVALID_ARGUMENT', `cat ${type} needs an id`);
  const arg = id ?? '';
  await withRepository(env, {}, async (repo) => {
    switch (type) {
      case 'config':
        env.out.print(pretty(publicConfig(repo.config)));
        return;
      case 'snapshot': {
        const { id: _id, ...sn } = await findSnapshot(repo, arg);
        env.out.print(pretty(sn));
        return;
      }
      case 'tree': {
        const treeId = await treeIdOf(repo, arg);
        const plain = await repo.loadBlob('tree', idFromHex(treeId));
        env.out.print(pretty(JSON.parse(plain.toString('utf8'))));
        return;
      }
      case 'index': {
        const name = resolveIdPrefix(await repo.listNames('index'), arg, 'index');
        const idx = decodeIndex(await repo.loadUnpacked('index', name, AAD_INDEX), name);
        env.out.print(
          pretty({
            supersedes: idx.supersedes,
            packs: idx.packs.map((p) => ({ id: p.pack, blobs: p.blobs.map(entryJson) })),
          }),
        );
        return;
      }
      case 'pack': {
        const name = resolveIdPrefix(await repo.listNames('data'), arg, 'pack');
        const bytes = await repo.backend.load({ type: 'data', name });
        verifyStorageId(bytes, 'data', name);
        const headerLength = headerLengthFromTrailer(bytes.subarray(bytes.length - 4), bytes.length, name);
        const sealed = bytes.subarray(bytes.length - 4 - headerLength, bytes.length - 4);
        const entries = parsePackHeader(sealed, bytes.length, repo.key.encryption, name);
        env.out.print(
          pretty({ id: name, size: bytes.length, header_length: headerLength, blobs: entries.map(entryJson) }),
        );
        return;
      }
      case 'blob': {
        const { type: blobType, id: blobId } = findBlob(repo, arg);
        await writeTo(process.stdout, await repo.loadBlob(blobType, blobId));
        return;
      }
      case 'key': {
        const name = resolveIdPrefix(await repo.listNames('keys'), arg, 'key');
        const bytes = await repo.backend.load({ type: 'keys', name });
        verifyStorageId(bytes, 'keys', name);
        const { data: _sealed, ...rest } = parseKeyFile(bytes, name);
        env.out.print(pretty(rest));
        return;
      }
    }
  });
}
