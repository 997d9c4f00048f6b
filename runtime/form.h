/* application/x-www-form-urlencoded parsing, also used for URL query strings, and
 * percent-decoding of path segments. Input is network data: every read is bounded by the
 * given length, and decoded strings may contain NUL bytes (lengths are always explicit). */
#ifndef DT_FORM_H
#define DT_FORM_H

#include <stddef.h>

#include <lua.h>

/* Called once per pair with decoded name and value (not NUL-terminated). A nonzero return
 * stops parsing and is returned by dt_form_parse. */
typedef int (*dt_form_cb)(void *ud, const char *name, size_t name_len, const char *value,
                          size_t value_len);

/* Parses "a=1&b=x+y&c": pairs split on '&', '+' is a space, %XX is decoded (an invalid or
 * truncated % sequence is kept literally), empty pairs are skipped, a name without '=' has
 * the value "". Returns 0; -1 when there are more than max_pairs pairs (the pairs before
 * the limit have been reported); -2 when out of memory; or the callback's nonzero return. */
int dt_form_parse(const char *s, size_t len, size_t max_pairs, dt_form_cb cb, void *ud);

/* Percent-decodes len bytes of in into out (room for len bytes; in and out may be the same
 * buffer). '+' is kept as is. Invalid or truncated % sequences are copied literally.
 * Returns 0 with the decoded length in *out_len. */
int dt_percent_decode(const char *in, size_t len, char *out, size_t *out_len);

/* Pushes two tables for a form or query string: name -> first value, and
 * name -> { every value in order }. Returns 2. Raises "too many form fields (limit 1000)". */
int dt_form_push(lua_State *L, const char *s, size_t len);
#endif
