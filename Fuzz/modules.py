#!/usr/bin/env python3
"""The package's modules that a harness needs, in build order, from `swift package dump-package` on stdin.

Usage: swift package dump-package | Fuzz/modules.py HARNESS.swift...
Prints one line per module: KIND NAME PATH, KIND being swift, c or system; the harnesses'
`import` lines name the modules they fuzz, and Package.swift says what those depend on, so a new file or a
new dependency of a fuzzed module needs no change to Fuzz/run.
"""
import json
import os
import re
import sys

package = json.load(sys.stdin)
targets = {target["name"]: target for target in package["targets"]}


def dependencies(target):
    # Each entry is {"byName": [name, condition]}, {"target": [...]} or {"product": [...]}; products are
    # other packages', and this package has none.
    return [next(iter(entry.values()))[0] for entry in target["dependencies"]]


def kind(target, path):
    if target["type"] == "system":
        return "system"
    for _, _, files in os.walk(path):
        if any(name.endswith(".swift") for name in files):
            return "swift"
    return "c"


wanted = []
for harness in sys.argv[1:]:
    with open(harness) as source:
        wanted += re.findall(r"^(?:@testable )?import (\w+)$", source.read(), re.MULTILINE)

ordered = []


def visit(name):
    if name in ordered or name not in targets:  # not ours: Foundation, Glibc, …
        return
    for dependency in dependencies(targets[name]):
        visit(dependency)
    ordered.append(name)


for name in wanted:
    visit(name)
for name in ordered:
    target = targets[name]
    if target["type"] not in ("regular", "system"):
        sys.exit(f"harness imports {name}, a {target['type']} target: fuzz a library target")
    if target.get("exclude") or target.get("sources") or target.get("settings"):
        sys.exit(f"{name} has sources or settings in Package.swift: teach Fuzz/modules.py to honour them")
    path = target.get("path") or "Sources/" + name
    print(kind(target, path), name, path)
