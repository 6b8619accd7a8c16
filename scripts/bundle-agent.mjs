// Bundle the device agent into one ES module for device images:
//   node scripts/bundle-agent.mjs [OUT]   (default dist-agent/pendulum-agent.mjs)
// The bundle needs only Node.js 20 and runs with `node OUT agent --config FILE`.
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const out = resolve(process.argv[2] ?? resolve(root, 'dist-agent/pendulum-agent.mjs'));

await build({
  entryPoints: [resolve(root, 'src/device/bin.ts')],
  outfile: out,
  bundle: true,
  platform: 'node',
  target: 'node20',
  format: 'esm',
  minify: true,
  legalComments: 'linked',
  logLevel: 'warning',
  // CommonJS dependencies (grpc-js) call require() for Node's built-in modules.
  banner: {
    js: "import { createRequire as pendulumCreateRequire } from 'node:module'; const require = pendulumCreateRequire(import.meta.url);",
  },
});
console.log(out);
