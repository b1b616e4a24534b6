// vws-fsx: a file-system exerciser in the manner of xfstests' fsx, written for this project (xfstests
// is not packaged for Debian 12 and nothing else can be fetched here). One file, a seeded random mix
// of operations, every byte checked against a model held in memory:
//   read, write (also past the end), mmap read, mmap write, truncate (down and up),
//   fallocate mode 0, FALLOC_FL_KEEP_SIZE, FALLOC_FL_PUNCH_HOLE|KEEP_SIZE, FALLOC_FL_ZERO_RANGE
//   (with and without KEEP_SIZE), fsync, close and reopen.
// Usage: vws-fsx [-N ops] [-S seed] [-l maxlen] [-M (no mmap)] [-F (no fallocate)] FILE
// Exit 0 and a summary line when every check held; exit 1 with the last operations when one did not.
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <linux/falloc.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

enum { OP_READ, OP_WRITE, OP_MAPREAD, OP_MAPWRITE, OP_TRUNCATE, OP_FALLOC, OP_KEEP, OP_PUNCH, OP_ZERO, OP_ZERO_KEEP, OP_FSYNC, OP_REOPEN, OP_COUNT };
static const char *NAMES[] = {"read", "write", "mapread", "mapwrite", "truncate", "fallocate", "falloc-keep-size", "punch-hole", "zero-range", "zero-range-keep-size", "fsync", "reopen"};

static const char *path;
static int fd = -1;
static unsigned char *model, *buf;
static uint64_t size, maxlen = 256 * 1024;
static uint64_t state;
static long pagesize;

// The last operations, printed when a check fails.
#define LOG 32
static struct { long n; int op; uint64_t off, len, size_after; } oplog[LOG];
static long opno;

static uint64_t rnd(void) {  // xorshift64*: the same seed gives the same run
  state ^= state >> 12;
  state ^= state << 25;
  state ^= state >> 27;
  return state * 2685821657736338717ULL;
}

static void record(int op, uint64_t off, uint64_t len) {
  oplog[opno % LOG].n = opno;
  oplog[opno % LOG].op = op;
  oplog[opno % LOG].off = off;
  oplog[opno % LOG].len = len;
  oplog[opno % LOG].size_after = size;
}

static void fail(const char *what) {
  fprintf(stderr, "vws-fsx: %s (operation %ld, errno %d: %s)\nlast operations:\n", what, opno, errno, strerror(errno));
  for (long i = opno - LOG + 1; i <= opno; i++) {
    if (i < 0) continue;
    int k = i % LOG;
    fprintf(stderr, "  %6ld %-20s off %8" PRIu64 " len %8" PRIu64 " size after %8" PRIu64 "\n", oplog[k].n, NAMES[oplog[k].op], oplog[k].off, oplog[k].len, oplog[k].size_after);
  }
  exit(1);
}

static void check_range(const unsigned char *got, uint64_t off, uint64_t len, const char *how) {
  for (uint64_t i = 0; i < len; i++) {
    if (got[i] != model[off + i]) {
      char msg[160];
      snprintf(msg, sizeof msg, "%s: byte %" PRIu64 " is 0x%02x, expected 0x%02x", how, off + i, got[i], model[off + i]);
      errno = 0;
      fail(msg);
    }
  }
}

static void check_size(void) {
  struct stat st;
  if (fstat(fd, &st) != 0) fail("fstat");
  if ((uint64_t)st.st_size != size) {
    char msg[120];
    snprintf(msg, sizeof msg, "size is %lld, expected %" PRIu64, (long long)st.st_size, size);
    errno = 0;
    fail(msg);
  }
}

static void set_size(uint64_t n) {
  if (n > size) memset(model + size, 0, n - size);
  size = n;
}

static void do_read(uint64_t off, uint64_t len) {
  ssize_t n = pread(fd, buf, len, off);
  if (n < 0) fail("pread");
  uint64_t want = off >= size ? 0 : (off + len > size ? size - off : len);
  if ((uint64_t)n != want) {
    errno = 0;
    fail("short read");
  }
  check_range(buf, off, want, "read");
}

static void do_write(uint64_t off, uint64_t len) {
  for (uint64_t i = 0; i < len; i++) buf[i] = (unsigned char)(rnd() >> 56) | 1;  // never zero: holes show
  if (pwrite(fd, buf, len, off) != (ssize_t)len) fail("pwrite");
  if (off + len > size) set_size(off + len);
  memcpy(model + off, buf, len);
}

static void do_mapread(uint64_t off, uint64_t len) {
  if (off >= size) return;
  if (off + len > size) len = size - off;
  uint64_t start = off - off % pagesize;
  unsigned char *p = mmap(NULL, off + len - start, PROT_READ, MAP_SHARED, fd, start);
  if (p == MAP_FAILED) fail("mmap read");
  check_range(p + (off - start), off, len, "mapread");
  munmap(p, off + len - start);
}

static void do_mapwrite(uint64_t off, uint64_t len) {
  if (off + len > size) {
    if (ftruncate(fd, off + len) != 0) fail("ftruncate before mapwrite");
    set_size(off + len);
  }
  uint64_t start = off - off % pagesize;
  unsigned char *p = mmap(NULL, off + len - start, PROT_READ | PROT_WRITE, MAP_SHARED, fd, start);
  if (p == MAP_FAILED) fail("mmap write");
  for (uint64_t i = 0; i < len; i++) model[off + i] = p[off - start + i] = (unsigned char)(rnd() >> 56) | 1;
  if (msync(p, off + len - start, MS_SYNC) != 0) fail("msync");
  munmap(p, off + len - start);
}

static void do_fallocate(int op, uint64_t off, uint64_t len) {
  int mode = op == OP_FALLOC ? 0 : op == OP_KEEP ? FALLOC_FL_KEEP_SIZE : op == OP_PUNCH ? FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE : op == OP_ZERO ? FALLOC_FL_ZERO_RANGE : FALLOC_FL_ZERO_RANGE | FALLOC_FL_KEEP_SIZE;
  if (fallocate(fd, mode, off, len) != 0) fail(NAMES[op]);
  if (op == OP_PUNCH || op == OP_ZERO || op == OP_ZERO_KEEP) {
    uint64_t end = off + len < size ? off + len : size;
    if (end > off) memset(model + off, 0, end - off);
  }
  if ((op == OP_FALLOC || op == OP_ZERO) && off + len > size) set_size(off + len);
}

static void reopen(void) {
  if (fd >= 0 && close(fd) != 0) fail("close");
  fd = open(path, O_RDWR);
  if (fd < 0) fail("open");
}

int main(int argc, char **argv) {
  long ops = 10000;
  uint64_t seed = 1;
  int use_mmap = 1, use_falloc = 1, c;
  while ((c = getopt(argc, argv, "N:S:l:MF")) != -1) {
    if (c == 'N') ops = atol(optarg);
    else if (c == 'S') seed = strtoull(optarg, NULL, 10);
    else if (c == 'l') maxlen = strtoull(optarg, NULL, 10);
    else if (c == 'M') use_mmap = 0;
    else if (c == 'F') use_falloc = 0;
    else return 2;
  }
  if (optind != argc - 1 || maxlen < 4096) {
    fprintf(stderr, "usage: vws-fsx [-N ops] [-S seed] [-l maxlen>=4096] [-M] [-F] FILE\n");
    return 2;
  }
  path = argv[optind];
  state = seed * 0x9E3779B97F4A7C15ULL + 1;
  pagesize = sysconf(_SC_PAGESIZE);
  model = calloc(maxlen, 1);
  buf = malloc(maxlen);
  fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0644);
  if (!model || !buf || fd < 0) fail("setup");
  long counts[OP_COUNT] = {0};
  for (opno = 0; opno < ops; opno++) {
    int op = rnd() % OP_COUNT;
    if (!use_mmap && (op == OP_MAPREAD || op == OP_MAPWRITE)) op = OP_READ;
    if (!use_falloc && op >= OP_FALLOC && op <= OP_ZERO_KEEP) op = OP_WRITE;
    // Ranges: mostly small, sometimes large, sometimes page-aligned, always inside maxlen.
    uint64_t off = rnd() % maxlen;
    uint64_t len = (rnd() % 4 == 0 ? rnd() % (maxlen / 4) : rnd() % 9000) + 1;
    if (rnd() % 3 == 0) off -= off % 4096;
    if (off + len > maxlen) len = maxlen - off;
    if (len == 0) len = 1, off = maxlen - 1;
    switch (op) {
      case OP_READ: do_read(off, len); break;
      case OP_WRITE: do_write(off, len); break;
      case OP_MAPREAD: do_mapread(off, len); break;
      case OP_MAPWRITE: do_mapwrite(off, len); break;
      case OP_TRUNCATE: {
        uint64_t n = rnd() % maxlen;
        if (ftruncate(fd, n) != 0) fail("ftruncate");
        if (n < size) size = n;
        else set_size(n);
        off = n, len = 0;
        break;
      }
      case OP_FSYNC: if (fsync(fd) != 0) fail("fsync"); break;
      case OP_REOPEN: reopen(); break;
      default: do_fallocate(op, off, len);
    }
    counts[op]++;
    record(op, off, len);
    check_size();
    // Now and then the whole file, through a fresh descriptor.
    if (opno % 500 == 499) {
      reopen();
      do_read(0, maxlen);
    }
  }
  reopen();
  do_read(0, maxlen);
  check_size();
  printf("vws-fsx: %ld operations, seed %" PRIu64 ", max length %" PRIu64 ": all checks held (", ops, seed, maxlen);
  for (int i = 0; i < OP_COUNT; i++) printf("%s%s %ld", i ? ", " : "", NAMES[i], counts[i]);
  printf(")\n");
  return 0;
}
