"""Differential check for issue 10 point 5 (lambda tables, lists of
callbacks, closures made at import): random versions of one module, each
reload compared with a fresh import of the same source.

    python tests/scripts/fresh_tables_diff.py SEED CYCLES

Prints the divergent cycles, those without a diagnostic code (silent), and
per family.  Works in a temporary directory."""
import importlib.util, os, random, sys, textwrap
sys.dont_write_bytecode = True
import tempfile
d = tempfile.mkdtemp(prefix="hs_tables_"); sys.path.insert(0, d)
import hotswap
r = random.Random(int(sys.argv[1]) if len(sys.argv) > 1 else 1)
N = int(sys.argv[2]) if len(sys.argv) > 2 else 200
path = os.path.join(d, "ltab.py")
def gen():
    keys = r.sample("abcdefg", r.randint(1, 5))
    items = []
    for k in keys:
        if r.random() < 0.7:
            items.append(f'"{k}": lambda x: ("{k}", x * {r.randint(0, 9)} + K)')
        else:
            items.append(f'"{k}": {r.randint(0, 9)}')
    one_line = r.random() < 0.5
    sep = ", " if one_line else ",\n         "
    extra = "k = 7\n    " if r.random() < 0.3 else ""
    return (f"K = {r.randint(0, 3)}\n"
            f"TABLE = {{{sep.join(items)}}}\n"
            f"HOOKS = [{', '.join(f'lambda x: x + {r.randint(0, 9)}' for _ in range(r.randint(0, 3)))}]\n"
            f"def make(n):\n    {extra}def inner(x):\n        return (x, n{', k' if extra else ''}, {r.randint(0, 9)})\n    return inner\n"
            f"clo = make({r.randint(0, 3)})\n")
def write(src, bump):
    with open(path, "w") as f: f.write(src)
    st = os.stat(path); os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns + bump * 10**9))
def fresh():
    spec = importlib.util.spec_from_file_location("ltab_fresh", path)
    m = importlib.util.module_from_spec(spec); spec.loader.exec_module(m); return m
def obs(m):
    t = {k: (v(2) if callable(v) else v) for k, v in m.TABLE.items()}
    return (m.K, t, [h(1) for h in m.HOOKS], m.clo(1))
write(gen(), 0)
import ltab
div = silent = 0
fam = {}
for i in range(N):
    write(gen(), i + 1)
    try:
        rep = hotswap.reload(ltab)
    except hotswap.ReloadError as e:
        print("error", e); continue
    a, b = obs(ltab), obs(fresh())
    for n, x, y in zip(("K", "table", "hooks", "clo"), a, b):
        if x != y:
            fam[n] = fam.get(n, 0) + 1
    if a != b:
        div += 1
        codes = {e.code for e in rep.rejected}
        if "HS104" not in codes:
            silent += 1
            pass
print(f"cycles {N}: divergences {div}, silent (no code) {silent}, per family {fam}")
