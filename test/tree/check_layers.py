#!/usr/bin/env python3
"""Fails when an include in lib/ points up the layers, or liburing leaks out of exec/uring.

The layers, top down: api and compound (peers) -> core -> exec -> sys. ops, the op
vocabulary, is used by every layer and itself uses only sys. Within exec, the two
executors (uring, pool) know only the interface in exec/ and never each other.
Every source file sits in a layer's folder; a quoted include must name a file of
lib/ from lib/'s root (or a public or generated header), so the folder in the
include line is the layer it reaches. <liburing.h> appears only in exec/uring, and
never in the public headers. The conformance suite, which runs every test on both
engines, reaches them only through the public API: it includes no exec/ header.
"""
import pathlib
import re
import sys

RANK = {"sys": 0, "exec": 1, "core": 2, "api": 3, "compound": 3}
INCLUDE = re.compile(r'^\s*#\s*include\s*([<"])([^>"]+)[>"]', re.M)
GENERATED = {"ringfile_config.h"}


def layer_of(rel: pathlib.PurePath) -> str:
    return rel.parts[0] if len(rel.parts) > 1 else ""


def executor_of(rel: pathlib.PurePath) -> str:
    return rel.parts[1] if rel.parts[0] == "exec" and len(rel.parts) > 2 else ""


def may_include(src: pathlib.PurePath, dst: pathlib.PurePath) -> str:
    """Empty when src may include dst, else why not."""
    a, b = layer_of(src), layer_of(dst)
    if b == "ops":
        return ""
    if a == "ops":
        return "" if b == "sys" else "ops uses only sys"
    if RANK[b] > RANK[a]:
        return f"{b} is a layer above {a}"
    ea, eb = executor_of(src), executor_of(dst)
    return f"exec/{ea} includes the other executor" if ea and eb and ea != eb else ""


def check_lib(lib: pathlib.Path, problems: list) -> int:
    files = sorted(p for p in lib.rglob("*") if p.suffix in (".cpp", ".hpp", ".h"))
    for path in files:
        rel = path.relative_to(lib)
        if layer_of(rel) not in RANK and layer_of(rel) != "ops":
            problems.append(f"{path}: not in a layer's folder ({', '.join(sorted(RANK))}, ops)")
            continue
        text = path.read_text()
        for m in INCLUDE.finditer(text):
            kind, name = m.groups()
            line = text.count("\n", 0, m.start()) + 1
            where = f"{path}:{line}"
            if kind == "<":
                if name == "liburing.h" and executor_of(rel) != "uring":
                    problems.append(f"{where}: <liburing.h> outside exec/uring")
                continue
            if name.startswith("ringfile/") or name in GENERATED:
                continue
            target = pathlib.PurePath(name)
            if not (lib / target).is_file():
                problems.append(f'{where}: "{name}" is not a path from lib/\'s root')
            elif layer_of(target) not in RANK and layer_of(target) != "ops":
                problems.append(f'{where}: "{name}" is not in a layer')
            elif why := may_include(rel, target):
                problems.append(f'{where}: includes "{name}": {why}')
    return len(files)


def check_public(include: pathlib.Path, problems: list) -> None:
    for path in sorted(include.rglob("*.hpp")):
        for m in INCLUDE.finditer(path.read_text()):
            if "liburing" in m.group(2):
                problems.append(f"{path}: a public header includes {m.group(2)}")


def check_conformance(tests: pathlib.Path, problems: list) -> None:
    for path in sorted(p for p in tests.rglob("*") if p.suffix in (".cpp", ".hpp")):
        for m in INCLUDE.finditer(path.read_text()):
            if m.group(1) == '"' and m.group(2).startswith("exec/"):
                problems.append(f'{path}: the conformance suite includes the executor header "{m.group(2)}"')


def main(lib: str, include: str, conformance: str) -> int:
    problems = []
    count = check_lib(pathlib.Path(lib), problems)
    check_public(pathlib.Path(include), problems)
    check_conformance(pathlib.Path(conformance), problems)
    for p in problems:
        print(p)
    print(f"{count} files checked, {len(problems)} includes against the layers")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main(*sys.argv[1:4]))
