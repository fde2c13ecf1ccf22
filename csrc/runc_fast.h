/* pycontain-runc's start, kill and delete without Python when that is all they are (runc_fast.c). */
void runc_fast(int argc, char **argv);
