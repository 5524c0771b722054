/* source.h -- reading a module's source and splitting it into chunks. */
#ifndef HS_SOURCE_H
#define HS_SOURCE_H

#include "compat.h"
#include <stdint.h>

typedef enum {
    HS_CHUNK_STMT = 0, /* any other statement (compound or simple) */
    HS_CHUNK_DEF,      /* def / async def, decorators included */
    HS_CHUNK_CLASS,    /* class, decorators included */
    HS_CHUNK_IMPORT,   /* import x / from x import y */
    HS_CHUNK_FUTURE,   /* from __future__ import ... */
    HS_CHUNK_ASSIGN,   /* NAME [: ann] = ..., NAME op= ... */
} HsChunkKind;

/* One top-level statement (or class member), as byte offsets into the
 * UTF-8 text it was scanned from.  Offsets always cover whole lines. */
typedef struct {
    HsChunkKind kind;
    Py_ssize_t start;    /* first byte (decorators included) */
    Py_ssize_t end;      /* one past the last byte (newline included) */
    Py_ssize_t head;     /* def/class: start of the keyword's line */
    Py_ssize_t body;     /* def/class: one past the header's ':' */
    Py_ssize_t name;     /* offset of the name, when name_len > 0 */
    Py_ssize_t name_len; /* def/class name or first assignment target */
    int line;            /* 1-based line of `start` */
    int head_line;       /* 1-based line of `head` */
    int last_line;       /* 1-based line of the last byte */
    int async_def;       /* "async def" */
    uint64_t hash;       /* of the bytes [start, end) */
    uint64_t key;        /* identity for matching: kind+name, or hash */
} HsChunk;

typedef struct {
    HsChunk *items; /* owned, PyMem */
    Py_ssize_t len;
    Py_ssize_t cap;
    int unsure; /* the scanner could not split safely */
} HsChunkList;

void hs_chunks_clear(HsChunkList *list);

/* Split text[from:to) into statements at the indentation of its first
 * statement.  `first_line` is the line number of text[from].  Never raises;
 * sets list->unsure when the text is not splittable (a syntax error the
 * compiler will report, or a construct the scanner does not know).
 * Returns -1 only on memory error (exception set). */
int hs_scan(const char *text, Py_ssize_t from, Py_ssize_t to, int first_line,
            HsChunkList *list);

uint64_t hs_hash_bytes(const char *p, Py_ssize_t n);

/* Scan the members of a class body text[body:end).  The body starts right
 * after the header's ':' (its line is `body_line`); a body on the same
 * line has no members we can tell apart (list->unsure).  0 / -1. */
int hs_source_scan_members(const char *text, Py_ssize_t body, Py_ssize_t end,
                           int body_line, HsChunkList *list);

/* Is `name` the name of chunk c of `text`?  1 / 0 (never raises). */
int hs_chunk_name_eq(const char *text, const HsChunk *c, PyObject *name);

/* The first chunk of `list` of kind `kind` (any, for HS_CHUNK_STMT) named
 * `name`, or NULL. */
const HsChunk *hs_chunks_find(const char *text, const HsChunkList *list,
                              HsChunkKind kind, PyObject *name);

/* The line that text[offset] is on, counting from text[from] at line
 * from_line. */
int hs_source_line_at(const char *text, Py_ssize_t from, int from_line,
                      Py_ssize_t offset);

/* The module's current source as (raw bytes, decoded UTF-8 text with
 * universal newlines).  Reads through the module's loader.  On failure
 * returns -1 with an exception set; *code gets the diagnostic code. */
int hs_source_read(PyObject *module, PyObject *filename, PyObject **raw,
                   PyObject **text, const char **code);

/* The filename of a module reloadable from source, or NULL with
 * an exception set (HS505). */
PyObject *hs_source_filename(PyObject *module);

#endif /* HS_SOURCE_H */
