import { X509Certificate } from 'node:crypto';
import { chmodSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { isIP } from 'node:net';
import { join } from 'node:path';
import { generate } from 'selfsigned';

/** The certificate and key (PEM) the server presents, and where the certificate is on disk. */
export interface TlsMaterial {
  cert: string;
  key: string;
  certFile: string;
  /** True when Berth generated the certificate (clients must be told to trust it). */
  selfSigned: boolean;
}

/** A generated certificate is renewed this long before it expires. */
const RENEW_BEFORE_MS = 30 * 24 * 60 * 60 * 1000;
const VALID_DAYS = 825;

function covers(cert: X509Certificate, host: string): boolean {
  return isIP(host) ? cert.checkIP(host) !== undefined : cert.checkHost(host) !== undefined;
}

/**
 * The operator's certificate and key when both files are given; otherwise a
 * self-signed certificate for `hosts`, kept in `<dataDir>/tls/` (key mode
 * 0600) and reused across restarts while it covers every host and is not
 * about to expire. It is its own CA: Docker hosts trust it as
 * `/etc/docker/certs.d/<host:port>/ca.crt`, other clients as their CA file.
 */
export async function loadTls(opts: { dataDir: string; certFile?: string; keyFile?: string; hosts: readonly string[]; now?: number }): Promise<TlsMaterial> {
  if (opts.certFile !== undefined || opts.keyFile !== undefined) {
    if (opts.certFile === undefined || opts.keyFile === undefined) throw new Error('--registry-tls-cert and --registry-tls-key go together: give both files or neither.');
    const cert = readFileSync(opts.certFile, 'utf8');
    const key = readFileSync(opts.keyFile, 'utf8');
    new X509Certificate(cert); // a readable certificate, or a clear error at start
    return { cert, key, certFile: opts.certFile, selfSigned: false };
  }
  const dir = join(opts.dataDir, 'tls');
  const certFile = join(dir, 'registry.crt');
  const keyFile = join(dir, 'registry.key');
  const now = opts.now ?? Date.now();
  const hosts = [...new Set(opts.hosts.map((h) => h.replace(/^\[|\]$/g, '')).filter((h) => h !== '' && h !== '0.0.0.0' && h !== '::'))];
  if (existsSync(certFile) && existsSync(keyFile)) {
    const cert = readFileSync(certFile, 'utf8');
    const x509 = new X509Certificate(cert);
    if (hosts.every((h) => covers(x509, h)) && Date.parse(x509.validTo) - now > RENEW_BEFORE_MS) {
      return { cert, key: readFileSync(keyFile, 'utf8'), certFile, selfSigned: true };
    }
  }
  const pems = await generate([{ name: 'commonName', value: hosts[0] ?? 'localhost' }, { name: 'organizationName', value: 'Berth' }], {
    keyType: 'ec',
    curve: 'P-256',
    algorithm: 'sha256',
    notBeforeDate: new Date(now - 60_000),
    notAfterDate: new Date(now + VALID_DAYS * 24 * 60 * 60 * 1000),
    extensions: [
      { name: 'basicConstraints', cA: true, critical: true },
      { name: 'keyUsage', digitalSignature: true, keyCertSign: true, critical: true },
      { name: 'extKeyUsage', serverAuth: true },
      { name: 'subjectAltName', altNames: hosts.map((h) => (isIP(h) ? { type: 7 as const, ip: h } : { type: 2 as const, value: h })) },
    ],
  });
  mkdirSync(dir, { recursive: true });
  writeFileSync(keyFile, pems.private, { mode: 0o600 });
  chmodSync(keyFile, 0o600);
  writeFileSync(certFile, pems.cert);
  return { cert: pems.cert, key: pems.private, certFile, selfSigned: true };
}
