import { createHash, timingSafeEqual } from 'node:crypto';
import { Hash } from '@smithy/hash-node';
import { HttpRequest } from '@smithy/protocol-http';
import { SignatureV4 } from '@smithy/signature-v4';
import {
  ExpiredTokenException,
  IncompleteSignatureException,
  InvalidSignatureException,
  MissingAuthenticationTokenException,
  UnrecognizedClientException,
} from '../errors.js';

/** What a verifier needs to know about an incoming HTTP request. */
export interface SignedRequest {
  method: string;
  /** Path without the query string, as sent. */
  path: string;
  /** Raw query string without '?', possibly empty. */
  query: string;
  /** Header names in lower case, as Node presents them. */
  headers: Record<string, string | string[] | undefined>;
  body: Buffer;
}

export interface Principal {
  accessKeyId: string;
  /** The service named in the credential scope, for example `ecs`. */
  service: string;
  region: string;
}

import type { CredentialLookup } from '../../core/credentials.js';

export type { CredentialLookup };

/** AWS refuses requests dated more than 15 minutes from its clock. */
export const MAX_CLOCK_SKEW_MS = 15 * 60 * 1000;

const AUTH_RE = /^AWS4-HMAC-SHA256\s+Credential=([^,\s]+),\s*SignedHeaders=([^,\s]+),\s*Signature=([0-9a-f]{64})\s*$/;

function header(h: SignedRequest['headers'], name: string): string | undefined {
  const v = h[name];
  return Array.isArray(v) ? v.join(',') : v;
}

function parseAmzDate(s: string): Date | undefined {
  const m = /^(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})Z$/.exec(s);
  if (!m) return undefined;
  const d = new Date(Date.UTC(+m[1]!, +m[2]! - 1, +m[3]!, +m[4]!, +m[5]!, +m[6]!));
  return Number.isNaN(d.getTime()) ? undefined : d;
}

function formatAmzDate(d: Date): string {
  return d.toISOString().replace(/[-:]/g, '').replace(/\.\d{3}/, '');
}

function parseQuery(q: string): Record<string, string | string[]> {
  const out: Record<string, string | string[]> = {};
  if (!q) return out;
  for (const [k, v] of new URLSearchParams(q)) {
    const prev = out[k];
    if (prev === undefined) out[k] = v;
    else out[k] = Array.isArray(prev) ? [...prev, v] : [prev, v];
  }
  return out;
}

/**
 * Verifies AWS Signature Version 4 (header form) as AWS services do. The
 * canonical request and signature are computed by the maintained Smithy
 * signer over exactly the headers the client says it signed.
 */
export class SigV4Verifier {
  private readonly signers = new Map<string, SignatureV4>();

  constructor(
    private readonly credentials: CredentialLookup,
    private readonly region: string,
    private readonly now: () => number = Date.now,
  ) {}

  private signerFor(accessKeyId: string, secretAccessKey: string): SignatureV4 {
    const key = `${accessKeyId}\0${secretAccessKey}`;
    let s = this.signers.get(key);
    if (!s) {
      s = new SignatureV4({
        credentials: { accessKeyId, secretAccessKey },
        region: this.region,
        service: 'ecs',
        sha256: Hash.bind(null, 'sha256'),
        applyChecksum: false,
      });
      if (this.signers.size > 1000) this.signers.clear();
      this.signers.set(key, s);
    }
    return s;
  }

  async verify(req: SignedRequest): Promise<Principal> {
    const auth = header(req.headers, 'authorization');
    if (!auth) {
      throw new MissingAuthenticationTokenException('Missing Authentication Token');
    }
    const m = AUTH_RE.exec(auth.trim());
    if (!m) {
      throw new IncompleteSignatureException(
        `Authorization header requires 'Credential', 'SignedHeaders' and 'Signature' with the AWS4-HMAC-SHA256 algorithm. Authorization=${auth.split(' ')[0] ?? ''}`,
      );
    }
    const [, credential, signedHeaderList, signature] = m as unknown as [string, string, string, string];
    const scope = credential.split('/');
    if (scope.length !== 5 || scope[4] !== 'aws4_request') {
      throw new IncompleteSignatureException(`Credential should be scoped to a valid date, region, service and aws4_request: ${credential}`);
    }
    const [accessKeyId, shortDate, region, service] = scope as [string, string, string, string, string];
    const resolved = this.credentials.resolve ? await this.credentials.resolve(accessKeyId) : undefined;
    const secret = this.credentials.resolve ? (resolved?.active ? resolved.secret : undefined) : this.credentials.secretFor(accessKeyId);
    if (secret === undefined) {
      throw new UnrecognizedClientException('The security token included in the request is invalid.');
    }
    if (resolved?.tokenHash !== undefined) {
      const token = header(req.headers, 'x-amz-security-token');
      if (token === undefined || createHash('sha256').update(token).digest('hex') !== resolved.tokenHash) {
        throw new UnrecognizedClientException('The security token included in the request is invalid.');
      }
    }
    if (resolved?.expiresAt !== undefined && resolved.expiresAt <= this.now()) {
      throw new ExpiredTokenException('The security token included in the request is expired');
    }
    const amzDate = header(req.headers, 'x-amz-date');
    const signingDate = amzDate ? parseAmzDate(amzDate) : undefined;
    if (!signingDate) {
      throw new IncompleteSignatureException('Authorization header requires existence of either a \'X-Amz-Date\' or a \'Date\' header.');
    }
    const now = this.now();
    if (Math.abs(now - signingDate.getTime()) > MAX_CLOCK_SKEW_MS) {
      const nowStr = formatAmzDate(new Date(now));
      const bound = formatAmzDate(new Date(now - MAX_CLOCK_SKEW_MS));
      throw new InvalidSignatureException(
        signingDate.getTime() < now
          ? `Signature expired: ${amzDate} is now earlier than ${bound} (${nowStr} - 15 min.)`
          : `Signature not yet current: ${amzDate} is still later than ${formatAmzDate(new Date(now + MAX_CLOCK_SKEW_MS))} (${nowStr} + 15 min.)`,
      );
    }
    if (shortDate !== amzDate?.slice(0, 8)) {
      throw new InvalidSignatureException(`Date in Credential scope does not match YYYYMMDD from ISO-8601 version of date from HTTP: '${shortDate}' != '${amzDate?.slice(0, 8)}', from '${amzDate}'.`);
    }
    if (region !== this.region) {
      throw new InvalidSignatureException(`Credential should be scoped to a valid region, not '${region}'. This Berth server serves region '${this.region}'.`);
    }

    const names = signedHeaderList.split(';');
    if (!names.includes('host')) {
      throw new InvalidSignatureException("'Host' must be a signed header.");
    }
    const declaredHash = header(req.headers, 'x-amz-content-sha256');
    if (declaredHash !== undefined && declaredHash !== createHash('sha256').update(req.body).digest('hex')) {
      throw new InvalidSignatureException("The provided 'x-amz-content-sha256' header does not match what was computed.");
    }
    const headers: Record<string, string> = {};
    for (const n of names) {
      const v = header(req.headers, n);
      if (v !== undefined) headers[n] = v;
    }
    const unsigned = new HttpRequest({
      method: req.method,
      protocol: 'http:',
      hostname: headers.host ?? '',
      path: req.path,
      query: parseQuery(req.query),
      headers,
      body: req.body,
    });
    const signed = await this.signerFor(accessKeyId, secret).sign(unsigned, {
      signingDate,
      signingRegion: region,
      signingService: service,
      signableHeaders: new Set(names),
    });
    const expected = /Signature=([0-9a-f]{64})/.exec(String(signed.headers.authorization))?.[1] ?? '';
    const ok = expected.length === signature.length && timingSafeEqual(Buffer.from(expected), Buffer.from(signature));
    if (!ok) {
      throw new InvalidSignatureException(
        'The request signature we calculated does not match the signature you provided. Check your AWS Secret Access Key and signing method. Consult the service documentation for details.',
      );
    }
    return { accessKeyId, service, region };
  }
}
