/*
 * pycontain-init: the tiny init that `pycontain run --init` puts at PID 1.
 * It starts the command as its only child, forwards every catchable signal to
 * it, reaps every zombie that gets reparented to it, and exits with the
 * child's status (128+N when the child was killed by signal N).
 * Built statically so it runs in any image, even one without a libc.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

static int exit_status(int status)
{
    if (WIFEXITED(status))
        return WEXITSTATUS(status);
    return 128 + WTERMSIG(status);
}

int main(int argc, char **argv)
{
    sigset_t all, old;
    pid_t child;

    if (argc < 2) {
        fprintf(stderr, "usage: pycontain-init COMMAND [ARG...]\n");
        return 125;
    }
    sigfillset(&all);
    sigprocmask(SIG_SETMASK, &all, &old);
    child = fork();
    if (child < 0) {
        perror("pycontain-init: fork");
        return 125;
    }
    if (child == 0) {
        sigprocmask(SIG_SETMASK, &old, NULL);
        execvp(argv[1], argv + 1);
        fprintf(stderr, "pycontain-init: exec %s: %s\n", argv[1], strerror(errno));
        _exit(errno == ENOENT ? 127 : 126);
    }
    for (;;) {
        siginfo_t info;
        int sig = sigwaitinfo(&all, &info);
        if (sig < 0)
            continue;
        if (sig != SIGCHLD) {
            kill(child, sig);
            continue;
        }
        for (;;) {
            int status;
            pid_t pid = waitpid(-1, &status, WNOHANG);
            if (pid <= 0)
                break;
            if (pid == child)
                return exit_status(status);
        }
    }
}
