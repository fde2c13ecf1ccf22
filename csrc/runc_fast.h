/* pycontain-runc's `start` and `delete --force` of none without Python (runc_fast.c). */
void runc_fast(int argc, char **argv);
