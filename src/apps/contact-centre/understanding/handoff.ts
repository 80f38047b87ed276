// Hand-off decisions: detecting an explicit request for a person (the configured phrases after normalisation, plus
// general patterns such as 转/找/要…人工 and "talk/speak … person/human/agent", with negations like 不用转人工 or
// "no need for a human" excluded), and evaluating the configured rules in order — the first rule that fires gives
// the reason and priority.
// Leaves out: queueing and priorities across conversations (the desk server's hand-off queue).
import type { Emotion, HandoffConfig, HandoffRule } from "../config-schema.js";
import { normaliseText } from "./features.js";
import type { DialogueState, HandoffDecision } from "./types.js";

const ZH_REQUEST = [
  /(转|找|接|要|换|叫|联系|呼叫|需要|让|请)[^，。！？,.!?]{0,4}(人工|真人|活人|客服人员|人类客服|工作人员|值班经理|你们经理|主管|负责人)/u,
  /人工(客服|服务|坐席|座席|台)/u,
  /^人工$/u,
  /(不要|别)(跟|和)?(机器人|机器|ai|自动回复)(说|聊|对话)/u,
];
const ZH_NEGATION = /(不用|不需要|无需|不必|不想|别)(转接|转|找|接|联系)?(人工|真人)/u;
const EN_REQUEST = [
  /\b(talk|speak|chat|connect|transfer|put|get|want|need)\b[^.?!]{0,30}\b(person|human|agent|representative|rep|operator|manager|supervisor|someone real|real person|live person|somebody)\b/i,
  /\b(human|live|real)\s+(agent|person|support|being|operator)\b/i,
  /\b(customer service|support)\s+(representative|agent|rep)\b/i,
  /\bnot\s+(a|the|this)\s+(bot|robot|machine)\b/i,
];
const EN_NEGATION = /\b(no need|don'?t need|do not need|don'?t want|do not want|without)\b[^.?!]{0,20}\b(person|human|agent|representative)\b/i;

/** Detects an explicit request for a human agent. */
export class ExplicitRequestDetector {
  private readonly phrases: string[];
  constructor(config: HandoffConfig) {
    this.phrases = [...(config.explicit_phrases.zh ?? []), ...(config.explicit_phrases.en ?? [])].map(normaliseText).filter((p) => p);
  }

  matches(text: string): boolean {
    const t = normaliseText(text);
    if (ZH_NEGATION.test(t) || EN_NEGATION.test(t)) return false;
    if (this.phrases.some((p) => t.includes(p))) return true;
    return ZH_REQUEST.some((re) => re.test(t)) || EN_REQUEST.some((re) => re.test(t));
  }
}

/** What one turn contributes to the rules. */
export interface TurnSignals {
  intent: string;
  outOfScope: boolean;
  explicitRequest: boolean;
  emotionProbs: Partial<Record<Emotion, number>>;
}

const NONE: HandoffDecision = { handoff: false, reason: null, detail: null, priority: null };

function fires(rule: HandoffRule, s: TurnSignals, next: DialogueState): string | null {
  switch (rule.type) {
    case "explicit_request":
      return s.explicitRequest ? "customer asked for a person" : null;
    case "low_confidence":
    case "out_of_scope": {
      const n = rule.consecutive ?? 2;
      return next.lowConfidenceStreak >= n ? `${next.lowConfidenceStreak} turns in a row out of scope or below the confidence threshold` : null;
    }
    case "emotion": {
      const threshold = rule.threshold ?? 0.7;
      for (const e of rule.emotions ?? []) {
        const p = s.emotionProbs[e] ?? 0;
        if (p >= threshold) return `${e} ${p.toFixed(2)} ≥ ${threshold}`;
      }
      return null;
    }
    case "negative_streak": {
      const n = rule.consecutive ?? 2;
      return next.negativeStreak >= n ? `${next.negativeStreak} negative turns in a row` : null;
    }
    case "intent":
      return s.intent === rule.intent ? `sensitive intent "${rule.intent}"` : null;
    case "grounding_failed":
      return next.groundingFailures > 0 ? "the knowledge-base answer failed its grounding check" : null;
  }
}

/** The first configured rule that fires for this turn (rules in configuration order). */
export function decideHandoff(rules: readonly HandoffRule[], signals: TurnSignals, next: DialogueState): HandoffDecision {
  for (const rule of rules) {
    const detail = fires(rule, signals, next);
    if (detail !== null) return { handoff: true, reason: rule.type, detail, priority: rule.priority };
  }
  return NONE;
}

/** The negative-sentiment threshold the state's streak counts against (from the negative_streak rule). */
export function negativeThreshold(rules: readonly HandoffRule[]): number {
  return rules.find((r) => r.type === "negative_streak")?.threshold ?? -0.5;
}
