/* What csrc/runc_fast.c reads in a container's directory: the markers that
 * pycontain/runc/markers.py writes beside the state (checked against the
 * state file's size and CRC-32), and whether the init they name still runs. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "runc_marker.h"

/* A decimal number of at most 19 digits ending at stop; -1 if not. */
long long marker_number(const char **at, char stop)
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

/* The file at path (at most size - 1 bytes, NUL-terminated) in buf; its length or -1. */
ssize_t marker_read(const char *path, char *buf, size_t size)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
    if (fd < 0)
        return -1;
    ssize_t n = read(fd, buf, size - 1);
    close(fd);
    if (n < 0 || (size_t)n >= size - 1)
        return -1;
    buf[n] = 0;
    return n;
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

/* The marker DIR/NAME if its first line ("SIZE CRC") matches the state file
 * DIR/STATE: what follows that line (in a static buffer); NULL if not. */
const char *verified_marker(const char *dir, const char *name, const char *state)
{
    static char buf[1 << 16];
    char path[4200];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    ssize_t n = marker_read(path, buf, sizeof buf);
    if (n <= 0 || strlen(buf) != (size_t)n)
        return NULL;
    const char *at = buf;
    long long size = marker_number(&at, ' ');
    long long crc = size < 0 ? -1 : marker_number(&at, '\n');
    if (crc < 0)
        return NULL;
    snprintf(path, sizeof path, "%s/%s", dir, state);
    return file_crc(path, size) == crc ? at : NULL;
}

/* Whether the process pid still is the one started at started (ALIVE) or not
 * (GONE: /proc/PID/stat missing or a zombie, or another start time), as
 * state.start_time reads it. */
static int init_process(long long pid, long long started)
{
    char path[64], buf[4096];
    snprintf(path, sizeof path, "/proc/%lld/stat", pid);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return errno == ENOENT ? GONE : UNSURE;
    ssize_t n = read(fd, buf, sizeof buf - 1);
    close(fd);
    if (n <= 0 || n >= (ssize_t)sizeof buf - 1)
        return UNSURE;
    buf[n] = 0;
    char *at = strrchr(buf, ')'), *field, *save = NULL;
    if (!at)
        return UNSURE;
    field = strtok_r(at + 1, " \n", &save);
    if (field && strcmp(field, "Z") == 0)
        return GONE;
    for (int i = 1; field && i <= 19; i++)
        field = strtok_r(NULL, " \n", &save);
    if (!field)
        return UNSURE;
    char *stop;
    errno = 0;
    long long value = strtoll(field, &stop, 10);
    if (stop == field || *stop || errno)
        return UNSURE;
    return value == started ? ALIVE : GONE;
}

/* The plan's init (pid and start time) and its state; UNSURE if unreadable. */
int planned_init(const char **at, long long *pid)
{
    *pid = marker_number(at, ' ');
    long long started = *pid <= 0 ? -1 : marker_number(at, '\n');
    return started < 0 ? UNSURE : init_process(*pid, started);
}
