/* The llama.cpp peer in a child process of its own, at llama.cpp's defaults.
 *
 * The parent side starts `self_exe peer-child ...` (the hidden command of harness/cli/
 * cmd_peer_child.c, which calls qk_peer_process_serve) with a socket pair on the child's fd 3; the
 * child's stdout and stderr go to a file of ours (its last line names a failure), its stdin is
 * /dev/null, it ignores SIGINT (a Ctrl-C stops the run, which then ends the child) and it dies with
 * its parent (PR_SET_PDEATHSIG). The child pins itself as a whole to the PUs given (every thread
 * llama.cpp creates inherits that affinity) and opens the peer with
 * QK_PEER_LLAMA_DEFAULT_THREADPOOL: no threadpool of ours, ggml's own per decode at its default
 * polling, n_threads threads.
 *
 * Per request the child times the same region as the in-process peer (batch fill, llama_decode,
 * fetch, normalise) and replies with its wall time, its llama_decode time, the CPU time of its
 * whole process over the region and the embedding. Between requests the parent holds the child
 * stopped (SIGSTOP after each reply, waited for until it is stopped; SIGCONT before the next), so
 * it cannot run, let alone spin, while something else is measured.
 *
 * A child that dies (a signal, llama.cpp's abort, an exit) fails the call that saw it: "peer
 * child killed by SIGABRT (signal 6): <its last stderr line>"; it is reaped then, and close reaps
 * it otherwise (EOF on its socket, then SIGKILL if it has not gone within a few seconds). Use from
 * one thread: the one that started it (its death signal is tied to that thread). */
#ifndef QK_HARNESS_PEERS_LLAMA_PROCESS_H
#define QK_HARNESS_PEERS_LLAMA_PROCESS_H

#include <jansson.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/types.h>

#include "common/error.h"

typedef struct qk_peer_process qk_peer_process;

typedef struct {
    const char *self_exe;   /* the qkbench executable (run as `self_exe peer-child ...`) */
    const char *library;    /* as qk_peer_llama_open's (NULL: $QK_PEER_LIBRARY or the default) */
    const char *model_path; /* the GGUF */
    int n_threads, max_tokens;
    const int *cpus; /* OS indices of the PUs the whole child is pinned to; n_cpus 0: inherited */
    int n_cpus;
} qk_peer_process_options;

typedef struct {
    double wall_s;   /* the timed region (the same as the in-process peer's) */
    double decode_s; /* the llama_decode call alone */
    double cpu_s;    /* user + system time of the child's whole process over the region */
} qk_peer_process_times;

/* Starts the child and waits for it to have opened the model (it is stopped when this returns).
 * 0; 1 when the peer is not built or its library is missing (err says which, as
 * qk_peer_llama_open); -1 on any other failure (the child's message, or how it died). No child is
 * left on failure. */
int qk_peer_process_start(qk_peer_process **out, const qk_peer_process_options *o, qk_error *err);

/* One forward pass of tokens[0..n) in the child: the L2-normalised mean-pooled embedding into
 * out[0..dim) and its times into *t. 0, or -1 (the child's error, or how it died: it is then
 * reaped and every later call fails alike). */
int qk_peer_process_embed(qk_peer_process *p, const int32_t *tokens, int n, float *out,
                          qk_peer_process_times *t, qk_error *err);

int qk_peer_process_dim(const qk_peer_process *p);

/* The line of a child's stderr file f that says most: the last one from qkbench or naming an
 * assertion or an error, else the last non-empty one; cut to size - 1 characters. f is left at its
 * end (the child may write more). */
void qk_peer_child_last_words(FILE *f, char *buf, size_t size);
pid_t qk_peer_process_pid(const qk_peer_process *p); /* 0 once reaped */
/* The child's qk_peer_llama_info with "binding" saying how it was bound ("own process, affinity
 * 0-1, llama.cpp default threadpool, poll 50"); borrowed, valid until close. */
json_t *qk_peer_process_info(const qk_peer_process *p);
/* Ends and reaps the child (NULL is fine). */
void qk_peer_process_close(qk_peer_process *p);

/* The child's side (`qkbench peer-child`): pins this process to cpus[0..n_cpus) (n_cpus 0: left
 * as inherited), opens the peer at llama.cpp's defaults, says hello on fd and serves requests
 * until the parent closes its end. 0 at that end; 1 / -1 as qk_peer_llama_open, or -1 when fd is
 * not the parent's socket or the protocol breaks (err; the hello carries an open failure to the
 * parent too). */
int qk_peer_process_serve(int fd, const char *library, const char *model_path, int n_threads,
                          int max_tokens, const int *cpus, int n_cpus, qk_error *err);

/* The fd the child serves on. */
#define QK_PEER_PROCESS_FD 3

#endif
