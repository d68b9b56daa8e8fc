/**
 * ECS account settings: PutAccountSetting, PutAccountSettingDefault,
 * DeleteAccountSetting and ListAccountSettings.
 *
 * A setting is stored per principal (kind `accountSetting`, one row per
 * principal and setting name, written only here). The value that applies
 * to a principal is its own setting, else the account default (the root
 * user's setting, which PutAccountSettingDefault writes), else ECS's
 * default (`SETTING_DEFAULTS`). Every request today acts as the account's
 * root user, the one identity Berth's credentials stand for.
 */
import { InvalidParameterException } from '../core/errors.js';
import { decodeToken, encodeToken, pageSize } from '../core/pagination.js';
import { withRetry, type Row, type StoreReader } from '../store/store.js';
import type { DomainContext } from './context.js';

export type SettingName =
  | 'awsvpcTrunking'
  | 'containerInsights'
  | 'containerInstanceLongArnFormat'
  | 'defaultLogDriverMode'
  | 'fargateEventWindows'
  | 'fargateFIPSMode'
  | 'fargateTaskRetirementWaitPeriod'
  | 'guardDutyActivate'
  | 'serviceLongArnFormat'
  | 'tagResourceAuthorization'
  | 'taskLongArnFormat';

/** ECS's default of each setting for an account that never set it, and the values a user may set. */
export const SETTING_DEFAULTS: Readonly<Record<SettingName, { value: string; allowed: readonly string[] }>> = {
  awsvpcTrunking: { value: 'disabled', allowed: ['enabled', 'disabled'] },
  containerInsights: { value: 'disabled', allowed: ['enabled', 'disabled', 'enhanced'] },
  containerInstanceLongArnFormat: { value: 'enabled', allowed: ['enabled', 'disabled'] },
  defaultLogDriverMode: { value: 'non-blocking', allowed: ['blocking', 'non-blocking'] },
  fargateEventWindows: { value: 'disabled', allowed: ['enabled', 'disabled'] },
  fargateFIPSMode: { value: 'disabled', allowed: ['enabled', 'disabled'] },
  fargateTaskRetirementWaitPeriod: { value: '7', allowed: ['0', '7', '14'] },
  guardDutyActivate: { value: 'off', allowed: [] },
  serviceLongArnFormat: { value: 'enabled', allowed: ['enabled', 'disabled'] },
  tagResourceAuthorization: { value: 'on', allowed: ['on', 'off'] },
  taskLongArnFormat: { value: 'enabled', allowed: ['enabled', 'disabled'] },
};

const SETTING_NAMES = (Object.keys(SETTING_DEFAULTS) as SettingName[]).sort();

/** Settings AWS manages on the account's behalf: readable, never written by users. */
const AWS_MANAGED: ReadonlySet<SettingName> = new Set(['guardDutyActivate']);

/** Settings only the root user may set (ECS: "You must use the root user when you set the Fargate wait time"). */
const ROOT_ONLY: ReadonlySet<SettingName> = new Set(['fargateTaskRetirementWaitPeriod']);

export interface Setting {
  name: SettingName;
  value: string;
  principalArn: string;
  type: 'user' | 'aws_managed';
}

const PRINCIPAL_RE = /^arn:aws[a-z-]*:iam::(\d{12}):(root|user\/.+|role\/.+)$/;

/** The account's root user. */
export function rootPrincipal(ctx: DomainContext): string {
  return `arn:aws:iam::${ctx.accountId}:root`;
}

function principalOf(ctx: DomainContext, principalArn: string | undefined): string {
  if (principalArn === undefined) return rootPrincipal(ctx);
  const m = PRINCIPAL_RE.exec(principalArn);
  if (!m) throw new InvalidParameterException(`Invalid principalArn '${principalArn.slice(0, 300)}': expected the ARN of an IAM user, role or the root user.`);
  if (m[1] !== ctx.accountId) throw new InvalidParameterException('principalArn must name a principal of this account.');
  return m[2] === 'root' ? rootPrincipal(ctx) : principalArn;
}

function settingName(name: string): SettingName {
  if (!(SETTING_NAMES as readonly string[]).includes(name)) throw new InvalidParameterException(`Invalid setting name '${name}'.`);
  return name as SettingName;
}

function rowArn(principalArn: string, name: SettingName): string {
  return `${principalArn}#${name}`;
}

function typeOf(name: SettingName): Setting['type'] {
  return AWS_MANAGED.has(name) ? 'aws_managed' : 'user';
}

/** The value of `name` that applies to `principalArn` (the caller's root user when absent). */
export async function effectiveSetting(ctx: DomainContext, reader: StoreReader, name: SettingName, principalArn = rootPrincipal(ctx)): Promise<string> {
  const own = await reader.get<Setting>('accountSetting', rowArn(principalArn, name));
  if (own) return own.doc.value;
  const root = principalArn === rootPrincipal(ctx) ? undefined : await reader.get<Setting>('accountSetting', rowArn(rootPrincipal(ctx), name));
  return root?.doc.value ?? SETTING_DEFAULTS[name].value;
}

async function put(ctx: DomainContext, nameIn: string, value: string, principalArn: string): Promise<{ setting: Setting }> {
  const name = settingName(nameIn);
  if (AWS_MANAGED.has(name)) throw new InvalidParameterException(`The ${name} account setting is managed by AWS and cannot be changed.`);
  if (ROOT_ONLY.has(name) && principalArn !== rootPrincipal(ctx)) {
    throw new InvalidParameterException(`The ${name} account setting can only be set for the root user.`);
  }
  const { allowed } = SETTING_DEFAULTS[name];
  if (!allowed.includes(value)) throw new InvalidParameterException(`Invalid value '${value}' for account setting ${name}. Valid values: ${allowed.join(', ')}.`);
  const setting: Setting = { name, value, principalArn, type: 'user' };
  await withRetry(ctx.store, async (tx) => {
    const arn = rowArn(principalArn, name);
    const existing = await tx.get<Setting>('accountSetting', arn);
    if (existing) await tx.update<Setting>('accountSetting', { ...existing, doc: setting });
    else await tx.insert<Setting>('accountSetting', { arn, cluster: '', name, status: 'ACTIVE', seq: 0, keys: { principal: principalArn }, doc: setting });
  });
  return { setting };
}

export function putAccountSetting(ctx: DomainContext, input: { name: string; value: string; principalArn?: string }) {
  return put(ctx, input.name, input.value, principalOf(ctx, input.principalArn));
}

export function putAccountSettingDefault(ctx: DomainContext, input: { name: string; value: string }) {
  return put(ctx, input.name, input.value, rootPrincipal(ctx));
}

/** Removes the principal's own setting; what applies to it then is the account default or ECS's. */
export async function deleteAccountSetting(ctx: DomainContext, input: { name: string; principalArn?: string }): Promise<{ setting: Setting }> {
  const name = settingName(input.name);
  if (AWS_MANAGED.has(name)) throw new InvalidParameterException(`The ${name} account setting is managed by AWS and cannot be changed.`);
  const principalArn = principalOf(ctx, input.principalArn);
  return withRetry(ctx.store, async (tx) => {
    const existing = await tx.get<Setting>('accountSetting', rowArn(principalArn, name));
    if (existing) await tx.remove('accountSetting', existing.arn, existing.version);
    const value = existing?.doc.value ?? (await effectiveSetting(ctx, tx, name, principalArn));
    return { setting: { name, value, principalArn, type: typeOf(name) } };
  });
}

export async function listAccountSettings(
  ctx: DomainContext,
  input: { name?: string; value?: string; principalArn?: string; effectiveSettings?: boolean; nextToken?: string; maxResults?: number },
): Promise<{ settings: Setting[]; nextToken?: string }> {
  const limit = pageSize(input.maxResults, 10, 10);
  if (input.value !== undefined && input.name === undefined) throw new InvalidParameterException('value can only be used together with name.');
  const name = input.name !== undefined ? settingName(input.name) : undefined;
  const principalArn = principalOf(ctx, input.principalArn);
  const effective = input.effectiveSettings === true;
  const scope = `ListAccountSettings:${JSON.stringify([name, input.value, principalArn, effective])}`;
  const after = decodeToken<string>(scope, input.nextToken);

  let all: Setting[];
  if (effective) {
    all = [];
    for (const n of name !== undefined ? [name] : SETTING_NAMES) {
      all.push({ name: n, value: await effectiveSetting(ctx, ctx.store, n, principalArn), principalArn, type: typeOf(n) });
    }
  } else {
    const rows: Row<Setting>[] = await ctx.store.find<Setting>('accountSetting', { where: { principal: principalArn }, ...(name !== undefined ? { name } : {}) });
    all = rows.map((r) => r.doc).sort((a, b) => (a.name < b.name ? -1 : 1));
  }
  const matching = all.filter((s) => input.value === undefined || s.value === input.value).filter((s) => after === undefined || s.name > after);
  const page = matching.slice(0, limit);
  const last = page[page.length - 1];
  return { settings: page, ...(matching.length > limit && last ? { nextToken: encodeToken(scope, last.name) } : {}) };
}
