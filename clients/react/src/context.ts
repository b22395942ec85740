import { createContext, useContext, useRef, useSyncExternalStore } from "react";

import { type CallStore, type StoreState, emptyState } from "./store";
import type { DailyCall, DailyEvent } from "./types";

/** The call object of the closest <DailyProvider> (useDaily). */
export const DailyContext = createContext<DailyCall | null>(null);

export interface EventContextValue {
  on(event: DailyEvent, callback: (ev: any) => void, key: number): void;
  off(event: DailyEvent, key: number): void;
}

/** Registers hook callbacks with the provider, which listens on the call object once per
 * event name (as daily-react does), so a handler never runs twice for one event. */
export const DailyEventContext = createContext<EventContextValue>({
  on: () => undefined,
  off: () => undefined,
});

export const StoreContext = createContext<CallStore | null>(null);

const EMPTY = emptyState();
const noSubscription = () => () => undefined;

/** Read a slice of the provider's store; re-renders only when `equal` says it changed. */
export function useStoreSelector<T>(
  selector: (state: StoreState) => T,
  equal: (a: T, b: T) => boolean = Object.is,
): T {
  const store = useContext(StoreContext);
  const last = useRef<{ value: T } | null>(null);
  const getSnapshot = (): T => {
    const next = selector(store ? store.getState() : EMPTY);
    if (last.current && equal(last.current.value, next)) return last.current.value;
    last.current = { value: next };
    return next;
  };
  return useSyncExternalStore(store ? store.subscribe : noSubscription, getSnapshot, getSnapshot);
}
