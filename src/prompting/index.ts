// Prompting techniques usable from code (and from `zhiyu eval`): few-shot prompts, chain of thought, self-consistency.
export * from "./few-shot.js";
export * from "./chain-of-thought.js";
export * from "./self-consistency.js";
