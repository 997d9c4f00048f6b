/* Levelled logfmt lines on stderr: time=... level=... msg="..." key=value ...
 * Callers pass context as NULL-terminated key/value string pairs. Never log secrets. */
#ifndef DT_LOG_H
#define DT_LOG_H

#include <stddef.h>

typedef enum { DT_LOG_DEBUG, DT_LOG_INFO, DT_LOG_WARN, DT_LOG_ERROR } dt_log_level;

void dt_log_set_level(dt_log_level level);
dt_log_level dt_log_get_level(void);
/* Parses "debug", "info", "warn", "error". Returns 0, or -1 for an unknown name. */
int dt_log_parse_level(const char *name, dt_log_level *out);
/* dt_log(DT_LOG_INFO, "listening", "addr", "127.0.0.1:8080", NULL) */
void dt_log(dt_log_level level, const char *msg, ...) __attribute__((sentinel));
/* The same with the context as an array of npairs key/value pairs. */
void dt_log_fields(dt_log_level level, const char *msg, const char *const *kv, size_t npairs);
#endif
