/** Identity defaults of a Berth server, shared by the CLI and the server without loading the server. */
export const DEFAULT_REGION = 'us-east-1';
export const DEFAULT_ACCOUNT_ID = '000000000000';
