/* qkbench gen-model: write a deterministic synthetic EmbeddingGemma GGUF. */
#include <getopt.h>
#include <stdio.h>
#include <string.h>

#include "common/output_file.h"
#include "model/synth.h"
#include "harness/cli/args.h"
#include "harness/cli/commands.h"
#include "harness/measure.h"
#include "harness/vocab_json.h"

static void usage(FILE *f) {
    fprintf(
        f,
        "usage: qkbench gen-model --preset NAME [--seed S] [--no-dense]\n"
        "                         [--vocab tokenizer.json] -o FILE.gguf [--force]\n"
        "\n"
        "Writes a synthetic EmbeddingGemma model (architecture gemma-embedding) with llama.cpp's\n"
        "metadata keys and tensor names, Q8_0 matrices and F32 norms. The same preset and seed\n"
        "always give the same file. It is written to a temporary file beside FILE, fsync'd and\n"
        "renamed to FILE when complete; an existing FILE is never replaced without --force (and\n"
        "then only by a complete file). Exit code: 0; 1 a failure while writing; 2 bad usage.\n"
        "\n"
        "  --preset NAME   one of:\n");
    for (int i = 0; i < qk_synth_preset_count(); i++)
        fprintf(f, "                    %-28s %s\n", qk_synth_preset_at(i)->name,
                qk_synth_preset_at(i)->description);
    fprintf(f,
            "  --seed S        random seed (default 1)\n"
            "  --no-dense      leave out the Dense 768->3072->768 layers (as early Q8_0 uploads)\n"
            "  --vocab FILE    a Hugging Face tokenizer.json of Gemma 3 (its path is what\n"
            "                  scripts/install-tokenizer.sh prints): the tokenizer section\n"
            "                  gets its tokens, types and merge-derived scores, and n_vocab\n"
            "                  becomes its size (262144); without it, placeholder tokens\n"
            "  -o FILE         output path\n"
            "  --force         replace FILE if it exists\n");
}

int qk_cmd_gen_model(int argc, char **argv) {
    static const struct option opts[] = {
        {"preset", required_argument, 0, 'p'}, {"seed", required_argument, 0, 's'},
        {"no-dense", no_argument, 0, 'n'},     {"output", required_argument, 0, 'o'},
        {"vocab", required_argument, 0, 'v'},  {"force", no_argument, 0, 'f'},
        {"help", no_argument, 0, 'h'},         {0, 0, 0, 0}};
    const char *preset = NULL, *out = NULL, *vocab_path = NULL;
    long seed = 1;
    int dense = 1, force = 0, c;
    qk_error err;
    optind = 1;
    while ((c = getopt_long(argc, argv, "o:h", opts, NULL)) != -1) {
        switch (c) {
        case 'p':
            preset = optarg;
            break;
        case 's':
            if (qk_parse_int(optarg, "--seed", 0, 0x7fffffffL, &seed, &err))
                return qk_cli_error("gen-model", 2, &err);
            break;
        case 'n':
            dense = 0;
            break;
        case 'o':
            out = optarg;
            break;
        case 'v':
            vocab_path = optarg;
            break;
        case 'f':
            force = 1;
            break;
        case 'h':
            usage(stdout);
            return 0;
        default:
            usage(stderr);
            return 2;
        }
    }
    if (!preset || !out || optind != argc) {
        usage(stderr);
        return 2;
    }
    const qk_synth_preset *p = qk_synth_find_preset(preset);
    if (!p) {
        fprintf(stderr, "qkbench gen-model: unknown preset '%s' (see --help)\n", preset);
        return 2;
    }
    /* a typo in -o must not cost a real model: refused before anything is generated */
    if (!force && qk_refuse_existing(out, &err)) return qk_cli_error("gen-model", 2, &err);
    double t0 = qk_now_seconds();
    qk_vocab_json vj = {0};
    qk_synth_vocab sv = {0};
    if (vocab_path) {
        if (qk_vocab_json_read(&vj, vocab_path, &err)) return qk_cli_error("gen-model", 2, &err);
        sv = qk_vocab_json_synth(&vj);
        fprintf(stderr,
                "qkbench gen-model: %s: %d tokens (%d normal, %d control, %d user-defined, "
                "%d byte), %d merges -> scores, %d added tokens beyond the vocabulary left out\n",
                vocab_path, vj.n, vj.n_normal, vj.n_control, vj.n_user_defined, vj.n_byte,
                vj.n_merges, vj.n_added_dropped);
    }
    int rc =
        qk_synth_write_file(out, p, (uint64_t)seed, dense, vocab_path ? &sv : NULL, force, &err);
    if (vocab_path) qk_vocab_json_free(&vj);
    if (rc) return qk_cli_error("gen-model", 1, &err);
    fprintf(stderr, "qkbench gen-model: wrote %s (preset %s%s, seed %ld%s) in %.1f s\n", out,
            p->name, dense && p->dense_ff ? "" : ", no Dense layers", seed,
            vocab_path ? ", real vocabulary" : "", qk_now_seconds() - t0);
    return 0;
}
