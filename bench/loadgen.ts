// A load generator in its own process, so it does not compete with the
// process that drives what is measured: autocannon against one URL.
//   node dist/bench/loadgen.js URL CONNECTIONS SECONDS
// SECONDS 0 runs until a line arrives on stdin. Prints autocannon's result as
// one JSON line on stdout.
import autocannon from 'autocannon';

const [url, connections = '64', seconds = '10'] = process.argv.slice(2);
if (!url) {
  console.error('usage: loadgen URL [CONNECTIONS] [SECONDS]');
  process.exit(2);
}
const forever = Number(seconds) === 0;
const instance = autocannon({ url, connections: Number(connections), duration: forever ? 3600 : Number(seconds) }, (err, result) => {
  if (err) {
    console.error(String(err));
    process.exit(1);
  }
  process.stdout.write(`${JSON.stringify(result)}\n`);
  process.exit(0);
});
if (forever) process.stdin.once('data', () => instance.stop());
