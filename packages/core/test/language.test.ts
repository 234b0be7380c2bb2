/**
 * The metadata language, file by file: what each statement of a `.bb`, `.bbclass`,
 * `.inc` or `.conf` file does to the DataStore, checked against BitBake's own
 * rules (lib/bb/parse/ast.py, parse_py/BBHandler.py, parse_py/ConfHandler.py,
 * data_smart.py), with JavaScript in place of Python (DESIGN §2).
 *
 * Every test writes real files to a temporary directory (BBPATH points at it) and
 * parses them with the public entry points; values are compared exactly.
 */
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import {
  clearFileCache,
  DataStore,
  ExpansionError,
  JsError,
  KilnError,
  listTasks,
  parseConfFile,
  ParseError,
  parseRecipeFile,
} from "../src/index.js";

// ---------------------------------------------------------------------------
// helpers

let dir: string;

beforeEach(() => {
  clearFileCache();
  dir = fs.mkdtempSync(path.join(os.tmpdir(), "kiln-language-"));
});

afterEach(() => {
  fs.rmSync(dir, { recursive: true, force: true });
});

/** Lines of a metadata file, newline-terminated. */
function lines(...ls: string[]): string {
  return ls.join("\n") + "\n";
}

/** Write `text` to `rel` under the temp dir; returns the absolute path. */
function write(rel: string, text: string): string {
  const abs = path.join(dir, rel);
  fs.mkdirSync(path.dirname(abs), { recursive: true });
  fs.writeFileSync(abs, text);
  return abs;
}

function store(options: { history?: boolean } = {}): DataStore {
  const d = new DataStore(options);
  d.setVar("BBPATH", dir);
  return d;
}

/** Parse `text` as recipe `rel` (finalised). */
function recipe(text: string, rel = "recipes/r.bb", d: DataStore = store()): DataStore {
  return parseRecipeFile(d, write(rel, text));
}

/** Parse `text` as configuration file `rel`. */
function conf(text: string, rel = "conf/c.conf", d: DataStore = store()): DataStore {
  return parseConfFile(d, write(rel, text));
}

/** The error `fn` throws (fails the test when it throws nothing). */
function thrown(fn: () => unknown): any {
  try {
    fn();
  } catch (err) {
    return err;
  }
  throw new Error("expected an error, nothing was thrown");
}

/** A ParseError with code PARSE_ERROR at file:line (and column when given). */
function expectParseError(err: unknown, file: string, line: number, column?: number): ParseError {
  expect(err).toBeInstanceOf(ParseError);
  const e = err as ParseError;
  expect(e.code).toBe("PARSE_ERROR");
  expect(e.file).toBe(file);
  expect(e.line).toBe(line);
  if (column !== undefined) expect(e.column).toBe(column);
  return e;
}

// ---------------------------------------------------------------------------

describe("assignment operators", () => {
  it("= ?= := += =+ .= =. each give BitBake's value", () => {
    const d = conf(
      lines(
        'A = "a"',
        'B ?= "b"',
        'B ?= "c"',
        'C := "${A}"',
        'D = "d"',
        'D += "e"',
        'D =+ "p"',
        'D .= "x"',
        'D =. "y"',
      ),
    );
    expect(d.getVar("A")).toBe("a");
    expect(d.getVar("B")).toBe("b");
    expect(d.getVar("C")).toBe("a");
    // ast.py DataNode: append "%s %s", prepend "%s %s", postdot "%s%s", predot "%s%s"
    expect(d.getVar("D")).toBe("yp d ex");
  });

  it("+= / =+ on an unset variable keep the separating space (\"%s %s\" % ('', v))", () => {
    const d = conf(lines('A += "a"', 'B =+ "b"', 'C .= "c"', 'E =. "e"'));
    expect(d.getVar("A")).toBe(" a");
    expect(d.getVar("B")).toBe("b ");
    expect(d.getVar("C")).toBe("c");
    expect(d.getVar("E")).toBe("e");
  });

  it("??= is the weakest default: the last ??= wins, any other assignment beats it", () => {
    const d = conf(
      lines('A ??= "x"', 'A ??= "z"', 'B = "b"', 'B ??= "d"', 'C ??= "d"', 'C = "c"', 'E ?= "q"', 'E ??= "r"'),
    );
    expect(d.getVar("A")).toBe("z");
    expect(d.getVar("B")).toBe("b");
    expect(d.getVar("C")).toBe("c");
    expect(d.getVar("E")).toBe("q");
  });

  it("+= after ??= does not see the default (getVar noweakdefault): A ??= x, A += y gives ' y'", () => {
    const d = conf(lines('A ??= "x"', 'A += "y"', 'B ??= "x"', 'B .= "y"', 'C ??= "x"', 'C =+ "y"'));
    expect(d.getVar("A")).toBe(" y");
    expect(d.getVar("B")).toBe("y");
    expect(d.getVar("C")).toBe("y ");
  });

  it("?= does not see ??=: A ??= x, A ?= y gives y", () => {
    const d = conf(lines('A ??= "x"', 'A ?= "y"', 'A ?= "z"'));
    expect(d.getVar("A")).toBe("y");
  });

  it(":= sees a ??= default when expanding, and := of the variable itself appends", () => {
    const d = conf(lines('A ??= "x"', 'B := "${A}"', 'A = "y"', 'C = "c"', 'C := "${C} more"'));
    expect(d.getVar("B")).toBe("x");
    expect(d.getVar("A")).toBe("y");
    expect(d.getVar("C")).toBe("c more");
  });

  it(":= expands on a copy (BitBake's data.createCopy()): overrides worked out afresh, inline code's writes kept out", () => {
    // M:b changes what OVERRIDES reads without setting M itself: the live store's
    // overrides are stale, a copy's are not
    const d = conf(
      lines('M = "a"', 'OVERRIDES = "b:${M}"', 'X = "x"', 'X:a = "xa"', 'X:c = "xc"', 'Y1 := "${X}"', 'M:b = "c"', 'Y2 := "${X}"', `A := "\${@d.setVar('SIDE', 'y') || 'v'}"`),
    );
    expect([d.getVar("Y1"), d.getVar("Y2"), d.getVar("X")]).toEqual(["xa", "xc", "xc"]);
    expect(d.getVar("A")).toBe("v");
    expect(d.getVar("SIDE")).toBeUndefined();
    // every variable the file set is still its own (layer.conf's ${LAYERDIR} rewrite reads them)
    expect(d.localKeys()).toEqual(expect.arrayContaining(["M", "OVERRIDES", "X", "Y1", "Y2", "A"]));
  });

  it("OVERRIDES follows what its inline code reads by name (d.getVar, kiln.utils.contains), as BitBake's expandWithRefs", () => {
    const d = conf(
      lines(
        'MYOV = "a"',
        'OVERRIDES = "c:${MYOV}"',
        'X = "x"',
        'X:b = "xb"',
        'X:b2 = "xb2"',
        'MYOV = "b"',
        'FEAT = "f1"',
        `OVERRIDES .= ":\${@kiln.utils.contains('FEAT', 'f2', 'b2', 'none', d)}"`,
        'Y := "${X}"',
        'FEAT = "f2"',
        'Z := "${X}"',
      ),
    );
    expect([d.getVar("Y"), d.getVar("Z"), d.getVar("OVERRIDES")]).toEqual(["xb", "xb2", "c:b:b2"]);
    // and in the live store, from an anonymous function's setVar
    const e = conf(lines('MYOV = "a"', `OVERRIDES = "\${@d.getVar('MYOV')}"`, 'X = "x"', 'X:a = "xa"', 'X:b = "xb"'));
    expect(e.getVar("X")).toBe("xa");
    e.setVar("MYOV", "b");
    expect([e.getVar("X"), e.getVar("OVERRIDES")]).toEqual(["xb", "b"]);
  });

  it(":= expands at once, = expands when read; an unknown reference stays literal", () => {
    const d = conf(lines('A = "1"', 'B = "${A}"', 'C := "${A}"', 'A = "2"', 'D := "${NOPE}x"'));
    expect(d.getVar("B")).toBe("2");
    expect(d.getVar("C")).toBe("1");
    expect(d.getVar("B", false)).toBe("${A}");
    expect(d.getVar("D")).toBe("${NOPE}x");
  });

  it("+= and .= apply to the raw value now, :append waits until read", () => {
    const d = conf(
      lines('A = "a"', 'A:append = " b"', 'A += "c"', 'B:append = "x"', 'B ?= "y"', 'C ??= "x"', 'C:append = "y"'),
    );
    expect(d.getVar("A")).toBe("a c b");
    // ?= looks at the raw value (parsing=True): no content yet, so it sets
    expect(d.getVar("B")).toBe("yx");
    expect(d.getVar("C")).toBe("xy");
  });

  it("flags take every operator: A[f] += x, A[f] ??= d, A[f] ?= ...", () => {
    const d = conf(
      lines(
        'A[f] = "1"',
        'A[f] += "2"',
        'A[g] ??= "d"',
        'A[h] ??= "d"',
        'A[h] = "e"',
        'A[i] ?= "x"',
        'A[i] ?= "y"',
        'A[j] = "v"',
        'A[j] =+ "w"',
        'A[j] .= "."',
        'A[k] ??= "d"',
        'A[k] += "y"',
        'A[m] ??= "d"',
        'A[m] ?= "q"',
        'B = "b"',
        'A[n] := "${B}"',
      ),
    );
    expect(d.getVarFlag("A", "f")).toBe("1 2");
    expect(d.getVarFlag("A", "g")).toBe("d");
    expect(d.getVarFlag("A", "h")).toBe("e");
    expect(d.getVarFlag("A", "i")).toBe("x");
    expect(d.getVarFlag("A", "j")).toBe("w v.");
    expect(d.getVarFlag("A", "k")).toBe(" y");
    expect(d.getVarFlag("A", "m")).toBe("q");
    expect(d.getVarFlag("A", "n", false)).toBe("b");
    // flags are not the value
    expect(d.getVar("A")).toBeUndefined();
  });

  it("export VAR = sets the export flag to 1; bare export VAR flags without a value", () => {
    const d = conf(lines('export A = "1"', "export B", 'C = "c"'));
    expect(d.getVar("A")).toBe("1");
    expect(d.getVarFlag("A", "export")).toBe(1);
    expect(d.getVar("B")).toBeUndefined();
    expect(d.getVarFlag("B", "export")).toBe(1);
    expect(d.getVarFlag("C", "export")).toBeUndefined();
  });

  it("unset VAR drops the value and its flags; unset VAR[flag] drops only the flag", () => {
    const d = conf(
      lines('A = "1"', 'A[doc] = "d"', "unset A", 'B = "x"', 'B[flag] = "f"', 'B[other] = "o"', "unset B[flag]"),
    );
    expect(d.getVar("A")).toBeUndefined();
    expect(d.getVarFlag("A", "doc")).toBeUndefined();
    expect(d.getVar("B")).toBe("x");
    expect(d.getVarFlag("B", "flag")).toBeUndefined();
    expect(d.getVarFlag("B", "other")).toBe("o");
  });

  it("unset VAR[flag] also drops the flag's ??= default (data_smart.delVarFlag)", () => {
    // data_smart.py delVarFlag: `del self.dict[var][flag]` and then
    // `if ("_defaultval_flag_" + flag) in self.dict[var]: del self.dict[var]["_defaultval_flag_" + flag]`
    const d = conf(lines('A[flag] ??= "d"', 'A[flag] = "x"', "unset A[flag]"));
    expect(d.getVarFlag("A", "flag")).toBeUndefined();
  });
});

describe("lines, quotes and comments", () => {
  it("a \\ joins the next line without the backslash and without adding a space", () => {
    const d = conf(lines('A = "one\\', 'two"', 'B = "x \\', '    y"', 'C = "a \\', "b \\", 'c"'));
    expect(d.getVar("A")).toBe("onetwo");
    expect(d.getVar("B")).toBe("x     y");
    expect(d.getVar("C")).toBe("a b c");
  });

  it("lines are right-stripped before joining (trailing blanks after \\ do not stop the join)", () => {
    const d = conf('A = "one \\   \ntwo"   \n');
    expect(d.getVar("A")).toBe("one two");
  });

  it("both quote styles, and the other quote inside a value", () => {
    const d = conf(
      lines(
        "A = 'single'",
        'B = "a \'b\' c"',
        "C = 'say \"hi\"'",
        'D = ""',
        'E = "a"b"c"',
        'F = "has # hash"',
        "G='tight'",
      ),
    );
    expect(d.getVar("A")).toBe("single");
    expect(d.getVar("B")).toBe("a 'b' c");
    expect(d.getVar("C")).toBe('say "hi"');
    expect(d.getVar("D")).toBe("");
    // ConfHandler: (?!"[^"]*"[^"]*"$) only rejects exactly three quotes
    expect(d.getVar("E")).toBe('a"b"c');
    expect(d.getVar("F")).toBe("has # hash");
    expect(d.getVar("G")).toBe("tight");
  });

  it("a value with exactly three double quotes is not an assignment", () => {
    const f = write("conf/q.conf", lines('A = "1"', 'B = "a"b"'));
    expectParseError(thrown(() => parseConfFile(store(), f)), f, 2);
  });

  it("comment lines (including a comment continued onto comment lines) and blank lines are skipped", () => {
    const d = conf(lines("# a comment", 'A = "1"', "", "# continued \\", "# still comment", "   ", 'B = "2"'));
    expect(d.getVar("A")).toBe("1");
    expect(d.getVar("B")).toBe("2");
    expect(d.keys().filter((k) => k !== "BBPATH" && k !== "FILE").sort()).toEqual(["A", "B"]);
  });
});

describe("overrides and :append/:prepend/:remove", () => {
  it("VAR:override is chosen by OVERRIDES, later OVERRIDES entries win, unknown overrides are ignored", () => {
    const d = conf(
      lines(
        'OVERRIDES = "arm:foo"',
        'A = "base"',
        'A:arm = "armval"',
        'B:nope = "x"',
        'B = "b"',
        'C:foo = "2"',
        'C:arm = "1"',
        'E:arm = "x"',
        'E = "y"',
      ),
    );
    expect(d.getVar("A")).toBe("armval");
    expect(d.getVar("B")).toBe("b");
    expect(d.getVar("C")).toBe("2");
    // `E = "y"` while parsing keeps the override variant
    expect(d.getVar("E")).toBe("x");
  });

  it(":append, :prepend then :remove of whole words after expansion", () => {
    const d = conf(
      lines(
        'A = "a b c"',
        'A:append = " d"',
        'A:prepend = "z "',
        'A:remove = "b"',
        'C = "c"',
        'E = "a b ${C}"',
        'E:remove = "${C}"',
        'F = "ab b abc"',
        'F:remove = "b"',
      ),
    );
    expect(d.getVar("A")).toBe("z a  c d");
    expect(d.getVar("E")).toBe("a b ");
    expect(d.getVar("F")).toBe("ab  abc");
  });

  it(":append:arm / :prepend:arm / :remove:arm apply only when arm is in OVERRIDES", () => {
    const text = lines(
      'A = "a b"',
      'A:append:arm = " arm"',
      'A:append:x86 = " x86"',
      'A:prepend:arm = "pre "',
      'A:remove:arm = "b"',
      'A:append:arm:foo = " both"',
    );
    const d = store();
    d.setVar("OVERRIDES", "arm:foo");
    expect(conf(text, "conf/a.conf", d).getVar("A")).toBe("pre a  arm both");
    clearFileCache();
    const e = store();
    e.setVar("OVERRIDES", "x86");
    expect(conf(text, "conf/b.conf", e).getVar("A")).toBe("a b x86");
  });

  it("VAR:arm:append appends to the arm variant, which then replaces the whole value", () => {
    const d = conf(
      lines(
        'OVERRIDES = "arm"',
        'A = "a"',
        'A:arm = "armv"',
        'A:arm:append = " more"',
        'B = "b"',
        'B:arm:append = " only"',
        'C = "c"',
        'C:x86:append = " no"',
      ),
    );
    expect(d.getVar("A")).toBe("armv more");
    // data_smart getVarFlag: the variant B:arm is the match; its value is None + " only"
    expect(d.getVar("B")).toBe(" only");
    expect(d.getVar("C")).toBe("c");
  });

  it("d.setVar from code clears pending :append and active override variants (unlike = in a file)", () => {
    const d = recipe(
      lines(
        'OVERRIDES = "arm"',
        'A = "a"',
        'A:append = " x"',
        'A:arm = "armv"',
        'B = "b"',
        'B:append = " x"',
        "js () {",
        '    d.setVar("A", "new");',
        "}",
      ),
    );
    expect(d.getVar("A")).toBe("new");
    expect(d.getVar("B")).toBe("b x");
  });
});

describe("key expansion", () => {
  it("A${B} = ... is renamed at finalisation with B's final value; pending :append moves with it", () => {
    const d = recipe(
      lines('B = "foo"', 'A${B} = "v"', 'A${B}:append = " x"', 'C${E} = "c"', 'E = "early"', 'E = "late"'),
    );
    expect(d.getVar("Afoo")).toBe("v x");
    expect(d.getVar("Clate")).toBe("c");
    expect(d.getVar("Cearly")).toBeUndefined();
    expect(d.getVar("A${B}", false)).toBeUndefined();
    expect(d.keys().filter((k) => k.includes("${"))).toEqual([]);
  });

  it("flags set on A${B}[f] do not follow the rename (data_smart.renameVar moves only :append/:prepend/:remove)", () => {
    // data_smart.py renameVar: `for i in srcflags: if i not in (__setvar_keyword__): continue`
    // and then `self.delVar(key, ignore=True)`.
    const d = recipe(lines('B = "foo"', 'A${B} = "v"', 'A${B}[doc] = "d"', 'Afoo[other] = "o"'));
    expect(d.getVar("Afoo")).toBe("v");
    expect(d.getVarFlag("Afoo", "doc")).toBeUndefined();
    expect(d.getVarFlag("Afoo", "other")).toBe("o");
    expect(d.getVarFlag("A${B}", "doc")).toBeUndefined();
  });
});

describe("inline ${@ js }", () => {
  it("values, null and undefined give empty strings", () => {
    const d = conf(
      lines('A = "${@1 + 2}"', 'B = "x${@null}y"', 'C = "x${@undefined}y"', 'E = "${@[1, 2].join(\'-\')}"', 'F = "${@true}"'),
    );
    expect(d.getVar("A")).toBe("3");
    expect(d.getVar("B")).toBe("xy");
    expect(d.getVar("C")).toBe("xy");
    expect(d.getVar("E")).toBe("1-2");
    expect(d.getVar("F")).toBe("true");
  });

  it("nested braces, object literals, template literals and quoted braces inside the expression", () => {
    const d = conf(
      lines(
        'A = "${@(() => { const o = { k: 2 }; return o.k * 3; })()}"',
        "B = \"${@({ a: 'x', b: { c: 'y' } }).b.c}\"",
        'C = "${@`v${[1, 2].length}`}"',
        "E = \"${@'}'.length + '{'.length}\"",
        'F = "pre-${@JSON.stringify({ a: 1 })}-post"',
      ),
    );
    expect(d.getVar("A")).toBe("6");
    expect(d.getVar("B")).toBe("y");
    expect(d.getVar("C")).toBe("v2");
    expect(d.getVar("E")).toBe("2");
    expect(d.getVar("F")).toBe('pre-{"a":1}-post');
  });

  it("code holding an unexpandable ${X} is left unevaluated; an expandable one is substituted first", () => {
    const d = conf(lines("A = \"${@'${NOPE}'.length}\"", 'B = "abc"', "C = \"${@'${B}'.length}\"", "E = \"${@d.getVar('B') + '!'}\""));
    expect(d.getVar("A")).toBe("${@'${NOPE}'.length}");
    expect(d.getVar("C")).toBe("3");
    expect(d.getVar("E")).toBe("abc!");
  });

  it("calls jsdef helpers", () => {
    const d = recipe(
      lines("jsdef double(d, x) {", "    return x * 2;", "}", 'A = "${@double(d, 21)}"', "B = \"${@double(d, d.getVar('N'))}\"", 'N = "4"'),
    );
    expect(d.getVar("A")).toBe("42");
    expect(d.getVar("B")).toBe("8");
  });

  it("kiln.utils.contains / containsAny / filter / toBoolean / vercmp", () => {
    const d = conf(
      lines(
        'FEATURES = "a b c"',
        "C1 = \"${@kiln.utils.contains('FEATURES', 'a b', 'yes', 'no', d)}\"",
        "C2 = \"${@kiln.utils.contains('FEATURES', 'a z', 'yes', 'no', d)}\"",
        "C3 = \"${@kiln.utils.contains('UNSET', 'a', 'yes', 'no', d)}\"",
        "Y1 = \"${@kiln.utils.containsAny('FEATURES', 'z c', 'y', 'n', d)}\"",
        "Y2 = \"${@kiln.utils.containsAny('FEATURES', 'z q', 'y', 'n', d)}\"",
        "F1 = \"${@kiln.utils.filter('FEATURES', 'c a z', d)}\"",
        "T1 = \"${@kiln.utils.toBoolean('yes')}\"",
        "T2 = \"${@kiln.utils.toBoolean('0')}\"",
        "T3 = \"${@kiln.utils.toBoolean('')}\"",
        "V1 = \"${@kiln.utils.vercmp('1.10', '1.9')}\"",
        "V2 = \"${@kiln.utils.vercmp('1.0~rc1', '1.0')}\"",
        "V3 = \"${@kiln.utils.vercmp('2.0', '2.0')}\"",
      ),
    );
    expect(d.getVar("C1")).toBe("yes");
    expect(d.getVar("C2")).toBe("no");
    expect(d.getVar("C3")).toBe("no");
    expect(d.getVar("Y1")).toBe("y");
    expect(d.getVar("Y2")).toBe("n");
    expect(d.getVar("F1")).toBe("a c");
    expect(d.getVar("T1")).toBe("true");
    expect(d.getVar("T2")).toBe("false");
    expect(d.getVar("T3")).toBe("");
    expect(d.getVar("V1")).toBe("1");
    expect(d.getVar("V2")).toBe("-1");
    expect(d.getVar("V3")).toBe("0");
  });

  it("an exception in inline code is an ExpansionError naming the variable", () => {
    const d = conf(
      lines("A = \"${@(() => { throw new Error('boom'); })()}\"", 'B = "x ${A}"', 'C = "${@noSuchFunction()}"'),
    );
    const e1 = thrown(() => d.getVar("A"));
    expect(e1).toBeInstanceOf(ExpansionError);
    expect(e1.code).toBe("EXPANSION_ERROR");
    expect(e1.variable).toBe("A");
    expect(e1.message).toContain("boom");
    const e2 = thrown(() => d.getVar("C"));
    expect(e2).toBeInstanceOf(ExpansionError);
    expect(e2.variable).toBe("C");
  });
});

describe("functions", () => {
  it("a shell function body is stored line by line (right-stripped), ending in \\n, with func/filename/lineno", () => {
    const f = write(
      "recipes/r.bb",
      lines('A = "1"', "do_install () {", "\tinstall -d ${D}", '    echo "x"   ', "", "  if true; then :; fi", "}"),
    );
    const d = parseRecipeFile(store(), f);
    expect(d.getVar("do_install", false)).toBe('\tinstall -d ${D}\n    echo "x"\n\n  if true; then :; fi\n');
    expect(d.getVarFlag("do_install", "func")).toBe(1);
    expect(d.getVarFlag("do_install", "filename")).toBe(f);
    expect(d.getVarFlag("do_install", "js")).toBeUndefined();
    expect(d.getVarFlag("do_install", "fakeroot")).toBeUndefined();
  });

  it("the lineno flag is the line of the function's header (ast.py: self.lineno - len(self.body))", () => {
    // BBHandler.feeder calls handleMethod at the closing '}' with the body plus a
    // final '' (`__body__.append('')`); MethodNode.eval stores
    // `str(self.lineno - len(self.body))`: for a header on line 2, body on 3-4 and
    // '}' on 5 that is 5 - 3 = 2.
    const f = write("recipes/r.bb", lines('A = "1"', "do_x () {", "\ta", "\tb", "}"));
    const d = parseRecipeFile(store(), f);
    expect(d.getVarFlag("do_x", "lineno")).toBe("2");
  });

  it("an empty function body is the empty string ('\\n'.join(['']))", () => {
    const d = recipe(lines("do_nothing () {", "}", "js do_nojs () {", "}"));
    expect(d.getVar("do_nothing", false)).toBe("");
    expect(d.getVar("do_nojs", false)).toBe("");
  });

  it("js do_x () { has flag js=1; fakeroot do_x () { has flag fakeroot=1", () => {
    const d = recipe(
      lines(
        "js do_js () {",
        "    const x = `t${1}`;",
        "    d.setVar('X', x);",
        "}",
        "fakeroot do_install () {",
        "\ttouch ${D}/x",
        "}",
        "fakeroot js do_both () {",
        "    return 1;",
        "}",
      ),
    );
    expect(d.getVarFlag("do_js", "js")).toBe("1");
    expect(d.getVarFlag("do_js", "func")).toBe(1);
    expect(d.getVar("do_js", false)).toBe("    const x = `t${1}`;\n    d.setVar('X', x);\n");
    expect(d.getVarFlag("do_install", "fakeroot")).toBe("1");
    expect(d.getVarFlag("do_install", "js")).toBeUndefined();
    expect(d.getVarFlag("do_both", "fakeroot")).toBe("1");
    expect(d.getVarFlag("do_both", "js")).toBe("1");
  });

  it("redefining a js function as a shell function drops the js flag", () => {
    const d = recipe(lines("js do_x () {", "    return 1;", "}", "do_x () {", "\techo sh", "}"));
    expect(d.getVarFlag("do_x", "js")).toBeUndefined();
    expect(d.getVar("do_x", false)).toBe("\techo sh\n");
  });

  it("do_x:append () { appends its body to do_x; do_x:prepend () { prepends", () => {
    const d = recipe(
      lines("do_x () {", "\ta", "}", "do_x:append () {", "\tb", "}", "do_x:prepend () {", "\tz", "}"),
    );
    expect(d.getVar("do_x", false)).toBe("\tz\n\ta\n\tb\n");
  });

  it("anonymous js () { and js __anonymous () { run at finalisation, in order, after later assignments", () => {
    const d = recipe(
      lines(
        'A = "a"',
        "js () {",
        '    d.setVar("B", d.getVar("A") + "1");',
        '    d.setVar("ORDER", "first");',
        "}",
        "js __anonymous () {",
        '    d.appendVar("B", "2");',
        '    d.setVar("ORDER", d.getVar("ORDER") + " second");',
        "}",
        'A = "late"',
      ),
    );
    expect(d.getVar("B")).toBe("late12");
    expect(d.getVar("ORDER")).toBe("first second");
  });

  it("anonymous functions of an inherited class run before the recipe's later ones", () => {
    write("classes/foo.bbclass", lines("js () {", '    d.setVar("SEEN", (d.getVar("SEEN") || "") + "class ");', "}"));
    const d = recipe(
      lines("js () {", '    d.setVar("SEEN", (d.getVar("SEEN") || "") + "r1 ");', "}", "inherit foo", "js () {", '    d.setVar("SEEN", d.getVar("SEEN") + "r2");', "}"),
    );
    expect(d.getVar("SEEN")).toBe("r1 class r2");
  });

  it("jsdef helpers see each other and are callable from ${@} and from anonymous functions", () => {
    const d = recipe(
      lines(
        "jsdef base(d) {",
        '    return d.getVar("BASE");',
        "}",
        "jsdef wrap(d, s) {",
        '    return "[" + base(d) + s + "]";',
        "}",
        "js () {",
        '    d.setVar("W", wrap(d, "x"));',
        "}",
        "I = \"${@wrap(d, 'y')}\"",
        'BASE = "B"',
      ),
    );
    expect(d.getVar("W")).toBe("[Bx]");
    expect(d.getVar("I")).toBe("[By]");
    expect(d.getVarFlag("wrap", "func")).toBe(1);
    expect(d.getVarFlag("wrap", "js")).toBe("1");
  });

  it("an exception thrown in a recipe's anonymous function is a JsError at the throw's line", () => {
    const f = write(
      "recipes/r.bb",
      lines('A = "1"', "js () {", '    const x = d.getVar("A");', "    if (x === \"1\") {", '        throw new Error("kaboom");', "    }", "}"),
    );
    const err = thrown(() => parseRecipeFile(store(), f));
    expect(err).toBeInstanceOf(JsError);
    expect(err.code).toBe("JS_ERROR");
    expect(err.file).toBe(f);
    expect(err.line).toBe(5);
    expect(err.message).toContain("kaboom");
  });

  it("an exception thrown in a class's anonymous function is a JsError naming the class file and line", () => {
    const cls = write(
      "classes/boom.bbclass",
      lines('X = "1"', "", "js () {", '    if (d.getVar("BOOM") === "1") {', '        throw new Error("from class");', "    }", "}"),
    );
    const err = thrown(() => recipe(lines('BOOM = "1"', "inherit boom")));
    expect(err).toBeInstanceOf(JsError);
    expect(err.code).toBe("JS_ERROR");
    expect(err.file).toBe(cls);
    expect(err.line).toBe(5);
  });

  it("an exception in a jsdef called from an anonymous function points into the jsdef", () => {
    const f = write(
      "recipes/r.bb",
      lines("jsdef fail(d) {", '    throw new Error("in helper");', "}", "js () {", "    fail(d);", "}"),
    );
    const err = thrown(() => parseRecipeFile(store(), f));
    expect(err).toBeInstanceOf(JsError);
    expect(err.file).toBe(f);
    expect(err.line).toBe(2);
  });
});

describe("tasks", () => {
  it("addtask records deps flags with do_ prefixes and __BBTASKS order", () => {
    const d = recipe(
      lines(
        "addtask fetch",
        "addtask unpack after do_fetch",
        "addtask patch after unpack before do_configure",
        "addtask configure after patch",
        "addtask compile after configure fetch before build",
        "addtask build",
      ),
    );
    expect(listTasks(d)).toEqual(["do_fetch", "do_unpack", "do_patch", "do_configure", "do_compile", "do_build"]);
    expect(d.getVarFlag("do_fetch", "deps")).toEqual([]);
    expect(d.getVarFlag("do_unpack", "deps")).toEqual(["do_fetch"]);
    expect(d.getVarFlag("do_patch", "deps")).toEqual(["do_unpack"]);
    expect(d.getVarFlag("do_configure", "deps")).toEqual(["do_patch"]);
    expect(d.getVarFlag("do_compile", "deps")).toEqual(["do_configure", "do_fetch"]);
    expect(d.getVarFlag("do_build", "deps")).toEqual(["do_compile"]);
    expect(d.getVarFlag("do_compile", "task")).toBe(1);
  });

  it("deltask removes the task and every dependency on it, without bridging", () => {
    const d = recipe(lines("addtask a", "addtask b after a", "addtask c after b a", "addtask e after b", "deltask b"));
    expect(listTasks(d)).toEqual(["do_a", "do_c", "do_e"]);
    expect(d.getVarFlag("do_b", "task")).toBeUndefined();
    expect(d.getVarFlag("do_b", "deps")).toBeUndefined();
    expect(d.getVarFlag("do_c", "deps")).toEqual(["do_a"]);
    expect(d.getVarFlag("do_e", "deps")).toEqual([]);
  });

  it("addhandler registers handlers with flag handler=1; an undefined handler fails at finalisation", () => {
    const d = recipe(lines("js my_handler () {", "    return;", "}", "js other () {", "    return;", "}", "addhandler my_handler other"));
    expect(d.getVar("__BBHANDLERS", false)).toEqual(["my_handler", "other"]);
    expect(d.getVarFlag("my_handler", "handler")).toBe(1);
    clearFileCache();
    const err = thrown(() => recipe(lines("addhandler missing_handler"), "recipes/bad.bb"));
    expect(err).toBeInstanceOf(KilnError);
    expect(err.code).toBe("PARSE_ERROR");
    expect(err.message).toContain("missing_handler");
  });

  it("EXPORT_FUNCTIONS makes do_x a call of <class>_do_x", () => {
    write(
      "classes/foo.bbclass",
      lines("foo_do_compile () {", "\techo foo", "}", "js foo_do_build () {", "    return 1;", "}", "EXPORT_FUNCTIONS do_compile do_build"),
    );
    const d = recipe(lines("inherit foo"));
    expect(d.getVar("do_compile", false)).toBe("    # Export function set\n    foo_do_compile\n");
    expect(d.getVarFlag("do_compile", "func")).toBe(1);
    expect(d.getVarFlag("do_compile", "js")).toBeUndefined();
    expect(d.getVarFlag("do_compile", "filename")).toBe("autogenerated");
    expect(d.getVar("foo_do_compile", false)).toBe("\techo foo\n");
    expect(d.getVarFlag("do_build", "js")).toBe("1");
    expect(d.getVar("do_build", false)).toBe('    // Export function set\n    await kiln.execFunc("foo_do_build", d);\n');
  });

  it("a recipe's own do_x wins over EXPORT_FUNCTIONS, before or after the inherit", () => {
    write("classes/foo.bbclass", lines("foo_do_compile () {", "\techo foo", "}", "EXPORT_FUNCTIONS do_compile"));
    const before = recipe(lines("do_compile () {", "\techo mine", "}", "inherit foo"), "recipes/before.bb");
    expect(before.getVar("do_compile", false)).toBe("\techo mine\n");
    const after = recipe(lines("inherit foo", "do_compile () {", "\techo mine", "}"), "recipes/after.bb");
    expect(after.getVar("do_compile", false)).toBe("\techo mine\n");
  });

  it("a later class's EXPORT_FUNCTIONS replaces an earlier class's export", () => {
    write("classes/one.bbclass", lines("one_do_compile () {", "\t:", "}", "EXPORT_FUNCTIONS do_compile"));
    write("classes/two.bbclass", lines("two_do_compile () {", "\t:", "}", "EXPORT_FUNCTIONS do_compile"));
    const d = recipe(lines("inherit one two"));
    expect(d.getVar("do_compile", false)).toBe("    # Export function set\n    two_do_compile\n");
  });
});

describe("include, require, inherit", () => {
  it("include of a missing file is silently skipped", () => {
    const d = recipe(lines('A = "1"', "include does-not-exist.inc", "include ${NOPE}/x.inc", 'B = "2"'));
    expect(d.getVar("A")).toBe("1");
    expect(d.getVar("B")).toBe("2");
  });

  it("require of a missing file is a ParseError at the require line", () => {
    const f = write("recipes/r.bb", lines('A = "1"', "", "require does-not-exist.inc"));
    const err = expectParseError(thrown(() => parseRecipeFile(store(), f)), f, 3);
    expect(err.message).toContain("does-not-exist.inc");
  });

  it("relative includes look in the including file's directory first, then BBPATH", () => {
    write("recipes/x.inc", lines('WHERE = "beside"'));
    write("x.inc", lines('WHERE = "bbpath"'));
    write("y.inc", lines('Y = "bbpath-only"', "include z.inc"));
    write("z.inc", lines('Z = "next to y"'));
    write("recipes/sub/w.inc", lines('W = "sub"'));
    const d = recipe(lines("include x.inc", "require y.inc", "require sub/w.inc"));
    expect(d.getVar("WHERE")).toBe("beside");
    expect(d.getVar("Y")).toBe("bbpath-only");
    expect(d.getVar("Z")).toBe("next to y");
    expect(d.getVar("W")).toBe("sub");
  });

  it("inherit of a missing class is a ParseError naming classes/x.bbclass at the inherit line", () => {
    const f = write("recipes/r.bb", lines('A = "1"', "inherit nosuchclass"));
    const err = expectParseError(thrown(() => parseRecipeFile(store(), f)), f, 2);
    expect(err.message).toContain("classes/nosuchclass.bbclass");
  });

  it("inheriting a class twice evaluates it once", () => {
    write("classes/foo.bbclass", lines('COUNT .= "x"', "addtask foo"));
    write("classes/bar.bbclass", lines("inherit foo", 'COUNT .= "b"'));
    const d = recipe(lines("inherit foo", "inherit foo foo", "inherit bar"));
    expect(d.getVar("COUNT")).toBe("xb");
    expect(listTasks(d)).toEqual(["do_foo"]);
  });

  it("circular inherit (a inherits b inherits a) terminates", () => {
    write("classes/a.bbclass", lines('A_SEEN .= "a"', "inherit b"));
    write("classes/b.bbclass", lines('B_SEEN .= "b"', "inherit a"));
    const d = recipe(lines("inherit a"));
    expect(d.getVar("A_SEEN")).toBe("a");
    expect(d.getVar("B_SEEN")).toBe("b");
  });

  it("circular require (a.inc requires b.inc requires a.inc) is a ParseError naming both", () => {
    const a = write("recipes/a.inc", lines('A = "a"', "require b.inc"));
    const b = write("recipes/b.inc", lines('B = "b"', "", "require a.inc"));
    const err = thrown(() => recipe(lines("require a.inc")));
    expectParseError(err, b, 3);
    expect(err.message).toContain(a);
    expect(err.message).toContain(b);
  });

  it("inherit_defer inherits at finalisation, after later assignments, with its name expanded then", () => {
    write("classes/foo.bbclass", lines('X = "class"', 'Y ?= "class"'));
    write("classes/bar.bbclass", lines('X = "bar"'));
    const deferred = recipe(lines("inherit_defer ${CLS}", 'CLS = "bar"', 'X = "recipe"', 'Y = "recipe"', 'CLS = "foo"'), "recipes/d.bb");
    expect(deferred.getVar("X")).toBe("class");
    expect(deferred.getVar("Y")).toBe("recipe");
    const plain = recipe(lines("inherit foo", 'X = "recipe"'), "recipes/p.bb");
    expect(plain.getVar("X")).toBe("recipe");
  });

  it("inherit ${VAR} inherits every class the variable names", () => {
    write("classes/one.bbclass", lines('ONE = "1"'));
    write("classes/two.bbclass", lines('TWO = "2"'));
    const d = recipe(lines('CLASSES = "one two"', "inherit ${CLASSES}"));
    expect(d.getVar("ONE")).toBe("1");
    expect(d.getVar("TWO")).toBe("2");
  });

  it("FILE is the included file while it is evaluated and is restored after; classes leave it alone", () => {
    const inc = write("recipes/x.inc", lines('INC_FILE := "${FILE}"'));
    write("classes/c.bbclass", lines('CLS_FILE := "${FILE}"'));
    const f = write("recipes/r.bb", lines('BEFORE := "${FILE}"', "require x.inc", 'AFTER := "${FILE}"', "inherit c"));
    const d = parseRecipeFile(store(), f);
    expect(d.getVar("BEFORE")).toBe(f);
    expect(d.getVar("INC_FILE")).toBe(inc);
    expect(d.getVar("AFTER")).toBe(f);
    expect(d.getVar("CLS_FILE")).toBe(f);
    expect(d.getVar("FILE")).toBe(f);
  });

  it("a .conf file can include another .conf; FILE follows it", () => {
    const inner = write("conf/inner.conf", lines('IN := "${FILE}"'));
    const outer = write("conf/outer.conf", lines("include inner.conf", 'OUT := "${FILE}"'));
    const d = parseConfFile(store(), outer);
    expect(d.getVar("IN")).toBe(inner);
    expect(d.getVar("OUT")).toBe(outer);
  });
});

describe("parse errors", () => {
  it("an unterminated function body is a ParseError at the function's first line", () => {
    const f = write("recipes/r.bb", lines('A = "1"', "do_x () {", "\techo", "\techo"));
    expectParseError(thrown(() => parseRecipeFile(store(), f)), f, 2, 1);
  });

  it("an unparsable line is a ParseError at its line and column 1", () => {
    const f = write("recipes/r.bb", lines('A = "1"', "", "this is not metadata"));
    expectParseError(thrown(() => parseRecipeFile(store(), f)), f, 3, 1);
  });

  it("an unquoted value is a ParseError pointing at the value", () => {
    const f = write("conf/c.conf", lines('A = "1"', "B = x"));
    expectParseError(thrown(() => parseConfFile(store(), f)), f, 2, 5);
  });

  it("python do_x() { is not supported", () => {
    const f = write("recipes/r.bb", lines('A = "1"', "python do_x() {", "    pass", "}"));
    expectParseError(thrown(() => parseRecipeFile(store(), f)), f, 2);
  });

  it("an anonymous python () { is not supported either (BitBake: anonymous Python function)", () => {
    // BBHandler __func_start_regexp__: (?P<py>python(?=(\s|\()))... (?P<func>...)? \s*\(\s*\)\s*{$
    // reads `python () {` as an anonymous *Python* function; kiln has no Python, so
    // it must be an error rather than a shell function called "python".
    const f = write("recipes/r.bb", lines('A = "1"', "python () {", "    d.setVar('B', '1')", "}"));
    expectParseError(thrown(() => parseRecipeFile(store(), f)), f, 2);
  });

  it("inherit inside a .conf file is a ParseError", () => {
    write("classes/foo.bbclass", lines('A = "1"'));
    const f = write("conf/c.conf", lines('A = "1"', "inherit foo"));
    expectParseError(thrown(() => parseConfFile(store(), f)), f, 2, 1);
  });

  it("a comment line inside a \\-continued expression is a ParseError", () => {
    const f = write("conf/c.conf", lines('A = "a \\', "# comment", 'b"'));
    expectParseError(thrown(() => parseConfFile(store(), f)), f, 2);
    clearFileCache();
    // a comment ending in '\' followed by a non-comment line: "confusing multiline"
    const g = write("recipes/r.bb", lines('X = "1"', "# comment \\", 'A = "1"'));
    expectParseError(thrown(() => parseRecipeFile(store(), g)), g, 2);
  });

  it("the old override syntax A_append = \"x\" is a ParseError at its line", () => {
    const f = write("recipes/r.bb", lines('A = "1"', 'A_append = "x"'));
    const err = expectParseError(thrown(() => parseRecipeFile(store(), f)), f, 2);
    expect(err.message).toContain("A_append");
  });

  it("a self-referencing variable is an ExpansionError naming it (and does not hang)", () => {
    const d = conf(lines('A = "${A}x"'));
    const err = thrown(() => d.getVar("A"));
    expect(err).toBeInstanceOf(ExpansionError);
    expect(err.code).toBe("EXPANSION_ERROR");
    expect(err.variable).toBe("A");
  });

  it("an indirect cycle A -> B -> A is an ExpansionError and does not hang", () => {
    const d = conf(lines('A = "${B}"', 'B = "${A}"'));
    const err = thrown(() => d.getVar("A"));
    expect(err).toBeInstanceOf(ExpansionError);
    expect(err.code).toBe("EXPANSION_ERROR");
    expect(["A", "B"]).toContain(err.variable);
    expect(err.message).toContain("A");
  });
});

describe("history", () => {
  it("records each assignment's op with file and line", () => {
    const f = write(
      "conf/h.conf",
      lines(
        'A = "1"',
        'A += "2"',
        'A ?= "3"',
        'A .= "4"',
        'A =. "0"',
        'A =+ "p"',
        'B := "${A}"',
        'A:append = "x"',
        'A:remove:arm = "y"',
        "export A",
        "unset A",
        'C[doc] = "d"',
        'C[doc] += "e"',
        "unset C[doc]",
      ),
    );
    const d = store({ history: true });
    parseConfFile(d, f);
    const a = d.getHistory("A").map((e) => [e.op, e.file, e.line, e.flag]);
    expect(a).toEqual([
      ["set", f, 1, undefined],
      ["append", f, 2, undefined],
      ["set?", f, 3, undefined],
      ["postdot", f, 4, undefined],
      ["predot", f, 5, undefined],
      ["prepend", f, 6, undefined],
      [":append", f, 8, undefined],
      [":remove[arm]", f, 9, undefined],
      ["exported", f, 10, "export"],
      ["del", f, 11, undefined],
    ]);
    expect(d.getHistory("A")[1].detail).toBe("2");
    expect(d.getHistory("B").map((e) => [e.op, e.line, e.detail])).toEqual([["immediate", 7, "${A}"]]);
    expect(d.getHistory("C").map((e) => [e.op, e.line, e.flag])).toEqual([
      ["set", 12, "doc"],
      ["append", 13, "doc"],
      ["delFlag", 14, "doc"],
    ]);
  });

  it("??= is recorded as op 'set' on flag _defaultval (ast.py leaves op = \"set\" for lazyques)", () => {
    // ast.py DataNode.eval: `op = "set"`; no branch of the if/elif chain handles
    // lazyques, so `loginfo['op'] = op` is "set" and setVarFlag(key, "_defaultval", ...)
    const f = write("conf/h.conf", lines('A ??= "d"'));
    const d = store({ history: true });
    parseConfFile(d, f);
    expect(d.getHistory("A").map((e) => [e.op, e.flag, e.file, e.line, e.detail])).toEqual([["set", "_defaultval", f, 1, "d"]]);
  });

  it("records nothing without { history: true }", () => {
    const f = write("conf/h.conf", lines('A = "1"', 'A += "2"'));
    const d = store();
    parseConfFile(d, f);
    expect(d.tracking).toBe(false);
    expect(d.getVar("A")).toBe("1 2");
    expect(d.getHistory("A")).toEqual([]);
  });
});
