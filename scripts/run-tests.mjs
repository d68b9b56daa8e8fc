#!/usr/bin/env node
// Runs the compiled test files with Node's test runner.
//   node scripts/run-tests.mjs            every test (unit tests beside the code, end-to-end in test/)
//   node scripts/run-tests.mjs --unit     only the unit tests under src/
//   node scripts/run-tests.mjs PATH...    only files under the given compiled paths
import { readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { spawnSync } from 'node:child_process';

const args = process.argv.slice(2);
const unitOnly = args.includes('--unit');
const roots = args.filter((a) => !a.startsWith('--'));
const searchRoots = roots.length ? roots : unitOnly ? ['dist/src'] : ['dist/src', 'dist/test'];

function collect(dir, out) {
  let st;
  try { st = statSync(dir); } catch { return out; }
  if (st.isFile()) { if (dir.endsWith('.test.js')) out.push(dir); return out; }
  for (const name of readdirSync(dir).sort()) collect(join(dir, name), out);
  return out;
}

const files = searchRoots.flatMap((r) => collect(r, []));
if (files.length === 0) {
  console.error(`no test files found under ${searchRoots.join(', ')}; run "npm run build" first`);
  process.exit(1);
}
const res = spawnSync(process.execPath, ['--test', '--test-concurrency=1', ...files], { stdio: 'inherit' });
process.exit(res.status ?? 1);
