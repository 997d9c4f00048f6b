#include <stdio.h>
#include <stdlib.h>

#include "metrics.h"
#include "testlib.h"

static char *render(void)
{
  char *text = NULL;
  size_t len = 0;
  CHECK_EQ_INT(dt_metrics_render(&text, &len), 0);
  CHECK(text != NULL && strlen(text) == len);
  return text;
}

static void check_render(const char *expected)
{
  char *text = render();
  CHECK_EQ_STR(text, expected);
  free(text);
}

static void test_counter_gauge_histogram(void)
{
  dt_metrics_reset();
  dt_metric_label get[] = { { "method", "GET" }, { "code", "200" } };
  dt_metric_label post[] = { { "method", "POST" }, { "code", "500" } };
  dt_metric_label route[] = { { "route", "/voice" } };
  dt_metrics_counter_add("dt_requests_total", "Requests served.", get, 2, 1);
  dt_metrics_gauge_set("dt_calls_active", "Live calls.", NULL, 0, 5);
  dt_metrics_counter_add("dt_requests_total", "Requests served.", post, 2, 3);
  dt_metrics_counter_add("dt_requests_total", "Requests served.", get, 2, 1);
  dt_metrics_gauge_set("dt_calls_active", "Live calls.", NULL, 0, 0.1);
  double samples[] = { 0.00390625, 0.25, 0.00390625, 16 };
  for (size_t i = 0; i < 4; i++) {
    dt_metrics_histogram_observe("dt_http_seconds", "Latency.", route, 1, samples[i]);
  }
  check_render("# HELP dt_requests_total Requests served.\n"
               "# TYPE dt_requests_total counter\n"
               "dt_requests_total{method=\"GET\",code=\"200\"} 2\n"
               "dt_requests_total{method=\"POST\",code=\"500\"} 3\n"
               "# HELP dt_calls_active Live calls.\n"
               "# TYPE dt_calls_active gauge\n"
               "dt_calls_active 0.1\n"
               "# HELP dt_http_seconds Latency.\n"
               "# TYPE dt_http_seconds histogram\n"
               "dt_http_seconds_bucket{route=\"/voice\",le=\"0.001\"} 0\n"
               "dt_http_seconds_bucket{route=\"/voice\",le=\"0.0025\"} 0\n"
               "dt_http_seconds_bucket{route=\"/voice\",le=\"0.005\"} 2\n"
               "dt_http_seconds_bucket{route=\"/voice\",le=\"0.01\"} 2\n"
               "dt_http_seconds_bucket{route=\"/voice\",le=\"0.025\"} 2\n"
               "dt_http_seconds_bucket{route=\"/voice\",le=\"0.05\"} 2\n"
               "dt_http_seconds_bucket{route=\"/voice\",le=\"0.1\"} 2\n"
               "dt_http_seconds_bucket{route=\"/voice\",le=\"0.25\"} 3\n"
               "dt_http_seconds_bucket{route=\"/voice\",le=\"0.5\"} 3\n"
               "dt_http_seconds_bucket{route=\"/voice\",le=\"1\"} 3\n"
               "dt_http_seconds_bucket{route=\"/voice\",le=\"2.5\"} 3\n"
               "dt_http_seconds_bucket{route=\"/voice\",le=\"5\"} 3\n"
               "dt_http_seconds_bucket{route=\"/voice\",le=\"10\"} 3\n"
               "dt_http_seconds_bucket{route=\"/voice\",le=\"+Inf\"} 4\n"
               "dt_http_seconds_sum{route=\"/voice\"} 16.2578125\n"
               "dt_http_seconds_count{route=\"/voice\"} 4\n");
  dt_metrics_reset();
}

static void test_histogram_without_labels(void)
{
  dt_metrics_reset();
  dt_metrics_histogram_observe("h", "", NULL, 0, 0.001);
  char *text = render();
  CHECK(strstr(text, "# HELP h \n# TYPE h histogram\nh_bucket{le=\"0.001\"} 1\n") == text);
  CHECK(strstr(text, "h_bucket{le=\"+Inf\"} 1\nh_sum 0.001\nh_count 1\n") != NULL);
  free(text);
  dt_metrics_reset();
}

static void test_escaping(void)
{
  dt_metrics_reset();
  dt_metric_label hostile[] = { { "path", "a\\b\"c\nd} x=\"1\"" } };
  const char *help = "Line one.\nA back\\slash and \"quotes\".";
  dt_metrics_counter_add("dt_hits_total", help, hostile, 1, 1);
  check_render("# HELP dt_hits_total Line one.\\nA back\\\\slash and \"quotes\".\n"
               "# TYPE dt_hits_total counter\n"
               "dt_hits_total{path=\"a\\\\b\\\"c\\nd} x=\\\"1\\\"\"} 1\n");
  dt_metrics_reset();
}

static void test_invalid_utf8_replaced(void)
{
  dt_metrics_reset();
  dt_metric_label bytes[] = { { "v", "ok\xff\xc3\xa9\xed\xa0\x80\xe2\x82" } };
  dt_metrics_counter_add("u_total", "\xc0\xaf", bytes, 1, 1);
  check_render("# HELP u_total \xef\xbf\xbd\xef\xbf\xbd\n"
               "# TYPE u_total counter\n"
               "u_total{v=\"ok\xef\xbf\xbd\xc3\xa9\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd"
               "\xef\xbf\xbd\xef\xbf\xbd\"} 1\n");
  dt_metrics_reset();
}

static void test_values(void)
{
  dt_metrics_reset();
  dt_metrics_gauge_set("g_big", "", NULL, 0, 1e21);
  dt_metrics_gauge_set("g_third", "", NULL, 0, 1.0 / 3);
  dt_metrics_gauge_set("g_neg", "", NULL, 0, -2.5);
  char *text = render();
  CHECK(strstr(text, "\ng_big 1e+21\n") != NULL);
  CHECK(strstr(text, "\ng_third 0.33333333333333331\n") != NULL);
  CHECK(strstr(text, "\ng_neg -2.5\n") != NULL);
  free(text);
  dt_metrics_reset();
}

static void test_misuse_is_dropped(void)
{
  dt_metrics_reset();
  dt_metric_label le[] = { { "le", "1" } };
  dt_metric_label reserved[] = { { "__name__", "x" } };
  dt_metric_label twice[] = { { "a", "1" }, { "a", "2" } };
  dt_metric_label bad_name[] = { { "bad-name", "1" } };
  dt_metrics_counter_add("c_total", "C.", NULL, 0, 1);
  dt_metrics_gauge_set("c_total", "C.", NULL, 0, 9);     /* another type */
  dt_metrics_counter_add("c_total", "C.", NULL, 0, -1);  /* counters only go up */
  dt_metrics_counter_add("1bad", "", NULL, 0, 1);
  dt_metrics_counter_add("bad name", "", NULL, 0, 1);
  dt_metrics_histogram_observe("h", "", le, 1, 1);
  dt_metrics_counter_add("r_total", "", reserved, 1, 1);
  dt_metrics_counter_add("r_total", "", twice, 2, 1);
  dt_metrics_counter_add("r_total", "", bad_name, 1, 1);
  dt_metrics_counter_add(NULL, "", NULL, 0, 1);
  check_render("# HELP c_total C.\n# TYPE c_total counter\nc_total 1\n");
  dt_metrics_reset();
}

static int count_lines(const char *text, const char *prefix)
{
  int n = 0;
  size_t plen = strlen(prefix);
  const char *line = text;
  while (line && *line) {
    if (strncmp(line, prefix, plen) == 0) n++;
    line = strchr(line, '\n');
    if (line) line++;
  }
  return n;
}

static void test_cardinality_cap(void)
{
  dt_metrics_reset();
  char id[32];
  dt_metric_label label[] = { { "id", id } };
  for (int i = 0; i < DT_METRICS_MAX_SERIES + 50; i++) {
    snprintf(id, sizeof id, "%d", i);
    dt_metrics_counter_add("cap_total", "Capped.", label, 1, 1);
  }
  snprintf(id, sizeof id, "0");
  dt_metrics_counter_add("cap_total", "Capped.", label, 1, 1); /* existing series still count */
  dt_metrics_gauge_set("late", "", NULL, 0, 1);                /* a new family is capped too */
  char *text = render();
  CHECK_EQ_INT(count_lines(text, "cap_total{"), DT_METRICS_MAX_SERIES);
  CHECK(strstr(text, "cap_total{id=\"0\"} 2\n") != NULL);
  CHECK(strstr(text, "cap_total{id=\"9999\"} 1\n") != NULL);
  CHECK(strstr(text, "id=\"10000\"") == NULL);
  CHECK(strstr(text, "late") == NULL);
  free(text);
  dt_metrics_reset();
  dt_metrics_gauge_set("late", "", NULL, 0, 1); /* reset frees room again */
  check_render("# HELP late \n# TYPE late gauge\nlate 1\n");
  dt_metrics_reset();
}

static void test_oversized_labels_dropped(void)
{
  dt_metrics_reset();
  char *big = malloc(8192);
  CHECK(big != NULL);
  if (!big) return;
  memset(big, 'x', 8191);
  big[8191] = '\0';
  dt_metric_label label[] = { { "v", big } };
  dt_metrics_counter_add("big_total", "", label, 1, 1);
  free(big);
  check_render("");
}

static void test_reset_empties(void)
{
  dt_metrics_counter_add("x_total", "", NULL, 0, 1);
  dt_metrics_reset();
  char *text = NULL;
  size_t len = 99;
  CHECK_EQ_INT(dt_metrics_render(&text, &len), 0);
  CHECK_EQ_INT(len, 0);
  CHECK_EQ_STR(text, "");
  free(text);
  dt_metrics_reset(); /* twice is fine */
}

TEST_MAIN(TEST(test_counter_gauge_histogram), TEST(test_histogram_without_labels),
          TEST(test_escaping), TEST(test_invalid_utf8_replaced), TEST(test_values),
          TEST(test_misuse_is_dropped),
          TEST(test_cardinality_cap), TEST(test_oversized_labels_dropped),
          TEST(test_reset_empties))
