/* pycontain-runc's `start` without Python (runc_fast.c). */
void runc_fast(int argc, char **argv);
