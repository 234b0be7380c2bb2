/**
 * BitBake's own parser tests (lib/bb/tests/parse.py, ParseTest), ported to kiln.
 *
 * One `it` per BitBake test method (or per assertion group of a long one), titled
 * `ParseTest.test_method`, with the same metadata and expected values. BitBake's
 * `bb.parse.handle(f.name, d)['']` is `parseRecipeFile(copy, file)`; `None` is
 * `undefined`; `python` functions are `js` functions and the flag that marks them is
 * `[js]` (BitBake's `[python]`); `bb.note(...)` in a JS body is `kiln.note(...)`.
 *
 * Adapted, not skipped:
 * - test_parse_classextend_contamination: kiln's parseRecipeFile returns the main
 *   datastore only, so the BBCLASSEXTEND variant is built the way BitBake builds it
 *   (a copy that inherits the class and finalises) with the public API.
 * - test_file_variables: BitBake runs `bitbake -e` on a layer; here the same recipe,
 *   .bbappend, .inc and class files are parsed with parseRecipeFile(..., { appends }).
 * - BitBake's broken-comment cases raise BBHandledException (bb.fatal); kiln reports
 *   every bad-metadata error as ParseError.
 * - Error messages are not compared (kiln tests assert codes, not prose); the class,
 *   code and file of the ParseError are.
 *
 * The final describe blocks add cases parse.py does not have, each taken from a rule
 * in ConfHandler.py / BBHandler.py / ast.py / build.py (quoted next to it).
 */
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { DataStore, KilnError, ParseError, expandKeys, listTasks, parseConfFile, parseRecipeFile } from "../src/index.js";
import { expectThrown } from "./helpers.js";

// ---------------------------------------------------------------------------
// helpers

const tmpDirs: string[] = [];

afterEach(() => {
  if (process.env.KILN_KEEP_TMP === "1") return;
  for (const dir of tmpDirs.splice(0)) fs.rmSync(dir, { recursive: true, force: true });
});

function makeTmpDir(prefix = "kiln-bbparse-"): string {
  const dir = fs.realpathSync(fs.mkdtempSync(path.join(os.tmpdir(), prefix)));
  tmpDirs.push(dir);
  return dir;
}

function writeFile(dir: string, rel: string, content: string): string {
  const file = path.join(dir, rel);
  fs.mkdirSync(path.dirname(file), { recursive: true });
  fs.writeFileSync(file, content);
  return file;
}

/** ParseTest.parsehelper + bb.parse.handle(f.name, d)[''], on a copy of `base`. */
function parseRecipeText(content: string, base: DataStore = new DataStore(), suffix = ".bb"): DataStore {
  const file = writeFile(makeTmpDir(), `test${suffix}`, content);
  return parseRecipeFile(base.createCopy(), file);
}

/** assertRaises(bb.parse.ParseError) (or BBHandledException for bad metadata). */
function expectParseError(fn: () => unknown, file?: string): ParseError {
  const err = expectThrown(fn, ParseError, "PARSE_ERROR");
  if (file !== undefined) expect(err.file).toBe(file);
  return err;
}

// ---------------------------------------------------------------------------
// ParseTest

const testfile = `
A = "1"
B = "2"
do_install() {
\techo "hello"
}

C = "3"
`;

describe("ParseTest", () => {
  it("ParseTest.test_parse_simple", () => {
    const d = parseRecipeText(testfile);
    expect(d.getVar("A")).toBe("1");
    expect(d.getVar("B")).toBe("2");
    expect(d.getVar("C")).toBe("3");
  });

  it("ParseTest.test_parse_incomplete_function", () => {
    const testfileB = testfile.replace("}", "");
    expectParseError(() => parseRecipeText(testfileB));
  });

  const unsettest = `
A = "1"
B = "2"
B[flag] = "3"

unset A
unset B[flag]
`;

  it("ParseTest.test_parse_unset", () => {
    const d = parseRecipeText(unsettest);
    expect(d.getVar("A")).toBeUndefined();
    expect(d.getVarFlag("A", "flag")).toBeUndefined();
    expect(d.getVar("B")).toBe("2");
  });

  const defaulttest = `
A = "set value"
A ??= "default value"

A[flag_set_vs_question] = "set flag"
A[flag_set_vs_question] ?= "question flag"

A[flag_set_vs_default] = "set flag"
A[flag_set_vs_default] ??= "default flag"

A[flag_question] ?= "question flag"

A[flag_default] ??= "default flag"

A[flag_question_vs_default] ?= "question flag"
A[flag_question_vs_default] ??= "default flag"

A[flag_default_vs_question] ??= "default flag"
A[flag_default_vs_question] ?= "question flag"

A[flag_set_question_default] = "set flag"
A[flag_set_question_default] ?= "question flag"
A[flag_set_question_default] ??= "default flag"

A[flag_set_default_question] = "set flag"
A[flag_set_default_question] ??= "default flag"
A[flag_set_default_question] ?= "question flag"

A[flag_set_twice] = "set flag first"
A[flag_set_twice] = "set flag second"

A[flag_question_twice] ?= "question flag first"
A[flag_question_twice] ?= "question flag second"

A[flag_default_twice] ??= "default flag first"
A[flag_default_twice] ??= "default flag second"
`;

  it("ParseTest.test_parse_defaulttest", () => {
    const d = parseRecipeText(defaulttest);
    expect(d.getVar("A")).toBe("set value");
    expect(d.getVarFlag("A", "flag_set_vs_question")).toBe("set flag");
    expect(d.getVarFlag("A", "flag_set_vs_default")).toBe("set flag");
    expect(d.getVarFlag("A", "flag_question")).toBe("question flag");
    expect(d.getVarFlag("A", "flag_default")).toBe("default flag");
    expect(d.getVarFlag("A", "flag_question_vs_default")).toBe("question flag");
    expect(d.getVarFlag("A", "flag_default_vs_question")).toBe("question flag");
    expect(d.getVarFlag("A", "flag_set_question_default")).toBe("set flag");
    expect(d.getVarFlag("A", "flag_set_default_question")).toBe("set flag");
    expect(d.getVarFlag("A", "flag_set_twice")).toBe("set flag second");
    expect(d.getVarFlag("A", "flag_question_twice")).toBe("question flag first");
    expect(d.getVarFlag("A", "flag_default_twice")).toBe("default flag second");
  });

  const exporttest = `
A = "a"
export B = "b"
export C
exportD = "d"
`;

  it("ParseTest.test_parse_exports", () => {
    const d = parseRecipeText(exporttest);
    expect(d.getVar("A")).toBe("a");
    expect(d.getVarFlag("A", "export")).toBeUndefined();
    expect(d.getVar("B")).toBe("b");
    expect(d.getVarFlag("B", "export")).toBe(1);
    expect(d.getVar("C")).toBeUndefined();
    expect(d.getVarFlag("C", "export")).toBe(1);
    expect(d.getVar("D")).toBeUndefined();
    expect(d.getVarFlag("D", "export")).toBeUndefined();
    expect(d.getVar("exportD")).toBe("d");
    expect(d.getVarFlag("exportD", "export")).toBeUndefined();
  });

  const overridetest = `
RRECOMMENDS:\${PN} = "a"
RRECOMMENDS:\${PN}:libc = "b"
OVERRIDES = "libc:\${PN}"
PN = "gtk+"
`;

  it("ParseTest.test_parse_overrides", () => {
    const d = parseRecipeText(overridetest);
    expect(d.getVar("RRECOMMENDS")).toBe("b");
    expandKeys(d);
    expect(d.getVar("RRECOMMENDS")).toBe("b");
    d.setVar("RRECOMMENDS:gtk+", "c");
    expect(d.getVar("RRECOMMENDS")).toBe("c");
  });

  const overridetest2 = `
EXTRA_OECONF = ""
EXTRA_OECONF:class-target = "b"
EXTRA_OECONF:append = " c"
`;

  it("ParseTest.test_parse_overrides2", () => {
    const d = parseRecipeText(overridetest2);
    d.appendVar("EXTRA_OECONF", " d");
    d.setVar("OVERRIDES", "class-target");
    expect(d.getVar("EXTRA_OECONF")).toBe("b c d");
  });

  const overridetest3 = `
DESCRIPTION = "A"
DESCRIPTION:\${PN}-dev = "\${DESCRIPTION} B"
PN = "bc"
`;

  it("ParseTest.test_parse_combinations", () => {
    const d = parseRecipeText(overridetest3);
    expandKeys(d);
    expect(d.getVar("DESCRIPTION:bc-dev")).toBe("A B");
    d.setVar("DESCRIPTION", "E");
    d.setVar("DESCRIPTION:bc-dev", "C D");
    d.setVar("OVERRIDES", "bc-dev");
    expect(d.getVar("DESCRIPTION")).toBe("C D");
  });

  const classextend = `
VAR_var:override1 = "B"
EXTRA = ":override1"
OVERRIDES = "nothing\${EXTRA}"

BBCLASSEXTEND = "###CLASS###"
`;
  const classextendBbclass = `
EXTRA = ""
js () {
    d.renameVar("VAR_var", "VAR_var2")
}
`;

  // Test based upon a real world data corruption issue. One data store changing a
  // variable poked through into a different data store. This test case replicates
  // that issue where the value 'B' would become unset/disappear.
  it("ParseTest.test_parse_classextend_contamination", () => {
    const dir = makeTmpDir();
    const base = new DataStore();
    base.setVar("__bbclasstype", "recipe");
    base.setVar("BBPATH", dir);
    const cls = writeFile(dir, "classes/extendcls.bbclass", classextendBbclass);
    const recipeText = classextend.replace("###CLASS###", cls);
    const recipe = writeFile(dir, "recipe.bb", recipeText);

    // BitBake: alldata[''] is the main recipe ...
    const d1 = parseRecipeFile(base.createCopy(), recipe);
    // ... and alldata[cls] is the recipe plus `inherit <cls>`, finalised from a copy
    // made after the recipe was parsed (multi_finalize/_create_variants).
    const variant = writeFile(dir, "variant.bb", `${recipeText}\ninherit ${cls}\n`);
    const d2 = parseRecipeFile(base.createCopy(), variant);
    expect(d1.getVar("VAR_var")).toBe("B");
    expect(d2.getVar("VAR_var")).toBeUndefined();

    // The same through a copy of the parsed main store, as _create_variants does.
    const d3 = d1.createCopy();
    d3.setVar("EXTRA", "");
    d3.renameVar("VAR_var", "VAR_var2");
    expect(d3.getVar("VAR_var")).toBeUndefined();
    expect(d1.getVar("VAR_var")).toBe("B");
  });

  const addtaskDeltask = `
addtask do_patch after do_foo after do_unpack before do_configure before do_compile
addtask do_fetch2 do_patch2

addtask do_myplaintask
addtask do_myplaintask2
deltask do_myplaintask2
addtask do_mytask# comment
addtask do_mytask2 # comment2
addtask do_mytask3
deltask do_mytask3# comment
deltask do_mytask4 # comment2

# Ensure a missing task prefix on after works
addtask do_mytask5 after mytask

MYVAR = "do_patch"
EMPTYVAR = ""
deltask do_fetch \${MYVAR} \${EMPTYVAR}
deltask \${EMPTYVAR}
`;

  it("ParseTest.test_parse_addtask_deltask", () => {
    const d = parseRecipeText(addtaskDeltask);
    expect(listTasks(d)).toEqual(["do_fetch2", "do_patch2", "do_myplaintask", "do_mytask", "do_mytask2", "do_mytask5"]);
    expect(d.getVarFlag("do_mytask5", "deps")).toEqual(["do_mytask"]);
  });

  const brokenMultilineComment = `
# First line of comment \\
# Second line of comment \\

`;

  it("ParseTest.test_parse_broken_multiline_comment", () => {
    // BitBake: bb.fatal -> BBHandledException ("confusing multiline partially
    // commented expression")
    expectParseError(() => parseRecipeText(brokenMultilineComment));
  });

  const commentInVar = `
VAR = " \\
    SOMEVAL \\
#   some comment \\
    SOMEOTHERVAL \\
"
`;

  it("ParseTest.test_parse_comment_in_var", () => {
    // BitBake: bb.fatal -> BBHandledException ("comment ... in the middle of a
    // multiline expression")
    expectParseError(() => parseRecipeText(commentInVar));
  });

  const atSignInVarFlag = `
A[flag@.service] = "nonet"
B[flag@.target] = "ntb"
C[f] = "flag"

unset A[flag@.service]
`;

  it("ParseTest.test_parse_at_sign_in_var_flag", () => {
    const d = parseRecipeText(atSignInVarFlag);
    expect(d.getVar("A")).toBeUndefined();
    expect(d.getVar("B")).toBeUndefined();
    expect(d.getVarFlag("A", "flag@.service")).toBeUndefined();
    expect(d.getVarFlag("B", "flag@.target")).toBe("ntb");
    expect(d.getVarFlag("C", "f")).toBe("flag");
  });

  it("ParseTest.test_parse_invalid_at_sign_in_var_flag", () => {
    const invalidAtSign = atSignInVarFlag.replace("B[f", "B[@f");
    expectParseError(() => parseRecipeText(invalidAtSign));
  });

  const exportFunctionRecipe = `
inherit someclass
`;

  const exportFunctionRecipe2 = `
inherit someclass

do_compile () {
    false
}

js do_compilepython () {
    kiln.note("Something else")
}

`;

  const exportFunctionClass = `
someclass_do_compile() {
    true
}

js someclass_do_compilepython () {
    kiln.note("Something")
}

EXPORT_FUNCTIONS do_compile do_compilepython
`;

  const exportFunctionClass2 = `
secondclass_do_compile() {
    true
}

js secondclass_do_compilepython () {
    kiln.note("Something")
}

EXPORT_FUNCTIONS do_compile do_compilepython
`;

  it("ParseTest.test_parse_export_functions", () => {
    const checkFunctionFlags = (d: DataStore) => {
      expect(d.getVarFlag("do_compile", "func")).toBe(1);
      expect(d.getVarFlag("do_compilepython", "func")).toBe(1);
      expect(d.getVarFlag("do_compile", "js")).toBeUndefined();
      expect(d.getVarFlag("do_compilepython", "js")).toBe("1");
    };

    const tempdir = makeTmpDir();
    const base = new DataStore();
    base.setVar("__bbclasstype", "recipe");
    // BitBake chdirs into tempdir and relies on an empty BBPATH searching the cwd.
    base.setVar("BBPATH", tempdir);
    const recipename = path.join(tempdir, "recipe.bb");
    writeFile(tempdir, "classes/someclass.bbclass", exportFunctionClass);
    writeFile(tempdir, "classes/secondclass.bbclass", exportFunctionClass2);
    fs.writeFileSync(recipename, exportFunctionRecipe);

    let d = parseRecipeFile(base.createCopy(), recipename);
    expect(d.getVar("do_compile")).toContain("someclass_do_compile");
    expect(d.getVar("do_compilepython")).toContain("someclass_do_compilepython");
    checkFunctionFlags(d);

    const recipename2 = path.join(tempdir, "recipe2.bb");
    fs.writeFileSync(recipename2, exportFunctionRecipe2);

    d = parseRecipeFile(base.createCopy(), recipename2);
    expect(d.getVar("do_compile")).not.toContain("someclass_do_compile");
    expect(d.getVar("do_compilepython")).not.toContain("someclass_do_compilepython");
    expect(d.getVar("do_compile")).toContain("false");
    expect(d.getVar("do_compilepython")).toContain("else");
    checkFunctionFlags(d);

    fs.appendFileSync(recipename, "\ninherit secondclass\n");
    fs.appendFileSync(recipename2, "\ninherit secondclass\n");

    d = parseRecipeFile(base.createCopy(), recipename);
    expect(d.getVar("do_compile")).toContain("secondclass_do_compile");
    expect(d.getVar("do_compilepython")).toContain("secondclass_do_compilepython");
    checkFunctionFlags(d);

    d = parseRecipeFile(base.createCopy(), recipename2);
    expect(d.getVar("do_compile")).not.toContain("someclass_do_compile");
    expect(d.getVar("do_compilepython")).not.toContain("someclass_do_compilepython");
    expect(d.getVar("do_compile")).toContain("false");
    expect(d.getVar("do_compilepython")).toContain("else");
    checkFunctionFlags(d);
  });

  const exportFunctionUnclosedTab = `
do_compile () {
       bb.note("Something")
\t}
`;
  const exportFunctionUnclosedSpace = `
do_compile () {
       bb.note("Something")
 }
`;
  const exportFunctionResidue = `
do_compile () {
       bb.note("Something")
}

include \\
`;

  /** test_unclosed_functions' test_helper: the file must fail with a ParseError naming it. */
  function expectUnclosed(content: string): void {
    const recipename = writeFile(makeTmpDir(), "recipe_unclosed.bb", content);
    expectParseError(() => parseRecipeFile(new DataStore(), recipename), recipename);
  }

  it("ParseTest.test_unclosed_functions (closing brace indented by a tab)", () => {
    // BitBake: "Unparsed lines from unclosed function"
    expectUnclosed(exportFunctionUnclosedTab);
  });

  it("ParseTest.test_unclosed_functions (closing brace indented by a space)", () => {
    // BitBake: "Unparsed lines from unclosed function"
    expectUnclosed(exportFunctionUnclosedSpace);
  });

  it("ParseTest.test_unclosed_functions (line continuation at end of file)", () => {
    // BitBake: "Unparsed lines"
    expectUnclosed(exportFunctionResidue);
  });

  it("ParseTest.test_unclosed_functions (the same function closed parses)", () => {
    const lines = exportFunctionUnclosedTab.split("\n");
    lines[3] = "}";
    const recipenameClosed = writeFile(makeTmpDir(), "recipe_closed.bb", lines.join("\n"));
    const d = parseRecipeFile(new DataStore(), recipenameClosed);
    expect(d.getVarFlag("do_compile", "func")).toBe(1);
  });

  const specialCharacterAssignment = `
A+="a"
A+ = "b"
+ = "c"
`;
  const ambigousAssignment = `
+= "d"
`;

  it("ParseTest.test_parse_special_character_assignment", () => {
    const d = parseRecipeText(specialCharacterAssignment);
    expect(d.getVar("A")).toBe(" a");
    expect(d.getVar("A+")).toBe("b");
    expect(d.getVar("+")).toBe("c");
  });

  it("ParseTest.test_parse_special_character_assignment (empty variable name)", () => {
    // BitBake: "Empty variable name in assignment"
    expectParseError(() => parseRecipeText(ambigousAssignment));
  });
});

describe("ParseTest.test_include_and_require", () => {
  const someconf1 = `
EXTRA_OECONF:append = " foo"
`;
  const someconf2 = `
EXTRA_OECONF:append = " bar"
`;
  const someconf3 = `
EXTRA_OECONF:append = " foobar"
`;

  /** Returns [tempdir, base store] with conf1/some.conf, conf2/some.conf, conf2/some3.conf. */
  function setup(order: "conf1:conf2" | "conf2:conf1"): [string, DataStore] {
    const tempdir = makeTmpDir();
    writeFile(tempdir, "conf1/some.conf", someconf1);
    writeFile(tempdir, "conf2/some.conf", someconf2);
    writeFile(tempdir, "conf2/some3.conf", someconf3);
    const base = new DataStore();
    const [a, b] = order.split(":");
    base.setVar("BBPATH", `${tempdir}/${a}:${tempdir}/${b}`);
    return [tempdir, base];
  }

  /** test_helper: parse `content` as a recipe (in its own directory) and check EXTRA_OECONF. */
  function check(base: DataStore, content: string, result: string | undefined | typeof ParseError): void {
    if (result === ParseError) {
      expectParseError(() => parseRecipeText(content, base));
    } else {
      expect(parseRecipeText(content, base).getVar("EXTRA_OECONF")).toBe(result);
    }
  }

  it("ParseTest.test_include_and_require (include, BBPATH conf1:conf2)", () => {
    const [tempdir, base] = setup("conf1:conf2");
    check(base, "include some.conf", " foo");
    check(base, "include someother.conf", undefined);
    check(base, "include some3.conf", " foobar");
    check(base, "include ${@''}", undefined);
    check(base, `include ${tempdir}/conf2/some.conf`, " bar");
  });

  it("ParseTest.test_include_and_require (require, BBPATH conf1:conf2)", () => {
    const [tempdir, base] = setup("conf1:conf2");
    check(base, "require some.conf", " foo");
    check(base, "require someother.conf", ParseError);
    check(base, "require some3.conf", " foobar");
    check(base, "require ${@''}", undefined);
    check(base, `require ${tempdir}/conf2/some.conf`, " bar");
  });

  it("ParseTest.test_include_and_require (include_all, BBPATH conf1:conf2)", () => {
    const [tempdir, base] = setup("conf1:conf2");
    check(base, "include_all some.conf", " foo bar");
    check(base, "include_all someother.conf", undefined);
    check(base, "include_all some3.conf", " foobar");
    // These two are in the yoctoproject/poky copy of the test:
    check(base, "include_all ${@''}", undefined);
    check(base, `include_all ${tempdir}/conf2/some.conf`, ParseError);
  });

  it("ParseTest.test_include_and_require (include and require, BBPATH conf2:conf1)", () => {
    const [, base] = setup("conf2:conf1");
    check(base, "include some.conf", " bar");
    check(base, "include some3.conf", " foobar");
    check(base, "require some.conf", " bar");
    check(base, "require some3.conf", " foobar");
  });

  it("ParseTest.test_include_and_require (include_all, BBPATH conf2:conf1)", () => {
    const [, base] = setup("conf2:conf1");
    check(base, "include_all some.conf", " bar foo");
    check(base, "include_all some3.conf", " foobar");
  });
});

describe("ParseTest.test_file_variables", () => {
  // FILE and __BB_RECIPE_FILE in combinations of bbappends, includes and inherits.
  // BitBake's class (lib/bb/tests/parse-tests/classes/recipe-file-class.bbclass)
  // records both with :=; os.path.basename(...) is .split('/').pop() here.
  const recipeFileClass = `
BBCLASS_RECIPE_FILE := "\${@(d.getVar('__BB_RECIPE_FILE') || '').split('/').pop()}"
BBCLASS_FILE := "\${@(d.getVar('FILE') || '').split('/').pop()}"
`;
  const bbappendRecords = `
BBAPPEND_RECIPE_FILE := "\${@(d.getVar('__BB_RECIPE_FILE') || '').split('/').pop()}"
BBAPPEND_FILE := "\${@(d.getVar('FILE') || '').split('/').pop()}"
`;
  const incRecords = `
INC_RECIPE_FILE := "\${@(d.getVar('__BB_RECIPE_FILE') || '').split('/').pop()}"
INC_FILE := "\${@(d.getVar('FILE') || '').split('/').pop()}"
`;

  interface Files {
    recipe: string;
    bbappend: string;
    inc?: string;
  }

  /** Writes recipe-file1.bb, recipe-%.bbappend and (optionally) recipe-file.inc, parses. */
  function parseWith(files: Files): DataStore {
    const layer = makeTmpDir("kiln-bbparse-layer-");
    writeFile(layer, "classes/recipe-file-class.bbclass", recipeFileClass);
    const recipes = makeTmpDir("kiln-bbparse-recipes-");
    const recipePath = writeFile(recipes, "recipe-file1.bb", files.recipe);
    const bbappendPath = writeFile(recipes, "recipe-%.bbappend", files.bbappend);
    if (files.inc !== undefined) writeFile(recipes, "recipe-file.inc", files.inc);
    const base = new DataStore();
    base.setVar("BBPATH", layer);
    base.setVar("__bbclasstype", "recipe");
    return parseRecipeFile(base.createCopy(), recipePath, { appends: [bbappendPath] });
  }

  // The seven scenarios of test_file_variables: which files exist, and what FILE
  // (captured with := where the assignment is parsed) must be.
  const scenarios: { name: string; files: Files; expect: Record<string, string> }[] = [
    {
      name: "set in a bbappend: FILE is the bbappend",
      files: { recipe: "", bbappend: bbappendRecords },
      expect: { BBAPPEND_FILE: "recipe-%.bbappend", BBAPPEND_RECIPE_FILE: "recipe-file1.bb" },
    },
    {
      name: "set in an include: FILE is the include",
      files: { recipe: "require recipe-file.inc\n", bbappend: "", inc: incRecords },
      expect: { INC_FILE: "recipe-file.inc", INC_RECIPE_FILE: "recipe-file1.bb" },
    },
    {
      name: "include required from a bbappend",
      files: { recipe: "", bbappend: "require recipe-file.inc\n", inc: incRecords },
      expect: { INC_FILE: "recipe-file.inc", INC_RECIPE_FILE: "recipe-file1.bb" },
    },
    {
      name: "class inherited by the recipe: FILE is the recipe",
      files: { recipe: "inherit recipe-file-class\n", bbappend: "" },
      expect: { BBCLASS_FILE: "recipe-file1.bb", BBCLASS_RECIPE_FILE: "recipe-file1.bb" },
    },
    {
      name: "class inherited by a bbappend: FILE is the bbappend",
      files: { recipe: "", bbappend: "inherit recipe-file-class\n" },
      expect: { BBCLASS_FILE: "recipe-%.bbappend", BBCLASS_RECIPE_FILE: "recipe-file1.bb" },
    },
    {
      name: "class inherited by an include: FILE is the include",
      files: { recipe: "require recipe-file.inc\n", bbappend: "", inc: "inherit recipe-file-class\n" },
      expect: { BBCLASS_FILE: "recipe-file.inc", BBCLASS_RECIPE_FILE: "recipe-file1.bb" },
    },
    {
      name: "class inherited by an include required from a bbappend",
      files: { recipe: "", bbappend: "require recipe-file.inc\n", inc: "inherit recipe-file-class\n" },
      expect: { BBCLASS_FILE: "recipe-file.inc", BBCLASS_RECIPE_FILE: "recipe-file1.bb" },
    },
  ];

  for (const scenario of scenarios) {
    it(`ParseTest.test_file_variables (${scenario.name})`, () => {
      const d = parseWith(scenario.files);
      for (const [name, value] of Object.entries(scenario.expect)) {
        if (!name.endsWith("_RECIPE_FILE")) expect(d.getVar(name), name).toBe(value);
      }
    });
  }

  it("ParseTest.test_file_variables (__BB_RECIPE_FILE is always the .bb file, in every scenario)", () => {
    // bb.cache.parse_recipe sets __BB_RECIPE_FILE to the recipe before parsing; it
    // stays the .bb file inside bbappends, includes and classes.
    for (const scenario of scenarios) {
      const d = parseWith(scenario.files);
      for (const [name, value] of Object.entries(scenario.expect)) {
        if (name.endsWith("_RECIPE_FILE")) expect(d.getVar(name), `${scenario.name}: ${name}`).toBe(value);
      }
    }
  });
});

// ---------------------------------------------------------------------------
// Not in parse.py: rules read in ConfHandler.py / BBHandler.py / ast.py / build.py.

describe("ConfHandler.py / ast.py semantics (extra cases)", () => {
  function conf(text: string, d: DataStore = new DataStore()): DataStore {
    const file = writeFile(makeTmpDir(), "test.conf", text);
    return parseConfFile(d, file);
  }

  it("the assignment operators apply in order to the unexpanded value", () => {
    // DataNode.eval: += "%s %s" (old, new); =+ "%s %s" (new, old); .= and =. without space
    const d = conf(`
X = "x"
A = "a \${X}"
A += "b"
A =+ "c"
A .= "d"
A =. "e"
`);
    expect(d.getVar("A", false)).toBe("ec a ${X} bd");
    expect(d.getVar("A")).toBe("ec a x bd");
  });

  it("+= and =+ on an unset variable keep the separating space; .= and =. do not", () => {
    const d = conf(`
P += "x"
Q =+ "y"
R .= "z"
S =. "w"
`);
    expect(d.getVar("P")).toBe(" x");
    expect(d.getVar("Q")).toBe("y ");
    expect(d.getVar("R")).toBe("z");
    expect(d.getVar("S")).toBe("w");
  });

  it("?= keeps the first value; ??= is a default the last of which wins", () => {
    const d = conf(`
Q ?= "first"
Q ?= "second"
W ??= "first"
W ??= "second"
S ??= "weak"
S = "strong"
`);
    expect(d.getVar("Q")).toBe("first");
    expect(d.getVar("W")).toBe("second");
    expect(d.getVar("S")).toBe("strong");
  });

  it("?= and += ignore a ??= default (getFunc uses noweakdefault=True)", () => {
    const d = conf(`
W ??= "weak"
W ?= "question"
V ??= "weak"
V += "added"
`);
    expect(d.getVar("W")).toBe("question");
    expect(d.getVar("V")).toBe(" added");
  });

  it("?= ignores pending :append (getFunc reads with parsing=True)", () => {
    const d = conf(`
H:append = " a"
H ?= "b"
`);
    expect(d.getVar("H")).toBe("b a");
  });

  it(":= expands immediately; unknown references stay as they are", () => {
    const d = conf(`
E = "1"
F := "\${E} \${NOT_SET}"
E = "2"
`);
    expect(d.getVar("F", false)).toBe("1 ${NOT_SET}");
    expect(d.getVar("E")).toBe("2");
  });

  it("a ??= on a flag is reported by getVarFlags under the flag's own name", () => {
    // getVarFlags: "_defaultval_flag_" + flag is returned as flag unless flag is set
    const d = conf(`
A[doc] ??= "weak doc"
A[other] = "x"
`);
    expect(d.getVarFlags("A")).toEqual({ doc: "weak doc", other: "x" });
    expect(d.getVarFlag("A", "doc")).toBe("weak doc");
  });

  it("flag operators work like variable operators", () => {
    const d = conf(`
A[f] = "a"
A[f] += "b"
A[f] .= "c"
A[f] =+ "d"
`);
    expect(d.getVarFlag("A", "f")).toBe("d a bc");
  });

  it("unset removes the variable and all its flags", () => {
    // UnsetNode -> delVar -> self.dict[var] = {}
    const d = conf(`
A = "1"
A[doc] = "x"
unset A
`);
    expect(d.getVar("A")).toBeUndefined();
    expect(d.getVarFlag("A", "doc")).toBeUndefined();
  });

  it("a continued line is joined keeping the next line's leading whitespace", () => {
    // ConfHandler.handle: s = s[:-1] + s2, s2 = line.rstrip()
    const d = conf(`A = "a \\
  b"
`);
    expect(d.getVar("A")).toBe("a   b");
  });

  it("single quotes hold double quotes", () => {
    const d = conf(`A = 'it "works"'\n`);
    expect(d.getVar("A")).toBe('it "works"');
  });

  it("an unparsable line is a ParseError naming the file and line", () => {
    // raise ParseError("unparsed line: '%s'" % s, fn, lineno)
    const file = writeFile(makeTmpDir(), "bad.conf", `A = "1"\nthis is not metadata\n`);
    const err = expectParseError(() => parseConfFile(new DataStore(), file), file);
    expect(err.line).toBe(2);
  });

  it("include looks in the including file's directory before BBPATH", () => {
    // include_single_file: bbpath = "%s:%s" % (dirname(parentfn), BBPATH)
    const dir = makeTmpDir();
    const other = makeTmpDir();
    writeFile(other, "b.conf", `WHERE = "bbpath"\n`);
    writeFile(dir, "b.conf", `WHERE = "beside"\n`);
    const main = writeFile(dir, "a.conf", `include b.conf\n`);
    const d = new DataStore();
    d.setVar("BBPATH", other);
    parseConfFile(d, main);
    expect(d.getVar("WHERE")).toBe("beside");
  });

  it("FILE is the file being parsed, restored after an include", () => {
    const dir = makeTmpDir();
    const inner = writeFile(dir, "inner.conf", `INNER := "\${FILE}"\n`);
    const main = writeFile(dir, "main.conf", `BEFORE := "\${FILE}"\ninclude inner.conf\nAFTER := "\${FILE}"\n`);
    const d = new DataStore();
    d.setVar("BBPATH", dir);
    parseConfFile(d, main);
    expect(d.getVar("BEFORE")).toBe(main);
    expect(d.getVar("INNER")).toBe(inner);
    expect(d.getVar("AFTER")).toBe(main);
  });

  it("history records each operation with its file and line", () => {
    const file = writeFile(makeTmpDir(), "hist.conf", `A = "1"\nA ?= "2"\nA += "3"\nA:append = " 4"\n`);
    const d = parseConfFile(new DataStore({ history: true }), file);
    const history = d.getHistory("A");
    expect(history.map((h) => [h.op, h.line])).toEqual([
      ["set", 1],
      ["set?", 2],
      ["append", 3],
      [":append", 4],
    ]);
    expect(history.every((h) => h.file === file)).toBe(true);
    expect(history.map((h) => h.detail)).toEqual(["1", "2", "3", " 4"]);
    expect(d.getVar("A")).toBe("1 3 4");
  });
});

describe("BBHandler.py / build.py semantics (extra cases)", () => {
  function layerWithClasses(classes: Record<string, string>): DataStore {
    const layer = makeTmpDir("kiln-bbparse-layer-");
    for (const [name, text] of Object.entries(classes)) writeFile(layer, `classes/${name}.bbclass`, text);
    const base = new DataStore();
    base.setVar("BBPATH", layer);
    base.setVar("__bbclasstype", "recipe");
    return base;
  }

  it("a class is parsed once however often it is inherited (__inherit_cache)", () => {
    const base = layerWithClasses({ once: `COUNT .= "x"\n` });
    const d = parseRecipeText(`inherit once\ninherit once once\n`, base);
    expect(d.getVar("COUNT")).toBe("x");
  });

  it("classes-recipe/ is searched before classes/", () => {
    // inherit(): for t in ["classes-" + classtype, "classes"]: which(BBPATH, t/<name>.bbclass)
    const base = layerWithClasses({ pick: `PICKED = "classes"\n` });
    const layer = base.getVar("BBPATH") as string;
    writeFile(layer, "classes-recipe/pick.bbclass", `PICKED = "classes-recipe"\n`);
    const d = parseRecipeText(`inherit pick\n`, base);
    expect(d.getVar("PICKED")).toBe("classes-recipe");
  });

  it("inheriting a class that does not exist is a ParseError", () => {
    const base = layerWithClasses({});
    expectParseError(() => parseRecipeText(`inherit no-such-class\n`, base));
  });

  it("inherit expands its argument when it runs", () => {
    const base = layerWithClasses({ chosen: `CHOSEN = "yes"\n` });
    const d = parseRecipeText(`WHICH = "chosen"\ninherit \${WHICH}\n`, base);
    expect(d.getVar("CHOSEN")).toBe("yes");
  });

  it("inherit_defer is resolved at finalisation with the final values", () => {
    // finalize(): the __BBDEFINHERITS loop runs before key expansion and anonymous functions
    const base = layerWithClasses({ deferred: `FROM_CLASS = "class"\nORDER = "class"\n` });
    const d = parseRecipeText(`inherit_defer \${CLS}\nCLS = "deferred"\nORDER = "recipe"\n`, base);
    expect(d.getVar("FROM_CLASS")).toBe("class");
    expect(d.getVar("ORDER")).toBe("class");
  });

  it("anonymous js functions run at finalisation, after the whole recipe and key expansion", () => {
    const d = parseRecipeText(`
js () {
    d.setVar("ANON_SAW", d.getVar("LATE") + " " + d.getVar("KEY_expanded"))
}
LATE = "late value"
N = "expanded"
KEY_\${N} = "key"
`);
    expect(d.getVar("ANON_SAW")).toBe("late value key");
  });

  it("jsdef helpers are callable by name from inline code (as def helpers are in BitBake)", () => {
    const d = parseRecipeText(`
jsdef twice(d, s) {
    return s + s
}
X = "\${@twice(d, 'ab')}"
`);
    expect(d.getVar("X")).toBe("abab");
  });

  it("addtask after/before record deps; before prepends to the target's deps", () => {
    // addtask: d.setVarFlag(entry, "deps", [task] + existing)
    const d = parseRecipeText(`
addtask do_a
addtask do_b after do_a
addtask do_c before do_b
addtask d after c before do_a
`);
    expect(listTasks(d)).toEqual(["do_a", "do_b", "do_c", "do_d"]);
    expect(d.getVarFlag("do_b", "deps")).toEqual(["do_c", "do_a"]);
    expect(d.getVarFlag("do_d", "deps")).toEqual(["do_c"]);
    expect(d.getVarFlag("do_a", "deps")).toEqual(["do_d"]);
    expect(d.getVarFlag("do_b", "task")).toBe(1);
  });

  it("deltask removes the task from other tasks' deps", () => {
    const d = parseRecipeText(`
addtask do_a
addtask do_b after do_a
deltask do_a
`);
    expect(listTasks(d)).toEqual(["do_b"]);
    expect(d.getVarFlag("do_b", "deps")).toEqual([]);
    expect(d.getVarFlag("do_a", "task")).toBeUndefined();
  });

  it("a shell function's flags: func=1, no js flag; the body is the text between the braces", () => {
    // MethodNode.eval: setVarFlag(funcname, "func", 1); body lines joined by "\n" plus a final ""
    const d = parseRecipeText(`do_thing () {\n\techo one\n\techo two\n}\n`);
    expect(d.getVarFlag("do_thing", "func")).toBe(1);
    expect(d.getVarFlag("do_thing", "js")).toBeUndefined();
    expect(d.getVar("do_thing", false)).toBe("\techo one\n\techo two\n");
  });

  it("a function's closing brace must be alone at column 0; inner braces are indented", () => {
    const d = parseRecipeText(`
js do_x () {
    if (true) {
        d.setVar("Y", "1")
    }
}
AFTER = "ok"
`);
    expect(d.getVarFlag("do_x", "js")).toBe("1");
    expect(d.getVar("AFTER")).toBe("ok");
  });
});
