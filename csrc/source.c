/* source.c -- SOURCE stage: read a module's bytes, decode them, and split
 * the text into top-level statements ("chunks") with a scanner that knows
 * strings (prefixes, triple quotes, nested f-string fields), brackets,
 * backslash continuations, comments and decorators.
 *
 * Called on the main thread with the GIL held.  The scanner itself touches
 * no Python object; it only fills an HsChunkList (PyMem-owned).
 *
 * Why a scanner and not the AST: parsing a whole file costs more than
 * compiling it, so a reload that wants to be cheaper than importlib.reload
 * cannot afford ast.parse.  The scanner only needs to find where statements
 * start and end; the compiler remains the judge of validity.  When the
 * scanner meets something it cannot split it says so (`unsure`) and the
 * reload compiles the whole file instead.
 */
#include "source.h"
#include "diag.h"
#include "errors.h"

#include <errno.h>
#include <string.h>
#include <sys/stat.h>

/* ------------------------------------------------------------------ */
/* hashing                                                             */

uint64_t
hs_hash_bytes(const char *p, Py_ssize_t n)
{
    /* FNV-1a, 64 bit: chunk texts are short and hashed once per reload. */
    uint64_t h = 1469598103934665603ULL;
    for (Py_ssize_t i = 0; i < n; i++) {
        h ^= (unsigned char)p[i];
        h *= 1099511628211ULL;
    }
    return h;
}

static inline uint64_t
hash_mix(uint64_t h, uint64_t v)
{
    h ^= v + 0x9e3779b97f4a7c15ULL + (h << 6) + (h >> 2);
    return h;
}

void
hs_chunks_clear(HsChunkList *list)
{
    PyMem_Free(list->items);
    list->items = NULL;
    list->len = 0;
    list->cap = 0;
    list->unsure = 0;
}

static HsChunk *
chunks_push(HsChunkList *list)
{
    if (list->len == list->cap) {
        Py_ssize_t cap = list->cap ? list->cap * 2 : 16;
        HsChunk *items = PyMem_Realloc(list->items, cap * sizeof(HsChunk));
        if (items == NULL) {
            PyErr_NoMemory();
            return NULL;
        }
        list->items = items;
        list->cap = cap;
    }
    HsChunk *c = &list->items[list->len++];
    memset(c, 0, sizeof(*c));
    return c;
}

/* ------------------------------------------------------------------ */
/* the scanner                                                         */

typedef struct {
    const char *s;
    Py_ssize_t pos;
    Py_ssize_t end;
    int line;
    int unsure;
} Scan;

static inline int
is_ident(unsigned char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')
           || (c >= '0' && c <= '9') || c == '_' || c >= 0x80;
}

static inline int
is_prefix_char(char c)
{
    switch (c) {
        case 'r':
        case 'R':
        case 'b':
        case 'B':
        case 'u':
        case 'U':
        case 'f':
        case 'F':
            return 1;
        default:
            return 0;
    }
}

/* The string prefix ending just before the quote at q: sets *is_f and
 * *is_raw.  A prefix counts only when it is a whole word (so "elif'x'" is
 * not an f-string, though it is not valid Python either). */
static void
string_prefix(const char *s, Py_ssize_t lo, Py_ssize_t q, int *is_f,
              int *is_raw)
{
    Py_ssize_t p = q;
    *is_f = 0;
    *is_raw = 0;
    while (p > lo && q - p < 2 && is_prefix_char(s[p - 1])) {
        p--;
    }
    if (p > lo && is_ident((unsigned char)s[p - 1])) {
        return; /* part of an identifier, not a prefix */
    }
    for (Py_ssize_t i = p; i < q; i++) {
        if (s[i] == 'f' || s[i] == 'F') {
            *is_f = 1;
        }
        if (s[i] == 'r' || s[i] == 'R') {
            *is_raw = 1;
        }
    }
}

static void scan_string(Scan *sc, Py_ssize_t lo, int is_f, int is_raw);

/* Inside an f-string replacement field, just after its '{'.  Stops after
 * the matching '}'. */
static void
scan_fstring_field(Scan *sc, Py_ssize_t lo)
{
    const char *s = sc->s;
    int depth = 0;
    while (sc->pos < sc->end && !sc->unsure) {
        char c = s[sc->pos];
        if (c == '\'' || c == '"') {
            int is_f, is_raw;
            string_prefix(s, lo, sc->pos, &is_f, &is_raw);
            scan_string(sc, lo, is_f, is_raw);
            continue;
        }
        switch (c) {
            case '(':
            case '[':
            case '{':
                depth++;
                break;
            case ')':
            case ']':
                depth--;
                break;
            case '}':
                if (depth == 0) {
                    sc->pos++;
                    return;
                }
                depth--;
                break;
            case '\n':
                sc->line++;
                break;
            case '\\':
                if (sc->pos + 1 < sc->end && s[sc->pos + 1] == '\n') {
                    sc->line++;
                }
                sc->pos++;
                break;
            case '#':
                while (sc->pos < sc->end && s[sc->pos] != '\n') {
                    sc->pos++;
                }
                continue;
            case ':':
                if (depth == 0) {
                    /* format spec: literal text with nested fields */
                    sc->pos++;
                    while (sc->pos < sc->end) {
                        char f = s[sc->pos];
                        if (f == '{') {
                            sc->pos++;
                            scan_fstring_field(sc, lo);
                            if (sc->unsure) {
                                return;
                            }
                            continue;
                        }
                        if (f == '}') {
                            sc->pos++;
                            return;
                        }
                        if (f == '\n') {
                            sc->line++;
                        }
                        sc->pos++;
                    }
                    sc->unsure = 1;
                    return;
                }
                break;
            default:
                break;
        }
        if (depth < 0) {
            sc->unsure = 1;
            return;
        }
        sc->pos++;
    }
    sc->unsure = 1;
}

/* At a quote character; stops after the closing quote. */
static void
scan_string(Scan *sc, Py_ssize_t lo, int is_f, int is_raw)
{
    const char *s = sc->s;
    char q = s[sc->pos];
    int triple =
        sc->pos + 2 < sc->end && s[sc->pos + 1] == q && s[sc->pos + 2] == q;
    sc->pos += triple ? 3 : 1;
    while (sc->pos < sc->end) {
        char c = s[sc->pos];
        if (c == '\\') {
            char n = sc->pos + 1 < sc->end ? s[sc->pos + 1] : '\0';
            /* A backslash always keeps the next quote, backslash or
             * newline from ending the string, raw or not; other escapes
             * do not matter to the scanner ("\{" still opens a field in a
             * raw f-string). */
            if (n == q || n == '\\' || n == '\n') {
                if (n == '\n') {
                    sc->line++;
                }
                sc->pos += 2;
                continue;
            }
            (void)is_raw;
            sc->pos++;
            continue;
        }
        if (c == '\n') {
            if (!triple) {
                sc->unsure = 1; /* unterminated: a syntax error */
                return;
            }
            sc->line++;
            sc->pos++;
            continue;
        }
        if (c == q) {
            if (!triple) {
                sc->pos++;
                return;
            }
            if (sc->pos + 2 < sc->end && s[sc->pos + 1] == q
                && s[sc->pos + 2] == q)
            {
                sc->pos += 3;
                return;
            }
            sc->pos++;
            continue;
        }
        if (is_f && c == '{') {
            if (sc->pos + 1 < sc->end && s[sc->pos + 1] == '{') {
                sc->pos += 2;
                continue;
            }
            sc->pos++;
            scan_fstring_field(sc, lo);
            if (sc->unsure) {
                return;
            }
            continue;
        }
        sc->pos++;
    }
    sc->unsure = 1;
}

/* Scan one logical line starting at sc->pos (its first non-blank byte).
 * Leaves sc->pos after the newline that ends it.  *colon gets the offset
 * of the first ':' outside brackets and strings, or -1. */
static void
scan_logical_line(Scan *sc, Py_ssize_t *colon)
{
    const char *s = sc->s;
    Py_ssize_t lo = sc->pos;
    int depth = 0;
    *colon = -1;
    while (sc->pos < sc->end && !sc->unsure) {
        char c = s[sc->pos];
        switch (c) {
            case '\'':
            case '"': {
                int is_f, is_raw;
                string_prefix(s, lo, sc->pos, &is_f, &is_raw);
                scan_string(sc, lo, is_f, is_raw);
                continue;
            }
            case '#':
                while (sc->pos < sc->end && s[sc->pos] != '\n') {
                    sc->pos++;
                }
                continue;
            case '(':
            case '[':
            case '{':
                depth++;
                break;
            case ')':
            case ']':
            case '}':
                if (--depth < 0) {
                    sc->unsure = 1;
                    return;
                }
                break;
            case ':':
                if (depth == 0 && *colon < 0) {
                    *colon = sc->pos;
                }
                break;
            case '\\':
                if (sc->pos + 1 < sc->end && s[sc->pos + 1] == '\n') {
                    sc->pos += 2;
                    sc->line++;
                    continue;
                }
                if (sc->pos + 2 < sc->end && s[sc->pos + 1] == '\r') {
                    sc->unsure = 1;
                    return;
                }
                break;
            case '\n':
                sc->line++;
                sc->pos++;
                if (depth == 0) {
                    return;
                }
                continue;
            default:
                break;
        }
        sc->pos++;
    }
    if (depth != 0) {
        sc->unsure = 1;
    }
}

static Py_ssize_t
word_at(const char *s, Py_ssize_t p, Py_ssize_t end)
{
    Py_ssize_t q = p;
    while (q < end && is_ident((unsigned char)s[q])) {
        q++;
    }
    return q - p;
}

static int
word_is(const char *s, Py_ssize_t p, Py_ssize_t n, const char *w)
{
    return (Py_ssize_t)strlen(w) == n && memcmp(s + p, w, n) == 0;
}

static Py_ssize_t
skip_blank(const char *s, Py_ssize_t p, Py_ssize_t end)
{
    while (p < end && (s[p] == ' ' || s[p] == '\t' || s[p] == '\f')) {
        p++;
    }
    return p;
}

/* Hard keywords only: the soft keywords `match`, `case`, `type` and `_`
 * are names everywhere but at the head of their own statements, and
 * "type = []", "match: int = 0" are plain assignments to those names
 * (is_simple_assign() tells them from "match x:" and "type X = int" by
 * what follows the word). */
static const char *const keywords[] = {
    "False",  "None",     "True",  "and",    "as",       "assert",
    "async",  "await",    "break", "class",  "continue", "def",
    "del",    "elif",     "else",  "except", "finally",  "for",
    "from",   "global",   "if",    "import", "in",       "is",
    "lambda", "nonlocal", "not",   "or",     "pass",     "raise",
    "return", "try",      "while", "with",   "yield",    NULL,
};

static int
is_keyword(const char *s, Py_ssize_t p, Py_ssize_t n)
{
    /* keywords are 2 to 8 lowercase letters, or True/False/None */
    if (n < 2 || n > 8
        || !((s[p] >= 'a' && s[p] <= 'z') || s[p] == 'T' || s[p] == 'F'
             || s[p] == 'N'))
    {
        return 0;
    }
    for (int i = 0; keywords[i] != NULL; i++) {
        if (keywords[i][0] == s[p] && word_is(s, p, n, keywords[i])) {
            return 1;
        }
    }
    return 0;
}

/* Is the logical line at p (first word of length n) an assignment to a
 * single name?  Covers "x = ...", "x: T = ...", "x: T", "x += ...". */
static int
is_simple_assign(const char *s, Py_ssize_t p, Py_ssize_t n, Py_ssize_t end)
{
    if (n == 0 || (s[p] >= '0' && s[p] <= '9') || is_keyword(s, p, n)) {
        return 0;
    }
    Py_ssize_t q = skip_blank(s, p + n, end);
    if (q >= end) {
        return 0;
    }
    if (s[q] == '=') {
        return q + 1 >= end || s[q + 1] != '=';
    }
    if (s[q] == ':') {
        return q + 1 >= end || s[q + 1] != '=';
    }
    /* augmented assignment: one or two operator chars then '=' */
    static const char ops[] = "+-*/%&|^@<>";
    if (strchr(ops, s[q]) != NULL && s[q] != '\0') {
        Py_ssize_t r = q + 1;
        if (r < end && (s[r] == s[q]) && strchr("*/<>", s[q]) != NULL) {
            r++;
        }
        return r < end && s[r] == '=' && (r + 1 >= end || s[r + 1] != '=');
    }
    return 0;
}

static int
is_clause_continuation(const char *s, Py_ssize_t p, Py_ssize_t n)
{
    return word_is(s, p, n, "else") || word_is(s, p, n, "elif")
           || word_is(s, p, n, "except") || word_is(s, p, n, "finally");
}

int
hs_scan(const char *text, Py_ssize_t from, Py_ssize_t to, int first_line,
        HsChunkList *list)
{
    Scan sc = {text, from, to, first_line, 0};
    int base = -1;
    HsChunk *cur = NULL;  /* the open statement */
    int cur_compound = 0; /* whether indented lines may follow */
    Py_ssize_t deco = -1; /* start of pending decorators */
    int deco_line = 0;
    Py_ssize_t cur_index = -1;

    while (sc.pos < to && !sc.unsure) {
        Py_ssize_t line_start = sc.pos;
        int line_no = sc.line;
        int col = 0;
        Py_ssize_t p = sc.pos;
        while (p < to) {
            char c = text[p];
            if (c == ' ') {
                col++;
            }
            else if (c == '\t') {
                col = (col / 8 + 1) * 8;
            }
            else if (c == '\f') {
                col = 0;
            }
            else {
                break;
            }
            p++;
        }
        if (p >= to) {
            break;
        }
        if (text[p] == '\n' || text[p] == '#' || text[p] == '\r') {
            /* blank or comment-only line: belongs to no statement */
            while (p < to && text[p] != '\n') {
                p++;
            }
            sc.pos = p < to ? p + 1 : to;
            sc.line++;
            continue;
        }
        if (base < 0) {
            base = col;
        }
        Py_ssize_t n = word_at(text, p, to);
        sc.pos = p;
        Py_ssize_t colon;
        scan_logical_line(&sc, &colon);
        if (sc.unsure) {
            break;
        }
        int last_line = sc.line - 1;
        if (sc.pos >= to && (to == 0 || text[to - 1] != '\n')) {
            last_line = sc.line;
        }

        if (col > base) {
            if (cur == NULL || !cur_compound) {
                sc.unsure = 1; /* unexpected indent */
                break;
            }
            cur->end = sc.pos;
            cur->last_line = last_line;
            continue;
        }
        if (col < base) {
            sc.unsure = 1;
            break;
        }
        if (cur != NULL && cur_compound && deco < 0
            && is_clause_continuation(text, p, n))
        {
            cur->end = sc.pos;
            cur->last_line = last_line;
            continue;
        }
        if (text[p] == '@') {
            if (deco < 0) {
                deco = line_start;
                deco_line = line_no;
            }
            cur = NULL;
            continue;
        }
        cur = chunks_push(list);
        if (cur == NULL) {
            return -1;
        }
        cur_index = list->len - 1;
        cur->start = deco >= 0 ? deco : line_start;
        cur->line = deco >= 0 ? deco_line : line_no;
        cur->head = line_start;
        cur->head_line = line_no;
        cur->end = sc.pos;
        cur->last_line = last_line;
        cur->body = -1;
        cur->kind = HS_CHUNK_STMT;
        cur_compound = colon >= 0;

        Py_ssize_t kw = p, kwlen = n;
        if (word_is(text, p, n, "async")) {
            Py_ssize_t q = skip_blank(text, p + n, to);
            Py_ssize_t m = word_at(text, q, to);
            if (word_is(text, q, m, "def")) {
                kw = q;
                kwlen = m;
                cur->async_def = 1;
            }
        }
        if (word_is(text, kw, kwlen, "def")
            || word_is(text, kw, kwlen, "class"))
        {
            cur->kind = text[kw] == 'd' ? HS_CHUNK_DEF : HS_CHUNK_CLASS;
            Py_ssize_t q = skip_blank(text, kw + kwlen, to);
            cur->name = q;
            cur->name_len = word_at(text, q, to);
            cur->body = colon >= 0 ? colon + 1 : -1;
            if (cur->name_len == 0 || colon < 0) {
                sc.unsure = 1;
                break;
            }
        }
        else if (deco >= 0) {
            sc.unsure = 1; /* a decorator not followed by def/class */
            break;
        }
        else if (word_is(text, p, n, "import")) {
            cur->kind = HS_CHUNK_IMPORT;
        }
        else if (word_is(text, p, n, "from")) {
            Py_ssize_t q = skip_blank(text, p + n, to);
            Py_ssize_t m = word_at(text, q, to);
            cur->kind = word_is(text, q, m, "__future__") ? HS_CHUNK_FUTURE
                                                          : HS_CHUNK_IMPORT;
        }
        else if (is_simple_assign(text, p, n, to)) {
            cur->kind = HS_CHUNK_ASSIGN;
            cur->name = p;
            cur->name_len = n;
            /* "x: int = 1" has a colon but is not compound */
            cur_compound = 0;
        }
        deco = -1;
    }
    (void)cur_index;
    if (deco >= 0) {
        sc.unsure = 1;
    }
    if (sc.unsure) {
        list->unsure = 1;
    }

    /* hashes and matching keys; duplicates of a key get an ordinal */
    for (Py_ssize_t i = 0; i < list->len; i++) {
        HsChunk *c = &list->items[i];
        c->hash = hs_hash_bytes(text + c->start, c->end - c->start);
        uint64_t key = hash_mix((uint64_t)c->kind + 1, 0);
        if (c->name_len > 0) {
            key = hash_mix(key, hs_hash_bytes(text + c->name, c->name_len));
        }
        else {
            key = hash_mix(key, c->hash);
        }
        c->key = key;
    }
    /* ordinal among equal keys within the 64 chunks before, counted on
     * the keys before their own ordinal was mixed in (a third `del x`
     * would otherwise get the second one's key); duplicates farther apart
     * keep equal keys, which PLAN matches in order */
    uint64_t window[64];
    for (Py_ssize_t i = 0; i < list->len; i++) {
        uint64_t k0 = list->items[i].key, ord = 0;
        for (Py_ssize_t j = i - 1; j >= 0 && j >= i - 64; j--) {
            if (window[j % 64] == k0) {
                ord++;
            }
        }
        window[i % 64] = k0;
        if (ord) {
            list->items[i].key = hash_mix(k0, ord);
        }
    }
    return 0;
}

/* ------------------------------------------------------------------ */
/* class bodies: their members, as text                                */

int
hs_source_line_at(const char *text, Py_ssize_t from, int from_line,
                  Py_ssize_t offset)
{
    int line = from_line;
    for (Py_ssize_t i = from; i < offset; i++) {
        if (text[i] == '\n') {
            line++;
        }
    }
    return line;
}

int
hs_source_scan_members(const char *text, Py_ssize_t body, Py_ssize_t end,
                       int body_line, HsChunkList *list)
{
    Py_ssize_t p = body;
    while (p < end && (text[p] == ' ' || text[p] == '\t')) {
        p++;
    }
    if (p < end && text[p] != '\n' && text[p] != '#' && text[p] != '\r') {
        list->unsure = 1;
        return 0;
    }
    while (p < end && text[p] != '\n') {
        p++;
    }
    if (p >= end) {
        list->unsure = 1;
        return 0;
    }
    return hs_scan(text, p + 1, end, body_line + 1, list);
}

int
hs_chunk_name_eq(const char *text, const HsChunk *c, PyObject *name)
{
    /* no UTF-8 copy: nothing to fail (a lone surrogate names nothing) */
    return PyUnicode_EqualToUTF8AndSize(name, text + c->name, c->name_len);
}

const HsChunk *
hs_chunks_find(const char *text, const HsChunkList *list, HsChunkKind kind,
               PyObject *name)
{
    for (Py_ssize_t i = 0; i < list->len; i++) {
        const HsChunk *c = &list->items[i];
        if ((kind == HS_CHUNK_STMT || c->kind == kind)
            && hs_chunk_name_eq(text, c, name))
        {
            return c;
        }
    }
    return NULL;
}

/* ------------------------------------------------------------------ */
/* reading and decoding                                                */

/* Does the str end with the ASCII `suffix`?  Compared code point by code
 * point: no UTF-8 copy, so nothing can fail. */
static int
has_suffix(PyObject *str, const char *suffix)
{
    Py_ssize_t n = PyUnicode_GET_LENGTH(str);
    Py_ssize_t m = (Py_ssize_t)strlen(suffix);
    for (Py_ssize_t i = 0; i < m; i++) {
        if (n < m
            || PyUnicode_READ_CHAR(str, n - m + i)
                   != (Py_UCS4)(unsigned char)suffix[i])
        {
            return 0;
        }
    }
    return 1;
}

/* A frozen module may carry the __file__ of the source it was frozen
 * from, but its code does not come from that file.  1 / 0 / -1. */
static int
is_frozen(PyObject *module)
{
    PyObject *spec = NULL, *origin = NULL;
    int r = 0;
    if (PyObject_GetOptionalAttrString(module, "__spec__", &spec) > 0
        && spec != Py_None
        && PyObject_GetOptionalAttrString(spec, "origin", &origin) > 0
        && PyUnicode_Check(origin))
    {
        r = PyUnicode_CompareWithASCIIString(origin, "frozen") == 0;
    }
    if (PyErr_Occurred()) {
        /* a module or spec __getattr__ that fails: not frozen */
        r = hs_err_clear_unless_fatal();
    }
    Py_XDECREF(spec);
    Py_XDECREF(origin);
    return r;
}

/* The source file the module's loader ran, when its spec says so and
 * __file__ names another one: a module may rewrite its __file__ at import
 * (toolz's `tlz` takes toolz's, "to show it during introspection"), but
 * its code, and the snapshot taken at import, come from spec.origin.  New
 * reference, or NULL (with an exception on error) to go by __file__. */
static PyObject *
spec_source_origin(PyObject *module)
{
    PyObject *spec = NULL, *origin = NULL, *loc = NULL, *file = NULL;
    PyObject *result = NULL;
    if (PyObject_GetOptionalAttrString(module, "__spec__", &spec) < 0
        || spec == NULL || spec == Py_None
        || PyObject_GetOptionalAttrString(spec, "has_location", &loc) < 0
        || loc != Py_True
        || PyObject_GetOptionalAttrString(spec, "origin", &origin) < 0
        || origin == NULL || !PyUnicode_Check(origin)
        || (!has_suffix(origin, ".py") && !has_suffix(origin, ".pyw"))
        || PyObject_GetOptionalAttrString(module, "__file__", &file) < 0
        || file == NULL || !PyUnicode_Check(file))
    {
        goto done;
    }
    int same = PyUnicode_Compare(origin, file);
    if (same == -1 && PyErr_Occurred()) {
        goto done;
    }
    if (same != 0) {
        result = Py_NewRef(origin);
    }
done:
    Py_XDECREF(spec);
    Py_XDECREF(origin);
    Py_XDECREF(loc);
    Py_XDECREF(file);
    return result;
}

PyObject *
hs_source_filename(PyObject *module)
{
    PyObject *name = PyModule_GetNameObject(module);
    if (name == NULL) {
        return NULL;
    }
    PyObject *file = NULL;
    if (PyObject_GetOptionalAttrString(module, "__file__", &file) < 0) {
        Py_DECREF(name);
        return NULL;
    }
    if (file == NULL || file == Py_None || !PyUnicode_Check(file)) {
        PyErr_Format(PyExc_ImportError,
                     "module %R has no source file (builtin, frozen, "
                     "namespace package or created at runtime)",
                     name);
        goto error;
    }
    int frozen = is_frozen(module);
    if (frozen < 0) {
        goto error;
    }
    if (frozen) {
        PyErr_Format(PyExc_ImportError,
                     "module %R is frozen into the interpreter; its code "
                     "does not come from %U",
                     name, file);
        goto error;
    }
    if (!has_suffix(file, ".py") && !has_suffix(file, ".pyw")) {
        PyErr_Format(PyExc_ImportError,
                     "module %R is not Python source: %U (a C extension or "
                     "a compiled file cannot be reloaded in place)",
                     name, file);
        goto error;
    }
    PyObject *origin = spec_source_origin(module);
    if (origin == NULL && PyErr_Occurred()) {
        goto error;
    }
    if (origin != NULL) {
        Py_SETREF(file, origin);
    }
    Py_DECREF(name);
    return file;
error:
    Py_DECREF(name);
    Py_XDECREF(file);
    return NULL;
}

/* Only regular files are read: a FIFO would block the main thread, a
 * device could be endless. */
static int
check_regular_file(PyObject *filename)
{
    PyObject *b = PyUnicode_EncodeFSDefault(filename);
    if (b == NULL) {
        return -1;
    }
    struct stat st;
    int r = stat(PyBytes_AS_STRING(b), &st);
    Py_DECREF(b);
    if (r < 0) {
        PyErr_SetFromErrnoWithFilenameObject(PyExc_OSError, filename);
        return -1;
    }
    if (S_ISDIR(st.st_mode)) {
        errno = EISDIR;
        PyErr_SetFromErrnoWithFilenameObject(PyExc_OSError, filename);
        return -1;
    }
    if (!S_ISREG(st.st_mode)) {
        PyErr_Format(PyExc_OSError, "%R is not a regular file", filename);
        return -1;
    }
    return 0;
}

static PyObject *
read_bytes(PyObject *module, PyObject *filename)
{
    PyObject *spec = NULL, *loader = NULL, *io = NULL, *f = NULL;
    PyObject *data = NULL;
    if (check_regular_file(filename) < 0) {
        return NULL;
    }
    if (PyObject_GetOptionalAttrString(module, "__spec__", &spec) < 0) {
        return NULL;
    }
    if (spec != NULL && spec != Py_None) {
        if (PyObject_GetOptionalAttrString(spec, "loader", &loader) < 0) {
            goto done;
        }
    }
    int has = loader != NULL && loader != Py_None
                  ? PyObject_HasAttrStringWithError(loader, "get_data")
                  : 0;
    if (has != 0) {
        data = has > 0 ? PyObject_CallMethod(loader, "get_data", "O", filename)
                       : NULL;
        goto done;
    }
    io = PyImport_ImportModule("io");
    if (io == NULL) {
        goto done;
    }
    f = PyObject_CallMethod(io, "open_code", "O", filename);
    if (f == NULL) {
        goto done;
    }
    data = PyObject_CallMethod(f, "read", NULL);
    PyObject *r = PyObject_CallMethod(f, "close", NULL);
    if (r == NULL) {
        Py_CLEAR(data);
    }
    Py_XDECREF(r);
done:
    Py_XDECREF(spec);
    Py_XDECREF(loader);
    Py_XDECREF(io);
    Py_XDECREF(f);
    if (data != NULL && !PyBytes_Check(data)) {
        PyErr_Format(PyExc_TypeError, "loader.get_data returned %T", data);
        Py_CLEAR(data);
    }
    return data;
}

int
hs_source_read(PyObject *module, PyObject *filename, PyObject **raw_out,
               PyObject **text_out, const char **code)
{
    PyObject *raw = NULL, *util = NULL, *str = NULL, *text = NULL;
    *code = hs_diag_code(HS501);
    raw = read_bytes(module, filename);
    if (raw == NULL) {
        goto error;
    }
    *code = hs_diag_code(HS502);
    if (memchr(PyBytes_AS_STRING(raw), '\0', PyBytes_GET_SIZE(raw)) != NULL) {
        PyErr_Format(PyExc_SyntaxError,
                     "source code of %U contains NUL bytes (a binary "
                     "file?)",
                     filename);
        goto error;
    }
    util = PyImport_ImportModule("importlib.util");
    if (util == NULL) {
        goto error;
    }
    str = PyObject_CallMethod(util, "decode_source", "O", raw);
    if (str == NULL) {
        goto error;
    }
    text = PyUnicode_AsUTF8String(str);
    if (text == NULL) {
        goto error;
    }
    Py_DECREF(util);
    Py_DECREF(str);
    *raw_out = raw;
    *text_out = text;
    *code = NULL;
    return 0;
error:
    Py_XDECREF(raw);
    Py_XDECREF(util);
    Py_XDECREF(str);
    return -1;
}
