// Build the two bundles with esbuild and place them where the server serves them:
//   dist/openreplica.js          ES module (readable; the server's /static/openreplica.js)
//   dist/openreplica.classic.js  classic <script> build (minified; window.DailyIframe, window.Daily)
// `node build.mjs` writes dist/ and copies both into src/openreplica/server/static/ (so
// `pip install openreplica` needs no Node); `node build.mjs --check` rebuilds in memory
// and fails when the committed static files differ from the sources.

import { build } from "esbuild";
import { mkdir, readFile, writeFile } from "node:fs/promises";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const here = dirname(fileURLToPath(import.meta.url));
const pkg = JSON.parse(await readFile(join(here, "package.json"), "utf8"));
const STATIC = join(here, "..", "..", "src", "openreplica", "server", "static");
const banner = `/* ${pkg.name} ${pkg.version} — a daily-js compatible client for openreplica. Built from clients/js with esbuild; do not edit. */`;

const common = { bundle: true, write: false, target: ["es2020"], banner: { js: banner }, legalComments: "none", charset: "utf8", logLevel: "warning" };
const bundles = [
  { file: "openreplica.js", options: { entryPoints: [join(here, "src/index.js")], format: "esm", minify: false } },
  { file: "openreplica.classic.js", options: { entryPoints: [join(here, "src/classic.js")], format: "iife", minify: true } },
];

async function render() {
  const out = {};
  for (const { file, options } of bundles) {
    const result = await build({ ...common, ...options });
    out[file] = result.outputFiles[0].text;
  }
  return out;
}

const outputs = await render();
if (process.argv.includes("--check")) {
  let stale = [];
  for (const [file, text] of Object.entries(outputs)) {
    let committed = null;
    try {
      committed = await readFile(join(STATIC, file), "utf8");
    } catch (_) {}
    if (committed !== text) stale.push(file);
  }
  if (stale.length) {
    console.error(`stale: ${stale.join(", ")} in src/openreplica/server/static differ from clients/js/src; run \`npm run build\` in clients/js`);
    process.exit(1);
  }
  console.log("static bundles match the sources");
} else {
  await mkdir(join(here, "dist"), { recursive: true });
  for (const [file, text] of Object.entries(outputs)) {
    await writeFile(join(here, "dist", file), text);
    await writeFile(join(STATIC, file), text);
    console.log(`${file}: ${text.length} bytes`);
  }
}
