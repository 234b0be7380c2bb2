/**
 * Topological order of a task graph, or the first dependency loop found, listed in
 * order with its first task repeated at the end (so a user can follow it).
 */
export interface Graph {
  size: number;
  deps(i: number): Iterable<number>;
}

/** Dependencies before dependents; returns the loop instead when there is one. */
export function topoOrder(g: Graph): { order: number[] } | { cycle: number[] } {
  const state = new Uint8Array(g.size); // 0 new, 1 on the stack, 2 done
  const order: number[] = [];
  for (let root = 0; root < g.size; root++) {
    if (state[root]) continue;
    // iterative DFS: the stack holds [node, iterator over its deps]
    const stack: [number, Iterator<number>][] = [[root, g.deps(root)[Symbol.iterator]()]];
    state[root] = 1;
    while (stack.length) {
      const top = stack[stack.length - 1];
      const next = top[1].next();
      if (next.done) {
        state[top[0]] = 2;
        order.push(top[0]);
        stack.pop();
        continue;
      }
      const dep = next.value;
      if (state[dep] === 2) continue;
      if (state[dep] === 1) {
        // the loop is the stack from `dep` up to here, then `dep` again; show it
        // in dependency direction: a task, then what it depends on
        const from = stack.findIndex(([n]) => n === dep);
        const loop = stack.slice(from).map(([n]) => n);
        return { cycle: [...loop, dep] };
      }
      state[dep] = 1;
      stack.push([dep, g.deps(dep)[Symbol.iterator]()]);
    }
  }
  return { order };
}
