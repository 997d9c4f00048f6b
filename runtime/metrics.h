/* In-process Prometheus registry, rendered in the text exposition format 0.0.4.
 *
 * Not thread-safe: call everything from the loop thread. A family (metric name) is created on
 * first use with its help text and type; later calls with another type are dropped (logged).
 * A series is one family plus its label list, compared as given, so pass labels in a fixed
 * order. At most DT_METRICS_MAX_SERIES series exist in all; new ones beyond are dropped and a
 * warning is logged once. Invalid names and oversized label sets are dropped too. */
#ifndef DT_METRICS_H
#define DT_METRICS_H

#include <stddef.h>

#define DT_METRICS_MAX_SERIES 10000

typedef struct {
  const char *name;
  const char *value;
} dt_metric_label;

/* amount must be >= 0. */
void dt_metrics_counter_add(const char *name, const char *help, const dt_metric_label *labels,
                            size_t nlabels, double amount);
void dt_metrics_gauge_set(const char *name, const char *help, const dt_metric_label *labels,
                          size_t nlabels, double value);
/* Buckets (seconds): 0.001 0.0025 0.005 0.01 0.025 0.05 0.1 0.25 0.5 1 2.5 5 10 +Inf. */
void dt_metrics_histogram_observe(const char *name, const char *help,
                                  const dt_metric_label *labels, size_t nlabels, double value);

/* Sets *out to malloc'd text (caller frees) and *len to its length. Families and their series
 * come in first-registration order. Returns 0 or -ENOMEM. */
int dt_metrics_render(char **out, size_t *len);

/* Frees every family and series. */
void dt_metrics_reset(void);

#endif
