#!/usr/bin/env node
// The Debian tools kiln's tests use (real formats, checked by real tools): installed
// with apt-get when missing, so `pnpm test` works on a fresh machine with Node.js and npm.
import { spawnSync } from "node:child_process";

const TOOLS = [
  // [command, Debian package]
  ["zstd", "zstd"],
  ["gpg", "gnupg"],
  ["gpgv", "gpgv"],
  ["bash", "bash"],
  // packaging (issue #7): the real tools check kiln's packages
  ["dpkg-deb", "dpkg"],
  ["rpm", "rpm"],
  ["rpmbuild", "rpm"],
  ["rpm2cpio", "rpm2cpio"],
  ["cpio", "cpio"],
  ["lintian", "lintian"],
  ["xz", "xz-utils"],
  ["createrepo_c", "createrepo-c"],
  ["cc", "gcc"],
  ["make", "make"],
];

const has = (cmd) => spawnSync("sh", ["-c", `command -v ${cmd}`], { stdio: "ignore" }).status === 0;
const missing = TOOLS.filter(([cmd]) => !has(cmd)).map(([, pkg]) => pkg);
if (missing.length) {
  const root = process.getuid?.() === 0;
  const apt = (args) => spawnSync(root ? "apt-get" : "sudo", root ? args : ["apt-get", ...args], { stdio: "inherit", env: { ...process.env, DEBIAN_FRONTEND: "noninteractive" } });
  if (!has("apt-get")) {
    console.error(`kiln: missing tools (${missing.join(", ")}) and no apt-get to install them`);
    process.exit(1);
  }
  console.error(`kiln: installing ${missing.join(", ")} with apt-get`);
  if (apt(["update"]).status !== 0 || apt(["install", "-y", ...missing]).status !== 0) {
    console.error(`kiln: could not install ${missing.join(", ")}`);
    process.exit(1);
  }
}
