/**
 * Keeps calls of one key (a channel's publishes, a node's messages) in the order they were made:
 * each starts once the one before it settled. A pool runs statements on several connections at once,
 * so without it two publishes called one after the other, neither awaited, could commit (and take
 * their offsets) the other way round. Different keys run in parallel.
 */
export class OrderedQueues {
  private readonly tails = new Map<string, Promise<unknown>>();

  run<T>(key: string, task: () => Promise<T>): Promise<T> {
    const before = this.tails.get(key);
    const result = before === undefined ? task() : before.then(task, task);
    const tail = result.catch(() => {});
    this.tails.set(key, tail);
    void tail.then(() => { if (this.tails.get(key) === tail) this.tails.delete(key); });
    return result;
  }
}
