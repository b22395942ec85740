import { useCallback } from "react";

import type { DailyEventObjectAppMessage } from "../types";
import { useDaily } from "./useDaily";
import { useDailyEvent } from "./useDailyEvent";

export type SendAppMessage<Data = any> = (data: Data, to?: string) => void;

export interface UseAppMessageArgs<Data> {
  /** Called on every app-message; gets this hook's sendAppMessage too (as daily-react). */
  onAppMessage?(ev: DailyEventObjectAppMessage<Data>, sendAppMessage?: SendAppMessage<Data>): void;
}

/**
 * Listens to `app-message` and returns a `sendAppMessage(data, to = "*")`
 * (https://docs.daily.co/reference/daily-react/use-app-message). With openreplica the
 * messages are the conversation's protocol events and interactions.
 */
export const useAppMessage = <Data = any>({ onAppMessage }: UseAppMessageArgs<Data> = {}): SendAppMessage<Data> => {
  const daily = useDaily();
  const sendAppMessage = useCallback<SendAppMessage<Data>>(
    (data, to = "*") => {
      if (!daily) return;
      daily.sendAppMessage(data, to);
    },
    [daily],
  );
  useDailyEvent<DailyEventObjectAppMessage<Data>>(
    "app-message",
    useCallback((ev) => onAppMessage?.(ev, sendAppMessage), [onAppMessage, sendAppMessage]),
  );
  return sendAppMessage;
};
