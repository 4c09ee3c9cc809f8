#!/usr/bin/env python3
"""Fails when a source file in lib/ is over 450 lines or a function in it over 60.

A function is a brace block at namespace or class scope (a body, not a type or a
namespace), measured from its opening line to its closing line. Comments, string
and character literals are blanked first so their braces do not count.
"""
import pathlib
import re
import sys

MAX_FILE_LINES = 450
MAX_FUNCTION_LINES = 60

SCOPE_OPENER = re.compile(r"\b(namespace|class|struct|union|enum)\b[^()]*$")


def strip(source: str) -> str:
    blank = lambda m: re.sub(r"[^\n]", " ", m.group(0))
    source = re.sub(r"/\*.*?\*/", blank, source, flags=re.S)
    source = re.sub(r"//[^\n]*", blank, source)
    source = re.sub(r'R"\((.*?)\)"', blank, source, flags=re.S)
    source = re.sub(r'"(\\.|[^"\\\n])*"', blank, source)
    return re.sub(r"'(\\.|[^'\\\n])+'", blank, source)


def long_functions(source: str):
    stack = []  # (is_scope, line)
    line = 1
    for i, ch in enumerate(source):
        if ch == "\n":
            line += 1
        elif ch == "{":
            before = re.split(r"[;{}]", source[max(0, i - 300):i])[-1]
            stack.append((bool(SCOPE_OPENER.search(before)), line))
        elif ch == "}" and stack:
            is_scope, start = stack.pop()
            if not is_scope and all(s for s, _ in stack):
                length = line - start + 1
                if length > MAX_FUNCTION_LINES:
                    yield start, length


def main(root: str) -> int:
    problems = []
    files = sorted(p for p in pathlib.Path(root).rglob("*") if p.suffix in (".cpp", ".hpp"))
    for path in files:
        text = path.read_text()
        lines = text.count("\n")
        if lines > MAX_FILE_LINES:
            problems.append(f"{path}: {lines} lines (limit {MAX_FILE_LINES})")
        for start, length in long_functions(strip(text)):
            problems.append(f"{path}:{start}: a function of {length} lines (limit {MAX_FUNCTION_LINES})")
    for p in problems:
        print(p)
    print(f"{len(files)} files checked, {len(problems)} over the limits")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
