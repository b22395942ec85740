import { createRoot } from "react-dom/client";

import { App } from "./App";

// ?server=http://127.0.0.1:8000 names the openreplica server (default: this page's origin);
// ?callObject=1 makes the app create the call object itself.
const query = new URLSearchParams(location.search);
const server = query.get("server") ?? location.origin;
createRoot(document.getElementById("root") as HTMLElement).render(
  <App server={server} ownCallObject={query.get("callObject") === "1"} />,
);
