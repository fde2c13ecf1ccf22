"""cffi build script for pycontain._seccomp: libseccomp, used only to compile a
seccomp profile into a BPF program (pycontain/oci/security/compiler.py).

The program is cached on disk and loaded by pycontain._native, so container
starts never load libseccomp at all.
"""
from cffi import FFI

ffibuilder = FFI()
ffibuilder.cdef(
    """
    typedef void *scmp_filter_ctx;
    typedef uint64_t scmp_datum_t;
    struct scmp_arg_cmp {
        unsigned int arg;
        int op;
        scmp_datum_t datum_a;
        scmp_datum_t datum_b;
    };
    struct scmp_version { unsigned int major; unsigned int minor; unsigned int micro; };
    const struct scmp_version *seccomp_version(void);
    scmp_filter_ctx seccomp_init(uint32_t def_action);
    void seccomp_release(scmp_filter_ctx ctx);
    int seccomp_attr_set(scmp_filter_ctx ctx, int attr, uint32_t value);
    uint32_t seccomp_arch_resolve_name(const char *arch_name);
    uint32_t seccomp_arch_native(void);
    int seccomp_arch_add(scmp_filter_ctx ctx, uint32_t arch_token);
    int seccomp_syscall_resolve_name(const char *name);
    int seccomp_rule_add_array(scmp_filter_ctx ctx, uint32_t action, int syscall,
                               unsigned int arg_cnt, const struct scmp_arg_cmp *arg_array);
    int seccomp_export_bpf(const scmp_filter_ctx ctx, int fd);

    #define SCMP_FLTATR_CTL_NNP ...
    #define SCMP_FLTATR_CTL_OPTIMIZE ...
    #define SCMP_ACT_KILL_PROCESS ...
    #define SCMP_ACT_KILL_THREAD ...
    #define SCMP_ACT_TRAP ...
    #define SCMP_ACT_LOG ...
    #define SCMP_ACT_ALLOW ...
    #define SCMP_ACT_NOTIFY ...
    #define SCMP_CMP_NE ...
    #define SCMP_CMP_LT ...
    #define SCMP_CMP_LE ...
    #define SCMP_CMP_EQ ...
    #define SCMP_CMP_GE ...
    #define SCMP_CMP_GT ...
    #define SCMP_CMP_MASKED_EQ ...
    uint32_t pyc_act_errno(uint32_t errno_value);
    uint32_t pyc_act_trace(uint32_t msg);
    """
)
ffibuilder.set_source(
    "pycontain._seccomp",
    """
    #include <seccomp.h>
    uint32_t pyc_act_errno(uint32_t e) { return SCMP_ACT_ERRNO(e); }
    uint32_t pyc_act_trace(uint32_t m) { return SCMP_ACT_TRACE(m); }
    """,
    libraries=["seccomp"],
    extra_compile_args=["-O2", "-Wall"],
)

if __name__ == "__main__":
    ffibuilder.compile(verbose=True)
