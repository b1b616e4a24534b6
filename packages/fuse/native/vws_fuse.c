// vws FUSE binding: libfuse3's low-level (inode-based) API driven from Node's own event loop.
//
// Requests are read from /dev/fuse on the JavaScript thread itself (a uv_poll on the session's
// non-blocking fd) and answered synchronously by one JS dispatch function: no thread hop and no
// locking per request. The engine is in memory, so every handler can answer at once.
//
// Kernel cache invalidations (for changes made through the engine API) are written by a thread of
// their own: notify_inval_entry/inode may block in the kernel on a lock held by a process that waits
// for one of our replies, which only the JS thread can give. JS learns when the queue has drained
// (settle), so a caller can make sure the next command sees its writes.
//
// Numbers cross the boundary through a shared Float64Array (`io`), data through two shared buffers
// (`rbuf` for replies, `wbuf` for write payloads): no allocation per request.

#define _GNU_SOURCE  // struct ucred (SO_PEERCRED)
#define FUSE_USE_VERSION 34
#include <fuse_lowlevel.h>
#include <node_api.h>
#include <uv.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <pthread.h>
#include <sched.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <time.h>
#include <unistd.h>

// Operation codes shared with src/native.ts (keep in sync).
enum {
  OP_LOOKUP = 1, OP_FORGET, OP_GETATTR, OP_SETATTR, OP_READLINK, OP_MKNOD, OP_MKDIR, OP_UNLINK,
  OP_RMDIR, OP_SYMLINK, OP_RENAME, OP_LINK, OP_OPEN, OP_READ, OP_WRITE, OP_RELEASE, OP_OPENDIR,
  OP_READDIR, OP_READDIRPLUS, OP_RELEASEDIR, OP_STATFS, OP_SETXATTR, OP_GETXATTR, OP_LISTXATTR,
  OP_REMOVEXATTR, OP_CREATE, OP_INIT, OP_ACCESS, OP_FALLOCATE
};

// io[] layout (doubles), shared with src/native.ts.
enum {
  IO_INO = 0, IO_MODE, IO_NLINK, IO_UID, IO_GID, IO_RDEV, IO_SIZE, IO_BLOCKS, IO_ATIME, IO_ATIME_NS,
  IO_MTIME, IO_MTIME_NS, IO_CTIME, IO_CTIME_NS, IO_GEN, IO_BLKSIZE,
  IO_SET_MASK = 16, IO_SET_MODE, IO_SET_UID, IO_SET_GID, IO_SET_SIZE, IO_SET_ATIME, IO_SET_ATIME_NS,
  IO_SET_MTIME, IO_SET_MTIME_NS, IO_FLAGS,
  IO_CALLER_UID = 28, IO_CALLER_GID, IO_CALLER_PID,
  IO_ENTRY_TIMEOUT = 32, IO_ATTR_TIMEOUT, IO_NEG_TIMEOUT, IO_SPIN_US, IO_DEFER_ID,
  IO_LEN = 40
};

// What dispatch returns for a read, write, setattr or fallocate it answers later (the chunks it
// needs are being fetched): the request is parked under the id it put in io[IO_DEFER_ID] until
// replyDeferred(session, id, ...) answers it, and the loop goes on serving other requests meanwhile.
#define DEFERRED (-1000000.0)

typedef struct deferred {
  struct deferred *next;
  double id;
  fuse_req_t req;
  int kind;  // what answers it: one of the DEFER_* below
} deferred_t;

enum { DEFER_BUF, DEFER_WRITE, DEFER_ATTR, DEFER_ERR };

typedef struct note {
  struct note *next;
  int entry;  // 1: inval_entry(ino, name); 0: inval_inode(ino)
  uint64_t ino;
  size_t namelen;
  char name[];
} note_t;

typedef struct {
  napi_env env;
  struct fuse_session *se;
  int fd;
  uv_poll_t poll;
  int polling;
  struct fuse_buf buf;
  napi_ref dispatch_ref, on_settled_ref, on_closed_ref, io_ref, rbuf_ref, wbuf_ref;
  double *io;
  char *rbuf;
  size_t rbuf_len;
  char *wbuf;
  size_t wbuf_len;
  napi_async_context async_ctx;
  napi_value dispatch;  // valid during a poll callback only
  napi_value recv;
  int in_scope;
  // notification thread
  pthread_t thread;
  int thread_started;
  pthread_mutex_t mu;
  pthread_cond_t cv;
  note_t *head, *tail;
  int stopping;
  uint64_t queued, done;
  uv_async_t settled_async;
  int closed;  // session gone (unmounted by us or by the kernel)
  int no_open;  // the kernel can do without open/release for files
  uint64_t spin_us;  // how long to keep polling after a request before sleeping
  int owners;  // the JS external and the libuv handles: freed when both let go
  deferred_t *deferred;  // reads and writes waiting for their chunks (replyDeferred)
  int helper_fd;  // our end of the socket to the auto_unmount fusermount3 helper (-1: none found)
  pid_t helper_pid;  // that helper (0: none found)
} session_t;

// ---------------------------------------------------------------- the auto_unmount helper
//
// With auto_unmount, libfuse (3.14) mounts through a fusermount3 that stays running to unmount when
// this process dies, connected by a socketpair whose end libfuse keeps open here but neither records
// nor ever closes (not close-on-exec either): one helper process and one descriptor per mount for
// the life of the process. A long-lived server (the vws exec daemon mounts once per exec) would pile
// them up. So we find both right after the mount and let go of them when the mount ends: closing our
// end makes the helper exit (after unmounting, if the mount were still there), and we reap it.

#define MAX_TRACKED 4096

// Open descriptors of this process (as a bitmap over 0..MAX_TRACKED-1).
static void open_fds(unsigned char *set) {
  memset(set, 0, MAX_TRACKED / 8);
  DIR *d = opendir("/proc/self/fd");
  if (!d) return;
  struct dirent *e;
  while ((e = readdir(d))) {
    int fd = atoi(e->d_name);
    if (fd > 0 && fd < MAX_TRACKED) set[fd / 8] |= 1 << (fd % 8);
  }
  closedir(d);
}

// Children of this process named fusermount3 that were started with a commfd (the auto_unmount one).
static int helper_children(pid_t *out, int max) {
  int n = 0;
  pid_t self = getpid();
  DIR *d = opendir("/proc");
  if (!d) return 0;
  struct dirent *e;
  char path[64], buf[512];
  while ((e = readdir(d)) && n < max) {
    pid_t pid = atoi(e->d_name);
    if (pid <= 0) continue;
    snprintf(path, sizeof path, "/proc/%d/stat", pid);
    FILE *f = fopen(path, "r");
    if (!f) continue;
    size_t got = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[got] = 0;
    char *close_paren = strrchr(buf, ')');
    if (!close_paren || !strstr(buf, "(fusermount3)")) continue;
    int ppid = 0;
    char state;
    if (sscanf(close_paren + 1, " %c %d", &state, &ppid) != 2 || ppid != self) continue;
    snprintf(path, sizeof path, "/proc/%d/environ", pid);
    f = fopen(path, "r");
    if (!f) continue;
    int has_commfd = 0;
    char env[4096];
    size_t len = fread(env, 1, sizeof env, f);
    fclose(f);
    for (size_t i = 0; i + 13 <= len; i++) {
      if ((i == 0 || env[i - 1] == 0) && memcmp(env + i, "_FUSE_COMMFD=", 13) == 0) has_commfd = 1;
    }
    if (has_commfd) out[n++] = pid;
  }
  closedir(d);
  return n;
}

// After a mount: the descriptor libfuse left (new since `before`, a socket, not close-on-exec, made
// by this process: a socketpair) and the helper (a fusermount3 child not in `had`).
static void find_helper(session_t *s, const unsigned char *before, const pid_t *had, int nhad) {
  s->helper_fd = -1;
  s->helper_pid = 0;
  unsigned char now[MAX_TRACKED / 8];
  open_fds(now);
  for (int fd = 0; fd < MAX_TRACKED && s->helper_fd < 0; fd++) {
    if (!(now[fd / 8] & (1 << (fd % 8))) || (before[fd / 8] & (1 << (fd % 8))) || fd == s->fd) continue;
    struct stat st;
    if (fstat(fd, &st) != 0 || !S_ISSOCK(st.st_mode)) continue;
    int flags = fcntl(fd, F_GETFD);
    if (flags < 0 || (flags & FD_CLOEXEC)) continue;
    struct ucred cred;
    socklen_t clen = sizeof cred;
    if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &clen) != 0 || cred.pid != getpid()) continue;
    s->helper_fd = fd;
    // Not for children we start later: they must not keep the helper alive.
    fcntl(fd, F_SETFD, flags | FD_CLOEXEC);
  }
  pid_t kids[64];
  int n = helper_children(kids, 64);
  for (int i = 0; i < n && !s->helper_pid; i++) {
    int old = 0;
    for (int j = 0; j < nhad; j++) old |= had[j] == kids[i];
    if (!old) s->helper_pid = kids[i];
  }
}

// The mount is over: the helper may go. Waits for it briefly (it exits at once on the socket's end).
static void release_helper(session_t *s) {
  if (s->helper_fd >= 0) close(s->helper_fd);
  s->helper_fd = -1;
  if (s->helper_pid > 0) {
    for (int i = 0; i < 400; i++) {
      pid_t r = waitpid(s->helper_pid, NULL, WNOHANG);
      if (r != 0) break;  // reaped, or not ours to reap
      usleep(2500);
    }
  }
  s->helper_pid = 0;
}

#define NAPI_OK(call)                                   \
  do {                                                  \
    if ((call) != napi_ok) {                            \
      const napi_extended_error_info *info;             \
      napi_get_last_error_info(env, &info);             \
      napi_throw_error(env, NULL, info && info->error_message ? info->error_message : "napi call failed"); \
      return NULL;                                      \
    }                                                   \
  } while (0)

// ------------------------------------------------------------------ names as bytes

// Linux names are bytes; JS names are strings. The mapping is the engine's (inode-fs names.ts):
// valid UTF-8 decodes as usual, every other byte becomes the lone surrogate U+DC00+byte, and back.

// Length of the valid UTF-8 sequence at p (n bytes left), or 0.
static size_t utf8_seq(const unsigned char *p, size_t n) {
  unsigned c = p[0];
#define CONT(k, lo, hi) ((k) < n && p[k] >= (lo) && p[k] <= (hi))
  if (c < 0x80) return 1;
  if (c >= 0xc2 && c <= 0xdf) return CONT(1, 0x80, 0xbf) ? 2 : 0;
  if (c == 0xe0) return CONT(1, 0xa0, 0xbf) && CONT(2, 0x80, 0xbf) ? 3 : 0;
  if ((c >= 0xe1 && c <= 0xec) || c == 0xee || c == 0xef) return CONT(1, 0x80, 0xbf) && CONT(2, 0x80, 0xbf) ? 3 : 0;
  if (c == 0xed) return CONT(1, 0x80, 0x9f) && CONT(2, 0x80, 0xbf) ? 3 : 0;
  if (c == 0xf0) return CONT(1, 0x90, 0xbf) && CONT(2, 0x80, 0xbf) && CONT(3, 0x80, 0xbf) ? 4 : 0;
  if (c >= 0xf1 && c <= 0xf3) return CONT(1, 0x80, 0xbf) && CONT(2, 0x80, 0xbf) && CONT(3, 0x80, 0xbf) ? 4 : 0;
  if (c == 0xf4) return CONT(1, 0x80, 0x8f) && CONT(2, 0x80, 0xbf) && CONT(3, 0x80, 0xbf) ? 4 : 0;
#undef CONT
  return 0;
}

// A JS string for the bytes b[0..n): never lossy.
static napi_status make_name(napi_env env, const char *b, size_t n, napi_value *out) {
  const unsigned char *p = (const unsigned char *)b;
  char16_t stack[512];
  stack[0] = 0;
  char16_t *u = n <= 512 ? stack : malloc(n * sizeof(char16_t));
  if (!u) return napi_generic_failure;
  size_t k = 0;
  for (size_t i = 0; i < n;) {
    size_t len = utf8_seq(p + i, n - i);
    uint32_t cp;
    if (len == 0) {
      u[k++] = (char16_t)(0xdc00 + p[i]);
      i++;
      continue;
    }
    if (len == 1) cp = p[i];
    else if (len == 2) cp = ((p[i] & 0x1f) << 6) | (p[i + 1] & 0x3f);
    else if (len == 3) cp = ((p[i] & 0x0f) << 12) | ((p[i + 1] & 0x3f) << 6) | (p[i + 2] & 0x3f);
    else cp = ((p[i] & 0x07) << 18) | ((p[i + 1] & 0x3f) << 12) | ((p[i + 2] & 0x3f) << 6) | (p[i + 3] & 0x3f);
    if (cp >= 0x10000) {
      cp -= 0x10000;
      u[k++] = (char16_t)(0xd800 + (cp >> 10));
      u[k++] = (char16_t)(0xdc00 + (cp & 0x3ff));
    } else {
      u[k++] = (char16_t)cp;
    }
    i += len;
  }
  napi_status st = napi_create_string_utf16(env, u, k, out);
  if (u != stack) free(u);
  return st;
}

// The bytes a JS name stands for, NUL-terminated, in a malloc'd buffer (*len without the NUL).
// A lone surrogate outside U+DC80..U+DCFF (the engine never holds one) becomes U+FFFD.
static char *name_bytes(napi_env env, napi_value v, size_t *len) {
  size_t n = 0;
  if (napi_get_value_string_utf16(env, v, NULL, 0, &n) != napi_ok) return NULL;
  char16_t *u = malloc((n + 1) * sizeof(char16_t));
  char *out = malloc(n * 3 + 1);
  if (!u || !out) {
    free(u);
    free(out);
    return NULL;
  }
  napi_get_value_string_utf16(env, v, u, n + 1, &n);
  size_t k = 0;
  for (size_t i = 0; i < n; i++) {
    uint32_t c = u[i];
    if (c >= 0xd800 && c <= 0xdbff && i + 1 < n && u[i + 1] >= 0xdc00 && u[i + 1] <= 0xdfff) {
      c = 0x10000 + ((c - 0xd800) << 10) + (u[++i] - 0xdc00);
    } else if (c >= 0xdc80 && c <= 0xdcff) {
      out[k++] = (char)(c - 0xdc00);
      continue;
    } else if (c >= 0xd800 && c <= 0xdfff) {
      c = 0xfffd;
    }
    if (c < 0x80) out[k++] = (char)c;
    else if (c < 0x800) {
      out[k++] = (char)(0xc0 | (c >> 6));
      out[k++] = (char)(0x80 | (c & 0x3f));
    } else if (c < 0x10000) {
      out[k++] = (char)(0xe0 | (c >> 12));
      out[k++] = (char)(0x80 | ((c >> 6) & 0x3f));
      out[k++] = (char)(0x80 | (c & 0x3f));
    } else {
      out[k++] = (char)(0xf0 | (c >> 18));
      out[k++] = (char)(0x80 | ((c >> 12) & 0x3f));
      out[k++] = (char)(0x80 | ((c >> 6) & 0x3f));
      out[k++] = (char)(0x80 | (c & 0x3f));
    }
  }
  out[k] = 0;
  free(u);
  *len = k;
  return out;
}

// ------------------------------------------------------------------ calling JS

// Calls dispatch(op, ino, a, b, c, s1, s2) and returns its numeric result (negative errno on
// failure). A string result is copied into *str (readlink) when str is given.
static double call_js(session_t *s, fuse_req_t req, int op, double ino, double a, double b, double c,
                      const char *s1, size_t s1len, const char *s2, char **str) {
  napi_env env = s->env;
  if (req) {
    const struct fuse_ctx *ctx = fuse_req_ctx(req);
    s->io[IO_CALLER_UID] = ctx->uid;
    s->io[IO_CALLER_GID] = ctx->gid;
    s->io[IO_CALLER_PID] = ctx->pid;
  }
  napi_value argv[7], result;
  napi_create_int32(env, op, &argv[0]);
  napi_create_double(env, ino, &argv[1]);
  napi_create_double(env, a, &argv[2]);
  napi_create_double(env, b, &argv[3]);
  napi_create_double(env, c, &argv[4]);
  if (!s1 || make_name(env, s1, s1len, &argv[5]) != napi_ok) napi_get_undefined(env, &argv[5]);
  if (!s2 || make_name(env, s2, strlen(s2), &argv[6]) != napi_ok) napi_get_undefined(env, &argv[6]);
  napi_status st = napi_call_function(env, s->recv, s->dispatch, 7, argv, &result);
  if (st != napi_ok) {
    napi_value exc;
    napi_get_and_clear_last_exception(env, &exc);
    return -EIO;
  }
  napi_valuetype t;
  napi_typeof(env, result, &t);
  if (t == napi_string && str) {
    size_t len;
    *str = name_bytes(env, result, &len);
    return *str ? 0 : -ENOMEM;
  }
  double v = -EIO;
  if (t == napi_number) napi_get_value_double(env, result, &v);
  return v;
}

#define SESSION(req) ((session_t *)fuse_req_userdata(req))

static void fill_stat(const double *io, struct stat *st) {
  memset(st, 0, sizeof *st);
  st->st_ino = (ino_t)io[IO_INO];
  st->st_mode = (mode_t)io[IO_MODE];
  st->st_nlink = (nlink_t)io[IO_NLINK];
  st->st_uid = (uid_t)io[IO_UID];
  st->st_gid = (gid_t)io[IO_GID];
  st->st_rdev = (dev_t)io[IO_RDEV];
  st->st_size = (off_t)io[IO_SIZE];
  st->st_blocks = (blkcnt_t)io[IO_BLOCKS];
  st->st_blksize = (blksize_t)io[IO_BLKSIZE];
  st->st_atim.tv_sec = (time_t)io[IO_ATIME];
  st->st_atim.tv_nsec = (long)io[IO_ATIME_NS];
  st->st_mtim.tv_sec = (time_t)io[IO_MTIME];
  st->st_mtim.tv_nsec = (long)io[IO_MTIME_NS];
  st->st_ctim.tv_sec = (time_t)io[IO_CTIME];
  st->st_ctim.tv_nsec = (long)io[IO_CTIME_NS];
}

// The entry JS left in io[]: inode, generation, attributes and timeouts.
static void fill_entry(const double *io, struct fuse_entry_param *e) {
  memset(e, 0, sizeof *e);
  e->ino = (fuse_ino_t)io[IO_INO];
  e->generation = (uint64_t)io[IO_GEN];
  fill_stat(io, &e->attr);
  e->attr_timeout = io[IO_ATTR_TIMEOUT];
  e->entry_timeout = io[IO_ENTRY_TIMEOUT];
}

// Replies with an entry from io[], or with the error. ENOENT becomes a cached negative entry when
// negative caching is on (ino 0 with a timeout).
static void reply_entry(fuse_req_t req, session_t *s, double r) {
  struct fuse_entry_param e;
  memset(&e, 0, sizeof e);
  if (r < 0) {
    if (r == -ENOENT && s->io[IO_NEG_TIMEOUT] > 0) {
      e.ino = 0;
      e.entry_timeout = s->io[IO_NEG_TIMEOUT];
      fuse_reply_entry(req, &e);
    } else {
      fuse_reply_err(req, (int)-r);
    }
    return;
  }
  fill_entry(s->io, &e);
  fuse_reply_entry(req, &e);
}

static void reply_attr(fuse_req_t req, session_t *s, double r) {
  if (r < 0) {
    fuse_reply_err(req, (int)-r);
    return;
  }
  struct stat st;
  fill_stat(s->io, &st);
  fuse_reply_attr(req, &st, s->io[IO_ATTR_TIMEOUT]);
}

static void reply_err(fuse_req_t req, double r) { fuse_reply_err(req, r < 0 ? (int)-r : 0); }

// A request answered later (DEFERRED): kept under the id dispatch put in io[IO_DEFER_ID].
static void park(session_t *s, fuse_req_t req, int kind) {
  deferred_t *d = malloc(sizeof *d);
  if (!d) return (void)fuse_reply_err(req, ENOMEM);
  d->id = s->io[IO_DEFER_ID];
  d->req = req;
  d->kind = kind;
  d->next = s->deferred;
  s->deferred = d;
}

// ------------------------------------------------------------------ low-level operations

static void op_init(void *userdata, struct fuse_conn_info *conn) {
  session_t *s = userdata;
  // Correctness first: no writeback cache (a command's write must reach the engine when write()
  // returns), no splice (buffers are ours), locks kept by the kernel (local to this host). No
  // atomic O_TRUNC: without open requests the kernel must send the truncation as a setattr.
  conn->want &= ~(FUSE_CAP_WRITEBACK_CACHE | FUSE_CAP_SPLICE_READ | FUSE_CAP_SPLICE_WRITE | FUSE_CAP_SPLICE_MOVE |
                  FUSE_CAP_POSIX_LOCKS | FUSE_CAP_FLOCK_LOCKS | FUSE_CAP_AUTO_INVAL_DATA | FUSE_CAP_READDIRPLUS_AUTO |
                  FUSE_CAP_ATOMIC_O_TRUNC);
  // Round trips are what a FUSE file system costs: no open/release for files (the engine is
  // addressed by inode; the kernel's references keep unlinked files alive), suid/sgid cleared by us
  // (no attribute refresh before each chown).
  unsigned want = FUSE_CAP_ASYNC_READ | FUSE_CAP_READDIRPLUS | FUSE_CAP_PARALLEL_DIROPS | FUSE_CAP_CACHE_SYMLINKS |
                  FUSE_CAP_EXPORT_SUPPORT | FUSE_CAP_HANDLE_KILLPRIV;
  conn->want |= want & conn->capable;
  s->no_open = (conn->capable & FUSE_CAP_NO_OPEN_SUPPORT) != 0;
  // libfuse clamps max_write to its own receive buffer (1 MiB); our buffers are at least that.
  conn->max_write = s->wbuf_len < s->rbuf_len ? s->wbuf_len : s->rbuf_len;
  conn->max_read = 0;
  conn->time_gran = 1;
  (void)call_js(s, NULL, OP_INIT, 0, conn->max_write, conn->max_readahead, s->no_open,
                NULL, 0, NULL, NULL);
}

static void op_lookup(fuse_req_t req, fuse_ino_t parent, const char *name) {
  session_t *s = SESSION(req);
  reply_entry(req, s, call_js(s, req, OP_LOOKUP, parent, 0, 0, 0, name, strlen(name), NULL, NULL));
}

static void op_forget(fuse_req_t req, fuse_ino_t ino, uint64_t nlookup) {
  session_t *s = SESSION(req);
  call_js(s, NULL, OP_FORGET, ino, (double)nlookup, 0, 0, NULL, 0, NULL, NULL);
  fuse_reply_none(req);
}

static void op_forget_multi(fuse_req_t req, size_t count, struct fuse_forget_data *forgets) {
  session_t *s = SESSION(req);
  for (size_t i = 0; i < count; i++) call_js(s, NULL, OP_FORGET, forgets[i].ino, (double)forgets[i].nlookup, 0, 0, NULL, 0, NULL, NULL);
  fuse_reply_none(req);
}

static void op_getattr(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi) {
  session_t *s = SESSION(req);
  reply_attr(req, s, call_js(s, req, OP_GETATTR, ino, fi ? (double)fi->fh : -1, 0, 0, NULL, 0, NULL, NULL));
}

static void op_setattr(fuse_req_t req, fuse_ino_t ino, struct stat *attr, int to_set, struct fuse_file_info *fi) {
  session_t *s = SESSION(req);
  double *io = s->io;
  io[IO_SET_MASK] = to_set;
  io[IO_SET_MODE] = attr->st_mode;
  io[IO_SET_UID] = attr->st_uid;
  io[IO_SET_GID] = attr->st_gid;
  io[IO_SET_SIZE] = (double)attr->st_size;
  io[IO_SET_ATIME] = (double)attr->st_atim.tv_sec;
  io[IO_SET_ATIME_NS] = attr->st_atim.tv_nsec;
  io[IO_SET_MTIME] = (double)attr->st_mtim.tv_sec;
  io[IO_SET_MTIME_NS] = attr->st_mtim.tv_nsec;
  double r = call_js(s, req, OP_SETATTR, ino, 0, 0, 0, NULL, 0, NULL, NULL);
  if (r == DEFERRED) return park(s, req, DEFER_ATTR);
  reply_attr(req, s, r);
}

static void op_readlink(fuse_req_t req, fuse_ino_t ino) {
  session_t *s = SESSION(req);
  char *target = NULL;
  double r = call_js(s, req, OP_READLINK, ino, 0, 0, 0, NULL, 0, NULL, &target);
  if (target) {
    fuse_reply_readlink(req, target);
    free(target);
  } else {
    fuse_reply_err(req, r < 0 ? (int)-r : EIO);
  }
}

static void op_mknod(fuse_req_t req, fuse_ino_t parent, const char *name, mode_t mode, dev_t rdev) {
  session_t *s = SESSION(req);
  reply_entry(req, s, call_js(s, req, OP_MKNOD, parent, mode, (double)rdev, 0, name, strlen(name), NULL, NULL));
}

static void op_mkdir(fuse_req_t req, fuse_ino_t parent, const char *name, mode_t mode) {
  session_t *s = SESSION(req);
  reply_entry(req, s, call_js(s, req, OP_MKDIR, parent, mode, 0, 0, name, strlen(name), NULL, NULL));
}

static void op_unlink(fuse_req_t req, fuse_ino_t parent, const char *name) {
  session_t *s = SESSION(req);
  reply_err(req, call_js(s, req, OP_UNLINK, parent, 0, 0, 0, name, strlen(name), NULL, NULL));
}

static void op_rmdir(fuse_req_t req, fuse_ino_t parent, const char *name) {
  session_t *s = SESSION(req);
  reply_err(req, call_js(s, req, OP_RMDIR, parent, 0, 0, 0, name, strlen(name), NULL, NULL));
}

static void op_symlink(fuse_req_t req, const char *link, fuse_ino_t parent, const char *name) {
  session_t *s = SESSION(req);
  reply_entry(req, s, call_js(s, req, OP_SYMLINK, parent, 0, 0, 0, name, strlen(name), link, NULL));
}

static void op_rename(fuse_req_t req, fuse_ino_t parent, const char *name, fuse_ino_t newparent, const char *newname,
                      unsigned int flags) {
  session_t *s = SESSION(req);
  reply_err(req, call_js(s, req, OP_RENAME, parent, newparent, flags, 0, name, strlen(name), newname, NULL));
}

static void op_link(fuse_req_t req, fuse_ino_t ino, fuse_ino_t newparent, const char *newname) {
  session_t *s = SESSION(req);
  reply_entry(req, s, call_js(s, req, OP_LINK, ino, newparent, 0, 0, newname, strlen(newname), NULL, NULL));
}

// The first open answers ENOSYS: the kernel then opens files by itself from now on (no open or
// release requests), keeping their page cache. Kernels without that get an empty handle.
static void op_open(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi) {
  session_t *s = SESSION(req);
  if (s->no_open) return (void)fuse_reply_err(req, ENOSYS);
  fi->fh = 0;
  fi->keep_cache = 1;
  fi->noflush = 1;
  fuse_reply_open(req, fi);
}

// Where the kernel opens files by itself, create answers ENOSYS too: new files are then made with
// mknod and opened by the kernel, which saves the release a created file would send.
static void op_create(fuse_req_t req, fuse_ino_t parent, const char *name, mode_t mode, struct fuse_file_info *fi) {
  session_t *s = SESSION(req);
  if (s->no_open) return (void)fuse_reply_err(req, ENOSYS);
  double r = call_js(s, req, OP_CREATE, parent, mode, fi->flags, 0, name, strlen(name), NULL, NULL);
  if (r < 0) return (void)fuse_reply_err(req, (int)-r);
  struct fuse_entry_param e;
  fill_entry(s->io, &e);
  fi->fh = (uint64_t)r;
  fi->keep_cache = 1;  // API writes invalidate the page cache explicitly
  fi->noflush = 1;
  fuse_reply_create(req, &e, fi);
}

static void op_read(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off, struct fuse_file_info *fi) {
  session_t *s = SESSION(req);
  if (size > s->rbuf_len) size = s->rbuf_len;
  double r = call_js(s, req, OP_READ, ino, (double)fi->fh, (double)size, (double)off, NULL, 0, NULL, NULL);
  if (r == DEFERRED) return park(s, req, DEFER_BUF);
  if (r < 0) return (void)fuse_reply_err(req, (int)-r);
  fuse_reply_buf(req, s->rbuf, (size_t)r);
}

static void op_write(fuse_req_t req, fuse_ino_t ino, const char *data, size_t size, off_t off, struct fuse_file_info *fi) {
  session_t *s = SESSION(req);
  if (size > s->wbuf_len) return (void)fuse_reply_err(req, EFBIG);
  memcpy(s->wbuf, data, size);
  s->io[IO_FLAGS] = fi->flags;
  double r = call_js(s, req, OP_WRITE, ino, (double)fi->fh, (double)size, (double)off, NULL, 0, NULL, NULL);
  if (r == DEFERRED) return park(s, req, DEFER_WRITE);
  if (r < 0) return (void)fuse_reply_err(req, (int)-r);
  fuse_reply_write(req, (size_t)r);
}

static void op_release(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi) {
  session_t *s = SESSION(req);
  reply_err(req, call_js(s, req, OP_RELEASE, ino, (double)fi->fh, 0, 0, NULL, 0, NULL, NULL));
}

static void op_opendir(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi) {
  session_t *s = SESSION(req);
  double r = call_js(s, req, OP_OPENDIR, ino, 0, 0, 0, NULL, 0, NULL, NULL);
  if (r < 0) return (void)fuse_reply_err(req, (int)-r);
  fi->fh = (uint64_t)r;
  fi->keep_cache = 1;
  fi->cache_readdir = 1;  // kept until the directory changes (kernel) or we invalidate it (API)
  fuse_reply_open(req, fi);
}

static void readdir_common(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off, struct fuse_file_info *fi, int op) {
  session_t *s = SESSION(req);
  if (size > s->rbuf_len) size = s->rbuf_len;
  double r = call_js(s, req, op, ino, (double)fi->fh, (double)size, (double)off, NULL, 0, NULL, NULL);
  if (r < 0) return (void)fuse_reply_err(req, (int)-r);
  fuse_reply_buf(req, s->rbuf, (size_t)r);
}

static void op_readdir(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off, struct fuse_file_info *fi) {
  readdir_common(req, ino, size, off, fi, OP_READDIR);
}

static void op_readdirplus(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off, struct fuse_file_info *fi) {
  readdir_common(req, ino, size, off, fi, OP_READDIRPLUS);
}

static void op_releasedir(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi) {
  session_t *s = SESSION(req);
  reply_err(req, call_js(s, req, OP_RELEASEDIR, ino, (double)fi->fh, 0, 0, NULL, 0, NULL, NULL));
}

static void op_statfs(fuse_req_t req, fuse_ino_t ino) {
  session_t *s = SESSION(req);
  double r = call_js(s, req, OP_STATFS, ino, 0, 0, 0, NULL, 0, NULL, NULL);
  if (r < 0) return (void)fuse_reply_err(req, (int)-r);
  struct statvfs st;
  memset(&st, 0, sizeof st);
  double *io = s->io;
  st.f_bsize = (unsigned long)io[0];
  st.f_frsize = (unsigned long)io[1];
  st.f_blocks = (fsblkcnt_t)io[2];
  st.f_bfree = (fsblkcnt_t)io[3];
  st.f_bavail = (fsblkcnt_t)io[4];
  st.f_files = (fsfilcnt_t)io[5];
  st.f_ffree = (fsfilcnt_t)io[6];
  st.f_favail = (fsfilcnt_t)io[7];
  st.f_namemax = (unsigned long)io[8];
  fuse_reply_statfs(req, &st);
}

static void op_setxattr(fuse_req_t req, fuse_ino_t ino, const char *name, const char *value, size_t size, int flags) {
  session_t *s = SESSION(req);
  if (size > s->wbuf_len) return (void)fuse_reply_err(req, E2BIG);
  memcpy(s->wbuf, value, size);
  reply_err(req, call_js(s, req, OP_SETXATTR, ino, (double)size, flags, 0, name, strlen(name), NULL, NULL));
}

// getxattr and listxattr: JS writes the value into rbuf and returns its length; size 0 asks for it.
static void xattr_reply(fuse_req_t req, session_t *s, double r, size_t size) {
  if (r < 0) return (void)fuse_reply_err(req, (int)-r);
  if (size == 0) return (void)fuse_reply_xattr(req, (size_t)r);
  if ((size_t)r > size) return (void)fuse_reply_err(req, ERANGE);
  fuse_reply_buf(req, s->rbuf, (size_t)r);
}

static void op_getxattr(fuse_req_t req, fuse_ino_t ino, const char *name, size_t size) {
  session_t *s = SESSION(req);
  xattr_reply(req, s, call_js(s, req, OP_GETXATTR, ino, (double)size, 0, 0, name, strlen(name), NULL, NULL), size);
}

static void op_listxattr(fuse_req_t req, fuse_ino_t ino, size_t size) {
  session_t *s = SESSION(req);
  xattr_reply(req, s, call_js(s, req, OP_LISTXATTR, ino, (double)size, 0, 0, NULL, 0, NULL, NULL), size);
}

static void op_removexattr(fuse_req_t req, fuse_ino_t ino, const char *name) {
  session_t *s = SESSION(req);
  reply_err(req, call_js(s, req, OP_REMOVEXATTR, ino, 0, 0, 0, name, strlen(name), NULL, NULL));
}

static void op_fallocate(fuse_req_t req, fuse_ino_t ino, int mode, off_t offset, off_t length, struct fuse_file_info *fi) {
  (void)fi;
  session_t *s = fuse_req_userdata(req);
  double r = call_js(s, req, OP_FALLOCATE, ino, mode, (double)offset, (double)length, NULL, 0, NULL, NULL);
  if (r == DEFERRED) return park(s, req, DEFER_ERR);
  reply_err(req, r);
}

static void op_access(fuse_req_t req, fuse_ino_t ino, int mask) {
  session_t *s = SESSION(req);
  reply_err(req, call_js(s, req, OP_ACCESS, ino, mask, 0, 0, NULL, 0, NULL, NULL));
}

// flush, fsync and fsyncdir are left out on purpose: the kernel then stops asking (round trips
// saved on every close).
static const struct fuse_lowlevel_ops ll_ops = {
  .init = op_init,
  .lookup = op_lookup,
  .forget = op_forget,
  .forget_multi = op_forget_multi,
  .getattr = op_getattr,
  .setattr = op_setattr,
  .readlink = op_readlink,
  .mknod = op_mknod,
  .mkdir = op_mkdir,
  .unlink = op_unlink,
  .rmdir = op_rmdir,
  .symlink = op_symlink,
  .rename = op_rename,
  .link = op_link,
  .open = op_open,
  .read = op_read,
  .write = op_write,
  .release = op_release,
  .opendir = op_opendir,
  .readdir = op_readdir,
  .readdirplus = op_readdirplus,
  .releasedir = op_releasedir,
  .statfs = op_statfs,
  .setxattr = op_setxattr,
  .getxattr = op_getxattr,
  .listxattr = op_listxattr,
  .removexattr = op_removexattr,
  .create = op_create,
  .access = op_access,
  .fallocate = op_fallocate,
};

// ------------------------------------------------------------------ serving on the event loop

static void on_closed(session_t *s);

static uint64_t now_us(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

static void on_readable(uv_poll_t *handle, int status, int events) {
  (void)events;
  session_t *s = handle->data;
  napi_env env = s->env;
  napi_handle_scope scope;
  napi_open_handle_scope(env, &scope);
  napi_value resource;
  napi_callback_scope cbscope;
  napi_get_global(env, &resource);
  napi_open_callback_scope(env, resource, s->async_ctx, &cbscope);
  napi_get_reference_value(env, s->dispatch_ref, &s->dispatch);
  napi_get_undefined(env, &s->recv);
  int gone = status < 0;
  // Bounded batch: other event-loop work (timers, child processes) gets its turn. After the last
  // request, poll a little longer before sleeping: a client's next request usually follows within
  // microseconds, and a wake-up across CPUs costs far more than that (measured in this VM).
  uint64_t deadline = now_us() + s->spin_us;
  for (int i = 0; i < 4096 && !gone; i++) {
    int res = fuse_session_receive_buf(s->se, &s->buf);
    if (res == -EAGAIN) {
      if (s->spin_us == 0 || now_us() >= deadline) break;
      sched_yield();  // a client on this CPU runs first: polling must not delay its next request
      continue;
    }
    if (res == -EINTR) continue;
    if (res <= 0 || fuse_session_exited(s->se)) {
      gone = 1;
      break;
    }
    fuse_session_process_buf(s->se, &s->buf);
    deadline = now_us() + s->spin_us;
  }
  napi_close_callback_scope(env, cbscope);
  napi_close_handle_scope(env, scope);
  if (gone) on_closed(s);
}

// ------------------------------------------------------------------ notification thread

static void *notify_main(void *arg) {
  session_t *s = arg;
  pthread_mutex_lock(&s->mu);
  for (;;) {
    while (!s->head && !s->stopping) pthread_cond_wait(&s->cv, &s->mu);
    if (s->stopping) break;
    note_t *n = s->head;
    s->head = n->next;
    if (!s->head) s->tail = NULL;
    pthread_mutex_unlock(&s->mu);
    // ENOENT (the kernel does not know that inode or name) is the common, harmless answer.
    if (n->entry) fuse_lowlevel_notify_inval_entry(s->se, n->ino, n->name, n->namelen);
    else fuse_lowlevel_notify_inval_inode(s->se, n->ino, 0, 0);
    free(n);
    pthread_mutex_lock(&s->mu);
    s->done++;
    if (!s->head) uv_async_send(&s->settled_async);
  }
  pthread_mutex_unlock(&s->mu);
  return NULL;
}

static void on_settled(uv_async_t *a) {
  session_t *s = a->data;
  napi_env env = s->env;
  napi_handle_scope scope;
  napi_open_handle_scope(env, &scope);
  pthread_mutex_lock(&s->mu);
  double done = (double)s->done;
  pthread_mutex_unlock(&s->mu);
  napi_value cb, arg, resource, result;
  napi_get_reference_value(env, s->on_settled_ref, &cb);
  napi_create_double(env, done, &arg);
  napi_get_global(env, &resource);
  napi_make_callback(env, s->async_ctx, resource, cb, 1, &arg, &result);
  napi_close_handle_scope(env, scope);
}

static void stop_thread(session_t *s) {
  if (!s->thread_started) return;
  pthread_mutex_lock(&s->mu);
  s->stopping = 1;
  pthread_cond_signal(&s->cv);
  pthread_mutex_unlock(&s->mu);
  pthread_join(s->thread, NULL);
  s->thread_started = 0;
  while (s->head) {
    note_t *n = s->head;
    s->head = n->next;
    free(n);
  }
  s->tail = NULL;
}

// ------------------------------------------------------------------ teardown

// Parked reads get EIO (or, when the connection is gone already, are just forgotten).
static void drop_deferred(session_t *s, int reply) {
  while (s->deferred) {
    deferred_t *d = s->deferred;
    s->deferred = d->next;
    if (reply) fuse_reply_err(d->req, EIO);
    free(d);
  }
}

static void release_session(session_t *s) {
  if (--s->owners > 0) return;
  pthread_mutex_destroy(&s->mu);
  pthread_cond_destroy(&s->cv);
  free(s);
}

static void free_session(uv_handle_t *h) {
  session_t *s = h->data;
  napi_env env = s->env;
  napi_delete_reference(env, s->dispatch_ref);
  napi_delete_reference(env, s->on_settled_ref);
  napi_delete_reference(env, s->on_closed_ref);
  napi_delete_reference(env, s->io_ref);
  napi_delete_reference(env, s->rbuf_ref);
  napi_delete_reference(env, s->wbuf_ref);
  napi_async_destroy(env, s->async_ctx);
  release_session(s);
}

static void finalize_external(napi_env env, void *data, void *hint) {
  (void)env;
  (void)hint;
  release_session(data);
}

static void close_async(uv_handle_t *h) {
  session_t *s = h->data;
  uv_close((uv_handle_t *)&s->settled_async, free_session);
}

static void stop_polling(session_t *s) {
  if (!s->polling) return;
  uv_poll_stop(&s->poll);
  s->polling = 0;
}

// The JS environment that serves this session is going away (its worker thread ended or crashed,
// or the process exits) without an unmount: abort what the kernel waits for (closing the connection
// frees a notification blocked in the kernel), detach the mount point, stop our thread and close our
// handles. Nothing here touches JS. The session's small struct is left behind (the env is gone),
// and the handles close without a callback: a worker's loop finishes closing them after this addon
// may already have been unloaded.
static void env_teardown(void *arg) {
  session_t *s = arg;
  if (s->closed) return;
  s->closed = 1;
  drop_deferred(s, 0);
  stop_polling(s);
  fuse_session_unmount(s->se);
  if (s->fd >= 0) close(s->fd);
  s->fd = -1;
  stop_thread(s);
  uv_close((uv_handle_t *)&s->poll, NULL);
  uv_close((uv_handle_t *)&s->settled_async, NULL);
}

// Stops serving and releases the session. `unmount`: also detach the mount point (ours to remove).
// The caller has let the notification queue drain (settle) while still serving: a notification
// blocked in the kernel waits for one of our replies, so joining its thread earlier could deadlock.
static void shutdown_session(session_t *s, int unmount) {
  if (s->closed) return;
  s->closed = 1;
  drop_deferred(s, 1);
  napi_remove_env_cleanup_hook(s->env, env_teardown, s);
  stop_polling(s);
  stop_thread(s);
  if (unmount) fuse_session_unmount(s->se);
  fuse_session_destroy(s->se);  // closes /dev/fuse: the kernel aborts anything still pending
  s->se = NULL;
  release_helper(s);
  free(s->buf.mem);
  s->buf.mem = NULL;
  uv_close((uv_handle_t *)&s->poll, close_async);
}

static void on_closed(session_t *s) {
  if (s->closed) return;
  napi_env env = s->env;
  napi_handle_scope scope;
  napi_open_handle_scope(env, &scope);
  napi_value cb, resource, result;
  napi_get_reference_value(env, s->on_closed_ref, &cb);
  napi_get_global(env, &resource);
  // The kernel ended the connection (unmounted from outside, or aborted): release our side.
  shutdown_session(s, 1);
  napi_make_callback(env, NULL, resource, cb, 0, NULL, &result);
  napi_close_handle_scope(env, scope);
}

// ------------------------------------------------------------------ exported functions

static session_t *unwrap(napi_env env, napi_value v) {
  session_t *s = NULL;
  if (napi_get_value_external(env, v, (void **)&s) != napi_ok || !s) {
    napi_throw_type_error(env, NULL, "not a vws FUSE session");
    return NULL;
  }
  return s;
}

// Reads up to `n` arguments of a call whose first argument is a session; NULL (with a JS error
// pending) when it is not one.
static session_t *session_args(napi_env env, napi_callback_info info, napi_value *argv, size_t n, size_t *argc) {
  *argc = n;
  if (napi_get_cb_info(env, info, argc, argv, NULL, NULL) != napi_ok || *argc < 1) {
    napi_throw_type_error(env, NULL, "a vws FUSE session expected");
    return NULL;
  }
  return unwrap(env, argv[0]);
}


// Releases a session that never started serving (a failed mount).
static void discard_session(napi_env env, session_t *s) {
  napi_ref refs[] = {s->dispatch_ref, s->on_settled_ref, s->on_closed_ref, s->io_ref, s->rbuf_ref, s->wbuf_ref};
  for (size_t i = 0; i < sizeof refs / sizeof refs[0]; i++)
    if (refs[i]) napi_delete_reference(env, refs[i]);
  if (s->async_ctx) napi_async_destroy(env, s->async_ctx);
  if (s->se) fuse_session_destroy(s->se);
  pthread_mutex_destroy(&s->mu);
  pthread_cond_destroy(&s->cv);
  free(s);
}

// mount(dir, options, dispatch, io: Float64Array, rbuf: Buffer, wbuf: Buffer, onSettled, onClosed)
static napi_value js_mount(napi_env env, napi_callback_info info) {
  size_t argc = 8;
  napi_value argv[8];
  NAPI_OK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  if (argc < 8) {
    napi_throw_type_error(env, NULL, "mount: 8 arguments expected");
    return NULL;
  }
  // Everything is checked before anything is allocated.
  napi_typedarray_type tt;
  size_t n, rlen, wlen, off;
  void *io, *rbuf, *wbuf;
  napi_value ab;
  if (napi_get_typedarray_info(env, argv[3], &tt, &n, &io, &ab, &off) != napi_ok || tt != napi_float64_array || n < IO_LEN) {
    napi_throw_type_error(env, NULL, "mount: io must be a Float64Array of 40 or more");
    return NULL;
  }
  if (napi_get_buffer_info(env, argv[4], &rbuf, &rlen) != napi_ok || napi_get_buffer_info(env, argv[5], &wbuf, &wlen) != napi_ok) {
    napi_throw_type_error(env, NULL, "mount: rbuf and wbuf must be Buffers");
    return NULL;
  }
  char path[4096], opts[4096];
  size_t len;
  if (napi_get_value_string_utf8(env, argv[0], path, sizeof path, &len) != napi_ok || len >= sizeof path - 1 ||
      napi_get_value_string_utf8(env, argv[1], opts, sizeof opts, &len) != napi_ok || len >= sizeof opts - 1) {
    napi_throw_type_error(env, NULL, "mount: dir and options must be strings (under 4 KiB)");
    return NULL;
  }

  session_t *s = calloc(1, sizeof *s);
  if (!s) {
    napi_throw_error(env, "ENOMEM", "out of memory");
    return NULL;
  }
  s->env = env;
  s->fd = -1;
  s->helper_fd = -1;
  s->owners = 1;
  pthread_mutex_init(&s->mu, NULL);
  pthread_cond_init(&s->cv, NULL);
  s->io = io;
  s->spin_us = s->io[IO_SPIN_US] > 0 ? (uint64_t)s->io[IO_SPIN_US] : 0;
  s->rbuf = rbuf;
  s->rbuf_len = rlen;
  s->wbuf = wbuf;
  s->wbuf_len = wlen;
  napi_value name;
  napi_create_string_utf8(env, "vws-fuse", NAPI_AUTO_LENGTH, &name);
  if (napi_create_reference(env, argv[2], 1, &s->dispatch_ref) != napi_ok || napi_create_reference(env, argv[3], 1, &s->io_ref) != napi_ok ||
      napi_create_reference(env, argv[4], 1, &s->rbuf_ref) != napi_ok || napi_create_reference(env, argv[5], 1, &s->wbuf_ref) != napi_ok ||
      napi_create_reference(env, argv[6], 1, &s->on_settled_ref) != napi_ok || napi_create_reference(env, argv[7], 1, &s->on_closed_ref) != napi_ok ||
      napi_async_init(env, NULL, name, &s->async_ctx) != napi_ok) {
    discard_session(env, s);
    napi_throw_error(env, "EINVAL", "mount: could not hold on to its arguments");
    return NULL;
  }

  char *args_v[] = {"vws", "-o", opts, NULL};
  struct fuse_args args = FUSE_ARGS_INIT(3, args_v);
  s->se = fuse_session_new(&args, &ll_ops, sizeof ll_ops, s);
  if (!s->se) {
    discard_session(env, s);
    napi_throw_error(env, "EINVAL", "fuse_session_new failed (bad mount options?)");
    return NULL;
  }
  unsigned char fds_before[MAX_TRACKED / 8];
  pid_t helpers_before[64];
  open_fds(fds_before);
  int nhelpers = helper_children(helpers_before, 64);
  if (fuse_session_mount(s->se, path) != 0) {
    int e = errno;
    discard_session(env, s);
    char msg[256];
    snprintf(msg, sizeof msg, "fuse_session_mount failed: %s", strerror(e ? e : EIO));
    napi_throw_error(env, "EMOUNT", msg);
    return NULL;
  }
  // Without its notification thread a mount could not keep the kernel's caches true: refuse it.
  if (pthread_create(&s->thread, NULL, notify_main, s) != 0) {
    fuse_session_unmount(s->se);
    discard_session(env, s);
    napi_throw_error(env, "EAGAIN", "mount: could not start the notification thread");
    return NULL;
  }
  s->thread_started = 1;
  s->fd = fuse_session_fd(s->se);
  find_helper(s, fds_before, helpers_before, nhelpers);
  // Children must not inherit the connection (a dead server's mount would hang them), and reads
  // happen only when the fd is readable.
  fcntl(s->fd, F_SETFD, fcntl(s->fd, F_GETFD) | FD_CLOEXEC);
  fcntl(s->fd, F_SETFL, fcntl(s->fd, F_GETFL) | O_NONBLOCK);

  uv_loop_t *loop;
  napi_get_uv_event_loop(env, &loop);
  uv_poll_init(loop, &s->poll, s->fd);
  s->poll.data = s;
  uv_async_init(loop, &s->settled_async, on_settled);
  s->settled_async.data = s;
  uv_unref((uv_handle_t *)&s->settled_async);
  uv_poll_start(&s->poll, UV_READABLE, on_readable);
  s->polling = 1;

  napi_add_env_cleanup_hook(env, env_teardown, s);
  napi_value ext;
  s->owners = 2;
  NAPI_OK(napi_create_external(env, s, finalize_external, NULL, &ext));
  return ext;
}

// unmount(session, detach: boolean)
static napi_value js_unmount(napi_env env, napi_callback_info info) {
  size_t argc;
  napi_value argv[2];
  session_t *s = session_args(env, info, argv, 2, &argc);
  if (!s) return NULL;
  bool detach = true;
  if (argc > 1) napi_get_value_bool(env, argv[1], &detach);
  shutdown_session(s, detach);
  return NULL;
}

// detachNow(session): the process or thread is exiting. Stop serving, close the connection (the
// kernel fails whatever is pending, which also frees a blocked notification) and detach the mount
// point; our handles are closed so that a worker thread's loop can end. No free: we are going away.
static napi_value js_detach_now(napi_env env, napi_callback_info info) {
  size_t argc;
  napi_value argv[1];
  session_t *s = session_args(env, info, argv, 1, &argc);
  if (!s || s->closed) return NULL;
  napi_remove_env_cleanup_hook(env, env_teardown, s);
  env_teardown(s);
  return NULL;
}

static int enqueue(session_t *s, int entry, uint64_t ino, const char *name, size_t namelen) {
  note_t *n = malloc(sizeof *n + namelen + 1);
  if (!n) return -1;
  n->next = NULL;
  n->entry = entry;
  n->ino = ino;
  n->namelen = namelen;
  if (namelen) memcpy(n->name, name, namelen);
  n->name[namelen] = 0;
  if (s->tail) s->tail->next = n;
  else s->head = n;
  s->tail = n;
  s->queued++;
  return 0;
}

// invalidate(session, inodes: number[], entries: Array<[parent, name]>) -> sequence number to settle at
static napi_value js_invalidate(napi_env env, napi_callback_info info) {
  size_t argc;
  napi_value argv[3];
  session_t *s = session_args(env, info, argv, 3, &argc);
  if (!s) return NULL;
  if (argc < 3) {
    napi_throw_type_error(env, NULL, "invalidate: inodes and entries expected");
    return NULL;
  }
  napi_value out;
  if (s->closed || !s->thread_started) {
    napi_create_double(env, -1, &out);
    return out;
  }
  uint32_t ni = 0, ne = 0;
  NAPI_OK(napi_get_array_length(env, argv[1], &ni));
  NAPI_OK(napi_get_array_length(env, argv[2], &ne));
  pthread_mutex_lock(&s->mu);
  // Entries first: a dentry dropped before its parent's attributes are refreshed.
  for (uint32_t i = 0; i < ne; i++) {
    napi_value pair, p, nm;
    napi_get_element(env, argv[2], i, &pair);
    napi_get_element(env, pair, 0, &p);
    napi_get_element(env, pair, 1, &nm);
    double parent = 0;
    napi_get_value_double(env, p, &parent);
    size_t len = 0;
    char *name = name_bytes(env, nm, &len);
    if (!name) continue;
    if (len < 1024) enqueue(s, 1, (uint64_t)parent, name, len);
    free(name);
  }
  for (uint32_t i = 0; i < ni; i++) {
    napi_value v;
    double ino = 0;
    napi_get_element(env, argv[1], i, &v);
    napi_get_value_double(env, v, &ino);
    enqueue(s, 0, (uint64_t)ino, NULL, 0);
  }
  double seq = (double)s->queued;
  pthread_cond_signal(&s->cv);
  pthread_mutex_unlock(&s->mu);
  napi_create_double(env, seq, &out);
  return out;
}

// settled(session) -> the number of notifications delivered so far
static napi_value js_settled(napi_env env, napi_callback_info info) {
  size_t argc;
  napi_value argv[1];
  session_t *s = session_args(env, info, argv, 1, &argc);
  if (!s) return NULL;
  pthread_mutex_lock(&s->mu);
  double done = (double)s->done;
  pthread_mutex_unlock(&s->mu);
  napi_value out;
  napi_create_double(env, done, &out);
  return out;
}

// replyDeferred(session, id, result, data?) answers a parked request: a read with `result` bytes of
// data, a write with `result` bytes written, a setattr with the attributes in io, a fallocate with
// success; any of them with a negative errno. False when nothing waits
// under that id (answered already, or the session is gone).
static napi_value js_reply_deferred(napi_env env, napi_callback_info info) {
  size_t argc;
  napi_value argv[4], out;
  session_t *s = session_args(env, info, argv, 4, &argc);
  if (!s) return NULL;
  double id = 0, r = -EIO;
  if (argc < 3 || napi_get_value_double(env, argv[1], &id) != napi_ok || napi_get_value_double(env, argv[2], &r) != napi_ok) {
    napi_throw_type_error(env, NULL, "replyDeferred: (session, id, result, data?) expected");
    return NULL;
  }
  deferred_t **p = &s->deferred;
  while (*p && (*p)->id != id) p = &(*p)->next;
  deferred_t *d = *p;
  void *data = NULL;
  size_t len = 0;
  if (d && r >= 0 && d->kind == DEFER_BUF && (argc < 4 || napi_get_buffer_info(env, argv[3], &data, &len) != napi_ok)) {
    napi_throw_type_error(env, NULL, "replyDeferred: a read's data must be a Buffer");
    return NULL;
  }
  if (d) {
    *p = d->next;
    if (d->kind == DEFER_ATTR) reply_attr(d->req, s, r);
    else if (r < 0 || d->kind == DEFER_ERR) reply_err(d->req, r);
    else if (d->kind == DEFER_WRITE) fuse_reply_write(d->req, (size_t)r);
    else fuse_reply_buf(d->req, data, (size_t)r < len ? (size_t)r : len);
    free(d);
  }
  napi_get_boolean(env, d != NULL, &out);
  return out;
}

// threadId(): the calling thread's kernel id (the serving thread tells the host its own).
static napi_value js_thread_id(napi_env env, napi_callback_info info) {
  (void)info;
  napi_value out;
  napi_create_int32(env, (int32_t)syscall(SYS_gettid), &out);
  return out;
}

// keepNear(tid, near): with `near`, thread `tid` of this process may run only on the CPU the caller
// runs on now; without, wherever the caller may. Returns 0, or -errno.
//
// Why: a synchronous call to the serving thread wakes it. On a VM, waking a thread whose virtual CPU
// has gone idle costs a few hundred microseconds (the hypervisor must run that vCPU again). Woken on
// the caller's CPU, which the caller is about to give up while it waits, it starts in microseconds.
static napi_value js_keep_near(napi_env env, napi_callback_info info) {
  size_t argc = 2;
  napi_value argv[2], out;
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  int32_t tid = 0;
  bool near = false;
  if (argc < 2 || napi_get_value_int32(env, argv[0], &tid) != napi_ok || napi_get_value_bool(env, argv[1], &near) != napi_ok || tid <= 0) {
    napi_throw_type_error(env, NULL, "keepNear: (tid, near) expected");
    return NULL;
  }
  cpu_set_t set;
  int cpu = -1;
  if (near) {
    cpu = sched_getcpu();
    if (cpu < 0) cpu = -1;
    CPU_ZERO(&set);
    if (cpu >= 0) CPU_SET(cpu, &set);
  }
  if (!near || cpu < 0) {
    if (sched_getaffinity(0, sizeof set, &set) != 0) {
      napi_create_int32(env, -errno, &out);
      return out;
    }
  }
  int r = sched_setaffinity((pid_t)tid, sizeof set, &set);
  napi_create_int32(env, r == 0 ? 0 : -errno, &out);
  return out;
}

static napi_value init(napi_env env, napi_value exports) {
  napi_property_descriptor props[] = {
    {"mount", NULL, js_mount, NULL, NULL, NULL, napi_default, NULL},
    {"unmount", NULL, js_unmount, NULL, NULL, NULL, napi_default, NULL},
    {"detachNow", NULL, js_detach_now, NULL, NULL, NULL, napi_default, NULL},
    {"invalidate", NULL, js_invalidate, NULL, NULL, NULL, napi_default, NULL},
    {"settled", NULL, js_settled, NULL, NULL, NULL, napi_default, NULL},
    {"replyDeferred", NULL, js_reply_deferred, NULL, NULL, NULL, napi_default, NULL},
    {"threadId", NULL, js_thread_id, NULL, NULL, NULL, napi_default, NULL},
    {"keepNear", NULL, js_keep_near, NULL, NULL, NULL, napi_default, NULL},
  };
  napi_define_properties(env, exports, sizeof props / sizeof props[0], props);
  return exports;
}

NAPI_MODULE(NODE_GYP_MODULE_NAME, init)
