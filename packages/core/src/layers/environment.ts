/**
 * Which environment variables enter the configuration (bb.utils.approved_variables):
 * BitBake's preserved set plus OpenEmbedded's usual additions, or exactly
 * BB_ENV_PASSTHROUGH when set, plus BB_ENV_PASSTHROUGH_ADDITIONS; everything
 * with BB_PRESERVE_ENV. The rest of the environment is dropped.
 */
import type { DataStore } from "../data/datastore.js";

/** Passed through and exported to tasks (bb.utils.preserved_envvars_exported). */
export const EXPORTED_ENV = ["BB_TASKHASH", "HOME", "LOGNAME", "PATH", "PWD", "SHELL", "USER", "LC_ALL", "BBSERVER"];

/**
 * BitBake's preserved variables plus the additions an OpenEmbedded build environment
 * sets up (and DL_DIR, SSTATE_DIR, SSTATE_MIRRORS, which CI setups share between
 * builds). Not TMPDIR: the environment's TMPDIR is every program's scratch directory
 * (mktemp's), and taking it would move the whole build tree there; OE does not pass it
 * either (BB_ENV_PASSTHROUGH_ADDITIONS can).
 */
export const DEFAULT_PASSTHROUGH = [
  "BBPATH", "BB_PRESERVE_ENV", "BB_ENV_PASSTHROUGH", "BB_ENV_PASSTHROUGH_ADDITIONS",
  ...EXPORTED_ENV,
  "ALL_PROXY", "all_proxy", "FTP_PROXY", "ftp_proxy", "ftps_proxy", "HTTP_PROXY", "http_proxy",
  "HTTPS_PROXY", "https_proxy", "NO_PROXY", "no_proxy", "GIT_PROXY_COMMAND", "SOCKS5_USER", "SOCKS5_PASSWD",
  "SSH_AGENT_PID", "SSH_AUTH_SOCK", "GIT_SSL_CAINFO", "GIT_SSL_NO_VERIFY",
  "BB_NO_NETWORK", "BB_NUMBER_THREADS", "BB_SETSCENE_ENFORCE", "BB_SRCREV_POLICY", "BB_LOGCONFIG",
  "DISTRO", "MACHINE", "SDKMACHINE", "PARALLEL_MAKE", "DL_DIR", "SSTATE_DIR", "SSTATE_MIRRORS",
  "STAMPS_DIR", "TCLIBC", "TCMODE",
];

export function approvedVariables(env: NodeJS.ProcessEnv): Set<string> {
  if ("BB_PRESERVE_ENV" in env) return new Set(Object.keys(env));
  const approved = new Set<string>();
  if (env.BB_ENV_PASSTHROUGH !== undefined) {
    for (const v of env.BB_ENV_PASSTHROUGH.split(/\s+/).filter(Boolean)) approved.add(v);
    approved.add("BB_ENV_PASSTHROUGH");
  } else {
    for (const v of DEFAULT_PASSTHROUGH) approved.add(v);
  }
  if (env.BB_ENV_PASSTHROUGH_ADDITIONS !== undefined) {
    for (const v of env.BB_ENV_PASSTHROUGH_ADDITIONS.split(/\s+/).filter(Boolean)) approved.add(v);
    approved.add("BB_ENV_PASSTHROUGH_ADDITIONS");
  }
  return approved;
}

/** The environment after cleaning: only approved variables. */
export function cleanEnvironment(env: NodeJS.ProcessEnv): Record<string, string> {
  const approved = approvedVariables(env);
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(env)) if (v !== undefined && approved.has(k)) out[k] = v;
  return out;
}

/** bb.data.inheritFromOS: approved variables become configuration variables. */
export function inheritFromEnvironment(d: DataStore, env: NodeJS.ProcessEnv): Record<string, string> {
  const clean = cleanEnvironment(env);
  for (const [k, v] of Object.entries(clean)) {
    d.setVar(k, v, { op: "from env", file: "[environment]", line: 0 });
    if (EXPORTED_ENV.includes(k)) d.setVarFlag(k, "export", 1, { op: "auto env export", file: "[environment]", line: 0 });
  }
  return clean;
}
