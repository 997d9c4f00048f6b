#include "metrics.h"

#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"

#define NBUCKETS 13            /* finite buckets; +Inf is the series count */
#define HASH_SIZE 16384        /* power of two above the series cap */
#define MAX_LABELS_LEN 4096    /* rendered label set of one series */

static const double bucket_bounds[NBUCKETS] = {
  0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10,
};

typedef enum { KIND_COUNTER, KIND_GAUGE, KIND_HISTOGRAM } metric_kind;
static const char *const kind_names[] = { "counter", "gauge", "histogram" };

typedef struct series series;

typedef struct family {
  struct family *next;
  series *first, *last;
  char *name;
  char *help;
  metric_kind kind;
  int warned;
} family;

struct series {
  series *next;      /* in its family, registration order */
  series *hash_next;
  family *fam;
  char *labels;      /* rendered `a="x",b="y"`: also the series identity */
  uint64_t hash;
  double value;      /* counter or gauge value; histogram sum */
  uint64_t count;
  uint64_t buckets[NBUCKETS]; /* per bucket, made cumulative when rendered */
};

static struct {
  family *first, *last;
  series *table[HASH_SIZE];
  size_t nseries;
  int warned_cap;
  int warned_size;
} reg;

typedef struct {
  char *p;
  size_t len, cap;
  int err;
} buf;

static void buf_put(buf *b, const char *s, size_t n)
{
  if (b->err) return;
  if (n >= b->cap - b->len || !b->p) {
    size_t cap = b->cap ? b->cap : 256;
    while (cap - b->len <= n) {
      if (cap > SIZE_MAX / 2) {
        b->err = -ENOMEM;
        return;
      }
      cap *= 2;
    }
    char *p = realloc(b->p, cap);
    if (!p) {
      b->err = -ENOMEM;
      return;
    }
    b->p = p;
    b->cap = cap;
  }
  memcpy(b->p + b->len, s, n);
  b->len += n;
  b->p[b->len] = '\0';
}

static void buf_puts(buf *b, const char *s) { buf_put(b, s, strlen(s)); }

/* Length of the valid UTF-8 sequence at s, or 0 if it is not one. */
static size_t utf8_len(const unsigned char *s)
{
  unsigned char lo = 0x80, hi = 0xbf;
  size_t n;
  if (s[0] < 0x80) return 1;
  if (s[0] >= 0xc2 && s[0] <= 0xdf) n = 2;
  else if (s[0] >= 0xe0 && s[0] <= 0xef) n = 3;
  else if (s[0] >= 0xf0 && s[0] <= 0xf4) n = 4;
  else return 0;
  if (s[0] == 0xe0) lo = 0xa0;      /* overlong */
  else if (s[0] == 0xed) hi = 0x9f; /* surrogates */
  else if (s[0] == 0xf0) lo = 0x90; /* overlong */
  else if (s[0] == 0xf4) hi = 0x8f; /* above U+10FFFF */
  if (s[1] < lo || s[1] > hi) return 0;
  for (size_t i = 2; i < n; i++) {
    if (s[i] < 0x80 || s[i] > 0xbf) return 0;
  }
  return n;
}

/* Escapes backslash and newline, and double quote when quoted (label values). Invalid UTF-8
 * becomes U+FFFD: Prometheus rejects the whole scrape otherwise. */
static void buf_escaped(buf *b, const char *s, int quoted)
{
  while (*s) {
    size_t n = utf8_len((const unsigned char *)s);
    if (n == 0) buf_puts(b, "\xef\xbf\xbd");
    else if (*s == '\\') buf_puts(b, "\\\\");
    else if (*s == '\n') buf_puts(b, "\\n");
    else if (*s == '"' && quoted) buf_puts(b, "\\\"");
    else buf_put(b, s, n);
    s += n ? n : 1;
  }
}

/* Shortest of %.15g / %.17g that reads back exactly. */
static void format_double(char *out, size_t size, double v)
{
  if (isnan(v)) snprintf(out, size, "NaN");
  else if (isinf(v)) snprintf(out, size, v > 0 ? "+Inf" : "-Inf");
  else {
    snprintf(out, size, "%.15g", v);
    if (strtod(out, NULL) != v) snprintf(out, size, "%.17g", v);
  }
}

static int valid_name(const char *s, int colon_ok)
{
  if (!s || !*s || (*s >= '0' && *s <= '9')) return 0;
  for (; *s; s++) {
    int ok = (*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') || (*s >= '0' && *s <= '9') ||
             *s == '_' || (*s == ':' && colon_ok);
    if (!ok) return 0;
  }
  return 1;
}

/* Label names must be valid, unique, not reserved ("__" prefix, "le" in histograms). */
static int valid_labels(const dt_metric_label *labels, size_t n, metric_kind kind)
{
  for (size_t i = 0; i < n; i++) {
    const char *name = labels[i].name;
    if (!valid_name(name, 0) || !labels[i].value || strncmp(name, "__", 2) == 0) return 0;
    if (kind == KIND_HISTOGRAM && strcmp(name, "le") == 0) return 0;
    for (size_t j = 0; j < i; j++) {
      if (strcmp(labels[j].name, name) == 0) return 0;
    }
  }
  return 1;
}

/* Renders the label set; NULL names/values are caught later by valid_labels. */
static void render_labels(buf *b, const dt_metric_label *labels, size_t n)
{
  buf_put(b, "", 0);
  for (size_t i = 0; i < n; i++) {
    if (i) buf_puts(b, ",");
    buf_puts(b, labels[i].name ? labels[i].name : "");
    buf_puts(b, "=\"");
    buf_escaped(b, labels[i].value ? labels[i].value : "", 1);
    buf_puts(b, "\"");
  }
}

static uint64_t fnv1a(uint64_t h, const char *s)
{
  for (; *s; s++) h = (h ^ (unsigned char)*s) * 1099511628211u;
  return (h ^ 0xff) * 1099511628211u; /* separator: "ab"+"c" differs from "a"+"bc" */
}

static series *lookup(const char *name, const char *labels, uint64_t h)
{
  for (series *s = reg.table[h & (HASH_SIZE - 1)]; s; s = s->hash_next) {
    if (s->hash == h && strcmp(s->fam->name, name) == 0 && strcmp(s->labels, labels) == 0) return s;
  }
  return NULL;
}

static void warn_once(int *flag, const char *msg, const char *name)
{
  if (*flag) return;
  *flag = 1;
  dt_log(DT_LOG_WARN, msg, "metric", name, NULL);
}

static int kind_matches(family *f, metric_kind kind)
{
  if (f->kind == kind) return 1;
  warn_once(&f->warned, "metric used with another type, dropped", f->name);
  return 0;
}

static family *get_family(const char *name, const char *help, metric_kind kind)
{
  for (family *f = reg.first; f; f = f->next) {
    if (strcmp(f->name, name) == 0) return kind_matches(f, kind) ? f : NULL;
  }
  if (!valid_name(name, 1)) {
    dt_log(DT_LOG_WARN, "invalid metric name, dropped", "metric", name, NULL);
    return NULL;
  }
  family *f = calloc(1, sizeof *f);
  char *fname = strdup(name), *fhelp = strdup(help ? help : "");
  if (!f || !fname || !fhelp) {
    free(f);
    free(fname);
    free(fhelp);
    dt_log(DT_LOG_ERROR, "out of memory registering metric", "metric", name, NULL);
    return NULL;
  }
  f->name = fname;
  f->help = fhelp;
  f->kind = kind;
  if (reg.last) reg.last->next = f;
  else reg.first = f;
  reg.last = f;
  return f;
}

/* Takes ownership of key (the rendered labels) on success. */
static series *add_series(const char *name, const char *help, metric_kind kind,
                          const dt_metric_label *labels, size_t n, char *key, uint64_t h)
{
  if (reg.nseries >= DT_METRICS_MAX_SERIES) {
    warn_once(&reg.warned_cap, "metrics series limit reached, new series dropped", name);
    return NULL;
  }
  if (strlen(key) > MAX_LABELS_LEN) {
    warn_once(&reg.warned_size, "metric labels too long, series dropped", name);
    return NULL;
  }
  if (!valid_labels(labels, n, kind)) {
    dt_log(DT_LOG_WARN, "invalid metric labels, dropped", "metric", name, NULL);
    return NULL;
  }
  family *f = get_family(name, help, kind);
  if (!f) return NULL;
  series *s = calloc(1, sizeof *s);
  if (!s) {
    dt_log(DT_LOG_ERROR, "out of memory registering metric", "metric", name, NULL);
    return NULL;
  }
  s->fam = f;
  s->labels = key;
  s->hash = h;
  if (f->last) f->last->next = s;
  else f->first = s;
  f->last = s;
  s->hash_next = reg.table[h & (HASH_SIZE - 1)];
  reg.table[h & (HASH_SIZE - 1)] = s;
  reg.nseries++;
  return s;
}

static series *get_series(const char *name, const char *help, metric_kind kind,
                          const dt_metric_label *labels, size_t n)
{
  if (!name || (n > 0 && !labels)) return NULL;
  buf key = { 0 };
  render_labels(&key, labels, n);
  if (key.err) {
    dt_log(DT_LOG_ERROR, "out of memory looking up metric", "metric", name, NULL);
    return NULL;
  }
  uint64_t h = fnv1a(fnv1a(14695981039346656037u, name), key.p);
  series *s = lookup(name, key.p, h);
  if (s) {
    free(key.p);
    return kind_matches(s->fam, kind) ? s : NULL;
  }
  s = add_series(name, help, kind, labels, n, key.p, h);
  if (!s) free(key.p);
  return s;
}

void dt_metrics_counter_add(const char *name, const char *help, const dt_metric_label *labels,
                            size_t nlabels, double amount)
{
  if (!(amount >= 0)) {
    dt_log(DT_LOG_WARN, "counter decrease ignored", "metric", name ? name : "", NULL);
    return;
  }
  series *s = get_series(name, help, KIND_COUNTER, labels, nlabels);
  if (s) s->value += amount;
}

void dt_metrics_gauge_set(const char *name, const char *help, const dt_metric_label *labels,
                          size_t nlabels, double value)
{
  series *s = get_series(name, help, KIND_GAUGE, labels, nlabels);
  if (s) s->value = value;
}

void dt_metrics_histogram_observe(const char *name, const char *help,
                                  const dt_metric_label *labels, size_t nlabels, double value)
{
  series *s = get_series(name, help, KIND_HISTOGRAM, labels, nlabels);
  if (!s) return;
  for (int i = 0; i < NBUCKETS; i++) {
    if (value <= bucket_bounds[i]) {
      s->buckets[i]++;
      break;
    }
  }
  s->count++;
  s->value += value;
}

/* One sample line: name+suffix{labels,extra} value */
static void put_sample(buf *b, const series *s, const char *suffix, const char *extra,
                       const char *value)
{
  buf_puts(b, s->fam->name);
  buf_puts(b, suffix);
  if (*s->labels || *extra) {
    buf_puts(b, "{");
    buf_puts(b, s->labels);
    if (*s->labels && *extra) buf_puts(b, ",");
    buf_puts(b, extra);
    buf_puts(b, "}");
  }
  buf_puts(b, " ");
  buf_puts(b, value);
  buf_puts(b, "\n");
}

static void put_histogram(buf *b, const series *s)
{
  char le[64], num[48];
  uint64_t cumulative = 0;
  for (int i = 0; i < NBUCKETS; i++) {
    cumulative += s->buckets[i];
    format_double(num, sizeof num, bucket_bounds[i]);
    snprintf(le, sizeof le, "le=\"%s\"", num);
    snprintf(num, sizeof num, "%" PRIu64, cumulative);
    put_sample(b, s, "_bucket", le, num);
  }
  snprintf(num, sizeof num, "%" PRIu64, s->count);
  put_sample(b, s, "_bucket", "le=\"+Inf\"", num);
  char sum[48];
  format_double(sum, sizeof sum, s->value);
  put_sample(b, s, "_sum", "", sum);
  put_sample(b, s, "_count", "", num);
}

static void put_family(buf *b, const family *f)
{
  buf_puts(b, "# HELP ");
  buf_puts(b, f->name);
  buf_puts(b, " ");
  buf_escaped(b, f->help, 0);
  buf_puts(b, "\n# TYPE ");
  buf_puts(b, f->name);
  buf_puts(b, " ");
  buf_puts(b, kind_names[f->kind]);
  buf_puts(b, "\n");
  for (const series *s = f->first; s; s = s->next) {
    if (f->kind == KIND_HISTOGRAM) {
      put_histogram(b, s);
    } else {
      char num[48];
      format_double(num, sizeof num, s->value);
      put_sample(b, s, "", "", num);
    }
  }
}

int dt_metrics_render(char **out, size_t *len)
{
  if (!out || !len) return -EINVAL;
  buf b = { 0 };
  buf_put(&b, "", 0);
  for (const family *f = reg.first; f; f = f->next) put_family(&b, f);
  if (b.err) {
    free(b.p);
    return b.err;
  }
  *out = b.p;
  *len = b.len;
  return 0;
}

void dt_metrics_reset(void)
{
  family *f = reg.first;
  while (f) {
    family *next_f = f->next;
    series *s = f->first;
    while (s) {
      series *next_s = s->next;
      free(s->labels);
      free(s);
      s = next_s;
    }
    free(f->name);
    free(f->help);
    free(f);
    f = next_f;
  }
  memset(&reg, 0, sizeof reg);
}
