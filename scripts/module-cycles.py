#!/usr/bin/env python3
"""Module dependency cycles inside Rust crates.

For each crate source folder given (default: every crates/*/src), maps every module (file)
to the modules it names through `crate::…` and `super::…` paths (test modules and comments left out),
then prints the strongly connected components with more than one module: the cycles.
A name the crate root re-exports (`pub use a::B`) counts as a use of module `a`.

    scripts/module-cycles.py [crates/usagedesk-agent/src ...] [--edges]
    scripts/module-cycles.py crates/usagedesk-agent/src/bin/usagedesk-agent --edges   # a binary
"""
import pathlib
import re
import sys

PATH = re.compile(r"\b(crate|super)((?:::\w+)+|::\{)")


def module_of(src: pathlib.Path, f: pathlib.Path) -> tuple:
    rel = f.relative_to(src).with_suffix("")
    parts = list(rel.parts)
    if parts[-1] in ("mod", "lib", "main"):
        parts = parts[:-1]
    return tuple(parts)


def strip_tests(text: str) -> str:
    """Drops the test module at the end of a file and every comment (doc links included)."""
    m = re.search(r"#\[cfg\(test\)\]\s*mod tests\b", text)
    text = text[: m.start()] if m else text
    return re.sub(r"//[^\n]*", "", text)


def expand_use_groups(text: str) -> list:
    """`crate::{a::B, c}` and `super::{x, y::z}` become one path each."""
    out = []
    for m in re.finditer(r"\b(crate|super(?:::super)*)((?:::\w+)*)::\{", text):
        depth, i = 1, m.end()
        while depth and i < len(text):
            depth += {"{": 1, "}": -1}.get(text[i], 0)
            i += 1
        inner = text[m.end() : i - 1]
        parts, depth, cur = [], 0, ""
        for ch in inner:
            if ch == "," and depth == 0:
                parts.append(cur)
                cur = ""
                continue
            depth += {"{": 1, "}": -1}.get(ch, 0)
            cur += ch
        parts.append(cur)
        for p in parts:
            p = p.strip().split(" as ")[0].split("{")[0].strip(": ")
            if p and p != "self":
                out.append(m.group(1) + m.group(2) + "::" + p)
    return out


def paths_in(text: str) -> list:
    out = [m.group(0) for m in re.finditer(r"\b(?:crate|super(?:::super)*)(?:::\w+)+", text)]
    return out + expand_use_groups(text)


def analyse(src: pathlib.Path):
    # A binary's modules (src/main.rs, src/bin/…) belong to another crate: pass its folder.
    files = sorted(
        f
        for f in src.rglob("*.rs")
        if f.relative_to(src).parts[0] != "bin" and f.relative_to(src) != pathlib.Path("main.rs")
    )
    if not files and (src / "main.rs").exists():
        files = sorted(src.rglob("*.rs"))
    modules = {module_of(src, f): f for f in files}
    root_file = src / "lib.rs" if (src / "lib.rs").exists() else src / "main.rs"
    reexports = {}
    if root_file.exists():
        for p in paths_in_root(root_file.read_text()):
            *mod, name = p
            reexports[name] = tuple(mod)
    edges = {}
    for mod, f in modules.items():
        if mod == () or mod[-1] == "tests":
            continue
        text = strip_tests(f.read_text())
        deps = set()
        is_dir_mod = f.name == "mod.rs"
        for p in paths_in(text):
            segs = p.split("::")
            if segs[0] == "crate":
                base, rest = (), segs[1:]
            else:
                base = mod if is_dir_mod else mod[:-1]
                rest = segs[1:]
                while rest and rest[0] == "super":
                    base, rest = base[:-1], rest[1:]
            target = base
            for s in rest:
                if target + (s,) in modules:
                    target = target + (s,)
                else:
                    if target == () and s in reexports:
                        target = reexports[s]
                    break
            if target and target != mod and mod[: len(target)] != target:
                deps.add(target)
        edges[mod] = deps
    return edges


def paths_in_root(text: str) -> list:
    out = []
    for m in re.finditer(r"pub use ([\w:]+)::\{([^}]*)\}", text):
        for n in m.group(2).split(","):
            n = n.strip().split(" as ")[-1].strip()
            if n:
                out.append(m.group(1).split("::") + [n])
    for m in re.finditer(r"pub use ([\w:]+)::(\w+)\s*;", text):
        out.append(m.group(1).split("::") + [m.group(2)])
    return [p for p in out if p[0] not in ("std", "usagedesk_airgap", "usagedesk_domain")]


def sccs(edges):
    index, low, stack, on, out, n = {}, {}, [], set(), [], [0]

    def visit(v):
        index[v] = low[v] = n[0]
        n[0] += 1
        stack.append(v)
        on.add(v)
        for w in edges.get(v, ()):
            if w not in edges:
                continue
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
            out.append(comp)

    sys.setrecursionlimit(10000)
    for v in sorted(edges):
        if v not in index:
            visit(v)
    return out


def name(m):
    return "::".join(m)


def main():
    args = [a for a in sys.argv[1:] if not a.startswith("--")]
    show_edges = "--edges" in sys.argv
    srcs = [pathlib.Path(a) for a in args] or sorted(pathlib.Path("crates").glob("*/src"))
    total = 0
    for src in srcs:
        edges = analyse(src)
        cycles = [sorted(c) for c in sccs(edges) if len(c) > 1]
        total += len(cycles)
        status = "no cycles" if not cycles else f"{len(cycles)} cycle(s)"
        print(f"{src}: {len(edges)} modules, {status}")
        for c in cycles:
            print("  cycle: {" + ", ".join(name(m) for m in c) + "}")
        if show_edges:
            for m in sorted(edges):
                print(f"  {name(m)} -> {', '.join(sorted(name(d) for d in edges[m])) or '-'}")
    sys.exit(1 if total else 0)


if __name__ == "__main__":
    main()
