/**
 * Where <DailyProvider> gets call objects when it is given creation props instead of a
 * `callObject`: openreplica's Daily-compatible call object (clients/js). daily-react does
 * the same with `@daily-co/daily-js` (`Daily.createCallObject(options)`).
 */
import Daily from "@openreplica/daily-js";

import type { DailyCall, DailyFactoryOptions } from "./types";

export function createCallObject(options: DailyFactoryOptions): DailyCall {
  return Daily.createCallObject(options) as DailyCall;
}
