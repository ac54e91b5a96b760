// The names PostgreSQL gives WAL files, in a module of its own with no imports so that the light path of
// asynchronous archiving (cli/wal-ack.ts) can check one without loading the repository code.

/**
 * Names PostgreSQL hands to archive_command/restore_command: a segment (24 hex digits), a timeline
 * history file (8 hex + ".history"), a backup history file (segment + "." + 8 hex + ".backup") and a
 * partial segment left at a timeline switch (segment + ".partial").
 */
const WAL_NAME = /^(?:[0-9A-F]{24}(?:\.partial|\.[0-9A-F]{8}\.backup)?|[0-9A-F]{8}\.history)$/;

export function isWalName(name: string): boolean {
  return WAL_NAME.test(name);
}
