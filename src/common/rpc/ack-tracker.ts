/**
 * Client-side acknowledgement: the highest request id such that every id <= it is finished
 * (reply received, or abandoned at its deadline or on close, after which the client ignores any
 * reply for it). The server drops cached replies <= ack, so ack must never pass an id the client
 * still waits for.
 */
export class AckTracker {
  private acked = 0;
  private readonly finishedAbove = new Set<number>();

  get ack(): number {
    return this.acked;
  }

  finish(id: number): void {
    if (id <= this.acked) return;
    if (id !== this.acked + 1) {
      this.finishedAbove.add(id);
      return;
    }
    this.acked = id;
    while (this.finishedAbove.delete(this.acked + 1)) this.acked++;
  }
}
