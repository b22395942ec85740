// Classic-script entry (`<script src=".../openreplica.classic.js">`): defines Daily's
// globals `window.DailyIframe` and `window.Daily` (and `window.OpenReplica`), so a page
// written for daily-js's script tag runs unchanged.

import { createFactory } from "./factory.js";

const script = typeof document !== "undefined" ? document.currentScript : null;
const Daily = createFactory({ scriptUrl: script && script.src });

globalThis.DailyIframe = Daily;
globalThis.Daily = Daily;
globalThis.OpenReplica = Daily;
