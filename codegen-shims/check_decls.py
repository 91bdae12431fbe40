#!/usr/bin/env python3
"""check_decls.py: keeps everything that restates the C ABI in sync with it.

One file on purpose (over 800 lines): the header parser and the three
binding readers share one type model, and each binding test runs it alone.

The public header abi/include/snowrt.h is the single source of truth. This
script parses its SNOW_API prototypes, its struct typedefs and its constants,
and compares them with the declarations that restate them:

  --ll FILE        codegen-shims/snowrt.ll: one `declare` per function with
                   the LLVM types a Snow-style compiler emits (u64/i64 -> i64,
                   u32/i32 -> i32, u8 -> i8 zeroext, bool -> i1 zeroext, any
                   pointer -> i8*), `noreturn` on the _Noreturn functions, and
                   one named type per struct (%snow_msg, ...).
  --clang CLANG    cross-check the .ll against what CLANG itself emits for the
                   header (an independent C front end's ABI lowering; pointer
                   types and `noundef` are normalised away).
  --python FILE    abi/bindings/python/snowrt/_ffi.py: its FUNCTIONS table
                   (argtypes/restype), its ctypes Structures, its constants and
                   a CFUNCTYPE per callback typedef (SNOW_PROC_FN, ...).
  --rust FILE      abi/bindings/rust/snowrt-sys/src/lib.rs: its declaration
                   blocks (`unsafe extern "C" { ... }`, or `extern_c! { ... }`
                   whose cfg(not(snowrt_sys_plain_extern)) arm expands to
                   `unsafe extern "C"`; a plain `extern "C"` block, an error
                   in the 2024 edition, is a mismatch), its repr(C) structs,
                   its constants and a `pub type` per callback typedef
                   (snow_proc_fn, ...).

Names and types must match exactly, in both directions (a declaration for a
function the header does not have is an error too).

The header itself is checked on every run: each SNOW_API declaration needs a
doc comment (/** ... */) that ends on the line directly above it, as the
header's conventions require. With only --header, that is the whole check.

Exits 0 when everything matches, 1 on any mismatch or undocumented function
(each one printed), 2 on usage or parse errors. Only the standard library is
used.
"""

import argparse
import importlib.util
import os
import re
import subprocess
import sys
import tempfile

# ---------------------------------------------------------------------------
# Canonical types: 'void', 'bool', 'u8', 'i8', 'u16', 'i16', 'u32', 'i32',
# 'u64', 'i64', 'ptr'. A pointer of any kind (data, function, struct) is 'ptr'.
# ---------------------------------------------------------------------------

C_SCALARS = {
    "void": "void",
    "bool": "bool",
    "_Bool": "bool",
    "uint8_t": "u8",
    "int8_t": "i8",
    "uint16_t": "u16",
    "int16_t": "i16",
    "uint32_t": "u32",
    "int32_t": "i32",
    "int": "i32",
    "uint64_t": "u64",
    "int64_t": "i64",
    "size_t": "u64",
    "snow_pid_t": "u64",
    "snow_ref_t": "u64",
    "snow_log_handler": "ptr",  # a function pointer typedef
}

# LLVM spelling of each canonical type as a parameter or return value, with
# the extension attribute clang uses on x86-64 SysV (callers extend i1/i8/i16
# arguments; i32 is passed as is).
LLVM_OF = {
    "void": "void",
    "bool": "i1 zeroext",
    "u8": "i8 zeroext",
    "i8": "i8 signext",
    "u16": "i16 zeroext",
    "i16": "i16 signext",
    "u32": "i32",
    "i32": "i32",
    "u64": "i64",
    "i64": "i64",
    "ptr": "i8*",
}

# LLVM spelling of a struct field (no extension attributes in memory).
LLVM_FIELD_OF = {
    "bool": "i8",  # C bool is one byte in memory
    "u8": "i8",
    "i8": "i8",
    "u16": "i16",
    "i16": "i16",
    "u32": "i32",
    "i32": "i32",
    "u64": "i64",
    "i64": "i64",
    "ptr": "i8*",
}


class ParseError(Exception):
    pass


# code -> text of the header's SNOW_ERRNO_MAP (filled by parse_header)
ERROR_TEXTS = {}

# The header's function pointer typedefs (snow_proc_fn, ...): name ->
# (canonical return type, [canonical parameter types]). Each is a 'ptr'
# wherever it appears, and the bindings must restate it under the same name
# (Rust) or the same name in capitals (Python). Filled by parse_header.
FN_TYPEDEFS = {}


# ---------------------------------------------------------------------------
# Header parsing
# ---------------------------------------------------------------------------


def strip_c_comments(text):
    # Keep the line structure: a comment becomes its newlines.
    text = re.sub(r"/\*.*?\*/", lambda m: "\n" * m.group(0).count("\n"), text, flags=re.S)
    text = re.sub(r"//[^\n]*", "", text)
    return text


def split_top_level(s, sep=","):
    """Splits s on sep at parenthesis/bracket/angle depth 0."""
    parts, depth, cur = [], 0, []
    for ch in s:
        if ch in "([<":
            depth += 1
        elif ch in ")]>":
            depth -= 1
        if ch == sep and depth == 0:
            parts.append("".join(cur))
            cur = []
        else:
            cur.append(ch)
    parts.append("".join(cur))
    return [p.strip() for p in parts if p.strip() != ""]


def matching_paren(s, open_idx):
    depth = 0
    for i in range(open_idx, len(s)):
        if s[i] == "(":
            depth += 1
        elif s[i] == ")":
            depth -= 1
            if depth == 0:
                return i
    raise ParseError("unbalanced parentheses in: " + s)


def c_type_canon(decl, what):
    """Canonical type of a C parameter/field declaration or a return type.

    decl may include a declarator name; function pointers and any '*' give
    'ptr'. Returns (canon, name_or_None)."""
    decl = " ".join(decl.split())
    if "(" in decl:  # function pointer: ret (*name)(params)
        m = re.search(r"\(\s*\*\s*(\w*)\s*\)", decl)
        if not m:
            raise ParseError("cannot parse %s: %r" % (what, decl))
        return "ptr", (m.group(1) or None)
    name = None
    toks = decl.replace("*", " * ").split()
    toks = [t for t in toks if t not in ("const", "volatile", "struct", "restrict")]
    # Declarator name: the last identifier when it is not a type word.
    if len(toks) >= 2 and re.match(r"^[A-Za-z_]\w*$", toks[-1]) and toks[-1] not in C_SCALARS:
        name = toks[-1]
        toks = toks[:-1]
    if "*" in toks or (len(toks) == 1 and toks[0] in FN_TYPEDEFS):
        return "ptr", name
    base = " ".join(toks)
    if base not in C_SCALARS:
        raise ParseError("unknown C type %r in %s %r (teach check_decls.py about it)" % (base, what, decl))
    return C_SCALARS[base], name


class Func:
    def __init__(self, name, ret, params, noreturn):
        self.name = name
        self.ret = ret  # canonical
        self.params = params  # list of canonical
        self.noreturn = noreturn

    def __repr__(self):
        return "%s%s(%s) -> %s" % ("noreturn " if self.noreturn else "", self.name, ", ".join(self.params), self.ret)


def join_continuations(text):
    return re.sub(r"\\\n", " ", text)


def undocumented_functions(raw):
    """Names of the SNOW_API functions in the header text `raw` without a doc
    comment: a /** ... */ block whose last line is the line directly above
    the declaration's first line (which may start with SNOW_NORETURN)."""
    lines = raw.split("\n")
    code_lines = strip_c_comments(raw).split("\n")  # same line numbers
    missing = []
    for i, line in enumerate(code_lines):
        if not re.search(r"\bSNOW_API\b", line) or line.lstrip().startswith("#"):
            continue
        nm = re.search(r"\b(snow_\w+)\s*\(", line)
        name = nm.group(1) if nm else "line %d" % (i + 1)
        j = i - 1
        documented = False
        if j >= 0 and lines[j].rstrip().endswith("*/"):
            # Walk up to the comment's opening and require the doc form.
            while j >= 0 and "/*" not in lines[j]:
                j -= 1
            opening = lines[j] if j >= 0 else ""
            body = "\n".join(lines[j:i])
            text = re.sub(r"/\*\*|\*/|^\s*\*", "", body, flags=re.M).strip()
            documented = opening.lstrip().startswith("/**") and text != ""
        if not documented:
            missing.append(name)
    return missing


def parse_header(path):
    raw = open(path, encoding="utf-8").read()
    text = join_continuations(strip_c_comments(raw))
    code_lines = [ln for ln in text.split("\n") if not ln.lstrip().startswith("#")]
    code = "\n".join(code_lines)
    FN_TYPEDEFS.clear()
    for m in re.finditer(r"\btypedef\s+([^;{}(]*?)\(\s*\*\s*(\w+)\s*\)\s*\(([^;{}]*)\)\s*;", code):
        ret, _ = c_type_canon(m.group(1), "return type of typedef " + m.group(2))
        params = [c_type_canon(p, "parameter of typedef " + m.group(2))[0]
                  for p in split_top_level(m.group(3)) if p.strip() != "void"]
        FN_TYPEDEFS[m.group(2)] = (ret, params)

    funcs = {}
    order = []
    for m in re.finditer(r"\bSNOW_API\b", code):
        end = code.find(";", m.end())
        if end < 0:
            raise ParseError("SNOW_API without ';'")
        proto = " ".join(code[m.end():end].split())
        # Specifiers may also come before SNOW_API (e.g. SNOW_NORETURN SNOW_API void f(...)).
        start = max(code.rfind(c, 0, m.start()) for c in ";{}") + 1
        prefix = code[start:m.start()]
        noreturn = False
        if re.search(r"\bSNOW_NORETURN\b|\b_Noreturn\b|\[\[noreturn\]\]", prefix + " " + proto):
            noreturn = True
            proto = re.sub(r"\bSNOW_NORETURN\b|\b_Noreturn\b|\[\[noreturn\]\]", " ", proto)
        nm = re.search(r"\b(snow_\w+)\s*\(", proto)
        if not nm:
            raise ParseError("cannot find the function name in: " + proto)
        name = nm.group(1)
        ret_text = proto[: nm.start()].strip()
        open_idx = proto.index("(", nm.start())
        close_idx = matching_paren(proto, open_idx)
        params_text = proto[open_idx + 1 : close_idx].strip()
        if proto[close_idx + 1 :].strip():
            raise ParseError("unexpected text after the parameters of %s: %r" % (name, proto[close_idx + 1 :]))
        ret, _ = c_type_canon(ret_text, "return type of " + name)
        params = []
        if params_text and params_text != "void":
            for p in split_top_level(params_text):
                canon, _ = c_type_canon(p, "parameter of " + name)
                if canon == "void":
                    raise ParseError("void parameter in " + name)
                params.append(canon)
        if name in funcs:
            raise ParseError("function declared twice in the header: " + name)
        funcs[name] = Func(name, ret, params, noreturn)
        order.append(name)

    structs = {}
    for m in re.finditer(r"typedef\s+struct\s+(\w+)\s*\{", code):
        name = m.group(1)
        open_idx = m.end() - 1
        depth, i = 0, open_idx
        while True:
            if code[i] == "{":
                depth += 1
            elif code[i] == "}":
                depth -= 1
                if depth == 0:
                    break
            i += 1
        body = code[open_idx + 1 : i]
        fields = []
        for fdecl in body.split(";"):
            fdecl = " ".join(fdecl.split())
            if not fdecl:
                continue
            count = None
            am = re.match(r"^(.*?)\[\s*([^\]]*)\s*\]$", fdecl)
            if am and "(" not in fdecl:
                fdecl = am.group(1)
                count = int(am.group(2), 0) if am.group(2) else 0
            canon, fname = c_type_canon(fdecl, "field of " + name)
            if fname is None:
                raise ParseError("field without a name in struct %s: %r" % (name, fdecl))
            fields.append((fname, canon, count))
        structs[name] = fields

    consts = parse_header_constants(text, code)
    return funcs, order, structs, consts, undocumented_functions(raw)


def eval_c_expr(expr):
    e = expr.strip()
    e = re.sub(r"\(\s*(?:uint64_t|int64_t|uint32_t|int32_t|unsigned|int)\s*\)", "", e)
    e = e.replace("UINT64_MAX", str(2**64 - 1))
    e = re.sub(r"\b(0[xX][0-9a-fA-F]+|\d+)[uUlL]+\b", r"\1", e)
    if not re.match(r"^[\s0-9a-fA-FxX()+\-*<>|&~]*$", e):
        raise ParseError("cannot evaluate constant expression %r" % expr)
    return eval(e, {"__builtins__": {}}, {})  # digits and operators only


def parse_header_constants(text, code):
    consts = {}
    # #define SNOW_X value   (object-like macros only)
    for m in re.finditer(r"^\s*#\s*define\s+(SNOW_\w+)(?!\()\s+(.+?)\s*$", text, flags=re.M):
        name, val = m.group(1), m.group(2)
        if name in ("SNOW_API", "SNOW_NORETURN") or name.endswith("_MAP") or "SNOW_ERRNO" in name:
            continue
        try:
            consts[name] = eval_c_expr(val)
        except ParseError:
            pass  # not a numeric constant
    # Errors from the X-macro table.
    for m in re.finditer(r"X\(\s*(E\w+)\s*,\s*(-?\d+)\s*,\s*\"((?:[^\"\\]|\\.)*)\"\s*\)", text):
        consts["SNOW_" + m.group(1)] = int(m.group(2))
        ERROR_TEXTS[int(m.group(2))] = m.group(3)
    if "SNOW_OK" in code:
        consts["SNOW_OK"] = 0
    # enum { A = 0, B = 1, ... };
    for m in re.finditer(r"\benum\s*\{(.*?)\}", code, flags=re.S):
        body = m.group(1)
        if "SNOW_ERRNO_MAP" in body:
            continue
        nxt = 0
        for item in split_top_level(body):
            if "=" in item:
                n, v = item.split("=", 1)
                nxt = eval_c_expr(v)
                consts[n.strip()] = nxt
            else:
                consts[item.strip()] = nxt
            nxt += 1
    return consts


# ---------------------------------------------------------------------------
# LLVM declarations
# ---------------------------------------------------------------------------

LLVM_PARAM_ATTRS_IGNORED = {"noundef"}


def norm_llvm_piece(piece, normalise_pointers):
    """'i8* nocapture %x' -> 'i8*'; 'zeroext i1' / 'i1 zeroext' -> 'i1 zeroext'."""
    piece = " ".join(piece.split())
    # Pointer types can contain spaces and parentheses: void (i8*)*, %struct.x*.
    toks = []
    depth = 0
    cur = ""
    for ch in piece:
        if ch == "(":
            depth += 1
        elif ch == ")":
            depth -= 1
        if ch == " " and depth == 0:
            if cur:
                toks.append(cur)
            cur = ""
        else:
            cur += ch
    if cur:
        toks.append(cur)
    # Re-glue "void (i8*)*" style types: a token starting with '(' belongs to the previous one.
    glued = []
    for t in toks:
        if glued and (t.startswith("(") or t == "*"):
            glued[-1] += t if t == "*" else " " + t
        else:
            glued.append(t)
    ext = None
    typ = None
    for t in glued:
        if t in ("zeroext", "signext"):
            ext = t
        elif t in LLVM_PARAM_ATTRS_IGNORED:
            continue
        elif t.startswith("%") and typ is not None:
            continue  # parameter name
        elif typ is None:
            typ = t
        else:
            # other attributes (nocapture, readonly, align N, ...) are not part of the type
            continue
    if typ is None:
        raise ParseError("no type in LLVM piece %r" % piece)
    if normalise_pointers and typ.endswith("*"):
        typ = "i8*"
    if normalise_pointers and typ == "ptr":
        typ = "i8*"
    return typ + (" " + ext if ext else "")


def parse_ll(path_or_text, normalise_pointers=False, is_text=False):
    text = path_or_text if is_text else open(path_or_text, encoding="utf-8").read()
    attr_groups = {}
    for m in re.finditer(r"^attributes\s+#(\d+)\s*=\s*\{(.*)\}\s*$", text, flags=re.M):
        attr_groups[m.group(1)] = m.group(2).split()
    decls = {}
    dups = []
    types = {}
    for line in text.split("\n"):
        line = line.split(";", 1)[0].rstrip()
        tm = re.match(r"^%([\w.]+)\s*=\s*type\s*(.*)$", line)
        if tm:
            types[tm.group(1)] = tm.group(2).strip()
            continue
        if not line.startswith("declare "):
            continue
        m = re.match(r"^declare\s+(.*?)@([\w.$]+)\s*\(", line)
        if not m:
            raise ParseError("cannot parse declaration: " + line)
        name = m.group(2)
        open_idx = line.index("(", m.end() - 1)
        close_idx = matching_paren(line, open_idx)
        ret_text = m.group(1)
        # Drop linkage/visibility/cc words that may precede the return type.
        ret_toks = [t for t in ret_text.split() if t not in ("dso_local", "external", "extern_weak", "ccc", "default")]
        ret = norm_llvm_piece(" ".join(ret_toks), normalise_pointers)
        params_text = line[open_idx + 1 : close_idx]
        params = [norm_llvm_piece(p, normalise_pointers) for p in split_top_level(params_text)]
        if params == ["..."]:
            params = ["..."]
        fn_attrs = line[close_idx + 1 :].split()
        expanded = []
        for a in fn_attrs:
            if a.startswith("#") and a[1:] in attr_groups:
                expanded.extend(attr_groups[a[1:]])
            else:
                expanded.append(a)
        if name in decls:
            dups.append(name)
        decls[name] = (ret, params, "noreturn" in expanded)
    return decls, types, dups


def expected_llvm(func):
    return LLVM_OF[func.ret], [LLVM_OF[p] for p in func.params]


def check_ll(funcs, structs, ll_path, errors):
    decls, types, dups = parse_ll(ll_path)
    for d in dups:
        errors.append("%s: @%s is declared more than once" % (ll_path, d))
    for name, f in funcs.items():
        if name not in decls:
            errors.append("%s: missing declare for %s (header: %r)" % (ll_path, name, f))
            continue
        ret, params, noreturn = decls[name]
        eret, eparams = expected_llvm(f)
        if ret != eret:
            errors.append("%s: @%s returns %r, header says %r" % (ll_path, name, ret, eret))
        if params != eparams:
            errors.append("%s: @%s takes (%s), header says (%s)" % (ll_path, name, ", ".join(params), ", ".join(eparams)))
        if noreturn != f.noreturn:
            errors.append("%s: @%s noreturn is %s, header says %s" % (ll_path, name, noreturn, f.noreturn))
    for name in decls:
        if name not in funcs:
            errors.append("%s: declares @%s, which the header does not have" % (ll_path, name))
    for sname, fields in structs.items():
        if sname not in types:
            errors.append("%s: missing type %%%s for struct %s" % (ll_path, sname, sname))
            continue
        body = types[sname]
        bm = re.match(r"^\{(.*)\}$", body.strip())
        if not bm:
            errors.append("%s: %%%s is not a literal struct type: %r" % (ll_path, sname, body))
            continue
        got = [" ".join(x.split()) for x in split_top_level(bm.group(1))]
        want = []
        for (_, canon, count) in fields:
            t = LLVM_FIELD_OF[canon]
            want.append(t if count is None else "[%d x %s]" % (count, t))
        if got != want:
            errors.append("%s: %%%s = type { %s }, header says { %s }" % (ll_path, sname, ", ".join(got), ", ".join(want)))
    for tname in types:
        if tname not in structs:
            errors.append("%s: defines %%%s, which is not a header struct" % (ll_path, tname))


def check_clang(funcs, order, header, ll_path, clang, errors):
    """Compiles a C file taking the address of every function with CLANG and
    compares the declarations clang emits with ours (pointer types and
    noundef normalised)."""
    src = '#include "%s"\n' % os.path.abspath(header)
    src += "void* snow_check_decls_table[] = {\n"
    src += "".join("  (void*)&%s,\n" % n for n in order)
    src += "};\n"
    with tempfile.TemporaryDirectory() as td:
        c = os.path.join(td, "all.c")
        out = os.path.join(td, "all.ll")
        open(c, "w").write(src)
        r = subprocess.run([clang, "-std=c11", "-S", "-emit-llvm", "-O0", "-o", out, c], capture_output=True, text=True)
        if r.returncode != 0:
            errors.append("clang failed on the header:\n" + r.stderr)
            return
        clang_decls, _, _ = parse_ll(out, normalise_pointers=True)
    ours, _, _ = parse_ll(ll_path, normalise_pointers=True)
    for name in order:
        if name not in clang_decls:
            errors.append("clang emitted no declaration for %s" % name)
            continue
        if name not in ours:
            continue  # reported by check_ll
        c_ret, c_params, c_nr = clang_decls[name]
        o_ret, o_params, o_nr = ours[name]
        if (c_ret, c_params) != (o_ret, o_params):
            errors.append("%s: @%s is %s(%s) but clang lowers the header to %s(%s)"
                          % (ll_path, name, o_ret, ", ".join(o_params), c_ret, ", ".join(c_params)))
        if c_nr != o_nr:
            errors.append("%s: @%s noreturn %s, clang says %s" % (ll_path, name, o_nr, c_nr))


# ---------------------------------------------------------------------------
# Python ctypes binding
# ---------------------------------------------------------------------------


def ctypes_canon(t, ctypes):
    if t is None:
        return "void"
    if t is ctypes.c_bool:
        return "bool"
    if t in (ctypes.c_void_p, ctypes.c_char_p, ctypes.c_wchar_p):
        return "ptr"
    if isinstance(t, type) and issubclass(t, ctypes.c_void_p):
        return "ptr"  # a checked pointer argument (e.g. the binding's ProcEntry)
    if isinstance(t, type) and issubclass(t, (ctypes._Pointer, ctypes._CFuncPtr)):
        return "ptr"
    code = getattr(t, "_type_", None)
    if isinstance(code, str) and code in "bBhHiIlLqQ" and len(code) == 1:
        size = ctypes.sizeof(t)
        signed = code.islower()
        return ("i" if signed else "u") + str(size * 8)
    return "unknown(%r)" % (t,)


def load_python_binding(path):
    sys.dont_write_bytecode = True  # leave no __pycache__ next to the binding
    spec = importlib.util.spec_from_file_location("snowrt_binding_under_check", path)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def check_python(funcs, structs, consts, py_path, errors):
    import ctypes

    try:
        mod = load_python_binding(py_path)
    except Exception as e:  # noqa: BLE001 - report any import failure
        errors.append("%s: import failed: %s: %s" % (py_path, type(e).__name__, e))
        return
    table = getattr(mod, "FUNCTIONS", None)
    if table is None:
        errors.append("%s: no FUNCTIONS table" % py_path)
        return
    seen = {}
    for entry in table:
        name, restype, argtypes = entry[0], entry[1], entry[2]
        if name in seen:
            errors.append("%s: %s listed twice in FUNCTIONS" % (py_path, name))
        seen[name] = (restype, argtypes)
    for name, f in funcs.items():
        if name not in seen:
            errors.append("%s: FUNCTIONS lacks %s" % (py_path, name))
            continue
        restype, argtypes = seen[name]
        r = ctypes_canon(restype, ctypes)
        a = [ctypes_canon(t, ctypes) for t in argtypes]
        want_r = "void" if f.ret == "void" else f.ret
        if r != want_r:
            errors.append("%s: %s restype is %s, header says %s" % (py_path, name, r, want_r))
        if a != f.params:
            errors.append("%s: %s argtypes are (%s), header says (%s)" % (py_path, name, ", ".join(a), ", ".join(f.params)))
    for name in seen:
        if name not in funcs:
            errors.append("%s: FUNCTIONS has %s, which the header does not have" % (py_path, name))
    for sname, fields in structs.items():
        cls = getattr(mod, sname, None)
        if cls is None:
            errors.append("%s: no ctypes Structure %s" % (py_path, sname))
            continue
        got = []
        for fdef in cls._fields_:
            fname, ftype = fdef[0], fdef[1]
            if isinstance(ftype, type) and issubclass(ftype, ctypes.Array):
                got.append((fname, ctypes_canon(ftype._type_, ctypes), ftype._length_))
            else:
                got.append((fname, ctypes_canon(ftype, ctypes), None))
        want = [(n, c, cnt) for (n, c, cnt) in fields]
        if got != want:
            errors.append("%s: Structure %s fields %r, header says %r" % (py_path, sname, got, want))
    for tname, (tret, tparams) in sorted(FN_TYPEDEFS.items()):
        proto = getattr(mod, tname.upper(), None)
        if proto is None or not hasattr(proto, "_argtypes_"):
            errors.append("%s: no CFUNCTYPE %s for the header's %s" % (py_path, tname.upper(), tname))
            continue
        got = (ctypes_canon(proto._restype_, ctypes), [ctypes_canon(t, ctypes) for t in proto._argtypes_])
        if got != (tret, tparams):
            errors.append("%s: %s is %s(%s), header's %s is %s(%s)" % (py_path, tname.upper(), got[0], ", ".join(got[1]),
                                                                    tname, tret, ", ".join(tparams)))
    check_constants(consts, lambda n: getattr(mod, n, None), py_path, errors)
    texts = getattr(mod, "ERROR_TEXT", None)
    if texts is not None and texts != ERROR_TEXTS:
        errors.append("%s: ERROR_TEXT %r differs from the header's SNOW_ERRNO_MAP %r" % (py_path, texts, ERROR_TEXTS))


def check_constants(consts, getter, where, errors):
    for name, value in sorted(consts.items()):
        got = getter(name)
        if got is None:
            errors.append("%s: constant %s (= %d) missing" % (where, name, value))
        elif got != value:
            errors.append("%s: constant %s = %r, header says %d" % (where, name, got, value))


# ---------------------------------------------------------------------------
# Rust binding
# ---------------------------------------------------------------------------

RUST_SCALARS = {
    "bool": "bool", "u8": "u8", "i8": "i8", "u16": "u16", "i16": "i16", "u32": "u32",
    "i32": "i32", "u64": "u64", "i64": "i64", "usize": "u64", "isize": "i64",
    "c_int": "i32", "c_uint": "u32", "c_char": "i8",
}


def strip_rust_comments(text):
    text = re.sub(r"/\*.*?\*/", "", text, flags=re.S)
    return re.sub(r"//[^\n]*", "", text)


def rust_canon(t, aliases):
    t = " ".join(t.split())
    if t in ("", "()"):
        return "void"
    if t == "!":
        return "never"
    if t.startswith("*") or t.startswith("&") or t.startswith("Option<") or "fn(" in t or "fn (" in t:
        return "ptr"
    t = re.sub(r"^(?:core|std)::(?:ffi|os::raw)::", "", t)
    if t in aliases:
        return rust_canon(aliases[t], aliases)
    if t in RUST_SCALARS:
        return RUST_SCALARS[t]
    return "unknown(%s)" % t


def eval_rust_expr(expr):
    e = expr.strip()
    e = e.replace("u64::MAX", str(2**64 - 1)).replace("i64::MAX", str(2**63 - 1))
    e = re.sub(r"\bas\s+\w+", "", e)
    e = re.sub(r"\b(0[xX][0-9a-fA-F_]+|[0-9_]+)(?:u8|u16|u32|u64|i8|i16|i32|i64|usize)\b", r"\1", e)
    e = e.replace("_", "")  # digit separators
    if not re.match(r"^[\s0-9a-fA-FxX()+\-*<>|&~]*$", e):
        raise ParseError("cannot evaluate Rust constant %r" % expr)
    return eval(e, {"__builtins__": {}}, {})


def check_rust(funcs, structs, consts, rs_path, errors):
    text = strip_rust_comments(open(rs_path, encoding="utf-8").read())
    aliases = {m.group(1): m.group(2).strip() for m in re.finditer(r"\bpub\s+type\s+(\w+)\s*=\s*([^;]+);", text)}
    decls = {}
    # Declarations live in `unsafe extern "C"` blocks or `extern_c!`
    # invocations; the macro's own definitions (macro_rules! extern_c) hold
    # only `$($decl)*` and are skipped.
    macro_defs = list(re.finditer(r"#\[cfg\((not\()?snowrt_sys_plain_extern\)?\)\]\s*macro_rules!\s*extern_c\s*\{"
                                  r"\s*\(\$\(\$decl:tt\)\*\)\s*=>\s*\{\s*((?:unsafe\s+)?extern)\s+\"C\"", text))
    modern = [m for m in macro_defs if m.group(1)]
    if re.search(r"\bextern_c!\s*\{", text) and (len(macro_defs) != 2 or len(modern) != 1
                                                    or not modern[0].group(2).startswith("unsafe")):
        errors.append("%s: extern_c! needs two macro_rules! arms, the cfg(not(snowrt_sys_plain_extern)) one "
                      "expanding to `unsafe extern \"C\"`" % rs_path)
    for m in re.finditer(r"(\bunsafe\s+)?\bextern\s+\"C\"\s*\{", text):
        if not m.group(1) and not any(d.start() <= m.start() < d.end() + 1 for d in macro_defs):
            errors.append("%s: a plain `extern \"C\"` block (the 2024 edition needs `unsafe extern \"C\"`)" % rs_path)
    blocks = [m for m in re.finditer(r"(?:\b(?:unsafe\s+)?extern\s+\"C\"|\bextern_c!)\s*\{", text)
              if not any(d.start() <= m.start() <= d.end() for d in macro_defs)]
    for m in blocks:
        depth, i = 0, m.end() - 1
        while True:
            if text[i] == "{":
                depth += 1
            elif text[i] == "}":
                depth -= 1
                if depth == 0:
                    break
            i += 1
        block = text[m.end() : i]
        for fm in re.finditer(r"\bfn\s+(\w+)\s*\(", block):
            name = fm.group(1)
            open_idx = fm.end() - 1
            close_idx = matching_paren(block, open_idx)
            semi = block.index(";", close_idx)
            tail = block[close_idx + 1 : semi].strip()
            ret = "void"
            if tail.startswith("->"):
                ret = rust_canon(tail[2:], aliases)
            params = []
            for p in split_top_level(block[open_idx + 1 : close_idx]):
                if ":" not in p:
                    errors.append("%s: cannot parse parameter %r of %s" % (rs_path, p, name))
                    continue
                params.append(rust_canon(p.split(":", 1)[1], aliases))
            if name in decls:
                errors.append("%s: %s declared twice" % (rs_path, name))
            decls[name] = (ret, params)
    for name, f in funcs.items():
        if name not in decls:
            errors.append("%s: extern block lacks %s" % (rs_path, name))
            continue
        ret, params = decls[name]
        want_ret = "never" if f.noreturn else f.ret
        if ret != want_ret:
            errors.append("%s: %s returns %s, header says %s" % (rs_path, name, ret, want_ret))
        if params != f.params:
            errors.append("%s: %s takes (%s), header says (%s)" % (rs_path, name, ", ".join(params), ", ".join(f.params)))
    for name in decls:
        if name not in funcs:
            errors.append("%s: declares %s, which the header does not have" % (rs_path, name))
    # repr(C) structs
    rstructs = {}
    for m in re.finditer(r"#\[repr\(C\)\][^{;]*?\bpub\s+struct\s+(\w+)\s*\{", text):
        depth, i = 0, m.end() - 1
        while True:
            if text[i] == "{":
                depth += 1
            elif text[i] == "}":
                depth -= 1
                if depth == 0:
                    break
            i += 1
        fields = []
        for fdecl in split_top_level(text[m.end() : i]):
            fm = re.match(r"^(?:pub\s+)?(\w+)\s*:\s*(.+)$", " ".join(fdecl.split()))
            if not fm:
                errors.append("%s: cannot parse field %r of %s" % (rs_path, fdecl, m.group(1)))
                continue
            ftype = fm.group(2).strip()
            am = re.match(r"^\[\s*(.+?)\s*;\s*(\d+)\s*\]$", ftype)
            if am:
                fields.append((fm.group(1), rust_canon(am.group(1), aliases), int(am.group(2))))
            else:
                fields.append((fm.group(1), rust_canon(ftype, aliases), None))
        rstructs[m.group(1)] = fields
    for sname, fields in structs.items():
        if sname not in rstructs:
            errors.append("%s: no #[repr(C)] struct %s" % (rs_path, sname))
            continue
        if rstructs[sname] != list(fields):
            errors.append("%s: struct %s fields %r, header says %r" % (rs_path, sname, rstructs[sname], list(fields)))
    rconsts = {}
    for m in re.finditer(r"\bpub\s+const\s+(\w+)\s*:\s*[\w:]+\s*=\s*([^;]+);", text):
        try:
            rconsts[m.group(1)] = eval_rust_expr(m.group(2))
        except ParseError as e:
            errors.append("%s: %s" % (rs_path, e))
    check_constants(consts, lambda n: rconsts.get(n), rs_path, errors)
    for tname, (tret, tparams) in sorted(FN_TYPEDEFS.items()):
        fm = re.match(r"^(?:unsafe\s+)?extern\s+\"C\"\s+fn\s*\((.*)\)\s*(?:->\s*(.+))?$", aliases.get(tname, ""), flags=re.S)
        if not fm:
            errors.append("%s: no `pub type %s = unsafe extern \"C\" fn(...)` for the header's typedef" % (rs_path, tname))
            continue
        params = [rust_canon(p.split(":", 1)[-1], aliases) for p in split_top_level(fm.group(1))]
        ret = rust_canon(fm.group(2) or "", aliases)
        if (ret, params) != (tret, tparams):
            errors.append("%s: %s is %s(%s), header says %s(%s)" % (rs_path, tname, ret, ", ".join(params), tret,
                                                                   ", ".join(tparams)))


# ---------------------------------------------------------------------------


def main(argv):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--header", required=True)
    ap.add_argument("--ll")
    ap.add_argument("--clang", help="clang executable for the cross-check (needs --ll)")
    ap.add_argument("--python")
    ap.add_argument("--rust")
    ap.add_argument("--print-ll", action="store_true", help="print the expected declares and exit")
    args = ap.parse_args(argv)
    try:
        funcs, order, structs, consts, undocumented = parse_header(args.header)
    except (OSError, ParseError) as e:
        print("check_decls: cannot parse header: %s" % e, file=sys.stderr)
        return 2
    if not funcs:
        print("check_decls: no SNOW_API prototypes found in %s" % args.header, file=sys.stderr)
        return 2
    if args.print_ll:
        for n in order:
            r, ps = expected_llvm(funcs[n])
            print("declare %s @%s(%s)%s" % (
                " ".join(reversed(r.split())) if " " in r else r, n, ", ".join(ps),
                " noreturn" if funcs[n].noreturn else ""))
        return 0
    errors = ["%s: SNOW_API function %s has no doc comment directly above it" % (args.header, n)
              for n in undocumented]
    checked = ["doc comments in %s" % args.header]
    try:
        if args.ll:
            check_ll(funcs, structs, args.ll, errors)
            checked.append(args.ll)
            if args.clang:
                check_clang(funcs, order, args.header, args.ll, args.clang, errors)
                checked.append("clang (%s)" % args.clang)
        if args.python:
            check_python(funcs, structs, consts, args.python, errors)
            checked.append(args.python)
        if args.rust:
            check_rust(funcs, structs, consts, args.rust, errors)
            checked.append(args.rust)
    except (OSError, ParseError) as e:
        print("check_decls: %s" % e, file=sys.stderr)
        return 2
    for e in errors:
        print("MISMATCH: " + e)
    print("check_decls: %d functions, %d structs, %d constants in the header; checked %s: %d mismatch(es)"
          % (len(funcs), len(structs), len(consts), ", ".join(checked), len(errors)))
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
