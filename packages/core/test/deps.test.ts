/**
 * Dependency extraction and basehash (issue 4): BitBake's lib/bb/tests/codeparser.py
 * ported to kiln, plus cases for each rule of bb.data.build_dependencies.
 *
 * Tests titled `Class.test_method` are ports of that BitBake test, same inputs and
 * expected values where the API allows:
 * - ShellReferenceTest / VariableReferenceTest: BitBake expands the text with
 *   `d.expandWithRefs` (its `references`) and runs ShellParser over the expanded
 *   value (its `execs`); here the same with `shellDeps(expanded).execs`.
 * - PythonReferenceTest: the Python snippets are rewritten as the JavaScript with
 *   the same meaning for `jsDeps` (`bb.utils.contains` -> `kiln.utils.contains`,
 *   `contains_any` -> `containsAny`, `bb.build.exec_func` -> `kiln.execFunc`, which
 *   is what kiln's EXPORT_FUNCTIONS generates for a JS function).
 * - DependencyReferenceTest: `bb.data.build_dependencies(key, keys, ...)` is
 *   `buildDependencies(key, dependencyContext(d))` (keys = d.keys()); BitBake's
 *   `ignored_vars` argument is BB_BASEHASH_IGNORE_VARS; `python` functions are `js`.
 *
 * Not ported: test_vardeps_wildcards (commented out in BitBake itself),
 * test_incomplete_command_expansion / test_rogue_dollarsign (commented out).
 *
 * The remaining blocks test rules of bb.data.build_dependencies / siggen that
 * codeparser.py does not cover, the shellExecs shortcut against parsing the
 * expanded text, and taskSignature.
 */
import { beforeAll, describe, expect, it } from "vitest";
import {
  DataStore,
  DependencyTable,
  buildDependencies,
  dependencyContext,
  initShellParser,
  jsDeps,
  shellDeps,
  shellExecs,
  taskBasehashes,
  taskSignature,
  varDeps,
} from "../src/index.js";

beforeAll(async () => {
  await initShellParser();
});

// ---------------------------------------------------------------------------
// helpers

const sorted = (s: Iterable<string>) => [...s].sort();

function setEmptyVars(d: DataStore, names: string[]): void {
  for (const n of names) d.setVar(n, "");
}

/** ShellReferenceTest.parseExpression: references of the expansion, execs of the expanded text. */
function parseShell(d: DataStore, exp: string) {
  const parsed = d.expandWithRefs(exp);
  const sh = shellDeps(String(parsed.value));
  return { references: parsed.references, execs: sh.execs, vars: sh.vars, unknown: sh.unknown };
}

/** PythonReferenceTest.parseExpression, for JavaScript. */
function parseJs(d: DataStore, exp: string) {
  const parsed = d.expandWithRefs(exp);
  const js = jsDeps(String(parsed.value));
  return { references: new Set([...parsed.references, ...js.vars]), execs: js.execs, contains: js.contains, unknown: js.unknown };
}

function shellFunc(d: DataStore, name: string, body: string): void {
  d.setVar(name, body);
  d.setVarFlag(name, "func", "1");
}

function jsFunc(d: DataStore, name: string, body: string): void {
  d.setVar(name, body);
  d.setVarFlag(name, "func", "1");
  d.setVarFlag(name, "js", "1");
}

/** bb.data.build_dependencies(key, set(d.keys()), ...): [deps, value]. */
function build(d: DataStore, key: string, debug?: (m: string) => void) {
  return buildDependencies(key, dependencyContext(d, debug));
}

function containsObj(m: Map<string, Set<string>>): Record<string, string[]> {
  return Object.fromEntries([...m].map(([k, v]) => [k, sorted(v)]));
}

// ---------------------------------------------------------------------------

describe("VariableReferenceTest", () => {
  it("VariableReferenceTest.test_simple_reference", () => {
    const d = new DataStore();
    setEmptyVars(d, ["FOO"]);
    expect(sorted(d.expandWithRefs("${FOO}").references)).toEqual(["FOO"]);
  });

  it("VariableReferenceTest.test_nested_reference", () => {
    const d = new DataStore();
    setEmptyVars(d, ["BAR"]);
    d.setVar("FOO", "BAR");
    expect(sorted(d.expandWithRefs("${${FOO}}").references)).toEqual(["BAR", "FOO"]);
  });

  it("VariableReferenceTest.test_python_reference (inline code reads are found by jsDeps)", () => {
    // kiln's expandWithRefs lists only ${VAR} references; what `${@...}` reads is
    // analysed from `inline` by jsDeps (buildDependencies combines both).
    const d = new DataStore();
    setEmptyVars(d, ["BAR"]);
    const parsed = d.expandWithRefs("${@d.getVar('BAR') + 'foo'}");
    expect(parsed.value).toBe("foo");
    expect(parsed.inline).toEqual(["d.getVar('BAR') + 'foo'"]);
    expect(sorted(jsDeps(parsed.inline![0], true).vars)).toEqual(["BAR"]);
    d.setVar("X", "${@d.getVar('BAR') + 'foo'}");
    expect(sorted(build(d, "X").deps)).toEqual(["BAR"]);
  });
});

describe("ShellReferenceTest", () => {
  it("ShellReferenceTest.test_quotes_inside_assign", () => {
    const r = parseShell(new DataStore(), 'foo=foo"bar"baz');
    expect(sorted(r.references)).toEqual([]);
    expect(sorted(r.execs)).toEqual([]);
  });

  it("ShellReferenceTest.test_quotes_inside_arg", () => {
    expect(sorted(parseShell(new DataStore(), 'sed s#"bar baz"#"alpha beta"#g').execs)).toEqual(["sed"]);
  });

  it("ShellReferenceTest.test_arg_continuation", () => {
    expect(sorted(parseShell(new DataStore(), "sed -i -e s,foo,bar,g \\\n *.pc").execs)).toEqual(["sed"]);
  });

  it("ShellReferenceTest.test_dollar_in_quoted", () => {
    expect(sorted(parseShell(new DataStore(), 'sed -i -e "foo$" *.pc').execs)).toEqual(["sed"]);
  });

  it("ShellReferenceTest.test_quotes_inside_arg_continuation", () => {
    const d = new DataStore();
    setEmptyVars(d, ["bindir", "D", "libdir"]);
    const r = parseShell(
      d,
      '\nsed -i -e s#"moc_location=.*$"#"moc_location=${bindir}/moc4"# \\\n' +
        '-e s#"uic_location=.*$"#"uic_location=${bindir}/uic4"# \\\n' +
        "${D}${libdir}/pkgconfig/*.pc\n",
    );
    expect(sorted(r.references)).toEqual(["D", "bindir", "libdir"]);
    expect(sorted(r.execs)).toEqual(["sed"]);
  });

  it("ShellReferenceTest.test_assign_subshell_expansion", () => {
    expect(sorted(parseShell(new DataStore(), "foo=$(echo bar)").execs)).toEqual(["echo"]);
  });

  it("ShellReferenceTest.test_shell_unexpanded", () => {
    const d = new DataStore();
    setEmptyVars(d, ["QT_BASE_NAME"]);
    const r = parseShell(d, 'echo "${QT_BASE_NAME}"');
    expect(sorted(r.execs)).toEqual(["echo"]);
    expect(sorted(r.references)).toEqual(["QT_BASE_NAME"]);
  });

  it("ShellReferenceTest.test_incomplete_varexp_single_quotes", () => {
    const r = parseShell(new DataStore(), "sed -i -e 's:IP{:I${:g' $pc");
    expect(sorted(r.execs)).toEqual(["sed"]);
    expect(sorted(r.references)).toEqual([]);
  });

  it("ShellReferenceTest.test_parameter_expansion_modifiers", () => {
    // -, + and : are valid in BitBake variable names, so they are not tested (as BitBake)
    for (const i of ["=", "?", "#", "%", "##", "%%"]) {
      const name = `foo${i}bar`;
      const r = parseShell(new DataStore(), `\${${name}}`);
      expect(r.references.has(name)).toBe(false);
      // the shell sees a parameter expansion of `foo`
      expect(r.vars.has("foo")).toBe(true);
    }
  });

  it("ShellReferenceTest.test_until", () => {
    const r = parseShell(new DataStore(), "until false; do echo true; done");
    expect(sorted(r.execs)).toEqual(["echo", "false"]);
    expect(sorted(r.references)).toEqual([]);
  });

  it("ShellReferenceTest.test_case", () => {
    const r = parseShell(new DataStore(), "\ncase $foo in\n*)\nbar\n;;\nesac\n");
    expect(sorted(r.execs)).toEqual(["bar"]);
    expect(sorted(r.references)).toEqual([]);
    // `$foo` is a shell variable, not a metadata reference
    expect(sorted(r.vars)).toEqual(["foo"]);
  });

  it("ShellReferenceTest.test_assign_exec", () => {
    expect(sorted(parseShell(new DataStore(), "a=b c='foo bar' alpha 1 2 3").execs)).toEqual(["alpha"]);
  });

  it("ShellReferenceTest.test_redirect_to_file", () => {
    const d = new DataStore();
    setEmptyVars(d, ["foo"]);
    const r = parseShell(d, "echo foo >${foo}/bar");
    expect(sorted(r.execs)).toEqual(["echo"]);
    expect(sorted(r.references)).toEqual(["foo"]);
  });

  it("ShellReferenceTest.test_heredoc", () => {
    const d = new DataStore();
    setEmptyVars(d, ["theta"]);
    const r = parseShell(d, "\ncat <<END\nalpha\nbeta\n${theta}\nEND\n");
    expect(sorted(r.references)).toEqual(["theta"]);
    expect(sorted(r.execs)).toEqual(["cat"]);
  });

  it("ShellReferenceTest.test_redirect_from_heredoc", () => {
    const v = ["B", "SHADOW_MAILDIR", "SHADOW_MAILFILE", "SHADOW_UTMPDIR", "SHADOW_LOGDIR", "bindir"];
    const d = new DataStore();
    setEmptyVars(d, v);
    const r = parseShell(
      d,
      "\ncat <<END >${B}/cachedpaths\nshadow_cv_maildir=${SHADOW_MAILDIR}\nshadow_cv_mailfile=${SHADOW_MAILFILE}\n" +
        "shadow_cv_utmpdir=${SHADOW_UTMPDIR}\nshadow_cv_logdir=${SHADOW_LOGDIR}\nshadow_cv_passwd_dir=${bindir}\nEND\n",
    );
    expect(sorted(r.references)).toEqual(sorted(v));
    expect(sorted(r.execs)).toEqual(["cat"]);
  });
});

describe("shellDeps: shell structures (BitBake's ShellParser behaviour, issue 4's list)", () => {
  const execs = (code: string) => sorted(shellDeps(code).execs);

  it("pipelines and && / || lists", () => {
    expect(execs("a | b -x | c && d || e")).toEqual(["a", "b", "c", "d", "e"]);
    expect(execs("! inverted")).toEqual(["inverted"]);
  });

  it("subshells, brace groups, $(...) and backticks, nested", () => {
    expect(execs("(cd x && make)")).toEqual(["cd", "make"]);
    expect(execs("{ one; two; }")).toEqual(["one", "two"]);
    expect(execs("x=`uname -m`; y=$(basename $(dirname /a/b))")).toEqual(["basename", "dirname", "uname"]);
    expect(execs('echo "$(inner arg)" `other`')).toEqual(["echo", "inner", "other"]);
    // a command substitution as the command: what it runs counts, the (unknown) result does not
    expect(execs("$(heh)")).toEqual(["heh"]);
    expect(shellDeps("$(heh)").unknown).toEqual([]);
  });

  it("if / elif / else, while, for, until", () => {
    expect(execs("if test -f x; then cp a b; elif grep -q y z; then mv a b; else rm x; fi")).toEqual(["cp", "grep", "mv", "rm", "test"]);
    expect(execs("while read l; do printf '%s' $l; done < f")).toEqual(["printf", "read"]);
    const r = shellDeps("for i in 1 2; do install -m 0644 $i ${D}; done");
    expect(sorted(r.execs)).toEqual(["install"]);
    expect(sorted(r.vars)).toEqual(["D", "i"]);
  });

  it("case arms", () => {
    expect(execs("case foo in\nbar) echo bar ;;\nbaz) one; two ;;\nfoo*) three ;;\nesac")).toEqual(["echo", "one", "three", "two"]);
  });

  it("functions defined in the body: their calls are not execs, what they run is", () => {
    expect(execs("helper() { inner_cmd; }\nhelper\nother")).toEqual(["inner_cmd", "other"]);
    expect(execs("function f { g; }; f")).toEqual(["g"]);
    // defined after the call still counts as defined (BitBake removes funcdefs at the end)
    expect(execs("late\nlate() { x; }")).toEqual(["x"]);
  });

  it("env assignments before a command: the command runs", () => {
    expect(execs("FOO=bar cmd arg")).toEqual(["cmd"]);
    expect(execs("A=1 B='x y' C=\"$(sub)\" run")).toEqual(["run", "sub"]);
    expect(execs("A=1 B=2")).toEqual([]);
  });

  it("eval of literal text is parsed (BitBake parses the eval'd words)", () => {
    const r = shellDeps("eval foo bar; eval 'a; b | c'");
    for (const e of ["foo", "a", "b", "c"]) expect(r.execs.has(e)).toBe(true);
    expect(r.execs.has("bar")).toBe(false);
    expect(r.unknown).toEqual([]);
  });

  it("eval of non-literal text is reported as unknown", () => {
    const r = shellDeps('eval "$cmd"');
    expect(r.unknown.length).toBe(1);
    expect(r.unknown[0]).toMatch(/eval/);
    const r2 = shellDeps("foo=oe_libinstall; eval $foo");
    expect(r2.execs.has("oe_libinstall")).toBe(false);
    expect(r2.unknown.length).toBe(1);
  });

  it("a variable as the command name is reported as unknown", () => {
    const r = shellDeps("$CMD args; ${OTHER} more");
    expect(sorted(r.execs)).toEqual([]);
    expect(r.unknown.length).toBe(2);
    expect(sorted(r.vars)).toEqual(["CMD", "OTHER"]);
  });

  it("exec / command / nohup run their argument too (kiln: stricter than BitBake, which lists only the wrapper)", () => {
    expect(execs("exec cmd arg")).toEqual(["cmd", "exec"]);
    expect(execs("nohup daemon &")).toEqual(["daemon", "nohup"]);
    // an option is not a command
    expect(execs("command -v foo")).toEqual(["command"]);
  });

  it("shell variables read: $X, ${X}, ${X:-default}, in quotes", () => {
    const r = shellDeps('echo $A ${B} "${C:-x}" \'$NOT\'');
    expect(sorted(r.vars)).toEqual(["A", "B", "C"]);
  });

  it("command substitution inside a heredoc runs", () => {
    expect(execs("cat <<END >x\n$(gen)\nEND\n")).toEqual(["cat", "gen"]);
  });

  it("the same text gives the same answer (cached)", () => {
    expect(shellDeps("one; two")).toBe(shellDeps("one; two"));
  });
});

// ---------------------------------------------------------------------------

describe("PythonReferenceTest (as JavaScript for jsDeps)", () => {
  it("PythonReferenceTest.test_getvar_reference", () => {
    const r = parseJs(new DataStore(), "d.getVar('foo')");
    expect(sorted(r.references)).toEqual(["foo"]);
    expect(sorted(r.execs)).toEqual([]);
  });

  it("PythonReferenceTest.test_getvar_computed_reference", () => {
    const r = parseJs(new DataStore(), "d.getVar('f' + 'o' + 'o')");
    expect(sorted(r.references)).toEqual([]);
    expect(sorted(r.execs)).toEqual([]);
    expect(r.unknown.length).toBe(1);
    expect(r.unknown[0]).toMatch(/cannot determine dependency/);
  });

  it("PythonReferenceTest.test_getvar_exec_reference", () => {
    const r = parseJs(new DataStore(), "eval('d.getVar(\"foo\")')");
    expect(sorted(r.references)).toEqual([]);
    expect(sorted(r.execs)).toEqual(["eval"]);
  });

  it("PythonReferenceTest.test_var_reference", () => {
    const d = new DataStore();
    setEmptyVars(d, ["FOO"]);
    const r = parseJs(d, "foo('${FOO}')");
    expect(sorted(r.references)).toEqual(["FOO"]);
    expect(sorted(r.execs)).toEqual(["foo"]);
  });

  it("PythonReferenceTest.test_var_exec (kiln.execFunc('do_something', d) -> execs do_something)", () => {
    // BitBake: `bb.build.exec_func('do_something', d)` gives execs {'do_something'}
    // (PythonParser.execfuncs). kiln's EXPORT_FUNCTIONS writes `await kiln.execFunc("x", d)`
    // for a JS function (parse/evaluate.ts), so that call must name the function run.
    const d = new DataStore();
    for (const etype of ["func", "task"]) {
      d.setVar("do_something", "echo 'hi mom! ${FOO}'");
      d.setVarFlag("do_something", etype, "1");
      const r = parseJs(d, "kiln.execFunc('do_something', d)");
      expect(sorted(r.references)).toEqual([]);
      expect(r.execs.has("do_something")).toBe(true);
    }
  });

  it("PythonReferenceTest.test_function_reference", () => {
    const d = new DataStore();
    d.setVar("FOO", "Hello, World!");
    const r = parseJs(d, "testfunc('${FOO}')");
    expect(sorted(r.references)).toEqual(["FOO"]);
    expect(sorted(r.execs)).toEqual(["testfunc"]);
  });

  it("PythonReferenceTest.test_qualified_function_reference", () => {
    expect(sorted(jsDeps("Date.now()").execs)).toEqual(["Date.now"]);
  });

  it("PythonReferenceTest.test_qualified_function_reference_2", () => {
    expect(sorted(jsDeps("kiln.path.dirname('/foo/bar')").execs)).toEqual(["kiln.path.dirname"]);
  });

  it("PythonReferenceTest.test_qualified_function_reference_nested", () => {
    expect(sorted(jsDeps("Math.max(1, Math.floor(2.5))").execs)).toEqual(["Math.floor", "Math.max"]);
  });

  it("PythonReferenceTest.test_function_reference_chained", () => {
    expect(sorted(jsDeps("testget().trim()").execs)).toEqual(["testget"]);
  });

  it("PythonReferenceTest.test_contains", () => {
    const r = jsDeps('kiln.utils.contains("TESTVAR", "one", "true", "false", d)');
    expect(containsObj(r.contains)).toEqual({ TESTVAR: ["one"] });
    expect(sorted(r.vars)).toEqual([]);
    expect(sorted(r.execs)).toEqual([]);
  });

  it("PythonReferenceTest.test_contains_multi", () => {
    const r = jsDeps('kiln.utils.contains("TESTVAR", "one two", "true", "false", d)');
    expect(containsObj(r.contains)).toEqual({ TESTVAR: ["one two"] });
  });

  it("PythonReferenceTest.test_contains_any", () => {
    const r = jsDeps('kiln.utils.containsAny("TESTVAR", "hello", "true", "false", d)');
    expect(containsObj(r.contains)).toEqual({ TESTVAR: ["hello"] });
  });

  it("PythonReferenceTest.test_contains_any_multi", () => {
    // BitBake (codeparser.py containsanyfuncs): contains_any/filter items are split into words
    const r = jsDeps('kiln.utils.containsAny("TESTVAR", "one two three", "true", "false", d)');
    expect(containsObj(r.contains)).toEqual({ TESTVAR: ["one", "three", "two"] });
  });

  it("PythonReferenceTest.test_contains_filter", () => {
    const r = jsDeps('kiln.utils.filter("TESTVAR", "hello there world", d)');
    expect(containsObj(r.contains)).toEqual({ TESTVAR: ["hello", "there", "world"] });
  });
});

describe("jsDeps: further JS reads", () => {
  it("d.getVarFlag('foo', 'bar') -> foo[bar]; a non-literal flag is unknown", () => {
    const r = jsDeps("d.getVarFlag('foo', 'bar'); d.getVarFlag('x', flag)");
    expect(sorted(r.vars)).toEqual(["foo[bar]"]);
    expect(r.unknown.length).toBe(1);
    expect(r.unknown[0]).toMatch(/cannot determine dependency/);
  });

  it("d.expand('${inexpand} somethingelse') -> inexpand; non-literal expand text is unknown", () => {
    const r = jsDeps("d.expand('${inexpand} somethingelse ${other}'); d.expand(text)");
    expect(sorted(r.vars)).toEqual(["inexpand", "other"]);
    expect(r.unknown.length).toBe(1);
  });

  it("template literals: without substitutions are literal, with substitutions are not", () => {
    const r = jsDeps("d.getVar(`plain`); d.getVar(`pre${x}`)");
    expect(sorted(r.vars)).toEqual(["plain"]);
    expect(r.unknown.length).toBe(1);
  });

  it("d.appendVar / d.prependVar count as reads (as BitBake's getvars); d.setVar is no read", () => {
    const r = jsDeps("d.appendVar('A', ' x'); d.prependVar('B', 'y '); d.setVar('C', 'z'); d.setVarFlag('E', 'f', 1)");
    expect(sorted(r.vars)).toEqual(["A", "B"]);
    expect(r.vars.has("C")).toBe(false);
  });

  it("contains with a non-literal item reads the whole variable (BitBake: references.add)", () => {
    const r = jsDeps("kiln.utils.contains('TESTVAR', item, 'a', 'b', d)");
    expect(sorted(r.vars)).toEqual(["TESTVAR"]);
    expect(r.contains.size).toBe(0);
  });

  it("helper calls are execs; async bodies and return parse", () => {
    const r = jsDeps("const v = await helper(d);\nif (!v) return;\nobj.method(d);\nother_helper(d)");
    expect(sorted(r.execs)).toEqual(["helper", "obj.method", "other_helper"]);
    expect(r.unknown).toEqual([]);
  });

  it("expression mode (inline ${@...} code)", () => {
    const r = jsDeps("d.getVar('A') + (d.getVar('B') || '')", true);
    expect(sorted(r.vars)).toEqual(["A", "B"]);
  });

  it("unparseable code is reported, not thrown", () => {
    const r = jsDeps("this is not javascript (");
    expect(r.unknown.length).toBe(1);
    expect(r.unknown[0]).toMatch(/cannot parse/);
  });
});

// ---------------------------------------------------------------------------

describe("DependencyReferenceTest", () => {
  const jsdata = [
    "d.getVar('somevar');",
    "function test(d) {",
    "  const foo = 'bar ' + 'foo';",
    "}",
    "function test2(d) {",
    "  d.getVar(foo);",
    "  d.getVar('bar', false);",
    "  test2(d);",
    "}",
    "",
    "function a() {",
    "  /* some",
    "     stuff",
    "  */",
    '  return "heh";',
    "}",
    "",
    "test(d);",
    "",
    'd.expand(d.getVar("something", false));',
    'd.expand("${inexpand} somethingelse");',
    "d.getVar(a(), false);",
    "",
  ].join("\n");

  it("DependencyReferenceTest.test_python (as JS)", () => {
    const d = new DataStore();
    d.setVar("FOO", jsdata);
    setEmptyVars(d, ["inexpand", "a", "test2", "test"]);
    d.setVarFlags("FOO", { func: "1", js: "1", lineno: "1", filename: "example.bb" });
    const debug: string[] = [];
    const { deps } = build(d, "FOO", (m) => debug.push(m));
    expect(sorted(deps)).toEqual(sorted(["somevar", "bar", "something", "inexpand", "test", "test2", "a"]));
    // d.getVar(foo), d.expand(<call>), d.getVar(a()): reported at debug level
    expect(debug.length).toBe(3);
    for (const m of debug) expect(m).toMatch(/^FOO: cannot determine dependency/);
  });

  const shelldata = [
    "",
    "foo () {",
    "bar",
    "}",
    "{",
    "echo baz",
    "$(heh)",
    "eval `moo`",
    "}",
    "a=b",
    "c=d",
    "(",
    "true && false",
    "test -f foo",
    "testval=something",
    "$testval",
    ") || aiee",
    "! inverted",
    "echo ${somevar}",
    "",
    "case foo in",
    "bar)",
    "echo bar",
    ";;",
    "baz)",
    "echo baz",
    ";;",
    "foo*)",
    "echo foo",
    ";;",
    "esac",
    "",
  ].join("\n");

  it("DependencyReferenceTest.test_shell", () => {
    const execs = ["bar", "echo", "heh", "moo", "true", "aiee"];
    const d = new DataStore();
    d.setVar("somevar", "heh");
    d.setVar("inverted", "echo inverted...");
    d.setVarFlag("inverted", "func", "1");
    d.setVar("FOO", shelldata);
    d.setVarFlags("FOO", { func: "1" });
    setEmptyVars(d, execs);
    const { deps } = build(d, "FOO");
    expect(sorted(deps)).toEqual(sorted(["somevar", "inverted", ...execs]));
  });

  it("DependencyReferenceTest.test_vardeps", () => {
    const d = new DataStore();
    d.setVar("oe_libinstall", "echo test");
    d.setVar("FOO", "foo=oe_libinstall; eval $foo");
    d.setVarFlag("FOO", "vardeps", "oe_libinstall");
    expect(sorted(build(d, "FOO").deps)).toEqual(["oe_libinstall"]);
  });

  it("DependencyReferenceTest.test_vardeps_expand", () => {
    const d = new DataStore();
    d.setVar("oe_libinstall", "echo test");
    d.setVar("FOO", "foo=oe_libinstall; eval $foo");
    d.setVarFlag("FOO", "vardeps", "${@'oe_libinstall'}");
    expect(sorted(build(d, "FOO").deps)).toEqual(["oe_libinstall"]);
  });

  it("DependencyReferenceTest.test_contains_vardeps", () => {
    const expr =
      '${@kiln.utils.filter("TESTVAR", "somevalue anothervalue", d)} ' +
      '${@kiln.utils.contains("TESTVAR", "testval testval2", "yetanothervalue", "", d)} ' +
      '${@kiln.utils.contains("TESTVAR", "testval2 testval3", "blah", "", d)} ' +
      '${@kiln.utils.containsAny("TESTVAR", "testval2 testval3", "lastone", "", d)}';
    const d = new DataStore();
    d.setVar("ANOTHERVAR", expr);
    d.setVar("TESTVAR", "anothervalue testval testval2");
    const { deps, value } = build(d, "ANOTHERVAR");
    expect(sorted(deps)).toEqual([]);
    expect(sorted(String(value).split("\n"))).toEqual(
      sorted([
        expr,
        "TESTVAR{anothervalue} = Set",
        "TESTVAR{somevalue} = Unset",
        "TESTVAR{testval testval2} = Set",
        "TESTVAR{testval2 testval3} = Unset",
        "TESTVAR{testval2} = Set",
        "TESTVAR{testval3} = Unset",
      ]),
    );
    expect(String(d.getVar("ANOTHERVAR")).split(/\s+/).filter(Boolean)).toEqual(["anothervalue", "yetanothervalue", "lastone"]);
  });

  it("DependencyReferenceTest.test_contains_vardeps_excluded", () => {
    const varval = '${TESTVAR2} ${@kiln.utils.filter("TESTVAR", "somevalue anothervalue", d)}';
    const d = new DataStore();
    d.setVar("ANOTHERVAR", varval);
    d.setVar("TESTVAR", "anothervalue testval testval2");
    d.setVar("TESTVAR2", "testval3");
    // ignored_vars = {TESTVAR}
    d.setVar("BB_BASEHASH_IGNORE_VARS", "TESTVAR");
    let r = build(d, "ANOTHERVAR");
    expect(r.value).toBe(varval);
    expect(sorted(r.deps)).toEqual(["TESTVAR2"]);
    expect(String(d.getVar("ANOTHERVAR")).split(/\s+/)).toEqual(["testval3", "anothervalue"]);

    // the vardepsexclude flag is handled by contains too
    d.delVar("BB_BASEHASH_IGNORE_VARS");
    d.setVarFlag("ANOTHERVAR", "vardepsexclude", "TESTVAR");
    r = build(d, "ANOTHERVAR");
    expect(r.value).toBe(varval);
    expect(sorted(r.deps)).toEqual(["TESTVAR2"]);
    expect(String(d.getVar("ANOTHERVAR")).split(/\s+/)).toEqual(["testval3", "anothervalue"]);
  });

  it("DependencyReferenceTest.test_contains_vardeps_override_operators", () => {
    const exprPlain = "testval";
    const exprPrepend = '${@kiln.utils.filter("TESTVAR1", "testval1", d)} ';
    const exprAppend = ' ${@kiln.utils.filter("TESTVAR2", "testval2", d)}';
    const exprRemove = '${@kiln.utils.contains("TESTVAR3", "no-testval", "testval", "", d)}';
    const d = new DataStore();
    d.setVar("ANOTHERVAR", exprPlain);
    d.prependVar("ANOTHERVAR", exprPrepend);
    d.appendVar("ANOTHERVAR", exprAppend);
    d.setVar("ANOTHERVAR:remove", exprRemove);
    d.setVar("TESTVAR1", "blah");
    d.setVar("TESTVAR2", "testval2");
    d.setVar("TESTVAR3", "no-testval");
    const { deps, value } = build(d, "ANOTHERVAR");
    expect(sorted(deps)).toEqual([]);
    expect(sorted(String(value).split("\n"))).toEqual(
      sorted([
        exprPrepend + exprPlain + exprAppend,
        "_remove of " + exprRemove,
        "TESTVAR1{testval1} = Unset",
        "TESTVAR2{testval2} = Set",
        "TESTVAR3{no-testval} = Set",
      ]),
    );
    expect(String(d.getVar("ANOTHERVAR")).split(/\s+/).filter(Boolean)).toEqual(["testval2"]);
  });
});

// ---------------------------------------------------------------------------

describe("build_dependencies rules (DataStore level)", () => {
  it("a value referencing ${FOO} depends on FOO (also nested and through flags)", () => {
    const d = new DataStore();
    d.setVar("FOO", "x");
    d.setVar("NAME", "FOO");
    d.setVar("A", "pre ${FOO} ${${NAME}}");
    expect(sorted(build(d, "A").deps)).toEqual(["FOO", "NAME"]);
    // an unset reference is a dependency too (its being set changes the value)
    d.setVar("B", "${UNSET_ONE}");
    expect(sorted(build(d, "B").deps)).toEqual(["UNSET_ONE"]);
    expect(build(d, "B").value).toBe("${UNSET_ONE}");
  });

  it("the hashed value is the unexpanded value; unset is null", () => {
    const d = new DataStore();
    d.setVar("FOO", "x");
    d.setVar("A", "pre ${FOO}");
    expect(build(d, "A").value).toBe("pre ${FOO}");
    expect(build(d, "NOT_SET").value).toBeNull();
  });

  it("${@ d.getVar('BAR') } inline code depends on BAR; helper calls naming metadata functions count", () => {
    const d = new DataStore();
    d.setVar("BAR", "b");
    d.setVar("A", "${@ d.getVar('BAR') }");
    expect(sorted(build(d, "A").deps)).toEqual(["BAR"]);
    jsFunc(d, "my_helper", "return 1;");
    d.setVar("C", "${@ d.getVar('BAR') + String(typeof my_helper) + Math.abs(1) }");
    expect(sorted(build(d, "C").deps)).toEqual(["BAR"]);
    d.setVar("E", "${@ d.getVarFlag('BAR', 'doc') }");
    expect(sorted(build(d, "E").deps)).toEqual(["BAR[doc]"]);
  });

  it("a shell function calling another metadata function depends on it, not on uncalled ones", () => {
    const d = new DataStore();
    shellFunc(d, "do_x", "helper arg\nif true; then other | cat; fi\necho $(third)");
    shellFunc(d, "helper", "echo ${HV}");
    shellFunc(d, "other", "true");
    shellFunc(d, "third", "true");
    shellFunc(d, "uncalled", "true");
    d.setVar("HV", "hv");
    expect(sorted(build(d, "do_x").deps)).toEqual(["helper", "other", "third"]);
    // transitively
    expect(sorted(varDeps(d, "do_x"))).toEqual(["HV", "helper", "other", "third"]);
  });

  it("a function defined inside the body shadows a metadata function of the same name", () => {
    const d = new DataStore();
    shellFunc(d, "do_x", "helper() { true; }\nhelper");
    shellFunc(d, "helper", "echo");
    expect(sorted(build(d, "do_x").deps)).toEqual([]);
  });

  it("a JS function depends on d.getVar reads, X[flag] reads and called metadata functions", () => {
    const d = new DataStore();
    jsFunc(d, "do_js", "const v = d.getVar('CFLAGS');\nd.getVarFlag('do_js', 'dirs');\nmy_helper(d);\nkiln.note(v);");
    jsFunc(d, "my_helper", "return d.getVar('HELPER_VAR');");
    d.setVar("CFLAGS", "-O2");
    expect(sorted(build(d, "do_js").deps)).toEqual(["CFLAGS", "do_js[dirs]", "my_helper"]);
    expect(sorted(varDeps(d, "do_js"))).toEqual(["CFLAGS", "HELPER_VAR", "do_js[dirs]", "my_helper"]);
  });

  it("a JS EXPORT_FUNCTIONS wrapper depends on the function it runs (BitBake: exec_func literal -> execs)", () => {
    // the exact body parse/evaluate.ts writes for `EXPORT_FUNCTIONS do_build` of a JS foo_do_build
    const d = new DataStore();
    const wrapper = '    // Export function set\n    await kiln.execFunc("foo_do_build", d);\n';
    jsFunc(d, "do_build", wrapper);
    jsFunc(d, "foo_do_build", "d.getVar('FOO_INPUT');");
    // the wrapper must be JavaScript (a `#` comment would not parse)
    expect(jsDeps(wrapper).unknown).toEqual([]);
    expect(build(d, "do_build").deps.has("foo_do_build")).toBe(true);
    expect(varDeps(d, "do_build").has("FOO_INPUT")).toBe(true);
  });

  it("non-literal names in a JS function are reported through the debug callback", () => {
    const d = new DataStore();
    jsFunc(d, "do_js", "d.getVar(name)");
    const debug: string[] = [];
    buildDependencies("do_js", dependencyContext(d, (m) => debug.push(m)));
    expect(debug).toHaveLength(1);
    expect(debug[0]).toMatch(/^do_js: cannot determine dependency/);
  });

  it("non-literal commands / eval in a shell function are reported through the debug callback", () => {
    // BitBake: ShellParser logs "unable to handle non-literal command '$CMD'" and
    // build_dependencies flushes that log at debug level (when [vardeps] is unset)
    const d = new DataStore();
    shellFunc(d, "do_sh", '$CMD x\neval "$more"');
    const debug: string[] = [];
    buildDependencies("do_sh", dependencyContext(d, (m) => debug.push(m)));
    expect(debug.some((m) => /^do_sh: .*\$CMD/.test(m))).toBe(true);
    expect(debug.some((m) => /^do_sh: .*eval/.test(m))).toBe(true);
  });

  it("[vardeps] adds (expanded), to plain variables and functions", () => {
    const d = new DataStore();
    d.setVar("WHICH", "EXTRA2");
    d.setVar("A", "plain");
    d.setVarFlag("A", "vardeps", "EXTRA1 ${WHICH}");
    expect(sorted(build(d, "A").deps)).toEqual(["EXTRA1", "EXTRA2"]);
    shellFunc(d, "do_x", "true");
    d.setVarFlag("do_x", "vardeps", "EXTRA1");
    expect(sorted(build(d, "do_x").deps)).toEqual(["EXTRA1"]);
  });

  it("[vardepsexclude] removes references, called functions, exports and vardeps", () => {
    const d = new DataStore();
    d.setVar("DATE", "20240101");
    d.setVar("KEEP", "k");
    d.setVar("CC", "gcc");
    d.setVarFlag("CC", "export", "1");
    shellFunc(d, "helper", "true");
    shellFunc(d, "do_x", "echo ${DATE} ${KEEP}\nhelper");
    d.setVarFlag("do_x", "vardeps", "EXTRA");
    expect(sorted(build(d, "do_x").deps)).toEqual(["CC", "DATE", "EXTRA", "KEEP", "helper"]);
    d.setVarFlag("do_x", "vardepsexclude", "DATE helper CC EXTRA");
    expect(sorted(build(d, "do_x").deps)).toEqual(["KEEP"]);
  });

  it("[vardepvalue] replaces the hashed value and drops the parsed dependencies ([vardeps] still adds)", () => {
    const d = new DataStore();
    d.setVar("CFLAGS", "-O2");
    d.setVar("CC", "gcc");
    d.setVarFlag("CC", "export", "1");
    shellFunc(d, "helper", "true");
    shellFunc(d, "do_x", "helper ${CFLAGS}");
    d.setVarFlag("do_x", "vardepvalue", "fixed value");
    expect(build(d, "do_x")).toEqual({ deps: new Set(), value: "fixed value" });
    d.setVarFlag("do_x", "vardeps", "KEEP");
    expect(sorted(build(d, "do_x").deps)).toEqual(["KEEP"]);
    d.setVar("A", "${CFLAGS}");
    d.setVarFlag("A", "vardepvalue", "");
    expect(build(d, "A")).toEqual({ deps: new Set(), value: "" });
  });

  it("[vardepvalueexclude]: each |-separated string is cut from the hashed value; deps stay", () => {
    const d = new DataStore();
    d.setVar("DATETIME", "now");
    d.setVar("A", "pre ${DATETIME} post zzz");
    d.setVarFlag("A", "vardepvalueexclude", " ${DATETIME}|| zzz");
    const r = build(d, "A");
    expect(r.value).toBe("pre post");
    expect(sorted(r.deps)).toEqual(["DATETIME"]);
    // the flag itself hashes as "" (BitBake: build_dependencies returns "" for it)
    expect(build(d, "A[vardepvalueexclude]")).toEqual({ deps: new Set(), value: "" });
  });

  it("contains: the value gets \\nVAR{item} = Set|Unset and VAR is not a dependency", () => {
    const d = new DataStore();
    d.setVar("DISTRO_FEATURES", "x11 wayland");
    d.setVar("A", "${@kiln.utils.contains('DISTRO_FEATURES', 'x11', 'yes', 'no', d)}");
    let r = build(d, "A");
    expect(r.deps.has("DISTRO_FEATURES")).toBe(false);
    expect(r.value).toBe("${@kiln.utils.contains('DISTRO_FEATURES', 'x11', 'yes', 'no', d)}\nDISTRO_FEATURES{x11} = Set");
    d.setVar("DISTRO_FEATURES", "wayland opengl");
    r = build(d, "A");
    expect(r.value).toBe("${@kiln.utils.contains('DISTRO_FEATURES', 'x11', 'yes', 'no', d)}\nDISTRO_FEATURES{x11} = Unset");
  });

  it("contains in a JS function body goes into its hashed value", () => {
    const d = new DataStore();
    d.setVar("DISTRO_FEATURES", "x11");
    const body = "if (kiln.utils.contains('DISTRO_FEATURES', 'x11', true, false, d)) kiln.note('x');";
    jsFunc(d, "do_js", body);
    const r = build(d, "do_js");
    expect(sorted(r.deps)).toEqual([]);
    expect(r.value).toBe(`${body}\nDISTRO_FEATURES{x11} = Set`);
  });

  it("the hashed value changes whenever a containsAny / filter result changes", () => {
    // BitBake splits contains_any/filter items into words, so every word's presence is hashed
    const d = new DataStore();
    d.setVar("TESTVAR", "one");
    d.setVar("X", "${@kiln.utils.containsAny('TESTVAR', 'one two', 'y', 'n', d)}");
    d.setVar("Y", "${@kiln.utils.filter('TESTVAR', 'one two', d)}");
    const before = { x: d.getVar("X"), y: d.getVar("Y"), hx: build(d, "X").value, hy: build(d, "Y").value };
    d.setVar("TESTVAR", "three");
    const after = { x: d.getVar("X"), y: d.getVar("Y"), hx: build(d, "X").value, hy: build(d, "Y").value };
    expect([before.x, after.x, before.y, after.y]).toEqual(["y", "n", "one", ""]);
    expect(after.hx).not.toBe(before.hx);
    expect(after.hy).not.toBe(before.hy);
  });

  it("exported variables are dependencies of every shell function, not of JS ones; unexport removes", () => {
    const d = new DataStore();
    d.setVar("CC", "gcc");
    d.setVarFlag("CC", "export", "1");
    d.setVar("LD", "ld");
    d.setVarFlag("LD", "export", "1");
    d.setVarFlag("LD", "unexport", "1");
    d.setVar("NOT_EXPORTED", "x");
    shellFunc(d, "do_sh", "true");
    jsFunc(d, "do_js", "kiln.note('x')");
    expect(sorted(build(d, "do_sh").deps)).toEqual(["CC"]);
    expect(sorted(build(d, "do_js").deps)).toEqual([]);
    // and not of plain variables
    d.setVar("PLAIN", "text");
    expect(sorted(build(d, "PLAIN").deps)).toEqual([]);
  });

  it("[prefuncs] / [postfuncs] / [exports] of a function are dependencies", () => {
    const d = new DataStore();
    shellFunc(d, "do_x", "true");
    d.setVarFlag("do_x", "prefuncs", "pre_one pre_two");
    d.setVarFlag("do_x", "postfuncs", "post_one");
    d.setVarFlag("do_x", "exports", "EXP");
    expect(sorted(build(d, "do_x").deps)).toEqual(["EXP", "post_one", "pre_one", "pre_two"]);
  });

  it("BB_BASEHASH_IGNORE_VARS names never appear (references, execs, exports, vardeps, closure)", () => {
    const d = new DataStore();
    d.setVar("BB_BASEHASH_IGNORE_VARS", "TMPDIR PATH ignored_helper DL_DIR");
    d.setVar("TMPDIR", "/tmp/a");
    d.setVar("PATH", "/bin");
    d.setVarFlag("PATH", "export", "1");
    d.setVar("DL_DIR", "/dl");
    d.setVar("WORKDIR", "${TMPDIR}/work");
    shellFunc(d, "ignored_helper", "true");
    shellFunc(d, "do_x", "cd ${WORKDIR}; ls ${TMPDIR}; ignored_helper");
    d.setVarFlag("do_x", "vardeps", "DL_DIR");
    expect(sorted(build(d, "do_x").deps)).toEqual(["WORKDIR"]);
    expect(sorted(varDeps(d, "do_x"))).toEqual(["WORKDIR"]);
    // inline reads and contains of an ignored variable too
    d.setVar("B", "${@d.getVar('TMPDIR')}${@kiln.utils.contains('PATH', '/bin', 'a', 'b', d)}");
    const r = build(d, "B");
    expect(sorted(r.deps)).toEqual([]);
    expect(r.value).not.toMatch(/PATH\{/);
  });

  it("flags become X[flag] dependencies unless in BB_SIGNATURE_EXCLUDE_FLAGS", () => {
    const d = new DataStore();
    d.setVar("BB_SIGNATURE_EXCLUDE_FLAGS", "doc func vardeps");
    d.setVar("Y", "y");
    d.setVar("X", "v");
    d.setVarFlag("X", "doc", "documentation");
    d.setVarFlag("X", "myflag", "${Y}");
    d.setVarFlag("X", "vardeps", "Z");
    expect(sorted(build(d, "X").deps)).toEqual(["X[myflag]", "Z"]);
    // a flag dependency's own references
    expect(build(d, "X[myflag]")).toEqual({ deps: new Set(["Y"]), value: "${Y}" });
    expect(sorted(varDeps(d, "X"))).toEqual(["X[myflag]", "Y", "Z"]);
    shellFunc(d, "do_x", "true");
    d.setVarFlag("do_x", "dirs", "${B}");
    expect(sorted(build(d, "do_x").deps)).toEqual(["do_x[dirs]"]);
  });

  it("no flag dependencies at all when BB_SIGNATURE_EXCLUDE_FLAGS is unset (as BitBake)", () => {
    const d = new DataStore();
    d.setVar("X", "v");
    d.setVarFlag("X", "myflag", "${Y}");
    d.setVarFlag("X", "doc", "documentation");
    expect(sorted(build(d, "X").deps)).toEqual([]);
    shellFunc(d, "do_x", "true");
    d.setVarFlag("do_x", "dirs", "${B}");
    expect(sorted(build(d, "do_x").deps)).toEqual([]);
  });

  it(":remove adds \\n_remove of ... to the value and its references to the deps (only when it removes something)", () => {
    const d = new DataStore();
    d.setVar("RM", "b");
    d.setVar("X", "a b c");
    d.setVar("X:remove", "${RM}");
    let r = build(d, "X");
    expect(r.value).toBe("a b c\n_remove of ${RM}");
    expect(sorted(r.deps)).toEqual(["RM"]);
    expect(d.getVar("X")).toBe("a  c");
    d.setVar("RM", "zzz");
    r = build(d, "X");
    expect(r.value).toBe("a b c");
  });

  it(":remove that takes effect keeps what the value's ${@...} code reads", () => {
    // BitBake's handle_remove only appends to the value; the value's own parser
    // references (from inline code) stay. Here a removal must not drop B.
    const d = new DataStore();
    d.setVar("B", "b");
    d.setVar("A", "${@d.getVar('B')} x y");
    expect(sorted(build(d, "A").deps)).toEqual(["B"]);
    d.setVar("A:remove", "x");
    expect(d.getVar("A")).toBe("b  y");
    expect(sorted(build(d, "A").deps)).toEqual(["B"]);
    // so a task using A reruns when B changes
    shellFunc(d, "do_x", "echo ${A}");
    const before = taskSignature(d, "do_x").basehash;
    d.setVar("B", "changed");
    expect(taskSignature(d, "do_x").basehash).not.toBe(before);
  });

  it(":remove on a shell function body", () => {
    const d = new DataStore();
    shellFunc(d, "do_x", "echo a b");
    d.setVar("do_x:remove", "b");
    const r = build(d, "do_x");
    expect(r.value).toBe("echo a b\n_remove of b");
  });

  it("DependencyTable computes each variable once and closes over cycles", () => {
    const d = new DataStore();
    shellFunc(d, "ping", "pong");
    shellFunc(d, "pong", "ping");
    const table = new DependencyTable(dependencyContext(d));
    expect(sorted(table.closure("ping"))).toEqual(["ping", "pong"]);
    expect(table.deps.get("ping")).toBe(table.get("ping").deps);
  });
});

// ---------------------------------------------------------------------------

describe("shellExecs(unexpanded, expanded, valueOf) == shellDeps(expanded).execs", () => {
  const expandAll = (text: string, values: Record<string, string | undefined>) =>
    text.replace(/\$\{([a-zA-Z0-9\-_+./~:]+?)\}/g, (m, n: string) => values[n] ?? m);

  /** [title, body, values]; inline code is expanded by a real DataStore below. */
  const table: [string, string, Record<string, string | undefined>][] = [
    ["no references at all", "oe_runmake; install -d x", {}],
    ["${MAKE} install, MAKE=oe_runmake", "${MAKE} install DESTDIR=${D}", { MAKE: "oe_runmake", D: "/image" }],
    ["${CC} -c x, CC='gcc -m64'", "${CC} -c x.c -o x.o", { CC: "gcc -m64" }],
    ["prefix concatenated with a literal", "${TARGET_PREFIX}strip --remove-section=.comment x", { TARGET_PREFIX: "x86_64-poky-linux-" }],
    ["value with ';' (fallback path)", "${CMDS} && done_cmd", { CMDS: "one; two" }],
    ["value with a pipe (fallback path)", "${PIPE}", { PIPE: "gen | consume" }],
    ["undefined ${NOPE} reference", "${NOPE} arg; echo ${NOPE}", { NOPE: undefined }],
    ["same reference twice, in and out of command position", "${T} ${T}; echo ${T}", { T: "tool" }],
    ["reference as argument only", "install -m 0644 ${S}/a ${D}${bindir}", { S: "/src", D: "/d", bindir: "/usr/bin" }],
    ["eval of a reference", "eval ${CMD}", { CMD: "oe_runmake install" }],
    ["exec of a reference", "exec ${CMD} -x", { CMD: "realtool" }],
    ["reference inside a defined function name", "${PN}_helper() { inner; }\n${PN}_helper", { PN: "foo" }],
    ["empty value before a command", "${SUDO} oe_runmake install", { SUDO: "" }],
    ["value that is an env assignment", "${MAKE_ENV} oe_runmake", { MAKE_ENV: "V=1" }],
    ["value that is a wrapper running its argument", "${TIME} oe_runmake", { TIME: "time" }],
    ["multi-word value in an assignment before a command", "CF=${CF} oe_runmake", { CF: "-O2 -pipe" }],
  ];

  for (const [title, body, values] of table) {
    it(title, () => {
      const expanded = expandAll(body, values);
      const got = shellExecs(body, expanded, (n) => values[n]).execs;
      expect(sorted(got)).toEqual(sorted(shellDeps(expanded).execs));
    });
  }

  it("${@...} inline code (fallback path), through a DataStore", () => {
    const d = new DataStore();
    d.setVar("TOOL", "tool");
    const body = "${@'oe_' + 'runmake'} install; ${TOOL} x";
    const expanded = d.expand(body);
    expect(expanded).toBe("oe_runmake install; tool x");
    const got = shellExecs(body, expanded, (n) => d.getVar(n)).execs;
    expect(sorted(got)).toEqual(["oe_runmake", "tool"]);
    expect(sorted(got)).toEqual(sorted(shellDeps(expanded).execs));
  });

  it("the concrete answers", () => {
    expect(sorted(shellExecs("${MAKE} install", "oe_runmake install", () => "oe_runmake").execs)).toEqual(["oe_runmake"]);
    expect(sorted(shellExecs("${CC} -c x", "gcc -m64 -c x", () => "gcc -m64").execs)).toEqual(["gcc"]);
  });

  it("buildDependencies finds the function a reference names", () => {
    const d = new DataStore();
    shellFunc(d, "oe_runmake", "make");
    d.setVar("MAKE", "oe_runmake");
    d.setVar("SUDO", "");
    shellFunc(d, "do_install", "${MAKE} install");
    expect(sorted(build(d, "do_install").deps)).toEqual(["MAKE", "oe_runmake"]);
    shellFunc(d, "do_install2", "${SUDO} oe_runmake install");
    expect(sorted(build(d, "do_install2").deps)).toEqual(["SUDO", "oe_runmake"]);
  });
});

// ---------------------------------------------------------------------------

describe("taskSignature / basehash", () => {
  function recipe(mod: (d: DataStore) => void = () => undefined): DataStore {
    const d = new DataStore();
    d.setVar("BB_BASEHASH_IGNORE_VARS", "TMPDIR FILE");
    d.setVar("TMPDIR", "/build/tmp");
    d.setVar("FILE", "/layers/meta/recipes/a.bb");
    d.setVar("CFLAGS", "-O2");
    d.setVar("UNRELATED", "u");
    d.setVar("EXCLUDED", "e");
    d.setVar("B", "${TMPDIR}/work/b");
    shellFunc(d, "helper", "echo helping ${CFLAGS}");
    shellFunc(d, "uncalled", "echo not called");
    shellFunc(d, "do_x", "cd ${B}\nhelper\necho ${EXCLUDED}\n");
    d.setVarFlag("do_x", "task", "1");
    d.setVarFlag("do_x", "vardepsexclude", "EXCLUDED");
    jsFunc(d, "do_js", "kiln.note(d.getVar('JSVAR'));");
    d.setVarFlag("do_js", "task", "1");
    d.setVar("JSVAR", "j");
    d.setVar("__BBTASKS", ["do_x", "do_js"]);
    mod(d);
    return d;
  }
  const hash = (d: DataStore, task = "do_x") => taskSignature(d, task).basehash;

  it("is a sha256 hex, stable across two identical stores", () => {
    const a = hash(recipe());
    expect(a).toMatch(/^[0-9a-f]{64}$/);
    expect(hash(recipe())).toBe(a);
  });

  it("details: sorted taskdeps and their hashed values", () => {
    const { details } = taskSignature(recipe(), "do_x");
    expect(details.task).toBe("do_x");
    expect(details.taskdeps).toEqual(["B", "CFLAGS", "helper"]);
    expect(details.varvals.CFLAGS).toBe("-O2");
    expect(details.varvals.B).toBe("${TMPDIR}/work/b");
    expect(details.gendeps.do_x).toEqual(["B", "helper"]);
  });

  it("changes when a dependency's value changes (directly or transitively)", () => {
    const base = hash(recipe());
    expect(hash(recipe((d) => d.setVar("CFLAGS", "-O3")))).not.toBe(base);
    expect(hash(recipe((d) => d.setVar("B", "${TMPDIR}/work/other")))).not.toBe(base);
    expect(hash(recipe((d) => d.setVar("helper", "echo changed")))).not.toBe(base);
    expect(hash(recipe((d) => d.appendVar("CFLAGS", " -g")))).not.toBe(base);
    expect(hash(recipe((d) => d.setVar("do_x", "cd ${B}\nhelper\n")))).not.toBe(base);
  });

  it("does not change when an ignored, excluded, unrelated or uncalled thing changes", () => {
    const base = hash(recipe());
    expect(hash(recipe((d) => d.setVar("TMPDIR", "/elsewhere/tmp")))).toBe(base);
    expect(hash(recipe((d) => d.setVar("FILE", "/moved/a.bb")))).toBe(base);
    expect(hash(recipe((d) => d.setVar("EXCLUDED", "changed")))).toBe(base);
    expect(hash(recipe((d) => d.setVar("UNRELATED", "changed")))).toBe(base);
    expect(hash(recipe((d) => d.setVar("uncalled", "echo changed")))).toBe(base);
    expect(hash(recipe((d) => d.setVar("JSVAR", "changed")))).toBe(base);
  });

  it("a dependency becoming unset changes the hash", () => {
    const base = hash(recipe());
    expect(hash(recipe((d) => d.delVar("CFLAGS")))).not.toBe(base);
    expect(hash(recipe((d) => d.setVar("CFLAGS", "")))).not.toBe(hash(recipe((d) => d.delVar("CFLAGS"))));
  });

  it("a JS task: changes with what d.getVar reads, not with shell exports", () => {
    const base = hash(recipe(), "do_js");
    expect(hash(recipe((d) => d.setVar("JSVAR", "k")), "do_js")).not.toBe(base);
    expect(hash(recipe((d) => d.setVar("CFLAGS", "-O3")), "do_js")).toBe(base);
    const exported = (d: DataStore) => {
      d.setVar("EXP", "1");
      d.setVarFlag("EXP", "export", "1");
    };
    expect(hash(recipe(exported), "do_js")).toBe(base);
    expect(hash(recipe(exported))).not.toBe(hash(recipe()));
  });

  it("taskBasehashes gives every listed task the same basehash as taskSignature", () => {
    const d = recipe();
    const all = taskBasehashes(d);
    expect([...all.keys()].sort()).toEqual(["do_js", "do_x"]);
    expect(all.get("do_x")?.basehash).toBe(hash(d));
    expect(all.get("do_js")?.basehash).toBe(hash(d, "do_js"));
  });
});
