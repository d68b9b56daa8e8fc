/**
 * CloudWatch Logs API semantics: log groups, streams, retention, tags,
 * PutLogEvents, GetLogEvents and FilterLogEvents, with CloudWatch Logs'
 * limits and error messages. Inputs are what the API model accepted
 * (`OperationInput<'logs', Op>`); the constraints the model does not carry
 * (name patterns, lengths, limits) are checked here with AWS's wording.
 */
import {
  InvalidParameterException,
  ResourceAlreadyExistsException,
  ResourceNotFoundException,
  TooManyTagsException,
} from '../core/errors.js';
import { decodeToken, encodeToken } from '../core/pagination.js';
import type * as I from './inputs.js';
import { compileFilterPattern } from './filterPattern.js';
import {
  PUT_LIMITS,
  READ_LIMITS,
  RETENTION_DAYS,
  logGroupArn,
  retentionCutoff,
  type LogGroupRecord,
  type LogStreamRecord,
  type Position,
  type StoredEvent,
} from './model.js';
import type { LogStore } from './storage.js';

/** What every CloudWatch Logs operation needs. */
export interface LogsContext {
  logs: LogStore;
  region: string;
  accountId: string;
  /** Epoch milliseconds. */
  now(): number;
}


const GROUP_NAME = /^[.\-_/#A-Za-z0-9]+$/;
const STREAM_NAME = /^[^:*]*$/;

function constraint(value: unknown, member: string, what: string): never {
  const shown = typeof value === 'string' ? value : JSON.stringify(value);
  throw new InvalidParameterException(`1 validation error detected: Value '${shown}' at '${member}' failed to satisfy constraint: ${what}`);
}

function checkGroupName(name: string, member = 'logGroupName'): void {
  if (name.length < 1) constraint(name, member, 'Member must have length greater than or equal to 1');
  if (name.length > 512) constraint(name, member, 'Member must have length less than or equal to 512');
  if (!GROUP_NAME.test(name)) constraint(name, member, 'Member must satisfy regular expression pattern: [\\.\\-_/#A-Za-z0-9]+');
}

function checkStreamName(name: string, member = 'logStreamName'): void {
  if (name.length < 1) constraint(name, member, 'Member must have length greater than or equal to 1');
  if (name.length > 512) constraint(name, member, 'Member must have length less than or equal to 512');
  if (!STREAM_NAME.test(name)) constraint(name, member, 'Member must satisfy regular expression pattern: [^:*]*');
}

function checkLimit(limit: number | undefined, max: number, member = 'limit'): number | undefined {
  if (limit === undefined) return undefined;
  if (limit < 1) constraint(limit, member, 'Member must have value greater than or equal to 1');
  if (limit > max) constraint(limit, member, `Member must have value less than or equal to ${max}`);
  return limit;
}

const groupNotFound = () => new ResourceNotFoundException('The specified log group does not exist.');
const streamNotFound = () => new ResourceNotFoundException('The specified log stream does not exist.');

function requireGroup(ctx: LogsContext, name: string): LogGroupRecord {
  const g = ctx.logs.group(name);
  if (!g) throw groupNotFound();
  return g;
}

/** A log group named by `logGroupName` or `logGroupIdentifier` (a name or an ARN), never both. */
function groupFrom(ctx: LogsContext, input: { logGroupName?: string; logGroupIdentifier?: string }): LogGroupRecord {
  if (input.logGroupName !== undefined && input.logGroupIdentifier !== undefined) {
    throw new InvalidParameterException('LogGroup name and LogGroup ARN are mutually exclusive parameters.');
  }
  const ref = input.logGroupName ?? input.logGroupIdentifier;
  if (ref === undefined) throw new InvalidParameterException('Should provide either a log group name or a log group ARN.');
  return requireGroup(ctx, groupNameFromRef(ref));
}

/** The group name in `arn:aws:logs:<region>:<account>:log-group:<name>[:*]`, or the reference itself. */
function groupNameFromRef(ref: string): string {
  const m = /^arn:aws[a-z-]*:logs:[a-z0-9-]*:\d*:log-group:(.+?)(?::\*)?$/.exec(ref);
  return m ? m[1]! : ref;
}

function utf8Bytes(s: string): number {
  return Buffer.byteLength(s, 'utf8');
}

// ---------------------------------------------------------------------------
// Log groups

export function createLogGroup(ctx: LogsContext, input: I.CreateLogGroupInput): Promise<Record<string, never>> {
  checkGroupName(input.logGroupName);
  checkTags(input.tags ?? {}, 'tags');
  if (input.logGroupClass === 'DELIVERY') throw new InvalidParameterException('DELIVERY log groups are created by the delivery service only.');
  const created = ctx.logs.createGroup({
    name: input.logGroupName,
    createdAt: ctx.now(),
    logGroupClass: input.logGroupClass ?? 'STANDARD',
    tags: { ...(input.tags ?? {}) },
  });
  if (!created) throw new ResourceAlreadyExistsException('The specified log group already exists');
  return Promise.resolve({});
}

/** A group as DescribeLogGroups shows it. */
export function describeGroup(ctx: LogsContext, g: LogGroupRecord): Record<string, unknown> {
  const arn = logGroupArn(ctx.region, ctx.accountId, g.name);
  return {
    logGroupName: g.name,
    creationTime: g.createdAt,
    ...(g.retentionInDays !== undefined ? { retentionInDays: g.retentionInDays } : {}),
    metricFilterCount: 0,
    arn: `${arn}:*`,
    storedBytes: g.storedBytes,
    logGroupClass: g.logGroupClass,
    logGroupArn: arn,
    deletionProtectionEnabled: false,
  };
}

export function describeLogGroups(ctx: LogsContext, input: I.DescribeLogGroupsInput): Promise<unknown> {
  if (input.logGroupNamePrefix !== undefined && input.logGroupNamePattern !== undefined) {
    throw new InvalidParameterException('LogGroupNamePrefix and LogGroupNamePattern are mutually exclusive parameters.');
  }
  if (input.logGroupNamePrefix !== undefined) checkGroupName(input.logGroupNamePrefix, 'logGroupNamePrefix');
  if (input.logGroupNamePattern !== undefined && !/^[.\-_/#A-Za-z0-9]*$/.test(input.logGroupNamePattern)) {
    constraint(input.logGroupNamePattern, 'logGroupNamePattern', 'Member must satisfy regular expression pattern: [\\.\\-_/#A-Za-z0-9]*');
  }
  const limit = checkLimit(input.limit, 50) ?? 50;
  const scope = `logs:groups:${input.logGroupNamePrefix ?? ''}:${input.logGroupNamePattern ?? ''}`;
  const after = decodeToken<string>(scope, input.nextToken);
  const pattern = input.logGroupNamePattern?.toLowerCase();
  const identifiers = input.logGroupIdentifiers?.map(groupNameFromRef);
  const filter = (name: string): boolean =>
    (pattern === undefined || name.toLowerCase().includes(pattern)) &&
    (identifiers === undefined || identifiers.includes(name));
  const page = ctx.logs.listGroups({
    ...(input.logGroupNamePrefix !== undefined ? { prefix: input.logGroupNamePrefix } : {}),
    ...(after !== undefined ? { after } : {}),
    limit: limit + 1,
    filter: (name) => filter(name),
  });
  const groups = page.filter((g) => input.logGroupClass === undefined || g.logGroupClass === input.logGroupClass);
  const shown = groups.slice(0, limit);
  return Promise.resolve({
    logGroups: shown.map((g) => describeGroup(ctx, g)),
    ...(page.length > limit ? { nextToken: encodeToken(scope, shown[shown.length - 1]!.name) } : {}),
  });
}

export function deleteLogGroup(ctx: LogsContext, input: I.LogGroupNameInput): Promise<Record<string, never>> {
  checkGroupName(input.logGroupName);
  ctx.logs.deleteGroup(requireGroup(ctx, input.logGroupName).id);
  return Promise.resolve({});
}

export function putRetentionPolicy(ctx: LogsContext, input: I.PutRetentionPolicyInput): Promise<Record<string, never>> {
  checkGroupName(input.logGroupName);
  if (!(RETENTION_DAYS as readonly number[]).includes(input.retentionInDays)) {
    constraint(input.retentionInDays, 'retentionInDays', `Member must satisfy enum value set: [${RETENTION_DAYS.join(', ')}]`);
  }
  ctx.logs.setRetention(requireGroup(ctx, input.logGroupName).id, input.retentionInDays);
  return Promise.resolve({});
}

export function deleteRetentionPolicy(ctx: LogsContext, input: I.LogGroupNameInput): Promise<Record<string, never>> {
  checkGroupName(input.logGroupName);
  ctx.logs.setRetention(requireGroup(ctx, input.logGroupName).id, undefined);
  return Promise.resolve({});
}

// ---------------------------------------------------------------------------
// Tags

const MAX_TAGS = 50;

function checkTags(tags: Record<string, string>, member: string): void {
  for (const [k, v] of Object.entries(tags)) {
    if (k.length < 1 || k.length > 128) constraint(k, `${member}.key`, 'Member must have length less than or equal to 128');
    if (k.startsWith('aws:')) throw new InvalidParameterException('Tag keys prefixed with aws: are reserved for AWS use.');
    if (v.length > 256) constraint(v, `${member}.value`, 'Member must have length less than or equal to 256');
  }
  if (Object.keys(tags).length > MAX_TAGS) throw new TooManyTagsException(`A resource can have no more than ${MAX_TAGS} tags.`);
}

/** The group a tagging ARN names (`arn:aws:logs:<region>:<account>:log-group:<name>`). */
function groupFromArn(ctx: LogsContext, arn: string): LogGroupRecord {
  const m = /^arn:aws[a-z-]*:logs:([a-z0-9-]+):(\d{12}):log-group:(.+?)(?::\*)?$/.exec(arn);
  if (!m) throw new InvalidParameterException(`Invalid resource ARN: ${arn}`);
  if (m[1] !== ctx.region || m[2] !== ctx.accountId) throw groupNotFound();
  return requireGroup(ctx, m[3]!);
}

function addTags(ctx: LogsContext, g: LogGroupRecord, tags: Record<string, string>, member: string): void {
  checkTags(tags, member);
  const merged = { ...g.tags, ...tags };
  if (Object.keys(merged).length > MAX_TAGS) throw new TooManyTagsException(`A resource can have no more than ${MAX_TAGS} tags.`);
  ctx.logs.setTags(g.id, merged);
}

function removeTags(ctx: LogsContext, g: LogGroupRecord, keys: readonly string[]): void {
  const left = { ...g.tags };
  for (const k of keys) delete left[k];
  ctx.logs.setTags(g.id, left);
}

export function tagResource(ctx: LogsContext, input: I.TagResourceInput): Promise<Record<string, never>> {
  addTags(ctx, groupFromArn(ctx, input.resourceArn), input.tags, 'tags');
  return Promise.resolve({});
}

export function untagResource(ctx: LogsContext, input: I.UntagResourceInput): Promise<Record<string, never>> {
  removeTags(ctx, groupFromArn(ctx, input.resourceArn), input.tagKeys);
  return Promise.resolve({});
}

export function listTagsForResource(ctx: LogsContext, input: I.ResourceArnInput): Promise<unknown> {
  return Promise.resolve({ tags: groupFromArn(ctx, input.resourceArn).tags });
}

export function tagLogGroup(ctx: LogsContext, input: I.TagLogGroupInput): Promise<Record<string, never>> {
  addTags(ctx, requireGroup(ctx, input.logGroupName), input.tags, 'tags');
  return Promise.resolve({});
}

export function untagLogGroup(ctx: LogsContext, input: I.UntagLogGroupInput): Promise<Record<string, never>> {
  removeTags(ctx, requireGroup(ctx, input.logGroupName), input.tags);
  return Promise.resolve({});
}

export function listTagsLogGroup(ctx: LogsContext, input: I.LogGroupNameInput): Promise<unknown> {
  return Promise.resolve({ tags: requireGroup(ctx, input.logGroupName).tags });
}

// ---------------------------------------------------------------------------
// Log streams

export function createLogStream(ctx: LogsContext, input: I.LogStreamInput): Promise<Record<string, never>> {
  checkGroupName(input.logGroupName);
  checkStreamName(input.logStreamName);
  const g = requireGroup(ctx, input.logGroupName);
  if (!ctx.logs.createStream(g.id, input.logStreamName, ctx.now())) {
    throw new ResourceAlreadyExistsException('The specified log stream already exists');
  }
  return Promise.resolve({});
}

export function deleteLogStream(ctx: LogsContext, input: I.LogStreamInput): Promise<Record<string, never>> {
  checkGroupName(input.logGroupName);
  checkStreamName(input.logStreamName);
  const g = requireGroup(ctx, input.logGroupName);
  const s = ctx.logs.stream(g.id, input.logStreamName);
  if (!s) throw streamNotFound();
  ctx.logs.deleteStream(s);
  return Promise.resolve({});
}

function describeStream(ctx: LogsContext, g: LogGroupRecord, s: LogStreamRecord): Record<string, unknown> {
  return {
    logStreamName: s.name,
    creationTime: s.createdAt,
    ...(s.firstEventTimestamp !== undefined ? { firstEventTimestamp: s.firstEventTimestamp } : {}),
    ...(s.lastEventTimestamp !== undefined ? { lastEventTimestamp: s.lastEventTimestamp } : {}),
    ...(s.lastIngestionTime !== undefined ? { lastIngestionTime: s.lastIngestionTime } : {}),
    arn: `${logGroupArn(ctx.region, ctx.accountId, g.name)}:log-stream:${s.name}`,
    storedBytes: s.storedBytes,
  };
}

export function describeLogStreams(ctx: LogsContext, input: I.DescribeLogStreamsInput): Promise<unknown> {
  const g = groupFrom(ctx, input);
  const orderBy = input.orderBy ?? 'LogStreamName';
  if (orderBy === 'LastEventTime' && input.logStreamNamePrefix !== undefined) {
    throw new InvalidParameterException('Cannot order by LastEventTime with a logStreamNamePrefix.');
  }
  if (input.logStreamNamePrefix !== undefined) checkStreamName(input.logStreamNamePrefix, 'logStreamNamePrefix');
  const limit = checkLimit(input.limit, 50) ?? 50;
  const descending = input.descending === true;
  const scope = `logs:streams:${g.id}:${orderBy}:${descending}:${input.logStreamNamePrefix ?? ''}`;
  const after = decodeToken<{ name: string; lastEvent?: number }>(scope, input.nextToken);
  const page = ctx.logs.listStreams({
    groupId: g.id,
    orderBy,
    descending,
    ...(input.logStreamNamePrefix !== undefined ? { prefix: input.logStreamNamePrefix } : {}),
    ...(after ? { after } : {}),
    limit: limit + 1,
  });
  const shown = page.slice(0, limit);
  const last = shown[shown.length - 1];
  return Promise.resolve({
    logStreams: shown.map((s) => describeStream(ctx, g, s)),
    ...(page.length > limit && last
      ? { nextToken: encodeToken(scope, { name: last.name, ...(last.lastEventTimestamp !== undefined ? { lastEvent: last.lastEventTimestamp } : {}) }) }
      : {}),
  });
}

// ---------------------------------------------------------------------------
// PutLogEvents

export interface RejectedLogEventsInfo {
  tooNewLogEventStartIndex?: number;
  tooOldLogEventEndIndex?: number;
  expiredLogEventEndIndex?: number;
}

/**
 * Checks a PutLogEvents batch against CloudWatch Logs' limits and splits off
 * the events it would not store: returns the accepted index range and the
 * rejection info. Pure (tests call it directly).
 */
export function screenBatch(
  events: readonly { timestamp: number; message: string }[],
  now: number,
  retentionInDays: number | undefined,
): { accept: [number, number]; bytes: number[]; rejected?: RejectedLogEventsInfo } {
  if (events.length < 1) constraint('[]', 'logEvents', 'Member must have length greater than or equal to 1');
  if (events.length > PUT_LIMITS.maxEvents) {
    throw new InvalidParameterException(`1 validation error detected: Value at 'logEvents' failed to satisfy constraint: Member must have length less than or equal to ${PUT_LIMITS.maxEvents}`);
  }
  const bytes: number[] = [];
  let total = 0;
  for (let i = 0; i < events.length; i++) {
    const e = events[i]!;
    if (e.message.length < 1) constraint('', `logEvents.${i + 1}.member.message`, 'Member must have length greater than or equal to 1');
    const b = utf8Bytes(e.message) + PUT_LIMITS.eventOverheadBytes;
    if (b > PUT_LIMITS.maxEventBytes) throw new InvalidParameterException(`Log event too large: ${b} bytes exceeds limit of ${PUT_LIMITS.maxEventBytes}`);
    bytes.push(b);
    total += b;
    if (i > 0 && e.timestamp < events[i - 1]!.timestamp) {
      throw new InvalidParameterException('Log events in a single PutLogEvents request must be in chronological order.');
    }
  }
  if (total > PUT_LIMITS.maxBatchBytes) throw new InvalidParameterException(`Upload too large: ${total} bytes exceeds limit of ${PUT_LIMITS.maxBatchBytes}`);
  if (events[events.length - 1]!.timestamp - events[0]!.timestamp > PUT_LIMITS.maxSpanMs) {
    throw new InvalidParameterException('The batch of log events in a single PutLogEvents request cannot span more than 24 hours.');
  }
  const tooOldBefore = now - PUT_LIMITS.maxAgeMs;
  const expiredBefore = retentionInDays !== undefined ? retentionCutoff(retentionInDays, now) : -Infinity;
  const tooNewAfter = now + PUT_LIMITS.maxFutureMs;
  let start = 0;
  let end = events.length;
  const rejected: RejectedLogEventsInfo = {};
  // Events are in order: the too old and expired ones lead, the too new ones trail.
  while (start < end && (events[start]!.timestamp < tooOldBefore || events[start]!.timestamp < expiredBefore)) {
    if (events[start]!.timestamp < expiredBefore) rejected.expiredLogEventEndIndex = start;
    else rejected.tooOldLogEventEndIndex = start;
    start++;
  }
  while (end > start && events[end - 1]!.timestamp > tooNewAfter) {
    end--;
    rejected.tooNewLogEventStartIndex = end;
  }
  return { accept: [start, end], bytes, ...(Object.keys(rejected).length ? { rejected } : {}) };
}

export function putLogEvents(ctx: LogsContext, input: I.PutLogEventsInput): Promise<unknown> {
  checkGroupName(input.logGroupName);
  checkStreamName(input.logStreamName);
  const g = requireGroup(ctx, input.logGroupName);
  const s = ctx.logs.stream(g.id, input.logStreamName);
  if (!s) throw streamNotFound();
  const now = ctx.now();
  // Sequence tokens are accepted and ignored, as CloudWatch Logs does since 2023.
  const { accept, bytes, rejected } = screenBatch(input.logEvents, now, g.retentionInDays);
  const stored: { timestamp: number; message: string; bytes: number }[] = [];
  for (let i = accept[0]; i < accept[1]; i++) {
    const e = input.logEvents[i]!;
    stored.push({ timestamp: e.timestamp, message: e.message, bytes: bytes[i]! });
  }
  ctx.logs.append(s, stored, now);
  return Promise.resolve({
    nextSequenceToken: String(now).padStart(56, '0'),
    ...(rejected ? { rejectedLogEventsInfo: rejected } : {}),
  });
}

// ---------------------------------------------------------------------------
// GetLogEvents

/** The place before every event. */
const ORIGIN: Position = { timestamp: -1, seq: 0 };

/** `f/<56 digits>/s` or `b/<56 digits>/s`, as CloudWatch Logs' tokens look. */
export function encodeEventToken(direction: 'f' | 'b', p: Position): string {
  return `${direction}/${String(p.timestamp + 1).padStart(20, '0')}${String(p.seq).padStart(20, '0')}${'0'.repeat(16)}/s`;
}

export function decodeEventToken(token: string): { direction: 'f' | 'b'; position: Position } {
  const m = /^([fb])\/(\d{20})(\d{20})\d{16}\/s$/.exec(token);
  if (!m) throw new InvalidParameterException('The specified nextToken is invalid.');
  return { direction: m[1] as 'f' | 'b', position: { timestamp: Number(m[2]) - 1, seq: Number(m[3]) } };
}

function outputEvent(e: StoredEvent): { timestamp: number; message: string; ingestionTime: number } {
  return { timestamp: e.timestamp, message: e.message, ingestionTime: e.ingestionTime };
}

export function getLogEvents(ctx: LogsContext, input: I.GetLogEventsInput): Promise<unknown> {
  const g = groupFrom(ctx, input);
  checkStreamName(input.logStreamName);
  const s = ctx.logs.stream(g.id, input.logStreamName);
  if (!s) throw streamNotFound();
  const limit = checkLimit(input.limit, READ_LIMITS.maxEvents) ?? READ_LIMITS.maxEvents;
  const token = input.nextToken !== undefined ? decodeEventToken(input.nextToken) : undefined;
  const direction = token ? (token.direction === 'f' ? 'forward' : 'backward') : input.startFromHead === true ? 'forward' : 'backward';
  const range = {
    ...(input.startTime !== undefined ? { startTime: input.startTime } : {}),
    ...(input.endTime !== undefined ? { endTime: input.endTime } : {}),
    ...(token ? { from: token.position } : {}),
    direction,
  } as const;
  const picked: StoredEvent[] = [];
  let bytes = 0;
  for (const e of ctx.logs.streamEvents(s.id, range)) {
    const b = utf8Bytes(e.message) + PUT_LIMITS.eventOverheadBytes;
    if (picked.length >= limit || bytes + b > READ_LIMITS.maxBytes) break;
    picked.push(e);
    bytes += b;
  }
  if (direction === 'backward') picked.reverse();
  const first = picked[0];
  const last = picked[picked.length - 1];
  let forward: string;
  let backward: string;
  if (first && last) {
    forward = encodeEventToken('f', last);
    backward = encodeEventToken('b', first);
  } else if (token) {
    // Nothing further that way: the same token again, and the other way from the same place.
    forward = token.direction === 'f' ? input.nextToken! : encodeEventToken('f', { timestamp: token.position.timestamp, seq: token.position.seq - 1 });
    backward = token.direction === 'b' ? input.nextToken! : encodeEventToken('b', { timestamp: token.position.timestamp, seq: token.position.seq + 1 });
  } else {
    forward = encodeEventToken('f', ORIGIN);
    backward = encodeEventToken('b', ORIGIN);
  }
  return Promise.resolve({ events: picked.map(outputEvent), nextForwardToken: forward, nextBackwardToken: backward });
}

// ---------------------------------------------------------------------------
// FilterLogEvents

/** Events one FilterLogEvents call reads at most before it answers with a nextToken to go on from. */
export const FILTER_SCAN_BUDGET = 250_000;

export function filterLogEvents(ctx: LogsContext, input: I.FilterLogEventsInput, scanBudget = FILTER_SCAN_BUDGET): Promise<unknown> {
  const g = groupFrom(ctx, input);
  if (input.logStreamNames !== undefined && input.logStreamNamePrefix !== undefined) {
    throw new InvalidParameterException('logStreamNames and logStreamNamePrefix are mutually exclusive parameters.');
  }
  if (input.logStreamNames !== undefined) {
    if (input.logStreamNames.length < 1) constraint('[]', 'logStreamNames', 'Member must have length greater than or equal to 1');
    if (input.logStreamNames.length > 100) constraint('[...]', 'logStreamNames', 'Member must have length less than or equal to 100');
  }
  const limit = checkLimit(input.limit, READ_LIMITS.maxEvents) ?? READ_LIMITS.maxEvents;
  if (input.startTime !== undefined && input.endTime !== undefined && input.endTime < input.startTime) {
    throw new InvalidParameterException('endTime must be greater than or equal to startTime.');
  }
  const filter = compileFilterPattern(input.filterPattern);
  const scope = `logs:filter:${g.id}`;
  const from = decodeToken<Position>(scope, input.nextToken);

  const names = ctx.logs.streamNames(g.id, input.logStreamNamePrefix);
  let wanted: Set<number> | undefined;
  if (input.logStreamNames !== undefined || input.logStreamNamePrefix !== undefined) {
    const allowed = input.logStreamNames ? new Set(input.logStreamNames) : undefined;
    wanted = new Set([...names].filter(([, n]) => !allowed || allowed.has(n)).map(([id]) => id));
    if (input.logStreamNames && wanted.size === 0) throw streamNotFound();
  }

  const events: Record<string, unknown>[] = [];
  let bytes = 0;
  let scanned = 0;
  let lastSeen: Position | undefined;
  let more = false;
  if (wanted === undefined || wanted.size > 0) {
    const rows = ctx.logs.groupEvents(
      g.id,
      {
        ...(input.startTime !== undefined ? { startTime: input.startTime } : {}),
        ...(input.endTime !== undefined ? { endTime: input.endTime + 1 } : {}),
        ...(from ? { from } : {}),
        direction: 'forward',
      },
      filter.prefilter,
    );
    for (const e of rows) {
      if (scanned >= scanBudget) {
        more = true;
        break;
      }
      scanned++;
      if (wanted && !wanted.has(e.streamId)) {
        lastSeen = e;
        continue;
      }
      if (!filter.matches(e.message)) {
        lastSeen = e;
        continue;
      }
      const b = utf8Bytes(e.message) + PUT_LIMITS.eventOverheadBytes;
      if (events.length >= limit || bytes + b > READ_LIMITS.maxBytes) {
        more = true;
        break;
      }
      events.push({
        logStreamName: names.get(e.streamId) ?? ctx.logs.streamById(e.streamId)?.name ?? '',
        timestamp: e.timestamp,
        message: e.message,
        ingestionTime: e.ingestionTime,
        eventId: `${String(e.timestamp).padStart(20, '0')}${String(e.seq).padStart(36, '0')}`,
      });
      bytes += b;
      lastSeen = e;
    }
  }
  return Promise.resolve({
    events,
    searchedLogStreams: [],
    ...(more && lastSeen ? { nextToken: encodeToken(scope, { timestamp: lastSeen.timestamp, seq: lastSeen.seq }) } : {}),
  });
}
