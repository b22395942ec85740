import { useContext } from "react";

import { DailyContext } from "../context";
import type { DailyCall } from "../types";

/** The call object passed to, or created by, the closest <DailyProvider> (null before). */
export const useDaily = (): DailyCall | null => useContext(DailyContext);
