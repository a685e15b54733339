/* The llama.cpp peer: the same GGUF model's embedding computed by llama.cpp's own CPU backend,
 * measured beside our kernels.
 *
 * The libraries are the prebuilt ones of npm package @node-llama-cpp/linux-x64 (installed by
 * scripts/install-peer.sh): libllama is opened with dlopen at run time and the CPU backend best for
 * this CPU is picked by ggml from the same folder. Nothing links against llama.cpp; this unit is
 * compiled against its C API headers (extracted by the same script) when they exist, and otherwise
 * compiles to a fallback whose open reports "not built" (qk_peer_llama_built() == 0).
 *
 * One instance: one model, one context (n_ctx = n_batch = n_ubatch = max_tokens, embeddings on,
 * mean pooling), n_threads threads in a ggml threadpool of our own. When cpus are given, the
 * threadpool's cpumask is exactly those PUs, strict (one PU per thread, as our pool binds: ggml
 * puts its workers 1..n-1 on the PUs in ascending order and the calling thread, its worker 0, on
 * the next), its polling is 0 (idle threads sleep, they do not spin against ours). The calling
 * thread is moved onto ggml's PU for each decode call and given back its own binding after it (our
 * pool's worker 0 is that thread). That is the in-process peer mode.
 *
 * With QK_PEER_LLAMA_DEFAULT_THREADPOOL no threadpool is made or attached: llama.cpp at its own
 * defaults, where ggml makes a threadpool for each decode (ggml_threadpool_params_default: its
 * default polling, 50 in this build, no cpumask, so the threads run wherever the process may) and
 * joins it before llama_decode returns. That is the peer's own-process mode
 * (harness/peers/llama_process.h), whose child pins its whole process instead. (Those threads are
 * new at every decode and the kernel places them: on the loaded Zen 3 VM, both threads of a pass
 * were seen on one PU, spinning in turn at ggml's barriers, a tiny-model pass taking 1.5 s
 * instead of 1 ms. That is llama.cpp at its defaults, and it is recorded as such.) llama.cpp's
 * own tools (common/) attach a persistent threadpool instead; that variant is not measured here.
 *
 * llama.cpp's log is silenced; its last error line is kept for messages. Not thread-safe: use
 * from one thread.
 */
#ifndef QK_HARNESS_PEERS_LLAMA_H
#define QK_HARNESS_PEERS_LLAMA_H

#include <jansson.h>
#include <stdint.h>

#include "common/error.h"

typedef struct qk_peer_llama qk_peer_llama;

/* Whose threads compute: ours (a ggml threadpool made here, pinned, poll 0: the in-process mode),
 * or llama.cpp's defaults (no threadpool attached: ggml makes its own for each decode, default
 * polling; cpus are then ignored and the threads run where the process may run: the process
 * mode, whose child is pinned as a whole). */
typedef enum {
    QK_PEER_LLAMA_OUR_THREADPOOL,
    QK_PEER_LLAMA_DEFAULT_THREADPOOL
} qk_peer_llama_threads;

/* The folder scripts/install-peer.sh installs the libraries into (under the source tree). */
#define QK_PEER_LLAMA_DEFAULT_DIR                                                                  \
    QK_SOURCE_DIR "/third_party/node/peer/node_modules/@node-llama-cpp/linux-x64/bins/linux-x64"
#define QK_PEER_LLAMA_LIBRARY "libllama.v0.5.0.so"

/* 1 when this build has the peer (compiled against llama.h), else 0. */
int qk_peer_llama_built(void);

/* The library qk_peer_llama_open would load for `library` (NULL or "": $QK_PEER_LIBRARY, else the
 * default folder's libllama); a folder means its libllama. Writes the path into buf. */
void qk_peer_llama_library_path(const char *library, char *buf, size_t size);

/* 1 if the library (as resolved above) is a readable file and this build has the peer. */
int qk_peer_llama_available(const char *library);

/* Opens the library (once per process; later calls must name the same one), loads model_path and
 * makes a context for up to max_tokens tokens. cpus: OS indices of the PUs to pin our threadpool
 * to (NULL or n_cpus 0: not pinned; unused with QK_PEER_LLAMA_DEFAULT_THREADPOOL). Returns 0; 1
 * when the peer is not built or the library is missing (err says which path and how to install); -1
 * on any other failure (err has llama.cpp's last error line when there is one). */
int qk_peer_llama_open(qk_peer_llama **out, const char *library, const char *model_path,
                       int n_threads, int max_tokens, const int *cpus, int n_cpus,
                       qk_peer_llama_threads threads, qk_error *err);

/* One forward pass of tokens[0..n) (n <= max_tokens) as sequence 0 from an empty cache: the
 * mean-pooled embedding, L2-normalised, into out[0..dim) (dim = qk_peer_llama_dim). *seconds (may
 * be NULL): the wall time of the llama_decode call alone. 0 or -1. */
int qk_peer_llama_embed(qk_peer_llama *p, const int32_t *tokens, int n, float *out, double *seconds,
                        qk_error *err);

int qk_peer_llama_dim(const qk_peer_llama *p);
/* How it is bound: "cpumask 0-1 (strict: a PU per thread), poll 0", "not pinned (...)", or with
 * llama.cpp's defaults "affinity 0-1, llama.cpp default threadpool, poll 50". */
const char *qk_peer_llama_binding(const qk_peer_llama *p);
int qk_peer_llama_pinned(const qk_peer_llama *p);
/* The polling level its threads use: 0 with our threadpool, else ggml_threadpool_params_default's
 * (llama.cpp's default, read from the library). */
int qk_peer_llama_poll(const qk_peer_llama *p);
/* New object: library path, version, llama.cpp commit (when the headers recorded it), system info
 * (which CPU backend ggml chose), threads, binding, poll, threadpool ("ours" or "llama.cpp
 * default"). */
json_t *qk_peer_llama_info(const qk_peer_llama *p);
void qk_peer_llama_close(qk_peer_llama *p); /* NULL is fine; the library stays loaded */

#endif
