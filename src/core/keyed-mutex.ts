/**
 * Runs async work one at a time per key: operations on one VM, shadow or storage target never
 * interleave, while different keys run concurrently.
 */
export class KeyedMutex {
  private tails = new Map<string, Promise<unknown>>();

  /**
   * Runs `fn` after every earlier `run` of the same key has settled (fulfilled or rejected),
   * and returns its result. A key's entry is dropped once its queue is empty.
   */
  run<T>(key: string, fn: () => Promise<T>): Promise<T> {
    const prev = this.tails.get(key) ?? Promise.resolve();
    const next = prev.then(fn, fn);
    const tail = next.then(
      () => undefined,
      () => undefined,
    );
    this.tails.set(key, tail);
    void tail.then(() => {
      if (this.tails.get(key) === tail) this.tails.delete(key);
    });
    return next;
  }
}
