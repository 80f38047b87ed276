// The per-turn understanding of the contact-centre assistant (interface and contract: types.ts). Loads the intent
// and emotion models a configuration names (understanding.model_dir/intent.zdcm, emotion.zdcm); when they are
// missing or were trained for other examples it trains them in memory from the configuration (a few seconds), so
// an edited configuration works before `zhiyu desk train` is run. Per turn: explicit hand-off request, intent with
// calibrated confidence (out-of-scope below the threshold or as the `oos` class), small-talk routes, slots with
// carry-over, follow-ups that omit the entity or the intent, emotion and sentiment, then the hand-off rules.
// With understanding.slot_model (a `finetune --task tag` folder; the default configuration names the shipped
// models/zhiyu-slots-crosswoz) the model's spans add the slots the configured matchers missed: a span type fills the
// slot slot_model_map names, else the slot of its own name (configured — CrossWOZ's `attraction` is the default
// configuration's — or a new one: restaurant, hotel, dish, rating, …); the configuration wins on conflict (a slot it
// filled keeps its value), the first span of a type counts, only Chinese turns are tagged (the shipped model knows no
// English), and a configured slot with carry_over carries a tagged
// value like a matched one. The model loads on the first turn, not at start-up. Intent inheritance and entity-only
// follow-ups still read the configured matchers only.
// Leaves out: reply composition and the knowledge base (kb/), encoder features for intent and emotion.
import { existsSync } from "node:fs";
import path from "node:path";
import { EMOTIONS, type ContactCentreConfig, type Emotion } from "../config-schema.js";
import { configHash, MODEL_FILES, trainConfigModels, type TrainedModels } from "../training/train-models.js";
import { decideHandoff, ExplicitRequestDetector, negativeThreshold } from "./handoff.js";
import { loadModel, predictText, type LoadedModel } from "./model-file.js";
import { SlotTagger } from "./slot-tagger.js";
import { detectLanguage, isFollowUp, SlotExtractor } from "./slots.js";
import type { DialogueState, HandoffDecision, Turn, Understander, Understanding } from "./types.js";

export interface LoadOptions {
  /** ../shared/data, for the extra training sets when models must be trained in memory (optional). */
  dataRoot?: string;
  /** Models already loaded (tests, the eval command). */
  models?: TrainedModels;
  /** Called with a note when the models on disk are missing or stale and are retrained in memory. */
  onNote?: (note: string) => void;
}

/** The saved model if it exists and matches the configuration, else null. */
function loadIfCurrent(config: ContactCentreConfig, task: "intent" | "emotion", notes: string[]): LoadedModel | null {
  const file = path.join(config.understanding.model_dir, MODEL_FILES[task]);
  if (!existsSync(file)) {
    notes.push(`${file} not found`);
    return null;
  }
  const model = loadModel(file);
  if (model.header.trainingHash !== configHash(config, task)) {
    notes.push(`${file} was trained for other examples (run \`zhiyu desk train --config FILE\`)`);
    return null;
  }
  return model;
}

/** Loads (or trains in memory) the models of a configuration and returns its Understander. */
export function loadUnderstander(config: ContactCentreConfig, options: LoadOptions = {}): Understander {
  let models = options.models;
  if (!models) {
    const notes: string[] = [];
    const intent = loadIfCurrent(config, "intent", notes);
    const emotion = loadIfCurrent(config, "emotion", notes);
    if (intent && emotion) models = { intent, emotion };
    else {
      options.onNote?.(`training the understanding models in memory: ${notes.join("; ")}`);
      models = trainConfigModels(config, options.dataRoot);
    }
  }
  const dir = config.understanding.slot_model;
  let tagger: SlotTagger | null = null;
  if (dir !== undefined) {
    if (SlotTagger.present(dir)) tagger = new SlotTagger(dir);
    else options.onNote?.(`no slot-tagging model at ${dir} (understanding.slot_model): slots come from the configured matchers only`);
  }
  return new ConfigUnderstander(config, models, tagger);
}

const NEGATIVE: Emotion[] = ["anger", "disgust", "sadness", "fear"];
const POSITIVE: Emotion[] = ["like", "happiness"];

class ConfigUnderstander implements Understander {
  private readonly slots: SlotExtractor;
  private readonly explicit: ExplicitRequestDetector;
  private readonly smallTalk: Set<string>;
  private readonly intents: Map<string, ContactCentreConfig["intents"][number]>;
  private readonly negativeAt: number;

  constructor(private readonly config: ContactCentreConfig, private readonly models: TrainedModels, private readonly tagger: SlotTagger | null = null) {
    this.slots = new SlotExtractor(config.slots);
    this.explicit = new ExplicitRequestDetector(config.handoff);
    this.smallTalk = new Set(config.small_talk.routes.map((r) => r.name));
    this.intents = new Map(config.intents.map((i) => [i.name, i]));
    this.negativeAt = negativeThreshold(config.handoff.rules);
  }

  /** Emotion probabilities (the seven classes and neutral) and the sentiment score in [−1, 1]. */
  private emotion(text: string): { emotion: Emotion; confidence: number; probs: Partial<Record<Emotion, number>>; sentiment: number } {
    const { classifier } = this.models.emotion;
    const p = predictText(this.models.emotion, text);
    const probs: Partial<Record<Emotion, number>> = {};
    classifier.labels.forEach((l, i) => (probs[l as Emotion] = p.probs[i]));
    const sum = (list: Emotion[]) => list.reduce((s, e) => s + (probs[e] ?? 0), 0);
    let sentiment = sum(POSITIVE) - sum(NEGATIVE);
    // Exclamation runs and all-caps shouting make a negative turn stronger.
    if (sentiment < 0 && /[!！]{2,}|[A-Z]{5,}/.test(text)) sentiment = Math.max(-1, sentiment * 1.25);
    const emotion = (EMOTIONS as readonly string[]).includes(p.label) || p.label === "neutral" ? (p.label as Emotion) : "neutral";
    return { emotion, confidence: p.confidence, probs, sentiment: Math.round(sentiment * 1000) / 1000 };
  }

  understandTurn(turn: Turn, state: DialogueState): Understanding {
    const text = turn.text;
    const language = detectLanguage(text, state.language);
    const explicitRequest = this.explicit.matches(text);
    const { classifier, header } = this.models.intent;
    const pred = predictText(this.models.intent, text);
    const threshold = this.config.understanding.oos_threshold ?? header.oosThreshold ?? 0.4;
    let intent = pred.label;
    let confidence = pred.confidence;
    if (intent === "oos") {
      // Confidence of an out-of-scope turn is that of the best in-scope label.
      let best = 0;
      classifier.labels.forEach((l, i) => { if (l !== "oos") best = Math.max(best, pred.probs[i]); });
      confidence = best;
    }
    let outOfScope = intent === "oos" || pred.confidence < threshold;
    const found = this.slots.extract(text);
    const followUp = isFollowUp(text);
    // An elliptical follow-up ("那颐和园呢?", "and the summer palace?") names only an entity: keep the last intent.
    let intentFromContext = false;
    const mentionsSlot = Object.keys(found).length > 0;
    const short = language === "zh" ? text.trim().length <= 12 : text.trim().split(/\s+/).length <= 6;
    const entityOnly = this.slots.isEntityOnly(text);
    const inherit = (outOfScope && short && (mentionsSlot || followUp)) || entityOnly;
    if (inherit && state.intent && state.intent !== pred.label && !explicitRequest) {
      intent = state.intent;
      confidence = Math.max(threshold, pred.probs[classifier.labels.indexOf(state.intent)] ?? 0);
      outOfScope = false;
      intentFromContext = true;
    }
    // Small talk is a catch-all in feature space: it must be confident, else the turn counts as out-of-scope.
    if (!outOfScope && !intentFromContext && this.smallTalk.has(intent) && confidence < this.config.understanding.small_talk_threshold) outOfScope = true;
    if (outOfScope) intent = "oos";
    const smallTalk = !outOfScope && this.smallTalk.has(intent) ? intent : null;
    // Slots: this turn's values, plus carried-over values for the slots this intent uses (all carried slots when
    // the intent is unknown), so "那它几点关门?" after "故宫门票多少钱?" gets attraction = 故宫.
    const configured = this.intents.get(intent);
    const wanted = configured ? new Set(configured.slots) : null;
    const slots: Record<string, string> = { ...found };
    const taggedSlots: string[] = [];
    // The shipped tagger was trained on Chinese turns only; on English ones it tags noise.
    for (const span of (language === "zh" ? this.tagger?.tag(text) : null) ?? []) {
      const name = this.config.understanding.slot_model_map[span.type] ?? span.type;
      if (slots[name] !== undefined) continue;
      slots[name] = span.value;
      taggedSlots.push(name);
    }
    const carriedSlots: string[] = [];
    const carry: Record<string, string> = {};
    for (const s of this.config.slots) {
      if (!s.carry_over) continue;
      const value = slots[s.name] ?? state.slots[s.name];
      if (value !== undefined) carry[s.name] = value;
      if (slots[s.name] === undefined && state.slots[s.name] !== undefined && !smallTalk && (wanted === null || wanted.has(s.name))) {
        slots[s.name] = state.slots[s.name];
        carriedSlots.push(s.name);
      }
    }
    const emo = this.emotion(text);
    const taskTurn = !outOfScope && !smallTalk;
    const next: DialogueState = {
      ...state,
      turns: state.turns + 1,
      intent: taskTurn ? intent : state.intent,
      slots: carry,
      lowConfidenceStreak: outOfScope && !explicitRequest ? state.lowConfidenceStreak + 1 : 0,
      negativeStreak: emo.sentiment <= this.negativeAt ? state.negativeStreak + 1 : 0,
      groundingFailures: 0,
      language,
    };
    const decision = decideHandoff(this.config.handoff.rules, { intent, outOfScope, explicitRequest, emotionProbs: emo.probs }, next);
    if (decision.handoff) next.handedOff = true;
    const lead = this.config.lead_capture;
    const offerLead = lead.enabled && taskTurn && !decision.handoff && next.leadAsks < lead.max_asks
      && (configured?.lead === true || lead.trigger_intents.includes(intent));
    if (offerLead) next.leadAsks++;
    return {
      intent, confidence: round(confidence), outOfScope, intentFromContext, slots, carriedSlots, taggedSlots,
      emotion: emo.emotion, emotionConfidence: round(emo.confidence), sentiment: emo.sentiment, smallTalk, explicitRequest,
      handoff: decision.handoff, handoffReason: decision.reason, handoffDetail: decision.detail, handoffPriority: decision.priority,
      offerLead, language, nextState: next,
    };
  }

  handoffOnGroundingFailure(state: DialogueState): HandoffDecision {
    const rule = this.config.handoff.rules.find((r) => r.type === "grounding_failed");
    return rule && state.groundingFailures > 0
      ? { handoff: true, reason: "grounding_failed", detail: "the knowledge-base answer failed its grounding check", priority: rule.priority }
      : { handoff: false, reason: null, detail: null, priority: null };
  }
}

function round(x: number): number {
  return Math.round(x * 10000) / 10000;
}
