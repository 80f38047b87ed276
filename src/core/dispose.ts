// Deterministic disposal helpers on top of the standard `Symbol.dispose` protocol (`using x = ...`).
// Leaves out: GC finalizers (never relied on for big buffers) and async disposal.

/** Anything with a dispose() method, as Tensor, models and caches have. */
export interface DisposableLike {
  dispose(): void;
}

/** Collects disposables and disposes them in reverse order: `using bag = new DisposeBag(); bag.add(t)`. */
export class DisposeBag implements Disposable {
  private items: DisposableLike[] = [];

  add<T extends DisposableLike>(item: T): T {
    this.items.push(item);
    return item;
  }

  dispose(): void {
    const items = this.items;
    this.items = [];
    for (let i = items.length - 1; i >= 0; i--) items[i].dispose();
  }

  [Symbol.dispose](): void {
    this.dispose();
  }
}
