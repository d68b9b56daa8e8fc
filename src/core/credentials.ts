/** An access key's secret and, for temporary credentials, its session token (hashed) and expiry. */
export interface ResolvedCredentials {
  secret: string;
  /** SHA-256 (hex) of the session token that must accompany the key (`X-Amz-Security-Token`). */
  tokenHash?: string;
  /** Epoch milliseconds after which the key is refused as expired. */
  expiresAt?: number;
  /** False for a key its owner made Inactive. */
  active: boolean;
}

/** Where the secret of an access key is found: the server's credential registry. */
export interface CredentialLookup {
  /** The secret for an access key, or undefined when the key is unknown. */
  secretFor(accessKeyId: string): string | undefined;
  /** The full record of an access key (keys the sync lookup may not know yet included). */
  resolve?(accessKeyId: string): Promise<ResolvedCredentials | undefined>;
}
