/*
 * umbra-lab: the Umbra lab guest's service. One static binary, two modes:
 *
 *   umbra-lab [--port N] [--data DIR] [--primary]
 *                                       the HTTP service (port 80, data in /data)
 *   umbra-lab --hotplug                 brings hot-added CPUs and memory online
 *
 * HTTP API (HTTP/1.1, one request per connection, answers are JSON unless noted):
 *   GET  /health                 200 {"status":"ok","role":...} when ready
 *   POST /append                 body = one line (<= 4096 bytes, no CR/LF/NUL inside; one
 *                                trailing "\n" or "\r\n" is dropped); appended to DIR/log and
 *                                answered 200 {"seq":N} only after fsync. N is the line's
 *                                1-based index in the log: numbered exactly once, in log order.
 *   GET  /log                    every line (text/plain)
 *   GET  /load?cpu=PCT&seconds=S burns about PCT % of one core (several threads above 100)
 *                                for S seconds, in the background; a new /load replaces the
 *                                running one (cpu=0 stops it). See burn_main for how.
 *   POST /fault?mode=M           M = 5xx (every other endpoint answers 500), hang (nothing is
 *                                answered any more), panic (the kernel panics), none (clear)
 *   POST /admin/promote?dev=vdb  warm-shadow promotion: flush the device's buffers, mount it
 *                                on DIR, serve its log. Needs "Authorization: Bearer TOKEN"
 *                                with the kernel argument umbra.token=TOKEN.
 *
 * The role is "primary" when DIR is a mount point at start (or --primary, or after promotion), else
 * "standby" (appends answer 503). Threads: one per connection (a slow client blocks only
 * itself); appends are serialized by one mutex, so the sequence number of a line is assigned
 * after its fsync succeeded and is the line count at that moment.
 *
 * Journal checkpoints: every fsync'ed append is an ext4 journal transaction, and a shadow that
 * mounts a crash-consistent copy of the disk (a warm promotion, a cold boot) replays every
 * transaction since the journal's last checkpoint before it can serve: about 0.2 s more per 600
 * appends under TCG. So once a second, when lines were appended, the primary checkpoints the
 * journal (EXT4_IOC_CHECKPOINT: the journaled blocks are written home and the journal emptied),
 * which bounds the replay to about a second of appends.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <dirent.h>
#include <linux/fs.h>
#include <linux/netlink.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/sysinfo.h>
#include <time.h>
#include <unistd.h>

#define MAX_LINE 4096
#define MAX_HEADER 8192
#define MAX_CONNS 256
#define IO_TIMEOUT_S 15

enum { FAULT_NONE = 0, FAULT_5XX = 1, FAULT_HANG = 2 };

static const char *data_dir = "/data";
static char token[256];

/* The log: every field below is guarded by log_mu. */
static pthread_mutex_t log_mu = PTHREAD_MUTEX_INITIALIZER;
static int log_fd = -1;   /* -1 while standby */
static atomic_long appended_unchecked; /* appends since the last journal checkpoint (see the header) */
static off_t log_size;    /* bytes of complete, durable lines */
static long log_seq;      /* number of complete, durable lines */

static atomic_int fault_mode;
static atomic_long load_generation;

/* Connection gate: at most MAX_CONNS live connection threads; hung threads wait here forever. */
static pthread_mutex_t gate_mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t gate_cv = PTHREAD_COND_INITIALIZER;
static int live_conns;

static void say(const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  vfprintf(stdout, fmt, ap);
  va_end(ap);
  fputc('\n', stdout);
  fflush(stdout);
}

static double mono_s(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int write_all(int fd, const char *p, size_t n) {
  while (n > 0) {
    ssize_t w = write(fd, p, n);
    if (w < 0) {
      if (errno == EINTR) continue;
      return -1;
    }
    p += w;
    n -= (size_t)w;
  }
  return 0;
}

/* ---------------------------------------------------------------- the log */

/* Opens DIR/log, drops a torn last line (never acknowledged: its fsync did not return), counts
 * the lines. Caller holds log_mu. Returns 0 or -errno. */
static int open_log(void) {
  char path[512];
  snprintf(path, sizeof path, "%s/log", data_dir);
  int fd = open(path, O_RDWR | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
  if (fd < 0) return -errno;
  char buf[65536];
  off_t off = 0, last_nl_end = 0;
  long lines = 0;
  for (;;) {
    ssize_t r = pread(fd, buf, sizeof buf, off);
    if (r < 0) {
      if (errno == EINTR) continue;
      int e = errno;
      close(fd);
      return -e;
    }
    if (r == 0) break;
    for (ssize_t i = 0; i < r; i++)
      if (buf[i] == '\n') {
        lines++;
        last_nl_end = off + i + 1;
      }
    off += r;
  }
  if (off != last_nl_end) {
    say("umbra-lab: dropping a torn last line (%ld bytes)", (long)(off - last_nl_end));
    if (ftruncate(fd, last_nl_end) != 0) {
      int e = errno;
      close(fd);
      return -e;
    }
  }
  if (fsync(fd) != 0) {
    int e = errno;
    close(fd);
    return -e;
  }
  /* The file's directory entry must be durable too (first boot creates it). */
  int dfd = open(data_dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dfd >= 0) {
    fsync(dfd);
    close(dfd);
  }
  log_fd = fd;
  log_size = last_nl_end;
  log_seq = lines;
  return 0;
}

/* Appends one line and makes it durable. Returns its sequence number, or -errno (the log is
 * then rolled back to its previous length, so numbering stays exact). */
static long append_line(const char *line, size_t len) {
  long result;
  pthread_mutex_lock(&log_mu);
  if (log_fd < 0) {
    pthread_mutex_unlock(&log_mu);
    return -ENODEV;
  }
  char *rec = malloc(len + 1);
  if (!rec) {
    pthread_mutex_unlock(&log_mu);
    return -ENOMEM;
  }
  memcpy(rec, line, len);
  rec[len] = '\n';
  if (write_all(log_fd, rec, len + 1) != 0 || fsync(log_fd) != 0) {
    result = -errno;
    if (ftruncate(log_fd, log_size) == 0) fsync(log_fd);
  } else {
    log_size += (off_t)len + 1;
    result = ++log_seq;
    atomic_fetch_add(&appended_unchecked, 1);
  }
  pthread_mutex_unlock(&log_mu);
  free(rec);
  return result;
}

static int is_mount_point(const char *dir) {
  struct stat a, b;
  char parent[512];
  snprintf(parent, sizeof parent, "%s/..", dir);
  if (stat(dir, &a) != 0 || stat(parent, &b) != 0) return 0;
  return a.st_dev != b.st_dev;
}

/* ---------------------------------------------------------------- CPU load */

/*
 * The load is a duty cycle on the guest's monotonic clock: in every 100 ms period, spin until
 * PCT % of the period has passed, then sleep to the period's end. Under TCG guest time follows
 * host time, so on a host with a free core the QEMU process burns PCT % of a core (plus its own
 * few % of overhead), which is what the host-side sampler measures. On a host that is already
 * saturated the vCPU thread gets less than asked, and no guest-side scheme can change that.
 * (A fixed amount of work per period sized from a calibration was tried: one optimistic timing
 * overshot to ~80 % on a quiet host.)
 */
struct burn {
  long generation;
  int pct; /* of one core, 1..100 */
  double seconds;
};

static void *burn_main(void *arg) {
  struct burn b = *(struct burn *)arg;
  free(arg);
  const double period = 0.1;
  const double busy = period * b.pct / 100.0;
  int periods = (int)(b.seconds / period + 0.5);
  double start = mono_s();
  for (int k = 0; k < periods; k++) {
    double p0 = start + k * period;
    while (mono_s() < p0 + busy) {
      for (volatile int i = 0; i < 20000; i++) {
      }
      if (atomic_load(&load_generation) != b.generation) return NULL;
    }
    double rest = p0 + period - mono_s();
    if (rest > 0) {
      struct timespec ts = {(time_t)rest, (long)((rest - (time_t)rest) * 1e9)};
      nanosleep(&ts, NULL);
    }
  }
  return NULL;
}

/* Starts `cpu` % of one core for `seconds` (replacing any running load). Returns the threads. */
static int start_load(int cpu, double seconds) {
  long gen = atomic_fetch_add(&load_generation, 1) + 1;
  if (cpu <= 0) return 0;
  int workers = (cpu + 99) / 100;
  pthread_attr_t attr;
  pthread_attr_init(&attr);
  pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
  pthread_attr_setstacksize(&attr, 64 * 1024);
  int started = 0;
  for (int i = 0; i < workers; i++) {
    struct burn *b = malloc(sizeof *b);
    if (!b) break;
    b->generation = gen;
    b->pct = cpu / workers + (i < cpu % workers ? 1 : 0);
    b->seconds = seconds;
    pthread_t t;
    if (pthread_create(&t, &attr, burn_main, b) != 0) {
      free(b);
      break;
    }
    started++;
  }
  pthread_attr_destroy(&attr);
  return started;
}

/* ---------------------------------------------------------------- HTTP */

struct request {
  char method[8];
  char path[1024];
  char query[1024];
  long content_length; /* -1 when absent */
  int expect_continue;
  int chunked;
  char auth[300];
  char *body;
  size_t body_len;
};

static const char *reason(int code) {
  switch (code) {
    case 100: return "Continue";
    case 200: return "OK";
    case 400: return "Bad Request";
    case 401: return "Unauthorized";
    case 403: return "Forbidden";
    case 404: return "Not Found";
    case 405: return "Method Not Allowed";
    case 409: return "Conflict";
    case 411: return "Length Required";
    case 413: return "Payload Too Large";
    case 431: return "Request Header Fields Too Large";
    case 500: return "Internal Server Error";
    case 503: return "Service Unavailable";
    default: return "Status";
  }
}

static void respond(int fd, int code, const char *ctype, const char *body, size_t len) {
  char head[256];
  int h = snprintf(head, sizeof head,
                   "HTTP/1.1 %d %s\r\nContent-Type: %s\r\nContent-Length: %zu\r\nConnection: close\r\n\r\n",
                   code, reason(code), ctype, len);
  /* One write for small answers: no Nagle/delayed-ACK stall between header and body. */
  if (len <= 4096) {
    char out[256 + 4096];
    memcpy(out, head, (size_t)h);
    memcpy(out + h, body, len);
    write_all(fd, out, (size_t)h + len);
  } else {
    write_all(fd, head, (size_t)h);
    write_all(fd, body, len);
  }
}

static void respond_json(int fd, int code, const char *fmt, ...) {
  char body[1024];
  va_list ap;
  va_start(ap, fmt);
  int n = vsnprintf(body, sizeof body - 1, fmt, ap);
  va_end(ap);
  if (n < 0) n = 0;
  if (n > (int)sizeof body - 2) n = (int)sizeof body - 2;
  body[n++] = '\n';
  respond(fd, code, "application/json", body, (size_t)n);
}

static void respond_error(int fd, int code, const char *msg) {
  respond_json(fd, code, "{\"error\":\"%s\"}", msg);
}

/* The value of query parameter `name` (no percent-decoding: values are numbers and words). */
static int query_param(const char *q, const char *name, char *out, size_t n) {
  size_t nl = strlen(name);
  const char *p = q;
  while (p && *p) {
    const char *amp = strchr(p, '&');
    size_t seg = amp ? (size_t)(amp - p) : strlen(p);
    if (seg > nl && strncmp(p, name, nl) == 0 && p[nl] == '=') {
      size_t vl = seg - nl - 1;
      if (vl >= n) return 0;
      memcpy(out, p + nl + 1, vl);
      out[vl] = 0;
      return 1;
    }
    p = amp ? amp + 1 : NULL;
  }
  return 0;
}

static char *find_crlf2(char *buf, size_t len) {
  for (size_t i = 0; i + 3 < len; i++)
    if (buf[i] == '\r' && buf[i + 1] == '\n' && buf[i + 2] == '\r' && buf[i + 3] == '\n') return buf + i;
  return NULL;
}

/* Reads and parses one request. Returns 0, or an HTTP status to answer with. */
static int read_request(int fd, char *buf, size_t cap, struct request *rq) {
  size_t len = 0;
  char *end = NULL;
  while (!end) {
    if (len >= MAX_HEADER) return 431;
    ssize_t r = read(fd, buf + len, MAX_HEADER - len);
    if (r < 0 && errno == EINTR) continue;
    if (r <= 0) return -1;
    len += (size_t)r;
    end = find_crlf2(buf, len);
  }
  *end = 0;
  char *body_start = end + 4;
  size_t have = len - (size_t)(body_start - buf);

  char *line_end = strstr(buf, "\r\n");
  if (line_end) *line_end = 0;
  char target[1024];
  if (sscanf(buf, "%7s %1023s", rq->method, target) != 2) return 400;
  char *q = strchr(target, '?');
  if (q) {
    *q = 0;
    snprintf(rq->query, sizeof rq->query, "%s", q + 1);
  }
  snprintf(rq->path, sizeof rq->path, "%s", target);

  rq->content_length = -1;
  for (char *h = line_end ? line_end + 2 : NULL; h && *h;) {
    char *next = strstr(h, "\r\n");
    if (next) *next = 0;
    char *colon = strchr(h, ':');
    if (colon) {
      *colon = 0;
      char *v = colon + 1;
      while (*v == ' ' || *v == '\t') v++;
      if (strcasecmp(h, "Content-Length") == 0) rq->content_length = strtol(v, NULL, 10);
      else if (strcasecmp(h, "Expect") == 0 && strcasecmp(v, "100-continue") == 0) rq->expect_continue = 1;
      else if (strcasecmp(h, "Transfer-Encoding") == 0) rq->chunked = 1;
      else if (strcasecmp(h, "Authorization") == 0) snprintf(rq->auth, sizeof rq->auth, "%s", v);
    }
    h = next ? next + 2 : NULL;
  }
  if (rq->chunked) return 411;
  if (rq->content_length < 0) rq->content_length = 0;
  if ((size_t)rq->content_length > cap) return 413;

  if (rq->expect_continue && have < (size_t)rq->content_length) {
    const char cont[] = "HTTP/1.1 100 Continue\r\n\r\n";
    write_all(fd, cont, sizeof cont - 1);
  }
  rq->body = malloc((size_t)rq->content_length + 1);
  if (!rq->body) return 500;
  size_t got = have < (size_t)rq->content_length ? have : (size_t)rq->content_length;
  memcpy(rq->body, body_start, got);
  while (got < (size_t)rq->content_length) {
    ssize_t r = read(fd, rq->body + got, (size_t)rq->content_length - got);
    if (r < 0 && errno == EINTR) continue;
    if (r <= 0) return -1;
    got += (size_t)r;
  }
  rq->body[got] = 0;
  rq->body_len = got;
  return 0;
}

static void handle_health(int fd) {
  struct sysinfo si;
  sysinfo(&si);
  pthread_mutex_lock(&log_mu);
  int primary = log_fd >= 0;
  long seq = log_seq;
  pthread_mutex_unlock(&log_mu);
  respond_json(fd, 200,
               "{\"status\":\"ok\",\"role\":\"%s\",\"seq\":%ld,\"cpus\":%ld,\"mem_kib\":%llu,\"uptime_s\":%ld}",
               primary ? "primary" : "standby", seq, sysconf(_SC_NPROCESSORS_ONLN),
               (unsigned long long)si.totalram * si.mem_unit / 1024, si.uptime);
}

static void handle_append(int fd, struct request *rq) {
  size_t len = rq->body_len;
  if (len > 0 && rq->body[len - 1] == '\n') len--;
  if (len > 0 && rq->body[len - 1] == '\r') len--;
  if (len == 0) return respond_error(fd, 400, "empty line");
  if (len > MAX_LINE) return respond_error(fd, 413, "line longer than 4096 bytes");
  if (memchr(rq->body, '\n', len) || memchr(rq->body, '\r', len) || memchr(rq->body, 0, len))
    return respond_error(fd, 400, "one line only (no CR, LF or NUL inside)");
  long seq = append_line(rq->body, len);
  if (seq == -ENODEV) return respond_error(fd, 503, "standby: no data disk");
  if (seq < 0) {
    say("umbra-lab: append failed: %s", strerror((int)-seq));
    return respond_error(fd, 500, "append failed");
  }
  respond_json(fd, 200, "{\"seq\":%ld}", seq);
}

static void handle_log(int fd) {
  pthread_mutex_lock(&log_mu);
  int lfd = log_fd >= 0 ? dup(log_fd) : -1;
  off_t size = log_size;
  pthread_mutex_unlock(&log_mu);
  if (lfd < 0) return respond_error(fd, 503, "standby: no data disk");
  char head[200];
  int h = snprintf(head, sizeof head,
                   "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: %lld\r\nConnection: close\r\n\r\n",
                   (long long)size);
  write_all(fd, head, (size_t)h);
  /* Bytes below the committed size never change (the log only grows; rollbacks cut above it). */
  char buf[65536];
  for (off_t off = 0; off < size;) {
    size_t want = (size_t)(size - off) < sizeof buf ? (size_t)(size - off) : sizeof buf;
    ssize_t r = pread(lfd, buf, want, off);
    if (r <= 0) break;
    if (write_all(fd, buf, (size_t)r) != 0) break;
    off += r;
  }
  close(lfd);
}

static void handle_load(int fd, struct request *rq) {
  char v[32];
  int cpu = -1;
  double seconds = -1;
  if (query_param(rq->query, "cpu", v, sizeof v)) cpu = atoi(v);
  if (query_param(rq->query, "seconds", v, sizeof v)) seconds = strtod(v, NULL);
  if (cpu < 0 || cpu > 6400) return respond_error(fd, 400, "cpu must be 0..6400 (percent of one core)");
  if (cpu > 0 && !(seconds > 0 && seconds <= 86400)) return respond_error(fd, 400, "seconds must be in (0, 86400]");
  int workers = start_load(cpu, seconds > 0 ? seconds : 0);
  respond_json(fd, 200, "{\"cpu\":%d,\"seconds\":%g,\"workers\":%d}", cpu, cpu > 0 ? seconds : 0, workers);
}

static void handle_fault(int fd, struct request *rq) {
  char mode[16];
  if (!query_param(rq->query, "mode", mode, sizeof mode)) return respond_error(fd, 400, "mode=5xx|hang|panic|none");
  if (strcmp(mode, "panic") == 0) {
    respond_json(fd, 200, "{\"mode\":\"panic\"}");
    shutdown(fd, SHUT_WR);
    say("umbra-lab: fault injected: kernel panic");
    struct timespec ts = {0, 100 * 1000 * 1000};
    nanosleep(&ts, NULL);
    int s = open("/proc/sysrq-trigger", O_WRONLY);
    if (s < 0 || write_all(s, "c", 1) != 0) say("umbra-lab: sysrq-trigger: %s", strerror(errno));
    return;
  }
  int m = strcmp(mode, "5xx") == 0 ? FAULT_5XX : strcmp(mode, "hang") == 0 ? FAULT_HANG : strcmp(mode, "none") == 0 ? FAULT_NONE : -1;
  if (m < 0) return respond_error(fd, 400, "mode=5xx|hang|panic|none");
  /* Set before answering: a request sent after this answer already sees the new mode. */
  pthread_mutex_lock(&gate_mu);
  atomic_store(&fault_mode, m);
  pthread_cond_broadcast(&gate_cv);
  pthread_mutex_unlock(&gate_mu);
  say("umbra-lab: fault mode %s", mode);
  respond_json(fd, 200, "{\"mode\":\"%s\"}", mode);
}

static int token_ok(const char *auth) {
  if (!token[0] || strncmp(auth, "Bearer ", 7) != 0) return 0;
  const char *given = auth + 7;
  size_t a = strlen(given), b = strlen(token);
  unsigned diff = (unsigned)(a ^ b);
  for (size_t i = 0; i < b; i++) diff |= (unsigned char)token[i] ^ (unsigned char)(i < a ? given[i] : 0);
  return diff == 0;
}

static void handle_promote(int fd, struct request *rq) {
  if (!token[0]) return respond_error(fd, 403, "no admin token configured (kernel argument umbra.token)");
  if (!token_ok(rq->auth)) return respond_error(fd, 401, "bad token");
  char dev[32];
  if (!query_param(rq->query, "dev", dev, sizeof dev) || !dev[0] || strspn(dev, "abcdefghijklmnopqrstuvwxyz0123456789") != strlen(dev))
    return respond_error(fd, 400, "dev=NAME (e.g. vdb)");
  double t0 = mono_s();
  pthread_mutex_lock(&log_mu);
  if (log_fd >= 0) {
    pthread_mutex_unlock(&log_mu);
    return respond_error(fd, 409, "already primary");
  }
  char path[64];
  snprintf(path, sizeof path, "/dev/%s", dev);
  /* Drop every cached block of the device: the mirror wrote it behind this kernel's back. */
  int dfd = open(path, O_RDONLY | O_CLOEXEC);
  if (dfd < 0 || ioctl(dfd, BLKFLSBUF, 0) != 0) {
    int e = errno;
    if (dfd >= 0) close(dfd);
    pthread_mutex_unlock(&log_mu);
    say("umbra-lab: promote %s: %s", path, strerror(e));
    return respond_error(fd, 500, "cannot open or flush the device");
  }
  close(dfd);
  if (mount(path, data_dir, "ext4", MS_NOATIME, "") != 0) {
    int e = errno;
    pthread_mutex_unlock(&log_mu);
    say("umbra-lab: promote: mount %s: %s", path, strerror(e));
    return respond_error(fd, 500, "mount failed");
  }
  int r = open_log();
  long seq = log_seq;
  pthread_mutex_unlock(&log_mu);
  if (r < 0) return respond_error(fd, 500, "cannot open the log");
  say("umbra-lab: promoted %s seq=%ld", path, seq);
  say("UMBRA-READY role=primary seq=%ld", seq);
  respond_json(fd, 200, "{\"seq\":%ld,\"ms\":%.0f}", seq, (mono_s() - t0) * 1000);
}

static void route(int fd, struct request *rq) {
  int post = strcmp(rq->method, "POST") == 0, get = strcmp(rq->method, "GET") == 0;
  if (strcmp(rq->path, "/fault") == 0) return post ? handle_fault(fd, rq) : respond_error(fd, 405, "POST");
  if (strcmp(rq->path, "/admin/promote") == 0) return post ? handle_promote(fd, rq) : respond_error(fd, 405, "POST");
  if (atomic_load(&fault_mode) == FAULT_5XX) return respond_error(fd, 500, "injected fault");
  if (strcmp(rq->path, "/health") == 0) return get ? handle_health(fd) : respond_error(fd, 405, "GET");
  if (strcmp(rq->path, "/append") == 0) return post ? handle_append(fd, rq) : respond_error(fd, 405, "POST");
  if (strcmp(rq->path, "/log") == 0) return get ? handle_log(fd) : respond_error(fd, 405, "GET");
  if (strcmp(rq->path, "/load") == 0) return get || post ? handle_load(fd, rq) : respond_error(fd, 405, "GET");
  respond_error(fd, 404, "not found");
}

static void hang_forever(void) {
  pthread_mutex_lock(&gate_mu);
  while (atomic_load(&fault_mode) == FAULT_HANG) pthread_cond_wait(&gate_cv, &gate_mu);
  pthread_mutex_unlock(&gate_mu);
}

static void *conn_main(void *arg) {
  int fd = (int)(long)arg;
  char *buf = malloc(MAX_HEADER + 1);
  struct request rq;
  memset(&rq, 0, sizeof rq);
  if (buf) {
    int st = read_request(fd, buf, MAX_LINE + 2, &rq);
    if (atomic_load(&fault_mode) == FAULT_HANG) hang_forever();
    if (st > 0) respond_error(fd, st, reason(st));
    else if (st == 0) route(fd, &rq);
  }
  free(rq.body);
  free(buf);
  close(fd);
  pthread_mutex_lock(&gate_mu);
  live_conns--;
  pthread_cond_broadcast(&gate_cv);
  pthread_mutex_unlock(&gate_mu);
  return NULL;
}

#ifndef EXT4_IOC_CHECKPOINT
#define EXT4_IOC_CHECKPOINT _IOW('f', 43, __u32)
#endif
#define CHECKPOINT_EVERY_NS 1000000000L

static void *checkpoint_main(void *arg) {
  (void)arg;
  int warned = 0;
  for (;;) {
    struct timespec ts = {.tv_sec = CHECKPOINT_EVERY_NS / 1000000000L, .tv_nsec = CHECKPOINT_EVERY_NS % 1000000000L};
    nanosleep(&ts, NULL);
    if (atomic_exchange(&appended_unchecked, 0) == 0) continue;
    /* Under the log lock: log_fd stays open, and no append waits behind a half-done flush. */
    pthread_mutex_lock(&log_mu);
    __u32 flags = 0;
    if (log_fd >= 0 && ioctl(log_fd, EXT4_IOC_CHECKPOINT, &flags) != 0 && !warned) {
      warned = 1; /* e.g. a file system other than ext4: appends are unaffected, promotions replay more */
      say("umbra-lab: journal checkpoint: %s (not retried)", strerror(errno));
    }
    pthread_mutex_unlock(&log_mu);
    if (warned) return NULL;
  }
}

/* SIGTERM/SIGINT: take the log lock (no append is half done), fsync, exit. */
static void *signal_main(void *arg) {
  sigset_t *set = arg;
  int sig = 0;
  sigwait(set, &sig);
  pthread_mutex_lock(&log_mu);
  if (log_fd >= 0) fsync(log_fd);
  say("umbra-lab: stopped by signal %d, seq=%ld", sig, log_seq);
  _exit(0);
  return NULL;
}

static void read_token(void) {
  FILE *f = fopen("/proc/cmdline", "r");
  if (!f) return;
  char cmd[4096];
  size_t n = fread(cmd, 1, sizeof cmd - 1, f);
  fclose(f);
  cmd[n] = 0;
  for (char *w = strtok(cmd, " \n"); w; w = strtok(NULL, " \n"))
    if (strncmp(w, "umbra.token=", 12) == 0) snprintf(token, sizeof token, "%s", w + 12);
}

static int serve(int port, int force_primary) {
  static sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGTERM);
  sigaddset(&set, SIGINT);
  pthread_sigmask(SIG_BLOCK, &set, NULL);
  signal(SIGPIPE, SIG_IGN);
  pthread_t st;
  pthread_create(&st, NULL, signal_main, &set);
  pthread_t ct;
  pthread_create(&ct, NULL, checkpoint_main, NULL);
  read_token();

  pthread_mutex_lock(&log_mu);
  if (force_primary || is_mount_point(data_dir)) {
    int r = open_log();
    if (r < 0) say("umbra-lab: cannot open %s/log: %s", data_dir, strerror(-r));
  }
  int primary = log_fd >= 0;
  long seq = log_seq;
  pthread_mutex_unlock(&log_mu);

  int ls = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  int one = 1;
  setsockopt(ls, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((unsigned short)port), .sin_addr = {htonl(INADDR_ANY)}};
  if (bind(ls, (struct sockaddr *)&a, sizeof a) != 0 || listen(ls, 128) != 0) {
    say("umbra-lab: cannot listen on port %d: %s", port, strerror(errno));
    return 1;
  }
  FILE *pf = fopen("/run/umbra-lab.pid", "w");
  if (pf) {
    fprintf(pf, "%d\n", getpid());
    fclose(pf);
  }
  char up[32] = "?";
  FILE *uf = fopen("/proc/uptime", "r");
  if (uf) {
    if (fscanf(uf, "%31s", up) != 1) snprintf(up, sizeof up, "?");
    fclose(uf);
  }
  say("UMBRA-READY role=%s seq=%ld port=%d uptime=%s", primary ? "primary" : "standby", seq, port, up);

  pthread_attr_t attr;
  pthread_attr_init(&attr);
  pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
  pthread_attr_setstacksize(&attr, 128 * 1024);
  struct timeval tv = {IO_TIMEOUT_S, 0};
  for (;;) {
    pthread_mutex_lock(&gate_mu);
    while (live_conns >= MAX_CONNS) pthread_cond_wait(&gate_cv, &gate_mu);
    live_conns++;
    pthread_mutex_unlock(&gate_mu);
    int c = accept4(ls, NULL, NULL, SOCK_CLOEXEC);
    if (c < 0) {
      pthread_mutex_lock(&gate_mu);
      live_conns--;
      pthread_mutex_unlock(&gate_mu);
      continue;
    }
    setsockopt(c, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    setsockopt(c, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    setsockopt(c, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
    pthread_t t;
    if (pthread_create(&t, &attr, conn_main, (void *)(long)c) != 0) {
      close(c);
      pthread_mutex_lock(&gate_mu);
      live_conns--;
      pthread_mutex_unlock(&gate_mu);
    }
  }
}

/* ---------------------------------------------------------------- hotplug */

static int write_file(const char *path, const char *s) {
  int fd = open(path, O_WRONLY | O_CLOEXEC);
  if (fd < 0) return -1;
  int r = write_all(fd, s, strlen(s));
  close(fd);
  return r;
}

static int read_word(const char *path, char *out, size_t n) {
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) return -1;
  ssize_t r = read(fd, out, n - 1);
  close(fd);
  if (r < 0) return -1;
  out[r] = 0;
  out[strcspn(out, "\n")] = 0;
  return 0;
}

/* Onlines every offline CPU and memory block (hot-added ones arrive offline). */
static void online_all(void) {
  DIR *d = opendir("/sys/devices/system/cpu");
  struct dirent *e;
  char path[300], v[32];
  while (d && (e = readdir(d))) {
    if (strncmp(e->d_name, "cpu", 3) != 0 || e->d_name[3] < '0' || e->d_name[3] > '9') continue;
    snprintf(path, sizeof path, "/sys/devices/system/cpu/%s/online", e->d_name);
    if (read_word(path, v, sizeof v) == 0 && strcmp(v, "0") == 0)
      say("umbra-hotplug: %s online %s", e->d_name, write_file(path, "1") == 0 ? "ok" : strerror(errno));
  }
  if (d) closedir(d);
  d = opendir("/sys/devices/system/memory");
  while (d && (e = readdir(d))) {
    if (strncmp(e->d_name, "memory", 6) != 0) continue;
    snprintf(path, sizeof path, "/sys/devices/system/memory/%s/state", e->d_name);
    if (read_word(path, v, sizeof v) == 0 && strcmp(v, "offline") == 0)
      say("umbra-hotplug: %s online %s", e->d_name, write_file(path, "online") == 0 ? "ok" : strerror(errno));
  }
  if (d) closedir(d);
}

static int hotplug(void) {
  int s = socket(AF_NETLINK, SOCK_DGRAM | SOCK_CLOEXEC, NETLINK_KOBJECT_UEVENT);
  struct sockaddr_nl a = {.nl_family = AF_NETLINK, .nl_groups = 1};
  if (s < 0 || bind(s, (struct sockaddr *)&a, sizeof a) != 0) {
    say("umbra-hotplug: no uevent socket: %s", strerror(errno));
    return 1;
  }
  online_all();
  char buf[8192];
  for (;;) {
    ssize_t r = recv(s, buf, sizeof buf - 1, 0);
    if (r <= 0) continue;
    buf[r] = 0;
    /* Only additions: a CPU offlined on purpose stays offline. */
    if (strncmp(buf, "add@/devices/system/cpu/", 24) == 0 || strncmp(buf, "add@/devices/system/memory/", 27) == 0)
      online_all();
  }
}

int main(int argc, char **argv) {
  int port = 80, force_primary = 0;
  for (int i = 1; i < argc; i++) {
    if (strcmp(argv[i], "--hotplug") == 0) return hotplug();
    if (strcmp(argv[i], "--port") == 0 && i + 1 < argc) port = atoi(argv[++i]);
    else if (strcmp(argv[i], "--data") == 0 && i + 1 < argc) data_dir = argv[++i];
    else if (strcmp(argv[i], "--primary") == 0) force_primary = 1;
    else {
      fprintf(stderr, "usage: umbra-lab [--port N] [--data DIR] [--primary] | --hotplug\n");
      return 2;
    }
  }
  return serve(port, force_primary);
}
