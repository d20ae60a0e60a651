/**
 * A counting semaphore with FIFO waiters: the dirty-segment slots. A released slot is handed to
 * the oldest waiter directly, so a later tryAcquire() cannot overtake it.
 */
export class Slots {
  private free: number;
  private readonly waiters: (() => void)[] = [];

  constructor(readonly limit: number) {
    this.free = limit;
  }

  get inUse(): number {
    return this.limit - this.free;
  }

  get waiting(): number {
    return this.waiters.length;
  }

  tryAcquire(): boolean {
    if (this.free === 0 || this.waiters.length > 0) return false;
    this.free--;
    return true;
  }

  acquire(): Promise<void> {
    if (this.tryAcquire()) return Promise.resolve();
    return new Promise((resolve) => this.waiters.push(resolve));
  }

  release(): void {
    const next = this.waiters.shift();
    if (next) next();
    else if (this.free < this.limit) this.free++;
    else throw new Error('slot released twice');
  }
}
