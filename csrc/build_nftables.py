"""cffi build script for pycontain._nftables: libnftables (the library the nft
command is built on), in out-of-line ABI mode. Nothing is compiled: the build
writes a Python module holding the parsed declarations, and the library is
opened with dlopen when a firewall rule is set (pycontain/net/firewall.py).
In-process it costs well under a millisecond per transaction; running `nft`
costs 4-16 ms each time.
"""
from cffi import FFI

ffibuilder = FFI()
ffibuilder.cdef(
    """
    struct nft_ctx;
    struct nft_ctx *nft_ctx_new(uint32_t flags);
    void nft_ctx_free(struct nft_ctx *ctx);
    int nft_ctx_buffer_output(struct nft_ctx *ctx);
    const char *nft_ctx_get_output_buffer(struct nft_ctx *ctx);
    int nft_ctx_buffer_error(struct nft_ctx *ctx);
    const char *nft_ctx_get_error_buffer(struct nft_ctx *ctx);
    int nft_run_cmd_from_buffer(struct nft_ctx *nft, const char *buf);
    """
)
ffibuilder.set_source("pycontain._nftables", None)

if __name__ == "__main__":
    ffibuilder.compile(verbose=True)
