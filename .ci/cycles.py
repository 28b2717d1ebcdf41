#!/usr/bin/env python3
"""Finds import circles between the modules of src/.

At every level of the module tree, the children of one module are nodes and
an edge A -> B means some file in A's subtree names something in B's subtree
(`crate::…`, `super::…` paths, in `use` lines or inline). A module naming its
own ancestors is how Rust modules are meant to be used, so only edges between
siblings count. A circle among siblings is printed and the exit status is 1.

    python3 .ci/cycles.py [src]
"""
import os
import re
import sys

root = sys.argv[1] if len(sys.argv) > 1 else "src"


def module_of(path):
    rel = os.path.relpath(path, root)[:-3].split(os.sep)
    if rel[-1] in ("mod", "lib", "main"):
        rel = rel[:-1]
    return tuple(rel)


def code_of(path):
    text = open(path, encoding="utf-8").read()
    # Unit tests live at the end of a file behind #[cfg(test)]; they may
    # reach anywhere.
    cut = re.search(r"^#\[cfg\(test\)\]\s*\n\s*mod ", text, re.M)
    if cut:
        text = text[: cut.start()]
    text = re.sub(r"//[^\n]*", "", text)
    text = re.sub(r'"(?:\\.|[^"\\])*"', '""', text)
    return text


def expand(tree):
    """`a::{b, c::d}` -> ["a::b", "a::c::d"]."""
    tree = tree.replace(" ", "").replace("\n", "")
    depth, start = 0, None
    for i, ch in enumerate(tree):
        if ch == "{":
            if depth == 0:
                start = i
            depth += 1
        elif ch == "}":
            depth -= 1
            if depth == 0:
                prefix, inner = tree[:start], tree[start + 1 : i]
                parts, d, s = [], 0, 0
                for j, c in enumerate(inner):
                    if c == "{":
                        d += 1
                    elif c == "}":
                        d -= 1
                    elif c == "," and d == 0:
                        parts.append(inner[s:j])
                        s = j + 1
                parts.append(inner[s:])
                out = []
                for p in parts:
                    if p:
                        out += expand(prefix + p)
                return out
    return [tree]


files = []
for dirpath, _, names in os.walk(root):
    for n in names:
        if n.endswith(".rs") and n != "tests.rs" and os.sep + "tests" + os.sep not in os.path.join(dirpath, n) + os.sep:
            files.append(os.path.join(dirpath, n))
modules = {module_of(f) for f in files}


def resolve(current, path):
    parts = [p for p in path.split("::") if p]
    if not parts:
        return None
    if parts[0] == "crate":
        base, parts = (), parts[1:]
    elif parts[0] in ("super", "self"):
        base = current
        while parts and parts[0] in ("super", "self"):
            if parts[0] == "super":
                base = base[:-1]
            parts = parts[1:]
    else:
        return None
    target = base
    for p in parts:
        if target + (p,) in modules:
            target = target + (p,)
        else:
            break
    return target


edges = set()
for f in files:
    here = module_of(f)
    code = code_of(f)
    paths = []
    for m in re.finditer(r"\buse\s+((?:crate|super|self)::[^;]*);", code):
        paths += expand(m.group(1))
    for m in re.finditer(r"(?<![\w:])((?:crate|super)(?:::\w+)+)", code):
        paths.append(m.group(1))
    for p in paths:
        there = resolve(here, p)
        if there is None or there == here:
            continue
        # The deepest common ancestor; the edge joins its two children.
        k = 0
        while k < min(len(here), len(there)) and here[k] == there[k]:
            k += 1
        if k == len(here) or k == len(there):
            continue  # an ancestor or a descendant
        edges.add((here[: k + 1], there[: k + 1]))

graph = {}
for a, b in edges:
    graph.setdefault(a, set()).add(b)

# Tarjan's strongly connected components.
index, low, stack, on, sccs, counter = {}, {}, [], set(), [], [0]
sys.setrecursionlimit(10000)


def visit(v):
    index[v] = low[v] = counter[0]
    counter[0] += 1
    stack.append(v)
    on.add(v)
    for w in graph.get(v, ()):
        if w not in index:
            visit(w)
            low[v] = min(low[v], low[w])
        elif w in on:
            low[v] = min(low[v], index[w])
    if low[v] == index[v]:
        comp = []
        while True:
            w = stack.pop()
            on.discard(w)
            comp.append(w)
            if w == v:
                break
        if len(comp) > 1:
            sccs.append(comp)


for v in list(graph):
    if v not in index:
        visit(v)

name = lambda m: "::".join(("crate",) + m)
for comp in sccs:
    members = set(comp)
    print("import circle: " + ", ".join(sorted(name(m) for m in comp)))
    for a, b in sorted(edges):
        if a in members and b in members:
            print(f"    {name(a)} -> {name(b)}")
print(f"{len(modules)} modules, {len(edges)} edges between siblings, {len(sccs)} circle(s)")
sys.exit(1 if sccs else 0)
