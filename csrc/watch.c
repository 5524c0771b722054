/* watch.c -- the watcher thread: inotify on the tracked directories, or a
 * stat() poll of the tracked files where inotify is unavailable.
 *
 * Two sides, one mutex:
 * - the Python side (GIL held): hs_watch_start/stop/set_files/
 *   take_changes/info, called from module.c and safepoint.c;
 * - the thread (no GIL, and no Python API at all: see "THREAD" below; a
 *   test scans that section).  It gathers changed paths, waits for a burst
 *   to settle (debounce), then calls the notify function given at start,
 *   which schedules the reload on the main thread (safepoint.c).
 * The thread never waits for the GIL while holding the mutex, and the
 * Python side never holds the mutex while waiting for the thread, so the
 * two cannot deadlock.  Memory here is plain malloc: it is touched without
 * the GIL.
 *
 * Directories, not files, are watched, so editors that save by writing a
 * temporary file and renaming it over the original are seen; new
 * sub-directories are watched as they appear.  Symbolic links to
 * directories are not followed (they could lead out of the tracked
 * roots).
 */
#include "watch.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <fnmatch.h>
#include <poll.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/inotify.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

typedef struct {
    char *path;
    int known;
    struct stat st;
} WFile;

typedef struct {
    int wd;
    char *path;
} WDir;

typedef struct {
    pthread_mutex_t lock;
    pthread_t thread;
    int running;       /* watching (a thread exists unless paused) */
    int paused;        /* the thread was joined around a fork */
    int stop;          /* asked to stop */
    int files_changed; /* the polling list was replaced */
    int wake[2];       /* pipe: the Python side wakes the thread */
    int ifd;           /* inotify, or -1 for the polling backend */
    int degraded;      /* inotify ran out of watches: polling */
    HsWatchConfig cfg;
    char **roots;
    size_t nroots;
    char **excludes;
    size_t nexcludes;
    WFile *files;
    size_t nfiles;
    size_t *index;    /* open addressing over files, by path hash */
    size_t index_cap; /* a power of two, or 0 */
    WDir *dirs;
    size_t ndirs, capdirs;
    char **changed;
    size_t nchanged, capchanged;
    int scheduled; /* notify() handed the changes over */
    int retry;     /* notify() asked to be called again */
    HsWatchNotify notify;
    void *arg;
    long events, reloads, failures;
} Watcher;

static Watcher W = {
    .lock = PTHREAD_MUTEX_INITIALIZER,
    .wake = {-1, -1},
    .ifd = -1,
};

static double
mono(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static char *
dup_str(const char *s)
{
    size_t n = strlen(s) + 1;
    char *d = malloc(n);
    if (d != NULL) {
        memcpy(d, s, n);
    }
    return d;
}

static void
free_strs(char **v, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        free(v[i]);
    }
    free(v);
}

static void
free_files(WFile *f, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        free(f[i].path);
    }
    free(f);
}

/* ================================================================== */
/* THREAD: from here to "END THREAD", no Python API may be used.        */

static int
is_py_name(const char *name)
{
    size_t n = strlen(name);
    if (name[0] == '.' || n < 4) {
        return 0; /* editor temporaries (.#x.py, .x.py.swp) */
    }
    return strcmp(name + n - 3, ".py") == 0
           || (n > 4 && strcmp(name + n - 4, ".pyw") == 0);
}

/* Lock held. */
static int
excluded_locked(const char *path)
{
    const char *base = strrchr(path, '/');
    base = base ? base + 1 : path;
    for (size_t i = 0; i < W.nexcludes; i++) {
        if (fnmatch(W.excludes[i], path, 0) == 0
            || fnmatch(W.excludes[i], base, 0) == 0)
        {
            return 1;
        }
    }
    return 0;
}

/* Lock held. */
static void
add_changed_locked(const char *path)
{
    if (excluded_locked(path)) {
        return;
    }
    for (size_t i = 0; i < W.nchanged; i++) {
        if (strcmp(W.changed[i], path) == 0) {
            return;
        }
    }
    if (W.nchanged == W.capchanged) {
        size_t cap = W.capchanged ? W.capchanged * 2 : 16;
        char **v = realloc(W.changed, cap * sizeof(char *));
        if (v == NULL) {
            return;
        }
        W.changed = v;
        W.capchanged = cap;
    }
    char *d = dup_str(path);
    if (d != NULL) {
        W.changed[W.nchanged++] = d;
    }
}

static const char *
dir_of_wd(int wd)
{
    for (size_t i = 0; i < W.ndirs; i++) {
        if (W.dirs[i].wd == wd) {
            return W.dirs[i].path;
        }
    }
    return NULL;
}

static void
forget_wd(int wd)
{
    for (size_t i = 0; i < W.ndirs; i++) {
        if (W.dirs[i].wd == wd) {
            free(W.dirs[i].path);
            W.dirs[i] = W.dirs[--W.ndirs];
            return;
        }
    }
}

/* Call fn(path, lstat, name, depth) for each entry of `dir` but hidden
 * ones and __pycache__.  lstat: symbolic links are not followed. */
static void
for_each_entry(const char *dir, int depth,
               void (*fn)(const char *, const struct stat *, const char *,
                          int))
{
    DIR *d = opendir(dir);
    if (d == NULL) {
        return;
    }
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        if (e->d_name[0] == '.' || strcmp(e->d_name, "__pycache__") == 0) {
            continue;
        }
        size_t n = strlen(dir) + strlen(e->d_name) + 2;
        char *sub = malloc(n);
        if (sub == NULL) {
            break;
        }
        snprintf(sub, n, "%s/%s", dir, e->d_name);
        struct stat st;
        if (lstat(sub, &st) == 0) {
            fn(sub, &st, e->d_name, depth);
        }
        free(sub);
    }
    closedir(d);
}

static void watch_tree(const char *dir, int depth);

static void
watch_tree_entry(const char *path, const struct stat *st, const char *name,
                 int depth)
{
    (void)name;
    if (S_ISDIR(st->st_mode)) {
        watch_tree(path, depth + 1);
    }
}

/* Watch `dir` and the directories below it (not through symlinks). */
static void
watch_tree(const char *dir, int depth)
{
    if (W.ifd < 0 || depth > 32 || excluded_locked(dir)) {
        return;
    }
    uint32_t mask = IN_CLOSE_WRITE | IN_MOVED_TO | IN_MOVED_FROM | IN_CREATE
                    | IN_DELETE | IN_MODIFY | IN_ATTRIB | IN_DELETE_SELF
                    | IN_ONLYDIR | IN_DONT_FOLLOW;
    int wd = inotify_add_watch(W.ifd, dir, mask);
    if (wd < 0) {
        if (errno == ENOSPC) {
            W.degraded = 1; /* out of watches: fall back to polling */
        }
        return;
    }
    if (dir_of_wd(wd) == NULL) {
        if (W.ndirs == W.capdirs) {
            size_t cap = W.capdirs ? W.capdirs * 2 : 64;
            WDir *v = realloc(W.dirs, cap * sizeof(WDir));
            if (v == NULL) {
                return;
            }
            W.dirs = v;
            W.capdirs = cap;
        }
        char *p = dup_str(dir);
        if (p == NULL) {
            return;
        }
        W.dirs[W.ndirs].wd = wd;
        W.dirs[W.ndirs].path = p;
        W.ndirs++;
    }
    for_each_entry(dir, depth, watch_tree_entry);
}

static void
watch_roots_locked(void)
{
    for (size_t i = 0; i < W.nroots; i++) {
        watch_tree(W.roots[i], 0);
    }
}

/* Returns 1 when something relevant happened. */
static int
read_inotify(void)
{
    _Alignas(struct inotify_event) char buf[16384];
    int hit = 0;
    for (;;) {
        ssize_t n = read(W.ifd, buf, sizeof(buf));
        if (n <= 0) {
            break;
        }
        pthread_mutex_lock(&W.lock);
        for (char *p = buf; p < buf + n;) {
            struct inotify_event *ev = (struct inotify_event *)p;
            p += sizeof(struct inotify_event) + ev->len;
            W.events++;
            if (ev->mask & (IN_IGNORED | IN_DELETE_SELF)) {
                forget_wd(ev->wd);
                continue;
            }
            if (ev->mask & IN_Q_OVERFLOW) {
                /* events were lost: every root counts as changed */
                for (size_t i = 0; i < W.nroots; i++) {
                    add_changed_locked(W.roots[i]);
                }
                hit = 1;
                continue;
            }
            const char *dir = dir_of_wd(ev->wd);
            if (dir == NULL || ev->len == 0) {
                continue;
            }
            size_t len = strlen(dir) + strlen(ev->name) + 2;
            char *path = malloc(len);
            if (path == NULL) {
                continue;
            }
            snprintf(path, len, "%s/%s", dir, ev->name);
            if ((ev->mask & IN_ISDIR)
                && (ev->mask & (IN_CREATE | IN_MOVED_TO)))
            {
                if (ev->name[0] != '.' && strcmp(ev->name, "__pycache__") != 0)
                {
                    watch_tree(path, 1);
                }
            }
            else if (is_py_name(ev->name)) {
                add_changed_locked(path);
                hit = 1;
            }
            free(path);
        }
        pthread_mutex_unlock(&W.lock);
    }
    return hit;
}

static int
stat_differs(const struct stat *a, const struct stat *b)
{
    return a->st_ino != b->st_ino || a->st_size != b->st_size
           || a->st_mtim.tv_sec != b->st_mtim.tv_sec
           || a->st_mtim.tv_nsec != b->st_mtim.tv_nsec
           || a->st_ctim.tv_sec != b->st_ctim.tv_sec
           || a->st_ctim.tv_nsec != b->st_ctim.tv_nsec;
}

static size_t
path_hash(const char *p)
{
    size_t h = 1469598103934665603ULL & SIZE_MAX;
    for (; *p; p++) {
        h = (h ^ (unsigned char)*p) * 1099511628211ULL;
    }
    return h;
}

/* Lock held.  Rebuild the index of W.files (twice as many slots as
 * files, at least 64).  0, or -1 when out of memory (lookups then scan). */
static int
index_rebuild_locked(void)
{
    size_t cap = 64;
    while (cap < W.nfiles * 2 + 2) {
        cap *= 2;
    }
    size_t *index = malloc(cap * sizeof(size_t));
    if (index == NULL) {
        free(W.index);
        W.index = NULL;
        W.index_cap = 0;
        return -1;
    }
    for (size_t i = 0; i < cap; i++) {
        index[i] = SIZE_MAX;
    }
    for (size_t i = 0; i < W.nfiles; i++) {
        size_t h = path_hash(W.files[i].path) & (cap - 1);
        while (index[h] != SIZE_MAX) {
            h = (h + 1) & (cap - 1);
        }
        index[h] = i;
    }
    free(W.index);
    W.index = index;
    W.index_cap = cap;
    return 0;
}

/* Lock held. */
static int
has_file_locked(const char *path)
{
    if (W.index_cap == 0) {
        for (size_t i = 0; i < W.nfiles; i++) {
            if (strcmp(W.files[i].path, path) == 0) {
                return 1;
            }
        }
        return 0;
    }
    size_t h = path_hash(path) & (W.index_cap - 1);
    while (W.index[h] != SIZE_MAX) {
        if (strcmp(W.files[W.index[h]].path, path) == 0) {
            return 1;
        }
        h = (h + 1) & (W.index_cap - 1);
    }
    return 0;
}

/* Lock held.  Add `path` to the polled files, its current state as the
 * baseline. */
static void
poll_add_locked(const char *path)
{
    if (has_file_locked(path)) {
        return;
    }
    WFile *v = realloc(W.files, (W.nfiles + 1) * sizeof(WFile));
    if (v == NULL) {
        return;
    }
    W.files = v;
    WFile *f = &W.files[W.nfiles];
    f->path = dup_str(path);
    if (f->path == NULL) {
        return;
    }
    f->known = stat(path, &f->st) == 0 ? 1 : -1;
    W.nfiles++;
    if (W.nfiles * 2 + 2 > W.index_cap) {
        index_rebuild_locked();
    }
    else {
        size_t h = path_hash(path) & (W.index_cap - 1);
        while (W.index[h] != SIZE_MAX) {
            h = (h + 1) & (W.index_cap - 1);
        }
        W.index[h] = W.nfiles - 1;
    }
}

static void poll_discover_entry(const char *path, const struct stat *st,
                                const char *name, int depth);

/* Lock held.  Polling sees no directory events: look for .py files that
 * appeared under the roots (modules imported after watch() started). */
static void
poll_discover_locked(const char *dir, int depth)
{
    if (depth > 32 || excluded_locked(dir)) {
        return;
    }
    for_each_entry(dir, depth, poll_discover_entry);
}

static void
poll_discover_entry(const char *path, const struct stat *st, const char *name,
                    int depth)
{
    if (S_ISDIR(st->st_mode)) {
        poll_discover_locked(path, depth + 1);
    }
    else if (is_py_name(name) && !excluded_locked(path)) {
        poll_add_locked(path);
    }
}

/* Returns 1 when a polled file changed.  New files are looked for every
 * tenth round: listing directories costs more than stat()ing files. */
static int
poll_files(void)
{
    static unsigned poll_round = 0;
    int hit = 0;
    pthread_mutex_lock(&W.lock);
    if (poll_round++ % 10 == 0) {
        for (size_t i = 0; i < W.nroots; i++) {
            poll_discover_locked(W.roots[i], 0);
        }
    }
    for (size_t i = 0; i < W.nfiles; i++) {
        WFile *f = &W.files[i];
        struct stat st;
        int ok = stat(f->path, &st) == 0;
        if (!f->known) {
            f->known = ok ? 1 : -1;
            if (ok) {
                f->st = st;
            }
            continue;
        }
        if ((f->known == 1 && !ok) || (f->known == -1 && ok)
            || (ok && stat_differs(&f->st, &st)))
        {
            add_changed_locked(f->path);
            hit = 1;
        }
        f->known = ok ? 1 : -1;
        if (ok) {
            f->st = st;
        }
    }
    pthread_mutex_unlock(&W.lock);
    return hit;
}

static void
drain(int fd)
{
    char buf[64];
    while (read(fd, buf, sizeof(buf)) > 0) {
    }
}

static void *
watch_main(void *unused)
{
    double settle_at = -1.0; /* a burst is settling until then */
    double burst_start = 0.0;
    double next_poll = 0.0;
    double retry_at = -1.0;

    /* resumed after a fork with changes gathered: let them settle again */
    pthread_mutex_lock(&W.lock);
    if (W.nchanged > 0 && !W.scheduled) {
        settle_at = burst_start = mono();
        settle_at += W.cfg.debounce;
    }
    pthread_mutex_unlock(&W.lock);

    for (;;) {
        pthread_mutex_lock(&W.lock);
        int stop = W.stop;
        int polling = W.ifd < 0 || W.degraded;
        double debounce = W.cfg.debounce;
        double interval = W.cfg.poll_interval;
        pthread_mutex_unlock(&W.lock);
        if (stop) {
            break;
        }
        double t = mono();
        double wake_at = -1.0;
        if (settle_at >= 0) {
            wake_at = settle_at;
        }
        if (polling && (wake_at < 0 || next_poll < wake_at)) {
            wake_at = next_poll;
        }
        if (retry_at >= 0 && (wake_at < 0 || retry_at < wake_at)) {
            wake_at = retry_at;
        }
        int timeout = wake_at < 0    ? -1
                      : wake_at <= t ? 0
                                     : (int)((wake_at - t) * 1000.0) + 1;
        struct pollfd fds[2] = {{W.wake[0], POLLIN, 0}, {W.ifd, POLLIN, 0}};
        int nfds = W.ifd >= 0 ? 2 : 1;
        int r = poll(fds, nfds, timeout);
        if (r < 0 && errno != EINTR) {
            break;
        }
        int hit = 0;
        if (r > 0 && (fds[0].revents & POLLIN)) {
            drain(W.wake[0]);
        }
        if (r > 0 && nfds == 2 && (fds[1].revents & POLLIN)) {
            hit |= read_inotify();
        }
        t = mono();
        if (polling && t >= next_poll) {
            hit |= poll_files();
            next_poll = t + interval;
        }
        if (hit) {
            if (settle_at < 0) {
                burst_start = t;
            }
            /* wait for quiet, but never longer than 20 debounces */
            settle_at = t + debounce;
            if (settle_at > burst_start + 20 * debounce) {
                settle_at = burst_start + 20 * debounce;
            }
        }
        int fire = 0;
        if (settle_at >= 0 && t >= settle_at) {
            settle_at = -1.0;
            fire = 1;
        }
        if (retry_at >= 0 && t >= retry_at) {
            retry_at = -1.0;
            fire = 1;
        }
        if (!fire) {
            continue;
        }
        pthread_mutex_lock(&W.lock);
        int go = W.nchanged > 0 && !W.scheduled && W.cfg.mode == HS_WATCH_AUTO
                 && W.notify != NULL;
        if (W.retry) {
            W.retry = 0;
            go = W.nchanged > 0 && W.cfg.mode == HS_WATCH_AUTO;
        }
        if (go) {
            W.scheduled = 1;
        }
        HsWatchNotify notify = W.notify;
        void *arg = W.arg;
        pthread_mutex_unlock(&W.lock);
        /* the mutex is released before notify() may wait for the GIL */
        if (go && notify(arg) < 0) {
            pthread_mutex_lock(&W.lock);
            W.scheduled = 0;
            W.retry = 1;
            pthread_mutex_unlock(&W.lock);
            retry_at = mono() + 0.05; /* full pending-call queue */
        }
    }
    return unused;
}

/* END THREAD                                                           */
/* ================================================================== */

static char **
strs_from_list(PyObject *list, size_t *n)
{
    Py_ssize_t len = PyList_GET_SIZE(list);
    char **v = calloc(len ? (size_t)len : 1, sizeof(char *));
    if (v == NULL) {
        PyErr_NoMemory();
        return NULL;
    }
    for (Py_ssize_t i = 0; i < len; i++) {
        PyObject *b = PyUnicode_EncodeFSDefault(PyList_GET_ITEM(list, i));
        if (b == NULL) {
            free_strs(v, (size_t)i);
            return NULL;
        }
        v[i] = dup_str(PyBytes_AS_STRING(b));
        Py_DECREF(b);
        if (v[i] == NULL) {
            free_strs(v, (size_t)i);
            PyErr_NoMemory();
            return NULL;
        }
    }
    *n = (size_t)len;
    return v;
}

static WFile *
files_from_list(PyObject *list, size_t *n)
{
    size_t count = 0;
    char **paths = strs_from_list(list, &count);
    if (paths == NULL) {
        return NULL;
    }
    WFile *files = calloc(count ? count : 1, sizeof(WFile));
    if (files == NULL) {
        free_strs(paths, count);
        PyErr_NoMemory();
        return NULL;
    }
    for (size_t i = 0; i < count; i++) {
        files[i].path = paths[i];
    }
    free(paths);
    *n = count;
    return files;
}

/* Keep what the polling backend knew about files that stay on the list;
 * stat new ones now, so that a change made right after watch() returns is
 * a change and not the baseline. */
static void
carry_over_locked(WFile *files, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        size_t j = W.nfiles;
        if (W.index_cap) {
            size_t h = path_hash(files[i].path) & (W.index_cap - 1);
            while (W.index[h] != SIZE_MAX) {
                if (strcmp(W.files[W.index[h]].path, files[i].path) == 0) {
                    j = W.index[h];
                    break;
                }
                h = (h + 1) & (W.index_cap - 1);
            }
        }
        if (j < W.nfiles) {
            files[i].known = W.files[j].known;
            files[i].st = W.files[j].st;
        }
        else {
            files[i].known = stat(files[i].path, &files[i].st) == 0 ? 1 : -1;
        }
    }
}

static void
wake_thread(void)
{
    if (W.wake[1] >= 0) {
        ssize_t r = write(W.wake[1], "x", 1);
        (void)r;
    }
}

int
hs_watch_set_files(PyObject *files)
{
    size_t n = 0;
    WFile *f = files_from_list(files, &n);
    if (f == NULL) {
        return -1;
    }
    pthread_mutex_lock(&W.lock);
    carry_over_locked(f, n);
    WFile *old = W.files;
    size_t nold = W.nfiles;
    W.files = f;
    W.nfiles = n;
    index_rebuild_locked();
    pthread_mutex_unlock(&W.lock);
    free_files(old, nold);
    return 0;
}

int
hs_watch_start(const HsWatchConfig *cfg, PyObject *roots, PyObject *files,
               PyObject *excludes, HsWatchNotify notify, void *arg)
{
    size_t nroots = 0, nex = 0;
    char **r = strs_from_list(roots, &nroots);
    if (r == NULL) {
        return -1;
    }
    char **ex = strs_from_list(excludes, &nex);
    if (ex == NULL) {
        free_strs(r, nroots);
        return -1;
    }
    if (hs_watch_set_files(files) < 0) {
        free_strs(r, nroots);
        free_strs(ex, nex);
        return -1;
    }
    pthread_mutex_lock(&W.lock);
    char **old = W.roots;
    size_t nold = W.nroots;
    char **old_ex = W.excludes;
    size_t nold_ex = W.nexcludes;
    W.roots = r;
    W.nroots = nroots;
    W.excludes = ex;
    W.nexcludes = nex;
    W.cfg = *cfg;
    W.notify = notify;
    W.arg = arg;
    int running = W.running;
    if (running) {
        /* new roots are watched before watch() returns */
        watch_roots_locked();
    }
    pthread_mutex_unlock(&W.lock);
    free_strs(old, nold);
    free_strs(old_ex, nold_ex);
    if (running) {
        wake_thread();
        return 0;
    }

    if (pipe(W.wake) < 0) {
        PyErr_SetFromErrno(PyExc_OSError);
        return -1;
    }
    fcntl(W.wake[0], F_SETFL, O_NONBLOCK);
    fcntl(W.wake[1], F_SETFL, O_NONBLOCK);
    fcntl(W.wake[0], F_SETFD, FD_CLOEXEC);
    fcntl(W.wake[1], F_SETFD, FD_CLOEXEC);
    W.ifd = cfg->force_poll ? -1 : inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
    W.degraded = 0;
    /* the directories are watched before watch() returns: an edit made
     * right after it is seen */
    pthread_mutex_lock(&W.lock);
    watch_roots_locked();
    pthread_mutex_unlock(&W.lock);
    W.stop = 0;
    W.scheduled = 0;
    W.retry = 0;
    W.events = W.reloads = W.failures = 0;
    int err = pthread_create(&W.thread, NULL, watch_main, NULL);
    if (err != 0) {
        errno = err;
        PyErr_SetFromErrno(PyExc_OSError);
        close(W.wake[0]);
        close(W.wake[1]);
        W.wake[0] = W.wake[1] = -1;
        if (W.ifd >= 0) {
            close(W.ifd);
            W.ifd = -1;
        }
        return -1;
    }
    W.running = 1;
    return 0;
}

static void
release_all(void)
{
    if (W.ifd >= 0) {
        close(W.ifd);
    }
    if (W.wake[0] >= 0) {
        close(W.wake[0]);
    }
    if (W.wake[1] >= 0) {
        close(W.wake[1]);
    }
    W.ifd = -1;
    W.wake[0] = W.wake[1] = -1;
    free_strs(W.roots, W.nroots);
    W.roots = NULL;
    W.nroots = 0;
    free_strs(W.excludes, W.nexcludes);
    W.excludes = NULL;
    W.nexcludes = 0;
    free_files(W.files, W.nfiles);
    W.files = NULL;
    W.nfiles = 0;
    free(W.index);
    W.index = NULL;
    W.index_cap = 0;
    for (size_t i = 0; i < W.ndirs; i++) {
        free(W.dirs[i].path);
    }
    free(W.dirs);
    W.dirs = NULL;
    W.ndirs = W.capdirs = 0;
    free_strs(W.changed, W.nchanged);
    W.changed = NULL;
    W.nchanged = W.capchanged = 0;
    W.notify = NULL;
    W.arg = NULL;
    W.running = 0;
}

void
hs_watch_stop(void)
{
    if (!W.running) {
        return;
    }
    if (!W.paused) {
        pthread_mutex_lock(&W.lock);
        W.stop = 1;
        pthread_mutex_unlock(&W.lock);
        wake_thread();
        /* the thread may be waiting for the GIL to schedule a reload */
        Py_BEGIN_ALLOW_THREADS
        pthread_join(W.thread, NULL);
        Py_END_ALLOW_THREADS
    }
    W.paused = 0;
    release_all();
}

/* Around os.fork(): the thread is joined before the fork and started
 * again in the parent, so the process forks with one thread (no lock can
 * be held by the watcher in the child, and 3.12+'s "process is
 * multi-threaded, use of fork() may lead to deadlocks" warning has no
 * cause).  Everything else (the inotify descriptor and its watches, the
 * file index, changes gathered and not yet handed over) stays: events that
 * arrive meanwhile queue in the kernel. */
/* The number of threads the kernel counts for this process (Linux's
 * /proc/self/stat, field 20), or -1 where it cannot be read.  CPython's
 * fork() warning reads the same field. */
static long
kernel_thread_count(void)
{
    char buf[1024];
    int fd = open("/proc/self/stat", O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        return -1;
    }
    ssize_t n = read(fd, buf, sizeof(buf) - 1);
    close(fd);
    if (n <= 0) {
        return -1;
    }
    buf[n] = '\0';
    /* fields after the command name, which is in parentheses and may
     * hold spaces: state is field 3, num_threads field 20 */
    char *p = strrchr(buf, ')');
    for (int field = 2; p != NULL && field < 20; field++) {
        p = strchr(p + 1, ' ');
    }
    return p == NULL ? -1 : strtol(p + 1, NULL, 10);
}

void
hs_watch_pause_for_fork(void)
{
    if (!W.running || W.paused) {
        return;
    }
    pthread_mutex_lock(&W.lock);
    W.stop = 1;
    pthread_mutex_unlock(&W.lock);
    wake_thread();
    long before = kernel_thread_count();
    Py_BEGIN_ALLOW_THREADS
    pthread_join(W.thread, NULL);
    /* pthread_join returns when the thread's stack is free, a moment
     * before the kernel stops counting the thread: wait for that (at most
     * ~50 ms), or fork() would still see (and warn about) two threads. */
    for (int i = 0; before > 0 && i < 500 && kernel_thread_count() >= before;
         i++)
    {
        struct timespec ts = {0, 100000};
        nanosleep(&ts, NULL);
    }
    Py_END_ALLOW_THREADS
    W.stop = 0;
    W.paused = 1;
}

int
hs_watch_resume_after_fork(void)
{
    if (!W.paused) {
        return 0;
    }
    W.paused = 0;
    int err = pthread_create(&W.thread, NULL, watch_main, NULL);
    if (err != 0) {
        release_all();
        errno = err;
        PyErr_SetFromErrno(PyExc_OSError);
        return -1;
    }
    return 0;
}

void
hs_watch_forget_after_fork(void)
{
    /* Only the forking thread exists in the child (the watcher was paused;
     * the mutex is re-initialised all the same). */
    pthread_mutex_init(&W.lock, NULL);
    W.paused = 0;
    if (W.running) {
        release_all();
    }
}

PyObject *
hs_watch_take_changes(void)
{
    PyObject *list = PyList_New(0);
    if (list == NULL) {
        return NULL;
    }
    pthread_mutex_lock(&W.lock);
    char **changed = W.changed;
    size_t n = W.nchanged;
    W.changed = NULL;
    W.nchanged = W.capchanged = 0;
    W.scheduled = 0;
    pthread_mutex_unlock(&W.lock);
    int err = 0;
    for (size_t i = 0; i < n && !err; i++) {
        PyObject *s = PyUnicode_DecodeFSDefault(changed[i]);
        if (s == NULL || PyList_Append(list, s) < 0) {
            err = 1;
        }
        Py_XDECREF(s);
    }
    free_strs(changed, n);
    if (err) {
        Py_DECREF(list);
        return NULL;
    }
    return list;
}

void
hs_watch_retry_later(void)
{
    pthread_mutex_lock(&W.lock);
    W.scheduled = 0;
    W.retry = 1;
    pthread_mutex_unlock(&W.lock);
    wake_thread();
}

void
hs_watch_count(int failed)
{
    pthread_mutex_lock(&W.lock);
    if (failed) {
        W.failures++;
    }
    else {
        W.reloads++;
    }
    pthread_mutex_unlock(&W.lock);
}

PyObject *
hs_watch_info(void)
{
    if (!W.running) {
        Py_RETURN_NONE;
    }
    pthread_mutex_lock(&W.lock);
    PyObject *roots = PyList_New(0);
    for (size_t i = 0; roots && i < W.nroots; i++) {
        PyObject *s = PyUnicode_DecodeFSDefault(W.roots[i]);
        if (s == NULL || PyList_Append(roots, s) < 0) {
            Py_CLEAR(roots);
        }
        Py_XDECREF(s);
    }
    PyObject *d = NULL;
    if (roots != NULL) {
        d = Py_BuildValue(
            "{s:s,s:s,s:N,s:d,s:d,s:l,s:l,s:l,s:n,s:n,s:n}", "backend",
            (W.ifd >= 0 && !W.degraded) ? "inotify" : "poll", "mode",
            W.cfg.mode == HS_WATCH_AUTO ? "auto" : "queued", "roots", roots,
            "debounce", W.cfg.debounce, "poll_interval", W.cfg.poll_interval,
            "reloads", W.reloads, "failures", W.failures, "events", W.events,
            "pending", (Py_ssize_t)W.nchanged, "watched_dirs",
            (Py_ssize_t)W.ndirs, "files", (Py_ssize_t)W.nfiles);
    }
    pthread_mutex_unlock(&W.lock);
    return d;
}
