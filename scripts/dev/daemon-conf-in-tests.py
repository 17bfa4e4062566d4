#!/usr/bin/env python3
"""Configurations that use the daemons' keys are made with conf_daemon_new()
(src/conf_daemon.h), since chp_conf_new() only knows the library's keys.

Rewrites chp_conf_new() -> conf_daemon_new() in every tests/ and bench/ C
file that names a daemon key (read from src/conf_daemon.c, as a literal
"db.url" or as its constant CHP_KEY_DB_URL), and adds the include.
test_conf*.c are left alone: they test both tables on purpose.
Idempotent: re-run it after merging a branch that added such a test.

    scripts/dev/daemon-conf-in-tests.py
"""
import os
import re
import subprocess

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
os.chdir(ROOT)

table = open("src/conf_daemon.c").read()
keys = re.findall(r'^\s*\{"([a-z0-9_.]+)",', table, re.M)
consts = ["CHP_KEY_" + re.sub(r"[^A-Z0-9]", "_", k.upper()) for k in keys]
names = re.compile(r'"(?:%s)[="]|\b(?:%s)\b' % (
    "|".join(re.escape(k) for k in keys), "|".join(consts)))
INCLUDE = '#include "conf_daemon.h"\n'

files = subprocess.run(["git", "ls-files", "tests/*.c", "bench/*.c",
                        "tests/fuzz/*.c"],
                       check=True, capture_output=True,
                       text=True).stdout.split()
for f in files:
    if os.path.basename(f).startswith("test_conf"):
        continue
    src = open(f).read()
    if "chp_conf_new()" not in src or not names.search(src):
        continue
    out = src.replace("chp_conf_new()", "conf_daemon_new()")
    if INCLUDE not in out:
        last = None
        for m in re.finditer(r'^#include "[^"]+"\n', out, re.M):
            last = m
        at = last.end() if last else 0
        out = out[:at] + INCLUDE + out[at:]
    open(f, "w").write(out)
    subprocess.run(["clang-format", "-i", f], check=True)
    print("rewrote", f)
