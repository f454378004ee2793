import { defineConfig, type Plugin } from "vitest/config";
import vue from "@vitejs/plugin-vue";
import { readdirSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath, URL } from "node:url";
import { brotliCompressSync, constants, gzipSync } from "node:zlib";

const TEXT = /\.(?:js|mjs|css|html|svg|json|txt|map)$/;

/**
 * Writes a gzip (``.gz``) and a Brotli (``.br``) copy next to each text file of the build, once,
 * at build time; the API sends the copy the browser accepts (workers/api/routes/web.py).
 */
function precompress(minBytes = 1024): Plugin {
  let outDir = "dist";
  return {
    name: "gridcase-precompress",
    apply: "build",
    configResolved(config) {
      outDir = config.build.outDir;
    },
    closeBundle() {
      const walk = (dir: string): string[] =>
        readdirSync(dir).flatMap((name) => {
          const path = join(dir, name);
          return statSync(path, { throwIfNoEntry: false })?.isDirectory() ? walk(path) : [path];
        });
      for (const file of walk(outDir)) {
        if (!TEXT.test(file)) continue;
        let body: Buffer;
        try {
          body = readFileSync(file);
        } catch (err) {
          if ((err as NodeJS.ErrnoException).code === "ENOENT") continue; // removed by a newer build meanwhile
          throw err;
        }
        if (body.length < minBytes) continue;
        writeFileSync(`${file}.gz`, gzipSync(body, { level: 9 }));
        writeFileSync(
          `${file}.br`,
          brotliCompressSync(body, {
            params: { [constants.BROTLI_PARAM_QUALITY]: 11, [constants.BROTLI_PARAM_SIZE_HINT]: body.length },
          }),
        );
      }
    },
  };
}

// The workspace is served by the API under /app/ (see workers/api/routes/web.py).
export default defineConfig({
  base: "/app/",
  plugins: [vue(), precompress()],
  resolve: { alias: { "@": fileURLToPath(new URL("./src", import.meta.url)) } },
  build: {
    outDir: "dist",
    emptyOutDir: true,
    chunkSizeWarningLimit: 1500,
    sourcemap: false,
  },
  server: {
    proxy: Object.fromEntries(
      ["/cases", "/me", "/events", "/metrics", "/registry", "/queue", "/units", "/map", "/dashboard", "/public", "/admin", "/healthz", "/readyz", "/openapi.json"].map(
        (p) => [p, { target: process.env.GRIDCASE_API ?? "http://127.0.0.1:8080", changeOrigin: false }],
      ),
    ),
  },
  test: {
    environment: "happy-dom",
    include: ["tests/unit/**/*.test.ts"],
  },
});
