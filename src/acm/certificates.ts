/**
 * ACM certificates: ImportCertificate, DescribeCertificate, ListCertificates,
 * GetCertificate, DeleteCertificate and tags.
 *
 * A certificate document holds the PEM certificate, chain and private key as
 * imported; the private key is kept for the data plane's TLS listeners and is
 * never part of any API answer. Everything ACM reports (domain, names,
 * serial, validity, key algorithm) is read from the certificate itself with
 * node:crypto's X509Certificate.
 */
import { X509Certificate, createPrivateKey, randomUUID, type KeyObject } from 'node:crypto';
import {
  InvalidArgsException,
  InvalidArnException,
  InvalidParameterException,
  InvalidTagException,
  ResourceInUseException,
  ResourceNotFoundException,
  TooManyTagsException,
  ValidationException,
} from '../core/errors.js';
import { withRetry, type Row, type Store, type StoreReader } from '../store/store.js';
import { listenersUsingCertificate } from '../elbv2/listeners.js';

export interface AcmContext {
  store: Store;
  region: string;
  accountId: string;
  /** Epoch milliseconds. */
  now(): number;
}

export interface AcmTag {
  Key: string;
  Value?: string;
}

/** A certificate as stored. Timestamps are epoch milliseconds. */
export interface CertificateDoc {
  CertificateArn: string;
  DomainName: string;
  SubjectAlternativeNames: string[];
  Serial: string;
  Subject: string;
  Issuer: string;
  ImportedAt: number;
  NotBefore: number;
  NotAfter: number;
  KeyAlgorithm: string;
  /** PEM text as imported. */
  certificate: string;
  chain?: string;
  /** PEM private key: for the data plane only, never returned by the API. */
  privateKey: string;
  Tags: AcmTag[];
}

const ARN_RE = /^arn:aws[a-z-]*:acm:[a-z0-9-]+:\d{12}:certificate\/[A-Za-z0-9-]+$/;
const MAX_TAGS = 50;

function checkArn(arn: string): void {
  if (!ARN_RE.test(arn)) throw new InvalidArnException(`String '${arn}' is not a valid ARN`);
}

function notFound(arn: string): Error {
  return new ResourceNotFoundException(`Could not find certificate ${arn}.`);
}

async function getCertificate(reader: StoreReader, arn: string): Promise<Row<CertificateDoc>> {
  checkArn(arn);
  const row = await reader.get<CertificateDoc>('certificate', arn);
  if (!row) throw notFound(arn);
  return row;
}

/** Blob members arrive base64-encoded (AWS JSON) or as bytes; PEM text is what they carry. */
function blobText(blob: string | Uint8Array): string {
  return typeof blob === 'string' ? Buffer.from(blob, 'base64').toString('utf8') : Buffer.from(blob).toString('utf8');
}

const PEM_CERT_RE = /-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g;

function keyAlgorithm(key: KeyObject): string {
  const details = key.asymmetricKeyDetails ?? {};
  if (key.asymmetricKeyType === 'rsa') return `RSA_${details.modulusLength ?? 0}`;
  if (key.asymmetricKeyType === 'ec') {
    const curve = details.namedCurve;
    if (curve === 'prime256v1' || curve === 'secp384r1' || curve === 'secp521r1') return `EC_${curve}`;
  }
  return '';
}

/** `CN=example.com, O=Example` from node's one-attribute-per-line form. */
function distinguishedName(dn: string): string {
  return dn.split('\n').filter((l) => l !== '').join(', ');
}

function attribute(dn: string, name: string): string | undefined {
  for (const line of dn.split('\n')) if (line.startsWith(`${name}=`)) return line.slice(name.length + 1);
  return undefined;
}

/** Parses and checks an import as ACM does; returns the fields ACM reports. */
export function parseImport(certPem: string, keyPem: string, chainPem: string | undefined): Omit<CertificateDoc, 'CertificateArn' | 'ImportedAt' | 'Tags'> {
  const certs = certPem.match(PEM_CERT_RE) ?? [];
  if (certs.length === 0) throw new ValidationException('Could not parse the certificate. Ensure that it is a PEM-encoded X.509 certificate.');
  if (certs.length > 1) throw new ValidationException('The certificate field contains more than one certificate. You can specify only one certificate in this field.');
  let x509: X509Certificate;
  try {
    x509 = new X509Certificate(certs[0]!);
  } catch {
    throw new ValidationException('Could not parse the certificate. Ensure that it is a PEM-encoded X.509 certificate.');
  }
  let key: KeyObject;
  try {
    key = createPrivateKey(keyPem);
  } catch {
    throw new ValidationException('The private key is not supported. Ensure that it is an unencrypted PEM-encoded RSA or EC key.');
  }
  const algorithm = keyAlgorithm(key);
  if (algorithm === '' || !['RSA_1024', 'RSA_2048', 'RSA_3072', 'RSA_4096', 'EC_prime256v1', 'EC_secp384r1', 'EC_secp521r1'].includes(algorithm)) {
    throw new ValidationException('The private key algorithm or size is not supported. ACM supports RSA keys of 1024 to 4096 bits and EC keys on P-256, P-384 and P-521.');
  }
  if (!x509.checkPrivateKey(key)) throw new ValidationException('The private key does not match the public key in the certificate.');
  if (chainPem !== undefined) {
    const chain = chainPem.match(PEM_CERT_RE) ?? [];
    if (chain.length === 0) throw new ValidationException('Could not parse the certificate chain. Ensure that it is a sequence of PEM-encoded X.509 certificates.');
    for (const c of chain) {
      try {
        new X509Certificate(c);
      } catch {
        throw new ValidationException('Could not parse the certificate chain. Ensure that it is a sequence of PEM-encoded X.509 certificates.');
      }
    }
  }
  const names = (x509.subjectAltName ?? '')
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s.startsWith('DNS:'))
    .map((s) => s.slice(4));
  const cn = attribute(x509.subject, 'CN');
  const domain = cn ?? names[0];
  if (domain === undefined) throw new ValidationException('The certificate must name a domain in its subject common name or subject alternative names.');
  const serial = x509.serialNumber.toLowerCase().padStart(x509.serialNumber.length + (x509.serialNumber.length % 2), '0');
  return {
    DomainName: domain,
    SubjectAlternativeNames: names.length > 0 ? (names.includes(domain) ? [domain, ...names.filter((n) => n !== domain)] : names) : [domain],
    Serial: serial.match(/../g)!.join(':'),
    Subject: distinguishedName(x509.subject),
    Issuer: attribute(x509.issuer, 'O') ?? attribute(x509.issuer, 'CN') ?? distinguishedName(x509.issuer),
    NotBefore: Date.parse(x509.validFrom),
    NotAfter: Date.parse(x509.validTo),
    KeyAlgorithm: algorithm,
    certificate: certs[0]! + '\n',
    ...(chainPem !== undefined ? { chain: (chainPem.match(PEM_CERT_RE) ?? []).join('\n') + '\n' } : {}),
    privateKey: keyPem,
  };
}

function checkTags(tags: readonly AcmTag[]): void {
  for (const t of tags) {
    if (t.Key.length < 1 || t.Key.length > 128) throw new InvalidTagException(`The tag key '${t.Key}' must be 1 to 128 characters long.`);
    if (t.Key.toLowerCase().startsWith('aws:')) throw new InvalidTagException(`Tag keys beginning with 'aws:' are reserved: '${t.Key}'.`);
    if (t.Value !== undefined && t.Value.length > 256) throw new InvalidTagException(`The value of tag '${t.Key}' must be at most 256 characters long.`);
  }
}

function mergeTags(existing: readonly AcmTag[], added: readonly AcmTag[]): AcmTag[] {
  checkTags(added);
  const keys = new Set(added.map((t) => t.Key));
  const merged = [...existing.filter((t) => !keys.has(t.Key)), ...added];
  if (merged.length > MAX_TAGS) throw new TooManyTagsException('The request contains too many tags. A certificate can have at most 50 tags.');
  return merged;
}

function status(c: CertificateDoc, now: number): 'ISSUED' | 'EXPIRED' {
  return c.NotAfter < now ? 'EXPIRED' : 'ISSUED';
}

export async function importCertificate(
  ctx: AcmContext,
  input: { CertificateArn?: string; Certificate: string | Uint8Array; PrivateKey: string | Uint8Array; CertificateChain?: string | Uint8Array; Tags?: AcmTag[] },
): Promise<unknown> {
  const parsed = parseImport(blobText(input.Certificate), blobText(input.PrivateKey), input.CertificateChain !== undefined ? blobText(input.CertificateChain) : undefined);
  const now = ctx.now();
  if (input.CertificateArn !== undefined) {
    // Reimport: new certificate material under the same ARN; tags cannot be given.
    if (input.Tags !== undefined) throw new InvalidParameterException('Tags cannot be specified when reimporting a certificate.');
    const arn = input.CertificateArn;
    await withRetry(ctx.store, async (tx) => {
      const row = await getCertificate(tx, arn);
      await tx.update<CertificateDoc>('certificate', { ...row, name: parsed.DomainName, doc: { ...parsed, CertificateArn: arn, ImportedAt: now, Tags: row.doc.Tags } });
    });
    return { CertificateArn: arn };
  }
  const tags = mergeTags([], input.Tags ?? []);
  const arn = `arn:aws:acm:${ctx.region}:${ctx.accountId}:certificate/${randomUUID()}`;
  const doc: CertificateDoc = { ...parsed, CertificateArn: arn, ImportedAt: now, Tags: tags };
  await ctx.store.transaction((tx) => tx.insert<CertificateDoc>('certificate', { arn, cluster: '', name: parsed.DomainName, status: 'ISSUED', seq: now, doc }));
  return { CertificateArn: arn };
}

async function inUseBy(reader: StoreReader, arn: string): Promise<string[]> {
  return [...new Set((await listenersUsingCertificate(reader, arn)).map((l) => l.LoadBalancerArn))].sort();
}

export async function describeCertificate(ctx: AcmContext, input: { CertificateArn: string }): Promise<unknown> {
  const c = (await getCertificate(ctx.store, input.CertificateArn)).doc;
  return {
    Certificate: {
      CertificateArn: c.CertificateArn,
      DomainName: c.DomainName,
      SubjectAlternativeNames: c.SubjectAlternativeNames,
      Serial: c.Serial,
      Subject: c.Subject,
      Issuer: c.Issuer,
      ImportedAt: c.ImportedAt / 1000,
      Status: status(c, ctx.now()),
      NotBefore: c.NotBefore / 1000,
      NotAfter: c.NotAfter / 1000,
      KeyAlgorithm: c.KeyAlgorithm,
      InUseBy: await inUseBy(ctx.store, c.CertificateArn),
      Type: 'IMPORTED',
      RenewalEligibility: 'INELIGIBLE',
      Options: { CertificateTransparencyLoggingPreference: 'ENABLED' },
    },
  };
}

/** ACM lists RSA 1024 and 2048 certificates unless `Includes.keyTypes` names others. */
const DEFAULT_KEY_TYPES = ['RSA_1024', 'RSA_2048'];

export async function listCertificates(
  ctx: AcmContext,
  input: { CertificateStatuses?: string[]; Includes?: { keyTypes?: string[] }; NextToken?: string; MaxItems?: number; SortBy?: string; SortOrder?: string },
): Promise<unknown> {
  const max = input.MaxItems ?? 1000;
  if (!Number.isInteger(max) || max < 1 || max > 1000) {
    throw new ValidationException(`1 validation error detected: Value '${max}' at 'maxItems' failed to satisfy constraint: Member must have value ${max < 1 ? 'greater than or equal to 1' : 'less than or equal to 1000'}`);
  }
  const now = ctx.now();
  const keyTypes = new Set(input.Includes?.keyTypes ?? DEFAULT_KEY_TYPES);
  const statuses = input.CertificateStatuses && input.CertificateStatuses.length > 0 ? new Set(input.CertificateStatuses) : undefined;
  let rows = (await ctx.store.find<CertificateDoc>('certificate')).map((r) => r.doc);
  rows = rows.filter((c) => keyTypes.has(c.KeyAlgorithm) && (!statuses || statuses.has(status(c, now))));
  if (input.SortBy === 'CREATED_AT') rows.sort((a, b) => (input.SortOrder === 'DESCENDING' ? b.ImportedAt - a.ImportedAt : a.ImportedAt - b.ImportedAt));
  let start = 0;
  if (input.NextToken !== undefined) {
    const n = Number(Buffer.from(input.NextToken, 'base64url').toString('utf8').replace(/^acm:/, ''));
    if (!Number.isInteger(n) || n < 0 || !Buffer.from(input.NextToken, 'base64url').toString('utf8').startsWith('acm:')) {
      throw new InvalidArgsException('The NextToken is not valid. Pass the NextToken from the previous response.');
    }
    start = n;
  }
  const slice = rows.slice(start, start + max);
  const used = new Set<string>();
  for (const c of slice) if ((await inUseBy(ctx.store, c.CertificateArn)).length > 0) used.add(c.CertificateArn);
  const end = start + slice.length;
  return {
    CertificateSummaryList: slice.map((c) => ({
      CertificateArn: c.CertificateArn,
      DomainName: c.DomainName,
      SubjectAlternativeNameSummaries: c.SubjectAlternativeNames,
      HasAdditionalSubjectAlternativeNames: false,
      Status: status(c, now),
      Type: 'IMPORTED',
      KeyAlgorithm: c.KeyAlgorithm,
      InUse: used.has(c.CertificateArn),
      RenewalEligibility: 'INELIGIBLE',
      NotBefore: c.NotBefore / 1000,
      NotAfter: c.NotAfter / 1000,
      ImportedAt: c.ImportedAt / 1000,
    })),
    ...(end < rows.length ? { NextToken: Buffer.from(`acm:${end}`).toString('base64url') } : {}),
  };
}

export async function getCertificatePem(ctx: AcmContext, input: { CertificateArn: string }): Promise<unknown> {
  const c = (await getCertificate(ctx.store, input.CertificateArn)).doc;
  return { Certificate: c.certificate, ...(c.chain !== undefined ? { CertificateChain: c.chain } : {}) };
}

export async function deleteCertificate(ctx: AcmContext, input: { CertificateArn: string }): Promise<unknown> {
  await withRetry(ctx.store, async (tx) => {
    const row = await getCertificate(tx, input.CertificateArn);
    const users = await inUseBy(tx, row.arn);
    if (users.length > 0) throw new ResourceInUseException(`Certificate ${row.arn} in use by ${users.join(', ')}`);
    await tx.remove('certificate', row.arn, row.version);
  });
  return {};
}

export async function addTagsToCertificate(ctx: AcmContext, input: { CertificateArn: string; Tags: AcmTag[] }): Promise<unknown> {
  await withRetry(ctx.store, async (tx) => {
    const row = await getCertificate(tx, input.CertificateArn);
    await tx.update<CertificateDoc>('certificate', { ...row, doc: { ...row.doc, Tags: mergeTags(row.doc.Tags, input.Tags) } });
  });
  return {};
}

export async function removeTagsFromCertificate(ctx: AcmContext, input: { CertificateArn: string; Tags: AcmTag[] }): Promise<unknown> {
  await withRetry(ctx.store, async (tx) => {
    const row = await getCertificate(tx, input.CertificateArn);
    checkTags(input.Tags);
    // A tag given with a value is removed only when the value matches too.
    const remaining = row.doc.Tags.filter((t) => !input.Tags.some((r) => r.Key === t.Key && (r.Value === undefined || r.Value === (t.Value ?? ''))));
    await tx.update<CertificateDoc>('certificate', { ...row, doc: { ...row.doc, Tags: remaining } });
  });
  return {};
}

export async function listTagsForCertificate(ctx: AcmContext, input: { CertificateArn: string }): Promise<unknown> {
  const row = await getCertificate(ctx.store, input.CertificateArn);
  return { Tags: row.doc.Tags };
}

/** The certificate and private key a TLS listener serves (for the data plane; never an API answer). */
export async function certificateKeyPair(store: StoreReader, arn: string): Promise<{ certificate: string; chain?: string; privateKey: string } | undefined> {
  const row = await store.get<CertificateDoc>('certificate', arn);
  if (!row) return undefined;
  return { certificate: row.doc.certificate, ...(row.doc.chain !== undefined ? { chain: row.doc.chain } : {}), privateKey: row.doc.privateKey };
}
