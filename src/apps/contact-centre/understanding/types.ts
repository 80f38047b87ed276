// The per-turn understanding interface of the contact-centre assistant — what the desk server, the agent page and
// `zhiyu desk route` build on. One call per customer turn:
//
//   const brain = loadUnderstander(config);                 // understand.ts: models loaded once (sync)
//   let state = initialDialogueState();
//   const u = brain.understandTurn({ text: "那它几点关门?", history }, state);   // pure and synchronous
//   state = u.nextState;                                     // persist it with the conversation
//
// `understandTurn` never mutates its arguments and does no I/O: the same (turn, state) gives the same result, so
// the server can replay a conversation from its stored turns. It returns the intent (a configured intent name, a
// small-talk route name, or "oos"), a calibrated confidence, slots merged with the ones carried over from the
// dialogue state, the emotion (the seven CLUE classes or "neutral") and a sentiment score, and the hand-off decision
// with its reason and priority. Grounding failures are reported by the knowledge base's `answer` (kb/types.ts); the
// server feeds them back with `noteGroundingFailure(state)` so the hand-off rule of type "grounding_failed" applies.
// Leaves out: reply generation (the server composes replies from responses, KB answers and the chat model).
import type { Emotion, HandoffRuleType, Language, Priority } from "../config-schema.js";

export type Role = "user" | "assistant" | "agent" | "system";

export interface HistoryMessage {
  role: Role;
  content: string;
}

export interface Turn {
  /** The customer's message. */
  text: string;
  /** Earlier messages of the conversation, oldest first (may be empty). */
  history: readonly HistoryMessage[];
}

/** What the assistant remembers between turns; plain JSON, stored with the conversation. */
export interface DialogueState {
  /** Customer turns seen so far. */
  turns: number;
  /** Last in-scope task intent (not small talk, not oos), for follow-ups that omit it. */
  intent: string | null;
  /** Slot values in force (carried over when the slot's carry_over is true). */
  slots: Record<string, string>;
  /** Consecutive customer turns that were out-of-scope or below the confidence threshold. */
  lowConfidenceStreak: number;
  /** Consecutive customer turns with sentiment at or below the negative_streak threshold. */
  negativeStreak: number;
  /** Consecutive grounding failures reported by the knowledge base. */
  groundingFailures: number;
  /** Language of the last customer turn. */
  language: Language;
  /** Lead-capture offers made so far. */
  leadAsks: number;
  /** Whether the conversation has already been handed to a human. */
  handedOff: boolean;
}

export interface HandoffDecision {
  handoff: boolean;
  /** The rule type that fired (first in configuration order), or null. */
  reason: HandoffRuleType | null;
  /** A short human-readable explanation in English for logs and the agent desk, e.g. 'intent "complaint"'. */
  detail: string | null;
  priority: Priority | null;
}

export interface Understanding {
  /** A configured intent, a small-talk route name, or "oos". */
  intent: string;
  /** Calibrated probability of `intent` (for "oos": of the best in-scope intent). */
  confidence: number;
  outOfScope: boolean;
  /** Whether the intent was inherited from the dialogue state (a bare follow-up like "那门票呢?"). */
  intentFromContext: boolean;
  /** Slot values for this turn: found in the text, or carried over. */
  slots: Record<string, string>;
  /** Names of the slots that came from the dialogue state rather than this turn's text. */
  carriedSlots: string[];
  /** Names of this turn's slots that the slot-tagging model found (understanding.slot_model) and the configured
   *  matchers did not. */
  taggedSlots: string[];
  emotion: Emotion;
  emotionConfidence: number;
  /** −1 (very negative) .. 1 (very positive). */
  sentiment: number;
  /** Small-talk route (greeting, thanks, goodbye, chitchat) or null for task turns. */
  smallTalk: string | null;
  /** Whether the customer asked for a person in so many words. */
  explicitRequest: boolean;
  handoff: boolean;
  handoffReason: HandoffRuleType | null;
  handoffDetail: string | null;
  handoffPriority: Priority | null;
  /** Whether this intent should offer lead capture now (configured and not yet asked max_asks times). */
  offerLead: boolean;
  language: Language;
  nextState: DialogueState;
}

export function initialDialogueState(language: Language = "zh"): DialogueState {
  return {
    turns: 0, intent: null, slots: {}, lowConfidenceStreak: 0, negativeStreak: 0, groundingFailures: 0,
    language, leadAsks: 0, handedOff: false,
  };
}

/** The dialogue state after the knowledge base failed its grounding check on this turn's answer. */
export function noteGroundingFailure(state: DialogueState): DialogueState {
  return { ...state, groundingFailures: state.groundingFailures + 1 };
}

/** The per-turn understanding of one configuration. */
export interface Understander {
  understandTurn(turn: Turn, state: DialogueState): Understanding;
  /** Hand-off decision for a turn whose KB answer failed grounding (rule "grounding_failed"), if configured. */
  handoffOnGroundingFailure(state: DialogueState): HandoffDecision;
}
