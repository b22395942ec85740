import { useContext, useEffect, useState } from "react";

import { DailyEventContext } from "../context";
import type { DailyEvent, DailyEventObject } from "../types";

let nextKey = 1;

/**
 * Listens to a call-object event while the component is mounted
 * (https://docs.daily.co/reference/daily-react/use-daily-event). As in daily-react the
 * callback should be memoised (useCallback): a new function re-registers the listener.
 */
export const useDailyEvent = <E = DailyEventObject>(ev: DailyEvent, callback: (event: E) => void): void => {
  const { on, off } = useContext(DailyEventContext);
  const [key] = useState(() => nextKey++);
  useEffect(() => {
    if (!ev) return;
    on(ev, callback, key);
    return () => off(ev, key);
  }, [ev, callback, key, on, off]);
};
