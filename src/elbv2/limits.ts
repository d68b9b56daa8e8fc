/** DescribeAccountLimits: ELBv2's quotas, as Berth applies them. */
import { page } from './common.js';
import { LIMITS, type Elbv2Context } from './model.js';

export function describeAccountLimits(_ctx: Elbv2Context, input: { Marker?: string; PageSize?: number }): Promise<unknown> {
  const all = Object.entries(LIMITS).map(([Name, Max]) => ({ Name, Max: String(Max) }));
  const { items, next } = page(all, input.Marker, input.PageSize, 'DescribeAccountLimits');
  return Promise.resolve({ Limits: items, ...(next !== undefined ? { NextMarker: next } : {}) });
}
