#!/usr/bin/python3
"""The layer order of Tessera's sources, stated once, and its check.

Data flow one way: workload -> IR -> compiler -> ISA program -> engine -> models
-> stats -> reports. Each folder below is one layer; a file may include files of
its own layer and of the layers below it, never of a layer above. A prefix that
is longer wins (sim/engines/ is layer 5 although sim/ is layer 6).

    check_layers.py [--root DIR]   exit 0 when every #include "..." points down;
                                   exit 1 listing each one that runs back up
    check_layers.py --self-test    checks that an upward include is caught
"""
import argparse
import os
import re
import shutil
import subprocess
import sys
import tempfile

# (folder prefix, layer, what lives there). The one statement of the order.
LAYERS = [
    ("core/", 0, "base: units, parameters, component registry, stats, number-format names, errors"),
    ("isa/", 1, "the instruction set: programs, kernels, blocks, instructions, their text form"),
    ("workloads/", 2, "graph IR, built-in models, importers, the training step"),
    ("models/", 3, "hardware component models, their libraries, the hardware description loader"),
    ("compiler/", 4, "IR -> ISA programs: one mapper per target kind"),
    ("sim/engines/", 5, "engines that drive the models over a program; the run result"),
    ("sim/", 6, "reports, precision analysis, compile-and-run entry points"),
    ("sim/tools/", 7, "tools: compare, calibrate"),
    ("sim/cli/", 8, "the command line"),
]
INCLUDE = re.compile(r'^\s*#\s*include\s+"([^"]+)"')


def layer_of(path):
    best = None
    for prefix, rank, _ in LAYERS:
        if path.startswith(prefix) and (best is None or len(prefix) > len(best[0])):
            best = (prefix, rank)
    return best


def name_of(rank):
    return next(p.rstrip("/") for p, r, _ in LAYERS if r == rank)


def check(root):
    problems = []
    for prefix, _, _ in LAYERS:
        top = os.path.join(root, prefix)
        for dirpath, _, files in os.walk(top):
            for f in sorted(files):
                if not f.endswith((".h", ".hpp", ".cpp", ".inc")):
                    continue
                full = os.path.join(dirpath, f)
                rel = os.path.relpath(full, root).replace(os.sep, "/")
                own = layer_of(rel)
                if own[0] != prefix:
                    continue   # visited under its longer prefix
                with open(full, encoding="utf-8", errors="replace") as fh:
                    for n, line in enumerate(fh, 1):
                        m = INCLUDE.match(line)
                        if not m:
                            continue
                        inc = m.group(1)
                        target = layer_of(inc)
                        if target is None:
                            problems.append(f"{rel}:{n}: includes \"{inc}\", which is in no layer "
                                            f"(layers: {', '.join(p for p, _, _ in LAYERS)})")
                        elif target[1] > own[1]:
                            problems.append(f"{rel}:{n}: includes \"{inc}\" (layer {target[1]} "
                                            f"{name_of(target[1])}) from layer {own[1]} {name_of(own[1])}; "
                                            f"includes must point down the order in scripts/check_layers.py")
    return problems


def self_test():
    """A copy of the real tree passes; the same copy with one include running up fails
    and names the file, the line and both layers."""
    here = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    with tempfile.TemporaryDirectory() as tmp:
        for top in sorted({p.split("/")[0] for p, _, _ in LAYERS}):
            if os.path.isdir(os.path.join(here, top)):
                shutil.copytree(os.path.join(here, top), os.path.join(tmp, top))
        clean = check(tmp)
        if clean:
            print("self-test: the unmodified tree should pass:\n  " + "\n  ".join(clean))
            return 1
        victim = os.path.join(tmp, "core", "units.h")
        with open(victim) as fh:
            lines = fh.read().split("\n")
        lines.insert(1, '#include "sim/engines/engine.h"')
        with open(victim, "w") as fh:
            fh.write("\n".join(lines))
        p = subprocess.run([sys.executable, os.path.abspath(__file__), "--root", tmp],
                           stdout=subprocess.PIPE, text=True)
        want = 'core/units.h:2: includes "sim/engines/engine.h" (layer 5 sim/engines) from layer 0 core'
        if p.returncode != 1 or want not in p.stdout:
            print(f"self-test: expected exit 1 and '{want}', got exit {p.returncode}:\n{p.stdout}")
            return 1
    print("self-test: an upward include is reported (exit 1, file, line and layers named)")
    return 0


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--root", default=os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    ap.add_argument("--self-test", action="store_true")
    a = ap.parse_args()
    if a.self_test:
        return self_test()
    problems = check(a.root)
    for p in problems:
        print(p)
    print(f"layers: {'; '.join(f'{r} {p}' for p, r, _ in LAYERS)}")
    print(f"{len(problems)} include(s) running up a layer" if problems else "every include points down")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
