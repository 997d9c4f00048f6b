/* The master key: parsing (hex, base64), the environment value, the key file created on first
 * use with mode 0600 and read back, unsafe files refused, a missing file refused when data is
 * sealed, concurrent first starts agreeing. */
#include "master_key.h"

#include <dirent.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "testlib.h"

static char dir[64];

static void new_dir(char *out, size_t size)
{
  static int n;
  snprintf(out, size, "%s/d%d", dir, n++);
  mkdir(out, 0700);
}

static void key_path(const char *d, char *out, size_t size) { snprintf(out, size, "%s/%s", d, DT_MASTER_KEY_FILE); }

static void test_parse(void)
{
  uint8_t key[DT_MASTER_KEY_LEN], expected[DT_MASTER_KEY_LEN];
  for (int i = 0; i < DT_MASTER_KEY_LEN; i++) expected[i] = (uint8_t)(i * 7 + 1);
  const char *hex = "01080f161d242b323940474e555c636a71787f868d949ba2a9b0b7bec5ccd3da";
  CHECK_EQ_INT(dt_master_key_parse(hex, strlen(hex), key), 0);
  CHECK(memcmp(key, expected, sizeof key) == 0);
  const char *upper = "01080F161D242B323940474E555C636A71787F868D949BA2A9B0B7BEC5CCD3DA";
  memset(key, 0, sizeof key);
  CHECK_EQ_INT(dt_master_key_parse(upper, strlen(upper), key), 0);
  CHECK(memcmp(key, expected, sizeof key) == 0);
  const char *b64 = " AQgPFh0kKzI5QEdOVVxjanF4f4aNlJuiqbC3vsXM09o=\n";
  memset(key, 0, sizeof key);
  CHECK_EQ_INT(dt_master_key_parse(b64, strlen(b64), key), 0);
  CHECK(memcmp(key, expected, sizeof key) == 0);
  const char *bad[] = { "", "00", "01080f161d242b323940474e555c636a71787f868d949ba2a9b0b7bec5ccd3d",
    "01080f161d242b323940474e555c636a71787f868d949ba2a9b0b7bec5ccd3dg",
    "AQgPFh0kKzI5QEdOVVxjanF4f4aNlJuiqbC3vsXM0w==", /* 31 bytes */
    "AQgPFh0kKzI5QEdOVVxjanF4f4aNlJuiqbC3vsXM09oA", /* 33 bytes */
    "AQgPFh0kKzI5QEdOVVxjanF4f4aNlJuiqbC3vsXM09o", /* unpadded */
    "AQgPFh0kKzI5QEdOVVxj anF4f4aNlJuiqbC3vsXM09o=" };
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) CHECK_EQ_INT(dt_master_key_parse(bad[i], strlen(bad[i]), key), -1);
}

static void test_env_wins_and_is_never_echoed(void)
{
  char d[128], path[256], err[512] = "";
  uint8_t key[DT_MASTER_KEY_LEN];
  new_dir(d, sizeof d);
  const char *hex = "ff080f161d242b323940474e555c636a71787f868d949ba2a9b0b7bec5ccd3da";
  CHECK_EQ_INT(dt_master_key_load(hex, d, 0, key, err, sizeof err), 0);
  CHECK(key[0] == 0xff && key[31] == 0xda);
  key_path(d, path, sizeof path);
  CHECK(access(path, F_OK) != 0); /* no file is made when the environment gives the key */
  const char *bad = "not-a-key-but-a-secret-value";
  CHECK_EQ_INT(dt_master_key_load(bad, d, 0, key, err, sizeof err), -1);
  CHECK(strstr(err, DT_MASTER_KEY_ENV) != NULL);
  CHECK(strstr(err, "secret-value") == NULL);
}

static void test_file_created_0600_and_reused(void)
{
  char d[128], path[256], err[512] = "", text[128] = "";
  uint8_t first[DT_MASTER_KEY_LEN], again[DT_MASTER_KEY_LEN], parsed[DT_MASTER_KEY_LEN];
  new_dir(d, sizeof d);
  CHECK_EQ_INT(dt_master_key_load(NULL, d, 0, first, err, sizeof err), 0);
  key_path(d, path, sizeof path);
  struct stat st;
  CHECK_EQ_INT(stat(path, &st), 0);
  CHECK_EQ_INT(st.st_mode & 0777, 0600);
  FILE *f = fopen(path, "r");
  CHECK(f != NULL);
  size_t n = f ? fread(text, 1, sizeof text - 1, f) : 0;
  if (f) fclose(f);
  CHECK_EQ_INT(n, 45); /* base64 of 32 bytes and a newline */
  CHECK_EQ_INT(dt_master_key_parse(text, n, parsed), 0);
  CHECK(memcmp(parsed, first, sizeof first) == 0);
  CHECK_EQ_INT(dt_master_key_load("", d, 0, again, err, sizeof err), 0); /* empty variable: unset */
  CHECK(memcmp(again, first, sizeof first) == 0);
  /* Another directory, another key; and no temporary file is left behind. */
  char d2[128];
  new_dir(d2, sizeof d2);
  CHECK_EQ_INT(dt_master_key_load(NULL, d2, 0, again, err, sizeof err), 0);
  CHECK(memcmp(again, first, sizeof first) != 0);
  char cmd[300];
  snprintf(cmd, sizeof cmd, "test $(ls -A %s | wc -l) -eq 1", d2);
  CHECK_EQ_INT(system(cmd), 0);
}

static void test_unsafe_files_refused(void)
{
  char d[128], path[256], err[512] = "";
  uint8_t key[DT_MASTER_KEY_LEN];
  new_dir(d, sizeof d);
  CHECK_EQ_INT(dt_master_key_load(NULL, d, 0, key, err, sizeof err), 0);
  key_path(d, path, sizeof path);
  const mode_t unsafe[] = { 0640, 0604, 0660, 0644, 0602 };
  for (size_t i = 0; i < sizeof unsafe / sizeof unsafe[0]; i++) {
    chmod(path, unsafe[i]);
    err[0] = '\0';
    CHECK_EQ_INT(dt_master_key_load(NULL, d, 0, key, err, sizeof err), -1);
    CHECK(strstr(err, "group or others") != NULL && strstr(err, path) != NULL && strstr(err, "chmod 600") != NULL);
  }
  chmod(path, 0400);
  CHECK_EQ_INT(dt_master_key_load(NULL, d, 0, key, err, sizeof err), 0);
  /* A symbolic link, a directory, or a file that holds no key. */
  char d2[128], link_path[256];
  new_dir(d2, sizeof d2);
  key_path(d2, link_path, sizeof link_path);
  CHECK_EQ_INT(symlink(path, link_path), 0);
  CHECK_EQ_INT(dt_master_key_load(NULL, d2, 0, key, err, sizeof err), -1);
  CHECK(strstr(err, "symbolic link") != NULL);
  unlink(link_path);
  mkdir(link_path, 0700);
  CHECK_EQ_INT(dt_master_key_load(NULL, d2, 0, key, err, sizeof err), -1);
  rmdir(link_path);
  int fd = open(link_path, O_WRONLY | O_CREAT | O_EXCL, 0600);
  CHECK(fd >= 0 && write(fd, "hello\n", 6) == 6);
  close(fd);
  CHECK_EQ_INT(dt_master_key_load(NULL, d2, 0, key, err, sizeof err), -1);
  CHECK(strstr(err, "not a key") != NULL);
}

/* With sealed data a missing key file is an error and nothing is made; an existing file or
 * the environment still gives the key. */
static void test_sealed_needs_the_key(void)
{
  char d[128], path[256], err[512] = "";
  uint8_t key[DT_MASTER_KEY_LEN], first[DT_MASTER_KEY_LEN];
  new_dir(d, sizeof d);
  key_path(d, path, sizeof path);
  CHECK_EQ_INT(dt_master_key_load(NULL, d, 1, key, err, sizeof err), -1);
  CHECK(strstr(err, "missing, but dialtone.db holds sealed telephony configurations") != NULL);
  CHECK(strstr(err, DT_MASTER_KEY_ENV) != NULL);
  CHECK(access(path, F_OK) != 0);
  DIR *dd = opendir(d);
  int entries = 0;
  for (struct dirent *e; dd && (e = readdir(dd));) entries += e->d_name[0] != '.';
  if (dd) closedir(dd);
  CHECK_EQ_INT(entries, 0); /* not even a temporary file */
  const char *hex = "ff080f161d242b323940474e555c636a71787f868d949ba2a9b0b7bec5ccd3da";
  CHECK_EQ_INT(dt_master_key_load(hex, d, 1, key, err, sizeof err), 0);
  CHECK(key[0] == 0xff && access(path, F_OK) != 0);
  CHECK_EQ_INT(dt_master_key_load(NULL, d, 0, first, err, sizeof err), 0); /* nothing sealed: made */
  CHECK_EQ_INT(dt_master_key_load(NULL, d, 1, key, err, sizeof err), 0);
  CHECK(memcmp(key, first, sizeof key) == 0);
}

/* Processes starting together on an empty data directory all end up with one key. */
static void test_concurrent_first_start(void)
{
  char d[128], err[512];
  uint8_t key[DT_MASTER_KEY_LEN];
  new_dir(d, sizeof d);
  int fds[8][2];
  pid_t pids[8];
  for (int i = 0; i < 8; i++) {
    CHECK_EQ_INT(pipe(fds[i]), 0);
    pids[i] = fork();
    if (pids[i] == 0) {
      int rc = dt_master_key_load(NULL, d, 0, key, err, sizeof err);
      if (rc == 0 && write(fds[i][1], key, sizeof key) != (ssize_t)sizeof key) rc = -1;
      _exit(rc == 0 ? 0 : 1);
    }
    close(fds[i][1]);
  }
  uint8_t got[8][DT_MASTER_KEY_LEN];
  for (int i = 0; i < 8; i++) {
    int status = -1;
    CHECK_EQ_INT(read(fds[i][0], got[i], sizeof got[i]), (long long)sizeof got[i]);
    close(fds[i][0]);
    waitpid(pids[i], &status, 0);
    CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    CHECK(memcmp(got[i], got[0], sizeof got[0]) == 0);
  }
}

static void test_setup(void)
{
  snprintf(dir, sizeof dir, "/tmp/dt-master-key-XXXXXX");
  CHECK(mkdtemp(dir) != NULL);
}

static void test_cleanup(void)
{
  char cmd[128];
  snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
  CHECK_EQ_INT(system(cmd), 0);
}

TEST_MAIN(TEST(test_setup), TEST(test_parse), TEST(test_env_wins_and_is_never_echoed),
          TEST(test_file_created_0600_and_reused), TEST(test_unsafe_files_refused),
          TEST(test_sealed_needs_the_key), TEST(test_concurrent_first_start), TEST(test_cleanup))
