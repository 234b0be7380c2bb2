/**
 * Variable history: which file and line set or changed a variable, in order.
 * Only recorded when a store is created with `{ history: true }` (for `-e` and
 * `getvar --history`), so ordinary parsing pays nothing.
 */
export interface HistoryEvent {
  variable: string;
  op: string;
  file?: string;
  line?: number;
  detail?: string;
  flag?: string;
}

export class VariableHistory {
  private events: Map<string, HistoryEvent[]>;
  /** Lists shared with the store this one was copied from; copied before appending. */
  private shared: Set<string>;

  constructor(from?: VariableHistory) {
    this.events = from ? new Map(from.events) : new Map();
    this.shared = from ? new Set(from.events.keys()) : new Set();
    if (from) for (const k of from.events.keys()) from.shared.add(k);
  }

  copy(): VariableHistory {
    return new VariableHistory(this);
  }

  record(event: HistoryEvent): void {
    let list = this.events.get(event.variable);
    if (!list) {
      list = [];
      this.events.set(event.variable, list);
    } else if (this.shared.has(event.variable)) {
      list = [...list];
      this.events.set(event.variable, list);
      this.shared.delete(event.variable);
    }
    list.push(event);
  }

  rename(oldName: string, newName: string): void {
    const old = this.events.get(oldName);
    if (!old) return;
    for (const e of old) this.record({ ...e, variable: newName });
  }

  get(name: string): HistoryEvent[] {
    return [...(this.events.get(name) ?? [])];
  }
}
