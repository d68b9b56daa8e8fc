import { createConnection } from 'node:net';

/**
 * Sends one line to an HAProxy CLI socket (the worker's stats socket or the
 * master socket) and resolves with everything it answers before closing.
 * Several commands may share the line, separated by `;`.
 */
export function runtimeCommand(socketPath: string, command: string, timeoutMs = 10_000): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    const socket = createConnection(socketPath);
    const timer = setTimeout(() => socket.destroy(new Error(`HAProxy did not answer "${command.slice(0, 80)}" within ${timeoutMs} ms`)), timeoutMs);
    socket.once('connect', () => socket.end(`${command}\n`));
    socket.on('data', (c: Buffer) => chunks.push(c));
    socket.once('error', (err) => {
      clearTimeout(timer);
      reject(err);
    });
    socket.once('close', (hadError) => {
      clearTimeout(timer);
      if (!hadError) resolve(Buffer.concat(chunks).toString('utf8'));
    });
  });
}

/** Rows of `show stat` (CSV with a `# ` header line), each keyed by column name. */
export function parseStat(csv: string): Record<string, string>[] {
  const lines = csv.split('\n').filter((l) => l.length > 0);
  const header = lines.shift();
  if (!header?.startsWith('# ')) return [];
  const cols = header.slice(2).split(',');
  return lines.map((line) => {
    const cells = line.split(',');
    const row: Record<string, string> = {};
    cols.forEach((c, i) => {
      if (c) row[c] = cells[i] ?? '';
    });
    return row;
  });
}
