/**
 * Command-line targets as BitBake reads them: `recipe`, `recipe:do_task`, `world`.
 */
export interface TargetSpec {
  /** A PN or anything PROVIDES names, or "world". */
  name: string;
  /** `do_x`, from `recipe:do_x` or `-c x`; undefined means the default task. */
  task?: string;
  /** As the user wrote it. */
  text: string;
}

/** `compile` and `do_compile` both name the task `do_compile`. */
export function taskName(name: string): string {
  return name.startsWith("do_") ? name : `do_${name}`;
}

export function parseTarget(text: string, cmd?: string): TargetSpec {
  const at = text.indexOf(":do_");
  if (at > 0) return { name: text.slice(0, at), task: text.slice(at + 1), text };
  return { name: text, task: cmd ? taskName(cmd) : undefined, text };
}
