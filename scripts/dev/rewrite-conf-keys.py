#!/usr/bin/env python3
"""Configuration keys by generated constant, not by string literal.

In every C file of lib/, src/ and plugin/ (the property tables excepted):
  chp_conf_get_str(conf, "db.url")  ->  chp_conf_get_str(conf, CHP_KEY_DB_URL)
(also get_int/get_bool/get_double/is_set), and any other string literal
that is exactly a dotted key ("controller.exclude.regex" handed to a
helper) -> its constant.  Adds the generated header's include:
"conf_keys.h" (library keys) in lib/ and plugin/, "conf_daemon_keys.h"
(both tables) in src/.  A literal key no table knows is reported and the
script fails: that is a bug the constants exist to catch.

The key lists are read from the tables themselves (lib/conf.c,
src/conf_daemon.c) and the constants named as tools/confkeys.c names them.
Idempotent: re-run it after merging a branch that still uses literals.
With --check it changes nothing and fails if it would (CTest unit/conf_keys).

    scripts/dev/rewrite-conf-keys.py [--check]
"""
import os
import re
import subprocess
import sys

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
os.chdir(ROOT)

TABLES = {"lib/conf.c": "lib", "src/conf_daemon.c": "daemon"}
KEY_RE = re.compile(r'^\s*\{"([a-z0-9_.]+)",', re.M)


def constant(name):
    return "CHP_KEY_" + re.sub(r"[^A-Z0-9]", "_", name.upper())


lib_keys = set(KEY_RE.findall(open("lib/conf.c").read()))
daemon_keys = set(KEY_RE.findall(open("src/conf_daemon.c").read()))
FAMILIES = ("kafka.", "timestamp.topic.", "chaperone.")

GETTER = re.compile(
    r'(\bchp_conf_(?:get_str|get_int|get_bool|get_double|is_set)\(\s*'
    r'[^,()]+(?:\([^()]*\))?[^,()]*,\s*)"([^"\\]*)"(\s*\))')
# A whole literal, not part of a longer one (no adjacent quote/backslash).
LITERAL = re.compile(r'(?<![\\"\w])"([a-z0-9_]+(?:\.[a-z0-9_]+)+)"(?!")')

check = "--check" in sys.argv[1:]
files = subprocess.run(["git", "ls-files", "lib/*.c", "src/*.c", "plugin/*.c"],
                       check=True, capture_output=True,
                       text=True).stdout.split()
errors = 0
for f in files:
    if f in TABLES:
        continue
    known = lib_keys | daemon_keys if f.startswith("src/") else lib_keys
    header = "conf_daemon_keys.h" if f.startswith("src/") else "conf_keys.h"
    src = open(f).read()

    def getter(m):
        global errors
        key = m.group(2)
        if key in known:
            return m.group(1) + constant(key) + m.group(3)
        if not key.startswith(FAMILIES):
            print("%s: unknown configuration key \"%s\"" % (f, key),
                  file=sys.stderr)
            errors += 1
        return m.group(0)

    def literal(m):
        key = m.group(1)
        return constant(key) if key in known else m.group(0)

    out = GETTER.sub(getter, src)
    # Dotted keys elsewhere, outside comments: only lines that are code.
    lines = out.split("\n")
    for i, line in enumerate(lines):
        stripped = line.lstrip()
        if stripped.startswith(("/*", "*", "//", "#")):
            continue
        lines[i] = LITERAL.sub(literal, line)
    out = "\n".join(lines)
    inc = '#include "%s"\n' % header
    if re.search(r"\bCHP_KEY_[A-Z0-9_]+\b", out) and inc not in out:
        last = None
        for m in re.finditer(r'^#include "[^"]+"\n', out, re.M):
            last = m
        at = last.end() if last else 0
        out = out[:at] + inc + out[at:]
    if out != src and check:
        print("%s: configuration key given as a string literal; run "
              "scripts/dev/rewrite-conf-keys.py" % f, file=sys.stderr)
        errors += 1
    elif out != src:
        open(f, "w").write(out)
        subprocess.run(["clang-format", "-i", f], check=True)
        print("rewrote", f)
sys.exit(1 if errors else 0)
