/* A `fn exec` call the launcher runs itself, in a jail built from a cached
 * description whose stamps hold (cached_jail.c): no engine to start, as the
 * engine would check nothing. The event, the go-ahead, the collection of the
 * result and the log under the timeout, and what is printed and returned are those of
 * pycontain/fn/oneshot/exec_command.py, oneshot.py and outcome.py, which the tests hold
 * equal (tests/integration/test_fn_exec_planned.py). */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "cached_jail.h"

#include "fn_rules.h" /* generated: fn/outcome.py's limits, exit codes and texts */

#define MAX_RESULT (MAX_EVENT + 1024) /* the runner enforces the limit; this bounds a liar */

static volatile sig_atomic_t interrupted;

static void on_sigint(int sig) { (void)sig, interrupted = 1; }

static void kill_jail(struct planned_jail *jail)
{
    kill(jail->pid, SIGKILL);
    waitpid(jail->pid, NULL, 0);
}

static void write_all(int fd, const char *data, size_t size)
{
    while (size) {
        ssize_t n = write(fd, data, size);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return;
        data += n, size -= (size_t)n;
    }
}

/* Append what fd holds until EOF to *data (which grows), keeping at most max bytes. */
static int read_all(int fd, char **data, size_t *size, size_t max)
{
    char chunk[65536];
    for (;;) {
        ssize_t n = read(fd, chunk, sizeof chunk);
        if (n < 0 && errno == EINTR && !interrupted)
            continue;
        if (n < 0)
            return -1;
        if (n == 0)
            return 0;
        size_t keep = *size >= max ? 0 : (size_t)n < max - *size ? (size_t)n : max - *size;
        char *grown = keep ? realloc(*data, *size + keep) : *data;
        if (keep && !grown)
            return -1;
        memcpy(grown + *size, chunk, keep);
        *data = grown, *size += keep;
    }
}

/* options.read_event: --event's value as JSON text, @FILE or - (stdin); {} by default. */
static void read_event(struct planned_jail *jail, const char *source, char **data, size_t *size)
{
    *data = NULL, *size = 0;
    if (!source || (source[0] != '@' && strcmp(source, "-"))) {
        *data = strdup(source ? source : "{}");
        *size = strlen(*data);
        return;
    }
    int fd = source[0] == '@' ? open(source + 1, O_RDONLY | O_CLOEXEC) : 0;
    if (fd < 0 || read_all(fd, data, size, MAX_EVENT + 1)) {
        int err = errno;
        kill_jail(jail);
        if (interrupted)
            exit(130);
        if (fd)
            fprintf(stderr, "pycontain: cannot read event file %s: %s\n", source + 1,
                    strerror(err));
        else
            fprintf(stderr, "pycontain: cannot read the event from stdin: %s\n", strerror(err));
        exit(125);
    }
    if (fd)
        close(fd);
}

/* outcome.error_payload (the messages here need no JSON escaping). */
static char *error_payload(const char *type, const char *message, const char *request_id)
{
    char *payload;
    if (asprintf(&payload, "{\"errorMessage\": \"%s\", \"errorType\": \"%s\", \"requestId\": "
                 "\"%s\", \"stackTrace\": []}", message, type, request_id) < 0)
        exit(125);
    return payload;
}

/* outcome.new_request_id: a random (version 4) UUID. */
static void new_request_id(char out[37])
{
    unsigned char raw[16];
    if (getrandom(raw, sizeof raw, 0) != sizeof raw)
        exit(125);
    raw[6] = (raw[6] & 0x0F) | 0x40;
    raw[8] = (raw[8] & 0x3F) | 0x80;
    for (int i = 0, at = 0; i < 16; i++) {
        at += sprintf(out + at, "%02x", raw[i]);
        if (i == 3 || i == 5 || i == 7 || i == 9)
            out[at++] = '-';
    }
}

static double monotonic_ms(void)
{
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    return now.tv_sec * 1e3 + now.tv_nsec / 1e6;
}

/* Give the jail the event and the call's own variables (environment.call_variables). */
static void hand_over(struct planned_jail *jail, const struct fresh_call *call,
                      const char *event, size_t size, const char *request_id)
{
    char stream[64], go[256];
    struct timespec now;
    clock_gettime(CLOCK_REALTIME, &now);
    long long deadline = (long long)((now.tv_sec + now.tv_nsec / 1e9) * 1000
                                     + call->timeout * 1000);
    strftime(stream, sizeof stream, "%Y/%m/%d/[$LATEST]", gmtime(&now.tv_sec));
    int at = snprintf(go, sizeof go, "AWS_LAMBDA_LOG_STREAM_NAME=%s", stream);
    for (const char *c = request_id; *c; c++)
        if (*c != '-')
            go[at++] = *c;
    at += snprintf(go + at, sizeof go - at,
                   "%c_PYCONTAIN_REQUEST_ID=%s%c_PYCONTAIN_DEADLINE_MS=%lld", 0, request_id, 0,
                   deadline);
    for (size_t done = 0; done < size;) {
        ssize_t n = pwrite(jail->event, event + done, size - done, (off_t)done);
        if (n <= 0)
            break; /* the runner then reads a short event, as after a failed write there */
        done += (size_t)n;
    }
    close(jail->event);
    write_all(jail->go, go, (size_t)at);
    close(jail->go);
}

static void exit_if_interrupted(struct planned_jail *jail)
{
    if (interrupted) {
        kill_jail(jail);
        exit(130);
    }
}

/* Whether the jail has exited (its pidfd readable; without one, as on a
 * kernel before 5.3, asked every 10 ms). */
static int has_exited(struct planned_jail *jail, const struct pollfd *pidfd)
{
    siginfo_t info = {0};
    if (pidfd->fd >= 0)
        return pidfd->revents != 0;
    return waitid(P_PID, jail->pid, &info, WEXITED | WNOHANG | WNOWAIT) == 0 && info.si_pid;
}

/* outcome.Collector.run: the result and the log (copied to stderr as it
 * comes) until the jail has exited and both pipes are closed; 0 on timeout. */
static int collect(struct planned_jail *jail, double deadline, char **result, size_t *size)
{
    int pidfd = (int)syscall(SYS_pidfd_open, jail->pid, 0);
    struct pollfd fds[3] = {{jail->result, POLLIN, 0}, {jail->log, POLLIN, 0}, {pidfd, POLLIN, 0}};
    int open_pipes = 2, exited = 0;
    char chunk[65536];
    while (open_pipes || !exited) {
        exit_if_interrupted(jail);
        int wait = -1;
        if (!exited) {
            double left = deadline - monotonic_ms();
            if (left <= 0)
                break;
            wait = pidfd < 0 && left > 10 ? 10 : (int)left + 1;
        }
        fds[2].revents = 0;
        if (poll(fds, 3, wait) < 0)
            continue; /* EINTR: a Ctrl-C is seen above */
        for (int i = 0; i < 2; i++) {
            if (!fds[i].revents)
                continue;
            ssize_t n = read(fds[i].fd, chunk, sizeof chunk);
            if (n <= 0) {
                close(fds[i].fd);
                fds[i].fd = -1, open_pipes--;
            } else if (i == 1) {
                write_all(2, chunk, (size_t)n);
            } else if (*size < MAX_RESULT) {
                size_t keep = (size_t)n < MAX_RESULT - *size ? (size_t)n : MAX_RESULT - *size;
                char *grown = realloc(*result, *size + keep);
                if (grown)
                    memcpy(grown + *size, chunk, keep), *result = grown, *size += keep;
            }
        }
        if (!exited && has_exited(jail, &fds[2]))
            exited = 1, fds[2].fd = -1;
    }
    if (pidfd >= 0)
        close(pidfd);
    return exited;
}

/* outcome.classify: the payload (the result, or an error's) of a call that
 * ended with status, its size in *size (the result's when called), its exit
 * code in *code. */
static char *classify(int status, int timed_out, const struct fresh_call *call, const char *rid,
                      char *result, size_t *size, int *code)
{
    char message[256], reason[64], *error;
    int exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -WTERMSIG(status);
    if (timed_out) {
        snprintf(message, sizeof message, TIMED_OUT, rid, call->timeout);
        *code = EXIT_TIMEOUT;
        error = error_payload("Sandbox.Timedout", message, rid);
    } else if (exit_code >= 0 && exit_code <= 2 && *size) {
        *code = exit_code;
        return result;
    } else {
        if (exit_code == 0)
            snprintf(reason, sizeof reason, NO_REASON);
        else if (exit_code == -SIGKILL)
            snprintf(reason, sizeof reason, KILLED);
        else if (exit_code < 0)
            snprintf(reason, sizeof reason, BY_SIGNAL, -exit_code);
        else
            snprintf(reason, sizeof reason, BY_STATUS, exit_code);
        snprintf(message, sizeof message, EXIT_ERROR, rid, reason);
        *code = EXIT_FUNCTION_ERROR;
        error = error_payload("Runtime.ExitError", message, rid);
    }
    *size = strlen(error);
    return error;
}

int jail_built(struct planned_jail *jail)
{
    char *report = NULL;
    size_t size = 0;
    read_all(jail->err, &report, &size, 4096); /* until its exec closes the pipe */
    close(jail->err);
    free(report);
    if (!size)
        futimens(jail->plan, NULL); /* used: the plans cache keeps those used last */
    close(jail->plan);
    jail->err = jail->plan = -1;
    if (!size)
        return 1;
    drop_jail(jail);
    return 0;
}

void _Noreturn run_planned_call(struct planned_jail *jail, const struct fresh_call *call)
{
    char request_id[37], *event, *result = NULL;
    size_t event_size, size = 0;
    struct rusage usage;
    int status = 0, code;
    struct sigaction interrupt = {.sa_handler = on_sigint};
    if (signal(SIGINT, SIG_IGN) != SIG_IGN) /* a caller that ignores it: so do we, as python */
        sigaction(SIGINT, &interrupt, NULL);
    signal(SIGPIPE, SIG_IGN);
    read_event(jail, call->event_source, &event, &event_size);
    if (event_size > MAX_EVENT) {
        kill_jail(jail);
        printf("%s\n", error_payload("RequestTooLargeException", TOO_LARGE, ""));
        exit(EXIT_BAD_REQUEST);
    }
    new_request_id(request_id);
    double start = monotonic_ms();
    hand_over(jail, call, event, event_size, request_id);
    dprintf(2, START_LINE, request_id);
    int finished = collect(jail, start + call->timeout * 1000, &result, &size);
    if (!finished)
        kill(jail->pid, SIGKILL);
    while (wait4(jail->pid, &status, 0, &usage) < 0 && errno == EINTR)
        exit_if_interrupted(jail);
    double duration = monotonic_ms() - start;
    char *payload = classify(status, !finished, call, request_id, result, &size, &code);
    long long billed = (long long)duration + (duration > (long long)duration);
    dprintf(2, REPORT_LINES, request_id, request_id, duration, billed, call->memory_mb,
            (usage.ru_maxrss + 1023) / 1024, LIMITS_APPLIED);
    write_all(1, payload, size);
    write_all(1, "\n", 1);
    exit(code);
}
