/* pycontain-runc's `start` without starting Python, when the container's
 * state says start is nothing but the exec fifo step: pycontain/runc/state.py
 * writes ROOT/ID/start.fifo-only (the state file's size and CRC-32, decimal,
 * one space between, a newline) iff so (no poststart hooks, a process to start). Only the success is
 * handled here: open the fifo (which lets the init exec), read its "0",
 * remove the fifo, exit 0. Anything else -- a flag or id this does not know,
 * no --root, a missing or malformed marker, a state file that no longer
 * matches it,
 * no "0" within 100 ms -- returns, and the launcher runs the Python path,
 * which decides and reports. PYCONTAIN_RUNC_NO_FAST=1 turns this off. */
#define _GNU_SOURCE
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "runc_fast.h"

/* A global flag with a value (--NAME VALUE or --NAME=VALUE): its value, or NULL. */
static const char *valued(int argc, char **argv, int *i, const char *name)
{
    size_t len = strlen(name);
    if (strncmp(argv[*i], name, len) != 0)
        return NULL;
    if (argv[*i][len] == '=')
        return argv[*i] + len + 1;
    if (argv[*i][len] == 0 && *i + 1 < argc)
        return argv[++*i];
    return NULL;
}

/* A conservative subset of the ids state.check_id accepts: others go to Python. */
static int plain_id(const char *id)
{
    size_t len = strlen(id);
    if (len == 0 || len > 128)
        return 0;
    for (const char *c = id; *c; c++)
        if (!(*c >= 'a' && *c <= 'z') && !(*c >= 'A' && *c <= 'Z') && !(*c >= '0' && *c <= '9')
            && *c != '_' && *c != '-')
            return 0;
    return 1;
}

/* A decimal number of at most 19 digits ending at stop; -1 if not. */
static long long number(const char **at, char stop)
{
    long long value = 0;
    const char *c = *at;
    for (; *c >= '0' && *c <= '9' && c - *at < 19; c++)
        value = value * 10 + (*c - '0');
    if (c == *at || *c != stop)
        return -1;
    *at = c + 1;
    return value;
}

/* The marker's size and CRC-32 of the state file; -1 if missing or malformed. */
static int read_marker(const char *path, long long *size, long long *crc)
{
    char buf[48];
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
    if (fd < 0)
        return -1;
    ssize_t n = read(fd, buf, sizeof buf - 1);
    close(fd);
    if (n <= 0 || n >= (ssize_t)sizeof buf - 1)
        return -1;
    buf[n] = 0;
    const char *at = buf;
    *size = number(&at, ' ');
    *crc = *size < 0 ? -1 : number(&at, '\n');
    return *crc < 0 || *at ? -1 : 0;
}

/* zlib's CRC-32 of the file at path if it holds size bytes (at most 1 MiB), else -1. */
static long long file_crc(const char *path, long long size)
{
    static unsigned char data[1 << 20];
    if (size >= (long long)sizeof data)
        return -1;
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
    if (fd < 0)
        return -1;
    ssize_t n = read(fd, data, sizeof data);
    close(fd);
    if (n != size)
        return -1;
    unsigned int crc = 0xffffffffu;
    for (ssize_t i = 0; i < n; i++) {
        crc ^= data[i];
        for (int bit = 0; bit < 8; bit++)
            crc = (crc >> 1) ^ (0xedb88320u & -(crc & 1));
    }
    return (long long)(crc ^ 0xffffffffu);
}

static void start(const char *root, const char *id)
{
    char dir[4096], path[4200];
    struct stat st;
    if (snprintf(dir, sizeof dir, "%s/%s", root, id) >= (int)sizeof dir)
        return;
    long long size, crc;
    snprintf(path, sizeof path, "%s/start.fifo-only", dir);
    if (read_marker(path, &size, &crc))
        return;
    snprintf(path, sizeof path, "%s/state", dir);
    if (file_crc(path, size) != crc)
        return;
    snprintf(path, sizeof path, "%s/exec.fifo", dir);
    int fd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC | O_NOFOLLOW);
    if (fd < 0)
        return;
    struct pollfd want = {.fd = fd, .events = POLLIN};
    char byte = 0;
    int ok = fstat(fd, &st) == 0 && S_ISFIFO(st.st_mode) && poll(&want, 1, 100) == 1
             && read(fd, &byte, 1) == 1 && byte == '0';
    close(fd);
    if (!ok)
        return;
    unlink(path);
    exit(0);
}

void runc_fast(int argc, char **argv)
{
    const char *root = NULL, *value, *off = getenv("PYCONTAIN_RUNC_NO_FAST");
    if (off && *off)
        return;
    int i = 1;
    for (; i < argc && argv[i][0] == '-'; i++) {
        if ((value = valued(argc, argv, &i, "--root")))
            root = value;
        else if (valued(argc, argv, &i, "--log-format") || valued(argc, argv, &i, "--log")
                 || valued(argc, argv, &i, "--rootless"))
            continue;
        else if (strcmp(argv[i], "--debug") && strcmp(argv[i], "--systemd-cgroup"))
            return;
    }
    if (root && *root && i + 2 == argc && strcmp(argv[i], "start") == 0 && plain_id(argv[i + 1]))
        start(root, argv[i + 1]);
}
