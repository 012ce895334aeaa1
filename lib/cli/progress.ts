// A one-line progress bar (or, without totals, a spinner) on stderr, in msb's action-line shape
// (`   ⠋ Label        …`), redrawn at most 10 times a second and erased when done, so what stays on
// the terminal is exactly what msb prints. Shown only when stdout and stderr are terminals.
import { formatBytes, padEnd } from "./format";

const TICKS = ["⠋", "⠙", "⠹", "⠸", "⠼", "⠴", "⠦", "⠧", "⠇", "⠏"];
const BAR_WIDTH = 30;

export interface ProgressState {
  label: string;
  done: number;
  total: number;
  /** Bytes so far (shown when > 0). */
  bytes: number;
  /** What is counted, e.g. "files". */
  unit: string;
}

export class ProgressLine {
  #stream: NodeJS.WriteStream;
  #state: ProgressState | null = null;
  #tick = 0;
  #timer: NodeJS.Timeout | undefined;
  #drawn = false;

  constructor(stream: NodeJS.WriteStream) {
    this.#stream = stream;
    // Redraw on a timer so the spinner moves while the addon works on its own threads.
    this.#timer = setInterval(() => this.#draw(), 100);
    this.#timer.unref();
  }

  update(state: ProgressState): void {
    // Draw at once when a phase starts, then at most every 100 ms (the timer).
    const newPhase = this.#state === null || this.#state.label !== state.label;
    this.#state = state;
    if (newPhase) this.#draw();
  }

  #draw(): void {
    const s = this.#state;
    if (!s) return;
    const tick = TICKS[this.#tick++ % TICKS.length]!;
    let line = `   ${tick} ${padEnd(s.label, 12)} `;
    if (s.total > 0) {
      const frac = Math.min(1, s.done / s.total);
      const full = Math.round(frac * BAR_WIDTH);
      line += `${"━".repeat(full)}${"╌".repeat(BAR_WIDTH - full)} ${String(Math.floor(frac * 100)).padStart(3)}%  ${s.done.toLocaleString("en-US")}/${s.total.toLocaleString("en-US")} ${s.unit}`;
    } else if (s.done > 0) {
      line += `${s.done.toLocaleString("en-US")} ${s.unit}`;
    }
    if (s.bytes > 0) line += `  ${formatBytes(s.bytes)}`;
    const cols = this.#stream.columns || 80;
    if (line.length > cols - 1) line = line.slice(0, cols - 1);
    this.#stream.write(`\r\x1b[2K${line}`);
    this.#drawn = true;
  }

  /** Erases the line and stops redrawing. */
  stop(): void {
    if (this.#timer) clearInterval(this.#timer);
    this.#timer = undefined;
    if (this.#drawn) this.#stream.write("\r\x1b[2K");
    this.#drawn = false;
  }
}

/** A bar on stderr when both stdout and stderr are terminals and output is not quiet or JSON. */
export function makeProgress(enabled: boolean): ProgressLine | null {
  if (!enabled || !process.stderr.isTTY || !process.stdout.isTTY) return null;
  return new ProgressLine(process.stderr);
}
