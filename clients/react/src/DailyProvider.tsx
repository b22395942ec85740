import React, {
  type PropsWithChildren,
  useCallback,
  useEffect,
  useLayoutEffect,
  useMemo,
  useRef,
  useState,
} from "react";

import { DailyContext, DailyEventContext, type EventContextValue, StoreContext } from "./context";
import { createCallObject } from "./daily";
import { deepEqual } from "./equality";
import { CallStore, STORE_EVENTS } from "./store";
import type { DailyCall, DailyEvent, DailyFactoryOptions } from "./types";

/** daily-react's props: either a call object made by the app, or the props to create one
 * with (https://docs.daily.co/reference/daily-react/daily-provider). `jotaiStore` is
 * accepted and ignored: this package keeps its own store. */
export type DailyProviderProps =
  | ({ callObject: DailyCall | null; jotaiStore?: unknown } & Record<string, unknown>)
  | (DailyFactoryOptions & { callObject?: undefined; jotaiStore?: unknown });

type Handler = (ev: any) => void;

const STORE_EVENT_NAMES: ReadonlySet<string> = new Set(STORE_EVENTS);

/** Daily's event objects carry `action`; add it when a call object leaves it out. */
function withAction(name: string, ev: unknown): any {
  if (ev && typeof ev === "object") return "action" in ev ? ev : { ...ev, action: name };
  return { action: name };
}

/** The options object, kept identical while its contents stay equal (so a re-render with
 * an inline `{url}` does not recreate the call object). */
function useStableOptions(options: DailyFactoryOptions): DailyFactoryOptions {
  const ref = useRef(options);
  if (!deepEqual(ref.current, options)) ref.current = options;
  return ref.current;
}

/** A call object made from creation props, destroyed when the props change or the
 * provider unmounts (daily-react's useCallObject recreates it on changed props too). */
function useOwnCallObject(enabled: boolean, options: DailyFactoryOptions): DailyCall | null {
  const [call, setCall] = useState<DailyCall | null>(null);
  useEffect(() => {
    if (!enabled) return;
    const created = createCallObject({ ...options });
    setCall(created);
    return () => {
      setCall(null);
      void Promise.resolve(created.destroy ? created.destroy() : created.leave()).catch(() => undefined);
    };
  }, [enabled, options]);
  return call;
}

export const DailyProvider: React.FC<PropsWithChildren<DailyProviderProps>> = ({
  children,
  jotaiStore: _ignored,
  ...props
}) => {
  const external = "callObject" in props && props.callObject !== undefined;
  const { callObject: _external, ...factoryProps } = props as { callObject?: unknown } & DailyFactoryOptions;
  const options = useStableOptions(factoryProps);
  const own = useOwnCallObject(!external, options);
  const call = external ? ((props as { callObject: DailyCall | null }).callObject ?? null) : own;

  const store = useMemo(() => new CallStore(), []);
  const handlers = useRef(new Map<string, Map<number, Handler>>());
  const attached = useRef(new Map<string, Handler>());
  const current = useRef<DailyCall | null>(null);

  const dispatch = useCallback(
    (name: string, raw: unknown) => {
      const ev = withAction(name, raw);
      // The store first, so hooks' callbacks see state that already includes the event.
      if (STORE_EVENT_NAMES.has(name)) store.apply(name, ev);
      for (const callback of [...(handlers.current.get(name)?.values() ?? [])]) {
        try {
          callback(ev);
        } catch (err) {
          console.error(`DailyProvider: a "${name}" handler failed`, err);
        }
      }
    },
    [store],
  );

  const listen = useCallback(
    (target: DailyCall, name: string) => {
      if (attached.current.has(name)) return;
      const listener = (ev: unknown) => dispatch(name, ev);
      attached.current.set(name, listener);
      target.on(name, listener);
    },
    [dispatch],
  );

  // A layout effect: attached before any child's effect can join the call.
  useLayoutEffect(() => {
    current.current = call;
    store.attach(call);
    if (!call) return;
    for (const name of [...STORE_EVENTS, ...handlers.current.keys()]) listen(call, name);
    return () => {
      for (const [name, listener] of attached.current) call.off(name, listener);
      attached.current.clear();
      current.current = null;
    };
  }, [call, listen, store]);

  const events = useMemo<EventContextValue>(
    () => ({
      on(name: DailyEvent, callback: Handler, key: number) {
        let byKey = handlers.current.get(name);
        if (!byKey) handlers.current.set(name, (byKey = new Map()));
        byKey.set(key, callback);
        if (current.current) listen(current.current, name);
      },
      off(name: DailyEvent, key: number) {
        handlers.current.get(name)?.delete(key);
      },
    }),
    [listen],
  );

  // The devices list, once per call object (daily-react's DailyDevices does this on events).
  useEffect(() => {
    if (call) void store.refreshDevices();
  }, [call, store]);

  return (
    <DailyContext.Provider value={call}>
      <DailyEventContext.Provider value={events}>
        <StoreContext.Provider value={store}>{children}</StoreContext.Provider>
      </DailyEventContext.Provider>
    </DailyContext.Provider>
  );
};
