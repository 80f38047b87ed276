// The nn layer's public API: named parameters (ParamStore/ParamScope, countParameters), initialisers from an
// Rng, and the basic layers (Linear, Embedding, LayerNorm, RMSNorm). Model families compose these in src/models.
// Leaves out: anything a single model family owns (blocks, configs, weight-name maps).
export { ParamStore, ParamScope, countParameters } from "./params.js";
export { initNormal, initUniform, initZeros, initOnes, type InitOptions } from "./init.js";
export { Linear, Embedding, LayerNorm, RMSNorm } from "./layers.js";
