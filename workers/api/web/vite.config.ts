import { defineConfig } from "vitest/config";
import vue from "@vitejs/plugin-vue";
import { fileURLToPath, URL } from "node:url";

// The workspace is served by the API under /app/ (see workers/api/routes/web.py).
export default defineConfig({
  base: "/app/",
  plugins: [vue()],
  resolve: { alias: { "@": fileURLToPath(new URL("./src", import.meta.url)) } },
  build: {
    outDir: "dist",
    emptyOutDir: true,
    chunkSizeWarningLimit: 1500,
    sourcemap: false,
  },
  server: {
    proxy: Object.fromEntries(
      ["/cases", "/me", "/events", "/metrics", "/registry", "/queue", "/map", "/dashboard", "/public", "/admin", "/healthz", "/readyz"].map(
        (p) => [p, { target: process.env.GRIDCASE_API ?? "http://127.0.0.1:8000", changeOrigin: false }],
      ),
    ),
  },
  test: {
    environment: "happy-dom",
    include: ["tests/unit/**/*.test.ts"],
  },
});
