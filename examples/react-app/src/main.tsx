import { createRoot } from "react-dom/client";

import { App } from "./App";

// ?server=http://127.0.0.1:8000 names the openreplica server (default: this page's origin).
const server = new URLSearchParams(location.search).get("server") ?? location.origin;
createRoot(document.getElementById("root") as HTMLElement).render(<App server={server} />);
