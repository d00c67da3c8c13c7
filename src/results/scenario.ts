/**
 * A scenario as a run resolved it (every default applied, units in ms and bit/s) is part of the
 * results contract: summary.json and compare.json record it, and reports describe runs from it.
 * Its type is the scenario schema's output (src/scenario/schema.ts), defined there once.
 */
export {
  peakPlayersPerStream,
  type Scenario,
  type ServerSpec,
  type Stage,
  type ViewerGroup,
} from '../scenario/schema.js';
