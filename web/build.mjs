// Builds the portal into dist/: TypeScript type check, then esbuild bundles
// src/main.tsx (and the CSS it imports) into dist/assets/ under names that carry
// a hash of their content, and writes dist/index.html naming them. Only
// index.html keeps a fixed name: pbxd serves it "no-cache" and everything under
// assets/ as immutable for a year (src/api/static.c).
//
//   node build.mjs            build when a source changed since the last build
//   node build.mjs --force    build anyway
//   node build.mjs --no-check skip the type check (esbuild alone)
import { build } from "esbuild";
import { execFileSync } from "node:child_process";
import { existsSync, mkdirSync, readFileSync, readdirSync, renameSync, rmSync, statSync, writeFileSync } from "node:fs";
import { dirname, join, relative } from "node:path";
import { fileURLToPath } from "node:url";

const here = dirname(fileURLToPath(import.meta.url));
const src = join(here, "src");
const dist = join(here, "dist");
const stamp = join(dist, ".stamp");
const args = new Set(process.argv.slice(2));

function newest(path) {
  const st = statSync(path);
  if (!st.isDirectory()) return st.mtimeMs;
  return Math.max(st.mtimeMs, ...readdirSync(path).map((n) => newest(join(path, n))));
}

const inputs = [src, join(here, "build.mjs"), join(here, "package-lock.json"), join(here, "tsconfig.json")];
if (!args.has("--force") && existsSync(stamp) && existsSync(join(dist, "index.html"))) {
  const built = statSync(stamp).mtimeMs;
  if (inputs.every((p) => newest(p) <= built)) {
    console.log("web: dist/ is up to date");
    process.exit(0);
  }
}

if (!args.has("--no-check")) {
  const tsc = join(here, "node_modules", "typescript", "bin", "tsc");
  execFileSync(process.execPath, [tsc, "--noEmit", "-p", here], { stdio: "inherit" });
}

// Built beside dist/ and swapped in whole, so pbxd never serves half a build.
const tmp = join(here, "dist.tmp");
rmSync(tmp, { recursive: true, force: true });
mkdirSync(join(tmp, "assets"), { recursive: true });
// Two pages, each its own bundle: the portal (/) and the browser phone
// (/phone/, docs/web.md), which pbxd serves from dist/phone/index.html.
const pages = [
  { name: "main", entry: join(src, "main.tsx"), html: join(src, "index.html"), out: "index.html" },
  { name: "phone", entry: join(src, "phone", "main.tsx"), html: join(src, "phone", "index.html"), out: "phone/index.html" },
];
const result = await build({
  entryPoints: Object.fromEntries(pages.map((p) => [p.name, p.entry])),
  bundle: true,
  format: "esm",
  target: ["es2022"],
  minify: true,
  sourcemap: "linked",
  outdir: join(tmp, "assets"),
  entryNames: "[name]-[hash]",
  assetNames: "[name]-[hash]",
  jsx: "automatic",
  jsxImportSource: "preact",
  metafile: true,
  legalComments: "linked",
  logLevel: "warning",
});

const built = [];
for (const page of pages) {
  let js = "";
  let css = "";
  for (const [out, meta] of Object.entries(result.metafile.outputs)) {
    if (!meta.entryPoint || !out.endsWith(".js") || join(here, meta.entryPoint) !== page.entry) continue;
    js = "/" + relative(tmp, join(here, out)).split("\\").join("/");
    if (meta.cssBundle) css = "/" + relative(tmp, join(here, meta.cssBundle)).split("\\").join("/");
  }
  if (!js) throw new Error(`esbuild produced no script for ${page.name}`);
  const html = readFileSync(page.html, "utf8")
    .replace("<!--STYLES-->", css ? `<link rel="stylesheet" href="${css}">` : "")
    .replace("<!--SCRIPTS-->", `<script type="module" src="${js}"></script>`);
  mkdirSync(dirname(join(tmp, page.out)), { recursive: true });
  writeFileSync(join(tmp, page.out), html);
  built.push(js, css);
}
writeFileSync(join(tmp, ".stamp"), new Date().toISOString() + "\n");

const old = join(here, "dist.old");
rmSync(old, { recursive: true, force: true });
if (existsSync(dist)) renameSync(dist, old);
renameSync(tmp, dist);
rmSync(old, { recursive: true, force: true });
console.log(`web: built dist/ (${built.filter(Boolean).join(", ")})`);
