#include "master_key.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/crypto.h>

#include "base64.h"
#include "crypto.h"

#define FILE_MAX 256 /* bytes read from the key file: a key is 44 of them */

static int hex_digit(char c)
{
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

static int parse_hex(const char *text, uint8_t key[DT_MASTER_KEY_LEN])
{
  for (size_t i = 0; i < DT_MASTER_KEY_LEN; i++) {
    int hi = hex_digit(text[2 * i]), lo = hex_digit(text[2 * i + 1]);
    if (hi < 0 || lo < 0) return -1;
    key[i] = (uint8_t)(hi << 4 | lo);
  }
  return 0;
}

static int is_space(char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\n'; }

int dt_master_key_parse(const char *text, size_t len, uint8_t key[DT_MASTER_KEY_LEN])
{
  while (len && is_space(*text)) text++, len--;
  while (len && is_space(text[len - 1])) len--;
  if (len == 2 * DT_MASTER_KEY_LEN) return parse_hex(text, key);
  uint8_t raw[DT_MASTER_KEY_LEN + 3];
  size_t n = 0;
  int rc = dt_base64_decode(text, len, raw, sizeof raw, DT_BASE64_STD, &n) == 0 && n == DT_MASTER_KEY_LEN ? 0 : -1;
  if (rc == 0) memcpy(key, raw, DT_MASTER_KEY_LEN);
  OPENSSL_cleanse(raw, sizeof raw);
  return rc;
}

static int fail(char *err, size_t errlen, const char *what, const char *path)
{
  snprintf(err, errlen, "master key file %s: %s", path, what);
  return -1;
}

/* Reads the key from an open file after checking that only its owner, this user, can use it. */
static int read_key_file(int fd, const char *path, uint8_t key[DT_MASTER_KEY_LEN], char *err, size_t errlen)
{
  struct stat st;
  char text[FILE_MAX], why[160];
  if (fstat(fd, &st) != 0) return fail(err, errlen, strerror(errno), path);
  if (!S_ISREG(st.st_mode)) return fail(err, errlen, "not a regular file", path);
  if (st.st_uid != geteuid()) return fail(err, errlen, "owned by another user; refusing it", path);
  if (st.st_mode & 077) {
    snprintf(why, sizeof why, "group or others may access it (mode %04o); refusing it: chmod 600 the file",
             (unsigned)(st.st_mode & 07777));
    return fail(err, errlen, why, path);
  }
  ssize_t n = read(fd, text, sizeof text);
  int rc = n < 0 ? fail(err, errlen, strerror(errno), path)
         : n == (ssize_t)sizeof text || dt_master_key_parse(text, (size_t)n, key) != 0
           ? fail(err, errlen, "not a key (expected base64 of 32 bytes or 64 hex digits)", path)
           : 0;
  OPENSSL_cleanse(text, sizeof text);
  return rc;
}

static int write_all(int fd, const char *p, size_t n)
{
  while (n) {
    ssize_t w = write(fd, p, n);
    if (w < 0 && errno == EINTR) continue;
    if (w <= 0) return -1;
    p += w, n -= (size_t)w;
  }
  return 0;
}

/* Makes the directory's entries (a new link) durable. */
static int sync_dir(const char *dir)
{
  int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return -1;
  int rc = fsync(fd);
  if (close(fd) != 0) rc = -1;
  return rc;
}

/* Writes a new random key to a temporary file and links it to path, so no reader ever sees a
 * partial file and two processes starting together end up with the same key (the second link
 * fails with EEXIST and that process reads the first one's key). */
static int create_key_file(const char *data_dir, const char *path, char *err, size_t errlen)
{
  char tmp[PATH_MAX], text[64];
  uint8_t raw[DT_MASTER_KEY_LEN];
  size_t len = 0;
  if (snprintf(tmp, sizeof tmp, "%s.XXXXXX", path) >= (int)sizeof tmp) return fail(err, errlen, "path too long", path);
  if (dt_random_bytes(raw, sizeof raw) != 0 ||
      dt_base64_encode(raw, sizeof raw, text, sizeof text - 1, DT_BASE64_STD, &len) != 0)
    return fail(err, errlen, "cannot generate a key", path);
  OPENSSL_cleanse(raw, sizeof raw);
  text[len++] = '\n';
  int fd = mkstemp(tmp); /* mode 0600 */
  if (fd < 0) return fail(err, errlen, strerror(errno), tmp);
  int rc = write_all(fd, text, len) == 0 && fsync(fd) == 0 ? 0 : -1;
  OPENSSL_cleanse(text, sizeof text);
  if (close(fd) != 0) rc = -1;
  if (rc == 0 && link(tmp, path) != 0 && errno != EEXIST) rc = -1;
  int saved = errno;
  unlink(tmp);
  if (rc != 0) return fail(err, errlen, strerror(saved), path);
  return sync_dir(data_dir) == 0 ? 0 : fail(err, errlen, strerror(errno), data_dir);
}

static int load_file(const char *data_dir, int sealed, uint8_t key[DT_MASTER_KEY_LEN], char *err, size_t errlen)
{
  char path[PATH_MAX];
  if (snprintf(path, sizeof path, "%s/%s", data_dir, DT_MASTER_KEY_FILE) >= (int)sizeof path)
    return fail(err, errlen, "path too long", data_dir);
  int fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
  if (fd < 0 && errno == ENOENT && sealed)
    return fail(err, errlen, "missing, but dialtone.db holds sealed telephony configurations;"
                " restore the key file or set " DT_MASTER_KEY_ENV, path);
  if (fd < 0 && errno == ENOENT) {
    if (create_key_file(data_dir, path, err, errlen) != 0) return -1;
    fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
  }
  if (fd < 0) return fail(err, errlen, errno == ELOOP ? "a symbolic link; refusing it" : strerror(errno), path);
  int rc = read_key_file(fd, path, key, err, errlen);
  close(fd);
  return rc;
}

int dt_master_key_load(const char *env_value, const char *data_dir, int sealed, uint8_t key[DT_MASTER_KEY_LEN],
                       char *err, size_t errlen)
{
  if (env_value && *env_value) {
    if (dt_master_key_parse(env_value, strlen(env_value), key) == 0) return 0;
    snprintf(err, errlen, "%s is not a key (expected 64 hex digits or base64 of 32 bytes)", DT_MASTER_KEY_ENV);
    return -1;
  }
  return load_file(data_dir, sealed, key, err, errlen);
}
