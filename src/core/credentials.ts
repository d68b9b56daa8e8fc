/** Where the secret of an access key is found: the server's credential registry. */
export interface CredentialLookup {
  /** The secret for an access key, or undefined when the key is unknown. */
  secretFor(accessKeyId: string): string | undefined;
}
