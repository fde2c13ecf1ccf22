/* Reading runc/markers.py's files (runc_marker.c). */
#include <sys/types.h>

enum { UNSURE = -1, ALIVE, GONE };

/* A decimal number of at most 19 digits ending at stop (then *at is past it); -1 if not. */
long long marker_number(const char **at, char stop);
/* The file at path (at most size - 1 bytes, NUL-terminated) in buf; its length or -1. */
ssize_t marker_read(const char *path, char *buf, size_t size);
/* What follows the first line of DIR/NAME if that line matches DIR/STATE; NULL if not. */
const char *verified_marker(const char *dir, const char *name, const char *state);
/* A marker's "PID START_TIME" line (*at moves past it): ALIVE, GONE or UNSURE. */
int planned_init(const char **at, long long *pid);
