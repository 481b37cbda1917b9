#!/usr/bin/env python3
"""Module dependency graph of the library, from its `crate::` paths.

Reads every src/**/*.rs (not src/bin/), maps each file to its module
(src/a/b.rs and src/a/b/mod.rs are a::b), and collects the modules each
one names through `crate::...` paths (in `use` lines or inline) and through
`super::` paths that leave it. Comments, doc links and string literals are
not dependencies and are skipped. Unit tests (`tests.rs` files, `tests/`
folders and inline `#[cfg(test)] mod NAME { ... }` blocks) are left out
unless --tests is given: the layering is about the product code.

Nodes are second-level modules (`policy::parse`, `audit::writer`, `decide`);
a deeper module counts as its second-level ancestor. Prints the edges
(`from -> to  (N refs: first file)`), then the cycles among second-level
modules and among top-level modules (strongly connected components).

Usage: scripts/module-deps.py [--tests] [--edges] [--check] [SRC_DIR]
  --edges  print every edge (default: only the cycles and a summary)
  --check  exit 1 when there is a cycle
"""
import os
import re
import sys


def module_of(src, path):
    rel = os.path.relpath(path, src)[: -len(".rs")].split(os.sep)
    if rel == ["lib"]:
        return ()
    if rel[-1] == "mod":
        rel = rel[:-1]
    return tuple(rel)


def is_test_file(mod):
    return "tests" in mod


def strip(text):
    """Code only: comments and string/char literals replaced by spaces."""
    out = []
    i, n = 0, len(text)
    while i < n:
        c = text[i]
        if text.startswith("//", i):
            j = text.find("\n", i)
            j = n if j < 0 else j
            i = j
            continue
        if text.startswith("/*", i):
            depth, i = 1, i + 2
            while i < n and depth:
                if text.startswith("/*", i):
                    depth, i = depth + 1, i + 2
                elif text.startswith("*/", i):
                    depth, i = depth - 1, i + 2
                else:
                    i += 1
            out.append(" ")
            continue
        m = re.match(r'b?r(#*)"', text[i:]) if c in "br" else None
        if m and (i == 0 or not (text[i - 1].isalnum() or text[i - 1] == "_")):
            end = '"' + m.group(1)
            j = text.find(end, i + m.end())
            j = n if j < 0 else j + len(end)
            out.append(" " + "\n" * text.count("\n", i, j))
            i = j
            continue
        if c == '"':
            j = i + 1
            while j < n and text[j] != '"':
                j += 2 if text[j] == "\\" else 1
            out.append(" " + "\n" * text.count("\n", i, j))
            i = j + 1
            continue
        if c == "'":
            m = re.match(r"'(\\.|\\x[0-9a-fA-F]{2}|\\u\{[0-9a-fA-F]+\}|[^\\'])'", text[i:])
            if m:
                out.append(" ")
                i += m.end()
                continue
        out.append(c)
        i += 1
    return "".join(out)


def drop_inline_tests(code):
    """Remove `#[cfg(test)] mod NAME { ... }` blocks (brace-matched)."""
    out, pos = [], 0
    for m in re.finditer(r"#\[cfg\(test\)\]\s*(pub(\([^)]*\))?\s+)?mod\s+\w+\s*\{", code):
        if m.start() < pos:
            continue
        out.append(code[pos : m.start()])
        depth, j = 1, m.end()
        while j < len(code) and depth:
            depth += {"{": 1, "}": -1}.get(code[j], 0)
            j += 1
        pos = j
    out.append(code[pos:])
    return "".join(out)


def expand_use_trees(code):
    """`crate::a::{b, c::{d}}` -> `crate::a::b`, `crate::a::c::d` (and the
    same for `super::`), so grouped imports count like plain paths."""
    paths = []
    for m in re.finditer(r"\b(crate|super)((?:::\w+)*)::\{", code):
        depth, j = 1, m.end()
        while j < len(code) and depth:
            depth += {"{": 1, "}": -1}.get(code[j], 0)
            j += 1
        inner = code[m.end() : j - 1]
        prefix = m.group(1) + m.group(2)
        paths += [prefix + "::" + p for p in flatten(inner)]
    return paths


def flatten(tree):
    items, depth, cur = [], 0, ""
    for ch in tree:
        if ch == "{":
            depth += 1
        elif ch == "}":
            depth -= 1
        if ch == "," and depth == 0:
            items.append(cur)
            cur = ""
        else:
            cur += ch
    items.append(cur)
    out = []
    for it in (s.strip() for s in items):
        if not it:
            continue
        m = re.match(r"^([\w:]*?)(?:::)?\{(.*)\}$", it, re.S)
        if m:
            out += [(m.group(1) + "::" + p) if m.group(1) else p for p in flatten(m.group(2))]
        else:
            out.append(it.split(" as ")[0].strip())
    return out


def resolve(path, here, modules):
    """The module a path names (its longest module prefix), or None."""
    parts = path.split("::")
    if parts[0] == "crate":
        base, rest = (), parts[1:]
    else:
        base = here
        rest = parts
        while rest and rest[0] == "super":
            if not base:
                return None
            base, rest = base[:-1], rest[1:]
    cand = base
    best = base
    for p in rest:
        if p in ("self", "*") or not re.match(r"^\w+$", p):
            break
        cand = cand + (p,)
        if cand in modules:
            best = cand
        else:
            break
    return best


def node(mod):
    return "::".join(mod[:2]) if mod else "crate"


def sccs(graph):
    index, low, stack, on, out, counter = {}, {}, [], set(), [], [0]

    def visit(v):
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on.add(v)
        for w in sorted(graph.get(v, ())):
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
            out.append(sorted(comp))

    sys.setrecursionlimit(10000)
    for v in sorted(graph):
        if v not in index:
            visit(v)
    return [c for c in out if len(c) > 1]


def main(argv):
    tests = "--tests" in argv
    show_edges = "--edges" in argv
    check = "--check" in argv
    args = [a for a in argv if not a.startswith("--")]
    src = args[0] if args else os.path.join(os.path.dirname(__file__), "..", "src")
    files = []
    for root, dirs, names in os.walk(src):
        if os.path.relpath(root, src).split(os.sep)[0] == "bin":
            continue
        files += [os.path.join(root, f) for f in names if f.endswith(".rs")]
    modules = {module_of(src, f) for f in files}
    edges = {}  # (from_node, to_node) -> [count, first file]
    for f in sorted(files):
        mod = module_of(src, f)
        if not tests and is_test_file(mod):
            continue
        code = strip(open(f, encoding="utf-8").read())
        if not tests:
            code = drop_inline_tests(code)
        paths = expand_use_trees(code)
        grouped = re.sub(r"\b(crate|super)((?:::\w+)*)::\{", " ", code)
        paths += re.findall(r"\b(?:crate|super)(?:::(?:\w+|\*))+", grouped)
        for p in paths:
            target = resolve(p, mod, modules)
            if target is None:
                continue
            a, b = node(mod), node(target)
            if a == b or b == "crate":
                continue
            # A module reaching into its own parent or child is one house.
            if a.startswith(b + "::") or b.startswith(a + "::"):
                continue
            e = edges.setdefault((a, b), [0, os.path.relpath(f, os.path.dirname(src))])
            e[0] += 1
    graph = {}
    for a, b in edges:
        graph.setdefault(a, set()).add(b)
    if show_edges:
        for (a, b), (n, first) in sorted(edges.items()):
            print(f"{a} -> {b}  ({n} refs: {first})")
    top = {}
    for a, b in edges:
        ta, tb = a.split("::")[0], b.split("::")[0]
        if ta != tb:
            top.setdefault(ta, set()).add(tb)
    cyc2, cyc1 = sccs(graph), sccs(top)
    nodes = set(graph) | {b for bs in graph.values() for b in bs}
    print(f"{len(nodes)} modules, {len(edges)} edges" + (" (tests included)" if tests else ""))
    for title, cycles, g in (("second-level", cyc2, graph), ("top-level", cyc1, top)):
        print(f"cycles among {title} modules: {len(cycles)}")
        for comp in cycles:
            members = set(comp)
            print("  " + " <-> ".join(comp))
            for a in comp:
                for b in sorted(g.get(a, ())):
                    if b in members:
                        how = edges.get((a, b))
                        print(f"    {a} -> {b}" + (f"  ({how[1]})" if how else ""))
    return 1 if check and (cyc2 or cyc1) else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
