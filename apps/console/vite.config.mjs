import { defineConfig } from 'vite';
import react from '@vitejs/plugin-react';

// The gateway serves the build at /console (services/gateway/src/console); the API is on the same
// origin under /v1. The build goes to dist/web, apart from dist/node (the pure modules compiled by
// tsc for the unit tests).
export default defineConfig({
  base: '/console/',
  plugins: [react()],
  build: {
    outDir: 'dist/web',
    emptyOutDir: true,
    // Inline nothing as data: URLs: the CSP allows data: for images only.
    assetsInlineLimit: 0,
  },
  server: {
    // `npx vite` in apps/console during development: the API of a gateway on its default port.
    proxy: { '/v1': process.env.FLEETCAST_GATEWAY_URL ?? 'http://127.0.0.1:8080' },
  },
});
