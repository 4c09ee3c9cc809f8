#!/usr/bin/env python3
"""Checks what libringfile.so exports: the public API only (lib/libringfile.map).

Fails on any defined dynamic symbol that is not in namespace ringfile, that belongs
to ringfile::detail (the syscall seam's test hooks among them), or that is a test
hook, and prints the list it checked.
"""
import subprocess
import sys


def exported(library):
    nm = subprocess.run(['nm', '-D', '--defined-only', library], check=True, capture_output=True, text=True).stdout
    names = [line.split(None, 2)[2] for line in nm.splitlines() if len(line.split(None, 2)) == 3]
    demangled = subprocess.run(['c++filt'], input='\n'.join(names), check=True, capture_output=True, text=True).stdout
    return [n.split('@')[0] for n in demangled.splitlines() if n]


def problem(symbol):
    if symbol == 'RINGFILE_0':
        return None
    owner = symbol.split('(')[0]
    if not owner.startswith('ringfile::'):
        return 'not ringfile API'
    if owner.startswith('ringfile::detail::') or 'uring_testing' in owner:
        return 'internal'
    return None


def main():
    symbols = exported(sys.argv[1])
    bad = [(s, why) for s in symbols if (why := problem(s))]
    for s in symbols:
        print(s)
    print(f'{len(symbols)} exported symbols')
    for s, why in bad:
        print(f'FAIL ({why}): {s}', file=sys.stderr)
    if not any(s.startswith('ringfile::Engine::create') for s in symbols):
        print('FAIL: Engine::create is not exported', file=sys.stderr)
        return 1
    return 1 if bad else 0


if __name__ == '__main__':
    sys.exit(main())
