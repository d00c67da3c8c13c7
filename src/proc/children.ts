/**
 * Processes a run started (servers under test, custom start commands), so that a run stopped
 * by Ctrl-C or a job runner's SIGTERM stops them too: each by its own PID, never by name.
 */

const live = new Set<() => void>();

/** Registers how to stop a child; returns the function that unregisters it (call it once the child is gone). */
export function trackChild(stop: () => void): () => void {
  live.add(stop);
  return () => live.delete(stop);
}

function stopTrackedChildren(): void {
  for (const stop of [...live]) {
    try {
      stop();
    } catch {
      /* already gone */
    }
  }
  live.clear();
}

let installed = false;

/** On SIGINT, SIGTERM or SIGHUP: stop the tracked children, then exit with 128 + the signal number. */
export function stopChildrenOnSignals(): void {
  if (installed) return;
  installed = true;
  const codes = { SIGHUP: 129, SIGINT: 130, SIGTERM: 143 } as const;
  for (const [signal, code] of Object.entries(codes)) {
    process.once(signal, () => {
      stopTrackedChildren();
      process.exit(code);
    });
  }
  process.once('exit', stopTrackedChildren);
}
