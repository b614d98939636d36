// Runs the portal's browser tests (tests/web/*.test.mjs) with node's test
// runner, after checking what they need: a private network namespace, a pbxd
// executable, web/dist built, playwright-core and axe-core in web/node_modules,
// and Debian's Chromium. The spec report goes to stdout; with --tap FILE a TAP
// report goes to FILE too (tools/run-tests.sh counts from it).
//
//   tools/netns-run node tests/web/run.mjs [--tap FILE]
// Env: PBXD_BIN (default build/pbxd), CHROMIUM (default /usr/bin/chromium).
import { spawn } from "node:child_process";
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";

const here = dirname(fileURLToPath(import.meta.url));
const root = resolve(here, "..", "..");
const args = process.argv.slice(2);
const tapAt = args.indexOf("--tap");
const tap = tapAt >= 0 ? args[tapAt + 1] : null;

function refuse(why) {
  console.error(`tests/web: ${why}`);
  process.exit(2);
}

// /proc/self/net/dev is this namespace's: tools/netns-run leaves only lo.
const ifs = readFileSync("/proc/self/net/dev", "utf8").split("\n").slice(2).map((l) => l.split(":")[0].trim()).filter(Boolean);
if (ifs.join() !== "lo") refuse(`run inside a private network namespace: tools/netns-run node tests/web/run.mjs (interfaces here: ${ifs})`);
const bin = resolve(root, process.env.PBXD_BIN || "build/pbxd");
if (!existsSync(bin)) refuse(`no pbxd at ${bin} (make build, or set PBXD_BIN)`);
if (!existsSync(join(root, "web", "dist", "index.html"))) refuse("web/dist is not built (make build)");
for (const m of ["playwright-core", "axe-core"]) {
  if (!existsSync(join(root, "web", "node_modules", m))) refuse(`web/node_modules/${m} is missing (make build runs npm ci)`);
}
const chromium = process.env.CHROMIUM || "/usr/bin/chromium";
if (!existsSync(chromium)) refuse(`no Chromium at ${chromium} (tools/install-deps.sh installs Debian's)`);

const files = readdirSync(here).filter((f) => f.endsWith(".test.mjs")).sort().map((f) => join(here, f));
const reporters = ["--test-reporter=spec", "--test-reporter-destination=stdout"];
if (tap) reporters.push("--test-reporter=tap", `--test-reporter-destination=${tap}`);
const child = spawn(process.execPath, ["--test", "--test-concurrency=1", ...reporters, ...files], {
  stdio: "inherit",
  env: { ...process.env, PBXD_BIN: bin },
});
child.on("exit", (code, sig) => process.exit(code ?? (sig ? 1 : 0)));
