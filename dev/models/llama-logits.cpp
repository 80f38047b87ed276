// llama.cpp's logits for one input, for dev/models/make-qwen2moe-reference.py (dev only, never in npm test).
// Usage: llama-logits MODEL.gguf STEPS OUT_PREFIX ID... — writes OUT_PREFIX.logits.bin (every input position, one
// llama_decode of the whole input), OUT_PREFIX.generate_step_logits.bin (greedy decoding in a fresh context: row 0
// is the last input position from a decode that asked for that output only, then one token per decode) and
// OUT_PREFIX.ids (the STEPS greedy ids). Raw little-endian f32 [rows, vocab]. CPU, 1 thread, f32 K/V cache, flash
// attention off.
#include "llama.h"
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

static void quiet(ggml_log_level, const char *, void *) {}

static llama_context *fresh(llama_model *model) {
  llama_context_params cp = llama_context_default_params();
  cp.n_ctx = 256;
  cp.n_batch = 256;
  cp.n_ubatch = 256;
  cp.n_threads = 1;
  cp.n_threads_batch = 1;
  cp.type_k = GGML_TYPE_F32;
  cp.type_v = GGML_TYPE_F32;
  cp.flash_attn_type = LLAMA_FLASH_ATTN_TYPE_DISABLED;
  return llama_init_from_model(model, cp);
}

static void decode(llama_context *ctx, const std::vector<llama_token> &ids, int pos0, bool allLogits) {
  llama_batch b = llama_batch_init((int)ids.size(), 0, 1);
  for (size_t i = 0; i < ids.size(); i++) {
    b.token[i] = ids[i];
    b.pos[i] = pos0 + (int)i;
    b.n_seq_id[i] = 1;
    b.seq_id[i][0] = 0;
    b.logits[i] = allLogits || i + 1 == ids.size();
  }
  b.n_tokens = (int)ids.size();
  if (llama_decode(ctx, b) != 0) { fprintf(stderr, "llama_decode failed\n"); exit(1); }
  llama_batch_free(b);
}

int main(int argc, char **argv) {
  if (argc < 5) { fprintf(stderr, "usage: llama-logits MODEL STEPS OUT_PREFIX ID...\n"); return 2; }
  llama_log_set(quiet, nullptr);
  llama_backend_init();
  llama_model_params mp = llama_model_default_params();
  llama_model *model = llama_model_load_from_file(argv[1], mp);
  if (!model) { fprintf(stderr, "cannot load %s\n", argv[1]); return 1; }
  const int steps = atoi(argv[2]);
  std::string prefix = argv[3];
  std::vector<llama_token> ids;
  for (int i = 4; i < argc; i++) ids.push_back(atoi(argv[i]));
  const int nv = llama_vocab_n_tokens(llama_model_get_vocab(model));

  llama_context *ctx = fresh(model);
  decode(ctx, ids, 0, true);
  FILE *f = fopen((prefix + ".logits.bin").c_str(), "wb");
  for (size_t i = 0; i < ids.size(); i++) fwrite(llama_get_logits_ith(ctx, (int)i), sizeof(float), nv, f);
  fclose(f);
  llama_free(ctx);

  ctx = fresh(model);
  f = fopen((prefix + ".generate_step_logits.bin").c_str(), "wb");
  FILE *out = fopen((prefix + ".ids").c_str(), "w");
  decode(ctx, ids, 0, false);
  int pos = (int)ids.size();
  for (int s = 0; s < steps; s++) {
    const float *l = llama_get_logits_ith(ctx, -1);
    fwrite(l, sizeof(float), nv, f);
    int best = 0;
    for (int v = 1; v < nv; v++) if (l[v] > l[best]) best = v;
    fprintf(out, "%d ", best);
    if (s + 1 < steps) decode(ctx, {best}, pos++, false);
  }
  fclose(f);
  fclose(out);
  llama_free(ctx);
  llama_model_free(model);
  return 0;
}
