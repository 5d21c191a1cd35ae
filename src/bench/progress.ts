/** One line per step on stderr: `[bench 12/96 01:23] label`. */
export class Progress {
  private done = 0;
  private readonly t0 = Date.now();

  constructor(private total: number, private readonly out: NodeJS.WritableStream = process.stderr) {}

  addTotal(n: number): void {
    this.total += n;
  }

  step(label: string): void {
    this.done++;
    this.line(`${this.done}/${Math.max(this.total, this.done)}`, label);
  }

  note(label: string): void {
    this.line('·', label);
  }

  private line(counter: string, label: string): void {
    const s = Math.round((Date.now() - this.t0) / 1000);
    const clock = `${String(Math.floor(s / 60)).padStart(2, '0')}:${String(s % 60).padStart(2, '0')}`;
    this.out.write(`[bench ${counter} ${clock}] ${label}\n`);
  }
}
