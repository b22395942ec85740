// Builds dist/: an ES module and a CommonJS build (esbuild), and the .d.ts files (tsc).
// React and the call-object package stay external: the app provides them.
import { execFileSync } from "node:child_process";
import { rmSync } from "node:fs";

import { build } from "esbuild";

rmSync("dist", { recursive: true, force: true });
const shared = {
  entryPoints: ["src/index.ts"],
  bundle: true,
  sourcemap: true,
  target: "es2020",
  jsx: "automatic",
  external: ["react", "react-dom", "react/jsx-runtime", "@openreplica/daily-js"],
  logLevel: "warning",
};
await build({ ...shared, format: "esm", outfile: "dist/index.mjs" });
await build({ ...shared, format: "cjs", outfile: "dist/index.cjs" });
execFileSync(process.execPath, ["node_modules/typescript/bin/tsc", "-p", "tsconfig.json", "--emitDeclarationOnly"], {
  stdio: "inherit",
});
