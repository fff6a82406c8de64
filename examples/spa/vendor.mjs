// Copies openapi-fetch's ES module next to the compiled app, where index.html's import
// map points the browser (no bundler needed).
import { copyFileSync, mkdirSync } from "node:fs";

mkdirSync("dist/vendor", { recursive: true });
copyFileSync("node_modules/openapi-fetch/dist/index.mjs", "dist/vendor/openapi-fetch.mjs");
