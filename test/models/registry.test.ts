// The model registry: every family is found by the ids HF config.json and GGUF files use, two families cannot claim
// one id, the registry is frozen, unsupported architectures are refused with the supported list, and no file in src/
// outside the registry and the family folders compares family names (the rule that keeps a new family to one
// folder plus one registry line). The scan reads the names from the registry itself, so a new family is covered.
import { test } from "node:test";
import assert from "node:assert/strict";
import { readdirSync, readFileSync, statSync } from "node:fs";
import path from "node:path";
import { MODEL_REGISTRY, ModelRegistry, type AnyFamily } from "../../src/models/registry.js";
import { PRESETS } from "../../src/train/presets.js";

test("each family is found by its HF model_type, HF architecture, GGUF architecture and variant names", () => {
  assert.ok(MODEL_REGISTRY.all.length >= 2);
  for (const f of MODEL_REGISTRY.all) {
    for (const t of f.hfModelTypes) assert.equal(MODEL_REGISTRY.ofHfConfig({ model_type: t }, "config.json").id, f.id);
    for (const a of f.hfArchitectures) assert.equal(MODEL_REGISTRY.ofHfConfig({ architectures: [a] }, "config.json").id, f.id);
    for (const a of f.ggufArchitectures) assert.equal(MODEL_REGISTRY.ofGgufArchitecture(a, "x.gguf").id, f.id);
    for (const v of f.variants) assert.equal(MODEL_REGISTRY.ofVariant(v).id, f.id);
    assert.equal(MODEL_REGISTRY.byId(f.id), f);
    // A preset's config names its own family, and its export config.json reads back as the same family.
    for (const p of f.presets) {
      for (const v of f.variants) {
        const config = f.presetConfig(v, p);
        assert.equal(MODEL_REGISTRY.ofConfig(config).id, f.id);
        assert.equal(MODEL_REGISTRY.ofHfConfig(f.hfConfigJson(config), "config.json").id, f.id);
        assert.deepEqual(f.configFromHf(f.hfConfigJson(config), "config.json").architecture, config.architecture);
      }
    }
  }
  for (const p of PRESETS) assert.equal(MODEL_REGISTRY.ofHfConfig(p.config, p.name).id, p.family);
});

test("unsupported architectures are refused naming the file and listing what is supported", () => {
  assert.throws(() => MODEL_REGISTRY.ofHfConfig({ model_type: "phi", architectures: ["PhiForCausalLM"] }, "m/config.json"),
    (e: Error) => /m\/config\.json: model_type 'phi'/.test(e.message) &&
      MODEL_REGISTRY.all.every((f) => f.hfModelTypes.every((t) => e.message.includes(t))));
  assert.throws(() => MODEL_REGISTRY.ofGgufArchitecture("mamba", "m.gguf"),
    (e: Error) => /m\.gguf: architecture 'mamba'/.test(e.message) &&
      MODEL_REGISTRY.all.every((f) => f.ggufArchitectures.every((a) => e.message.includes(a))));
  assert.throws(() => MODEL_REGISTRY.ofGgufArchitecture(undefined, "m.gguf"), /architecture '\(none\)'/);
  assert.throws(() => MODEL_REGISTRY.ofVariant("bert-nope"), /--arch bert-nope: expected/);
});

test("two families cannot claim one id, and the registry is frozen", () => {
  const [first] = MODEL_REGISTRY.all as [AnyFamily];
  const clash: AnyFamily = { ...first, id: "other", hfArchitectures: [], ggufArchitectures: [], variants: [] };
  assert.throws(() => new ModelRegistry([first, clash]), /HF model_type '.*' is claimed by both/);
  assert.ok(Object.isFrozen(MODEL_REGISTRY) && Object.isFrozen(MODEL_REGISTRY.all));
  assert.throws(() => (MODEL_REGISTRY.all as AnyFamily[]).push(clash), TypeError);
});

function tsFiles(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const p = path.join(dir, name);
    return statSync(p).isDirectory() ? tsFiles(p) : p.endsWith(".ts") ? [p] : [];
  });
}

test("no file outside the registry and the family folders compares family names", () => {
  const names = [...new Set(MODEL_REGISTRY.all.flatMap((f) => [f.id, ...f.variants, ...f.ggufArchitectures, ...f.hfModelTypes]))];
  const alt = names.map((n) => n.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")).join("|");
  const comparison = new RegExp(`[!=]==\\s*"(${alt})"|"(${alt})"\\s*[!=]==`);
  const familyDirs = MODEL_REGISTRY.all.map((f) => path.join("src", "models", f.id) + path.sep);
  // Tokenizer vocabulary kinds (GGUF tokenizer.ggml.model "gpt2" / "llama") are not model families.
  const exempt = (file: string) => file === path.join("src", "models", "registry.ts") ||
    familyDirs.some((d) => file.startsWith(d)) || file.startsWith(path.join("src", "tokenizers") + path.sep);
  const hits = tsFiles("src").filter((f) => !exempt(f)).flatMap((f) => readFileSync(f, "utf8").split("\n")
    .flatMap((line, i) => (comparison.test(line) ? [`${f}:${i + 1}: ${line.trim()}`] : [])));
  assert.deepEqual(hits, []);
});
