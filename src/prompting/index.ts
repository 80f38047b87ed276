// Prompting techniques usable from code and from `zhiyu eval --qa FILE [--few-shot K] [--cot] [--self-consistency N]`:
// few-shot prompts, chain of thought, self-consistency, and the question-answering evaluation built from them.
export * from "./few-shot.js";
export * from "./chain-of-thought.js";
export * from "./self-consistency.js";
export * from "./qa-eval.js";
