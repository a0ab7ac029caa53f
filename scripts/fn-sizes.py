#!/usr/bin/env python3
"""The largest functions (by lines, a brace counter) of the crates' non-test sources.

Usage: scripts/fn-sizes.py [ROOT] [N]   (issue 17's before/after tables)
"""
import os, re, sys
root = sys.argv[1] if len(sys.argv) > 1 else '.'
n = int(sys.argv[2]) if len(sys.argv) > 2 else 20
res = []
fnre = re.compile(r'^\s*(pub(\([^)]*\))?\s+)?(const\s+)?(async\s+)?(unsafe\s+)?fn\s+(\w+)')
for d in ['isakmp-wire','ike-sm','xauth','modecfg','esp','pix-nat','pix-config','examples','pix-primitives']:
    p = os.path.join(root, d, 'src')
    if not os.path.isdir(p): continue
    for dp, _, fs in os.walk(p):
        for f in fs:
            if not f.endswith('.rs') or 'tests' in f: continue
            path = os.path.join(dp, f)
            lines = open(path, encoding='utf-8', errors='replace').read().split('\n')
            i = 0
            while i < len(lines):
                m = fnre.match(lines[i])
                if m:
                    depth = 0; started = False; j = i
                    while j < len(lines):
                        l = re.sub(r'//.*', '', lines[j])
                        l = re.sub(r'"(\\.|[^"\\])*"', '""', l)
                        l = re.sub(r"'(\\.|[^'\\])'", "''", l)
                        if ';' in l and not started and '{' not in l: break
                        depth += l.count('{') - l.count('}')
                        if '{' in l: started = True
                        if started and depth <= 0: break
                        j += 1
                    if started: res.append((j - i + 1, os.path.relpath(path, root), m.group(6)))
                i += 1
res.sort(reverse=True)
for r in res[:n]: print(f"{r[0]:5d}  {r[1]}::{r[2]}")
