/**
 * The placement engine: pure functions over an immutable cluster snapshot.
 * See engine.ts for the flow (place → commitCheck → applyPlan).
 */
export { place, commitCheck, applyPlan, validateRequest } from './engine.js';
export type { PlaceOptions, CommitResult, CommitRejection } from './engine.js';
export { buildSnapshot } from './snapshot.js';
export type { ClusterSnapshot, AttributeBuckets, GroupPostings } from './snapshot.js';
export { FILTERS, firstFailure } from './filters.js';
export { rankKeysFor } from './rankers.js';
export type { RankKey } from './rankers.js';
export { parseCql, CqlSyntaxError } from './cql/index.js';
export type { CompiledExpression, CqlContext, CqlInstance } from './cql/index.js';
export * from './types.js';
