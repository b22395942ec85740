import type { ForwardedRef, RefCallback, RefObject } from "react";

/** One ref callback feeding a local ref and the caller's forwarded ref. */
export function mergeRefs<T>(local: RefObject<T | null>, forwarded: ForwardedRef<T>): RefCallback<T> {
  return (node: T | null) => {
    (local as { current: T | null }).current = node;
    if (typeof forwarded === "function") forwarded(node);
    else if (forwarded) forwarded.current = node;
  };
}
