/** The in-memory `SagaStore`: for tests and single-process use; everything is lost with the process. */
import type { SagaInstance, SagaListQuery, SagaStore } from "./instance.js";
import { listLimit } from "./list-query.js";

export class InMemorySagaStore implements SagaStore {
  private readonly rows = new Map<string, SagaInstance>();

  async insert(instance: SagaInstance): Promise<boolean> {
    const key = keyOf(instance.saga, instance.id);
    if (this.rows.has(key)) return false;
    this.rows.set(key, copy(instance));
    return true;
  }

  /** The instance as last stored; undefined when there is none. */
  async get(saga: string, id: string): Promise<SagaInstance | undefined> {
    const row = this.rows.get(keyOf(saga, id));
    return row === undefined ? undefined : copy(row);
  }

  async update(next: SagaInstance): Promise<boolean> {
    const key = keyOf(next.saga, next.id);
    const row = this.rows.get(key);
    if (row === undefined || row.revision !== next.revision - 1) return false;
    this.rows.set(key, copy(next));
    return true;
  }

  async list(query: SagaListQuery): Promise<SagaInstance[]> {
    const limit = listLimit(query);
    return [...this.rows.values()]
      .filter((row) => row.saga === query.saga)
      .filter((row) => query.status === undefined || row.status === query.status)
      .filter((row) => query.after === undefined || row.id > query.after)
      .sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0))
      .slice(0, limit)
      .map(copy);
  }
}

function keyOf(saga: string, id: string): string {
  return `${saga}\u0000${id}`;
}

/** Through JSON, as the other stores do: a caller's later mutation never reaches the stored copy. */
function copy(instance: SagaInstance): SagaInstance {
  return JSON.parse(JSON.stringify(instance)) as SagaInstance;
}
