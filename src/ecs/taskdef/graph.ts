/**
 * Cycle detection for the container graphs of a task definition
 * (`dependsOn` and `links`).
 */

/**
 * Returns one cycle of the directed graph as the list of nodes along it,
 * starting and ending with the same node (for example `['a', 'b', 'a']`), or
 * `undefined` when the graph is acyclic. Edges to unknown nodes are ignored.
 * Nodes are visited in the given order, so the answer is deterministic.
 */
export function findCycle(nodes: readonly string[], edges: ReadonlyMap<string, readonly string[]>): string[] | undefined {
  const known = new Set(nodes);
  const state = new Map<string, 'visiting' | 'done'>();
  const path: string[] = [];

  const visit = (node: string): string[] | undefined => {
    const s = state.get(node);
    if (s === 'done') return undefined;
    if (s === 'visiting') return [...path.slice(path.indexOf(node)), node];
    state.set(node, 'visiting');
    path.push(node);
    for (const next of edges.get(node) ?? []) {
      if (!known.has(next)) continue;
      const cycle = visit(next);
      if (cycle) return cycle;
    }
    path.pop();
    state.set(node, 'done');
    return undefined;
  };

  for (const node of nodes) {
    const cycle = visit(node);
    if (cycle) return cycle;
  }
  return undefined;
}
