// The per-turn reply pipeline of the desk: understand the customer's turn (understanding/), then route it —
// a hand-off (the configured message, with an apology first when the customer is upset), a lead-capture reply
// (留资: details read and validated, stored with consent), small talk (a short reply, then back to the task), an
// intent's own response template, or a knowledge-base answer with citations (grounded: the KB checks a phrased
// reply and falls back to the passage); recommendations from the catalogue for buying intents; the polite
// once-only offer to leave contact details. Emotional care: anger, sadness, disgust, fear or repeated negative
// turns make the reply acknowledge and apologise first, suppress recommendations and lead offers, and raise
// the hand-off priority by one level. Pure apart from the KB and the injected `generate`: storage and
// delivery are the service's job (server/desk-service.ts).
// Leaves out: multi-intent turns, proactive messages, per-customer memory across conversations.
import type { IntentConfig, LoadedConfig } from "../config.js";
import type { KnowledgeBase } from "../kb/knowledge-base.js";
import type { Citation, Generate } from "../kb/types.js";
import { extractContact, hasValidContact, isDecline, type ContactDetails } from "../leads/capture.js";
import { recommend, type CatalogueItem, type ItemKind, type Suggestion } from "../recommend/catalogue.js";
import { EnglishNamer } from "../recommend/english-names.js";
import { PRIORITIES, type PriorityName } from "../store/store.js";
import { namedEntities, slotValuesForSearch } from "../understanding/slots.js";
import { initialDialogueState, noteGroundingFailure, type DialogueState, type HistoryMessage, type Understander, type Understanding } from "../understanding/types.js";

/** What the desk keeps per conversation between turns (stored as the conversation's state). */
export interface DeskState {
  dialogue: DialogueState;
  /** Lead capture: not offered, offered and awaiting an answer, details captured, or declined. */
  lead: "none" | "asked" | "captured" | "declined";
  /** Invalid details already pointed out once (then the offer ends). */
  leadRetried?: boolean;
}

export function initialDeskState(language: "zh" | "en"): DeskState {
  return { dialogue: initialDialogueState(language), lead: "none" };
}

export interface TurnOutcome {
  understanding: Understanding;
  reply: string;
  /** How the reply was made: handoff, lead, small_talk, template, kb, fallback. */
  route: string;
  citations: Citation[];
  grounded: boolean;
  suggestions: Suggestion[];
  empathy: boolean;
  leadAsk: boolean;
  lead: ContactDetails | null;
  handoff: { priority: PriorityName; reason: string; detail: string } | null;
  nextState: DeskState;
}

const NEGATIVE = new Set(["anger", "sadness", "disgust", "fear"]);
const KIND_OF_INTENT: Record<string, ItemKind> = { hotel_booking: "hotel", restaurant_recommend: "restaurant", tour_package: "attraction" };

const EMPATHY: Record<string, { zh: string; en: string }> = {
  anger: { zh: "非常抱歉让您生气了，给您添麻烦了，这是我们的问题。", en: "I'm really sorry about this — I understand how frustrating it is, and that's on us." },
  sadness: { zh: "听到这个情况我很难过，非常抱歉给您带来困扰。", en: "I'm so sorry to hear that, and sorry for the trouble this has caused you." },
  other: { zh: "非常抱歉给您带来不好的体验。", en: "I'm very sorry for the trouble." },
};

function pick(list: string[] | undefined, seed: number): string | undefined {
  return list && list.length > 0 ? list[seed % list.length] : undefined;
}

function raise(p: PriorityName | null, by: number): PriorityName {
  const i = PRIORITIES.indexOf(p ?? "normal");
  return PRIORITIES[Math.min(PRIORITIES.length - 1, i + by)];
}

export class Assistant {
  /** English names of catalogue items for English conversations (made once per item). */
  private readonly namer: EnglishNamer;

  constructor(
    private readonly config: LoadedConfig,
    private readonly brain: Understander,
    private readonly kb: KnowledgeBase,
    private readonly catalogue: readonly CatalogueItem[],
    private readonly generate?: Generate,
  ) {
    this.namer = new EnglishNamer(config.knowledge_base.user_words);
  }

  /** Whether the turn needs emotional care: a negative emotion, or repeated negative sentiment. */
  static upset(u: Understanding): boolean {
    return (NEGATIVE.has(u.emotion) && u.emotionConfidence >= 0.5) || u.sentiment <= -0.5 || u.nextState.negativeStreak >= 2;
  }

  empathyLine(u: Understanding): string {
    const e = EMPATHY[u.emotion] ?? EMPATHY.other;
    return u.language === "en" ? `${e.en} ` : e.zh;
  }

  /** Understanding only (a human owns the conversation): tags for the message and the next state. */
  understand(text: string, history: readonly HistoryMessage[], state: DeskState): { understanding: Understanding; nextState: DeskState } {
    const u = this.brain.understandTurn({ text, history }, state.dialogue);
    return { understanding: u, nextState: { ...state, dialogue: u.nextState } };
  }

  async turn(text: string, history: readonly HistoryMessage[], state: DeskState): Promise<TurnOutcome> {
    const u = this.brain.understandTurn({ text, history }, state.dialogue);
    const lang = u.language;
    const upset = Assistant.upset(u);
    let next: DeskState = { ...state, dialogue: u.nextState };
    const out: TurnOutcome = {
      understanding: u, reply: "", route: "fallback", citations: [], grounded: true, suggestions: [], empathy: upset,
      leadAsk: false, lead: null, handoff: null, nextState: next,
    };
    const prefix = upset ? this.empathyLine(u) : "";

    // A reply to the lead offer is out of scope for the intent model; it must not count towards a low-confidence
    // hand-off.
    // Details volunteered with no offer pending (the offer was answered by another question, or declined first)
    // are a lead too: the customer chose to give them.
    const volunteered = state.lead !== "asked" && state.lead !== "captured" && hasValidContact(text);
    const details = state.lead === "asked" || volunteered ? extractContact(text, lang) : null;
    const leadReply = details !== null && (details.phone !== null || details.email !== null || details.problems.length > 0);
    const lowConfidenceOnly = u.handoffReason === "low_confidence" || u.handoffReason === "out_of_scope";
    if (leadReply) next = { ...next, dialogue: { ...next.dialogue, lowConfidenceStreak: 0, handedOff: lowConfidenceOnly ? state.dialogue.handedOff : next.dialogue.handedOff } };

    // 1. Hand-off: the configured rules fired (explicit request, emotion, sensitive intent, low confidence).
    if (u.handoff && !(leadReply && lowConfidenceOnly)) {
      const intentResponse = this.config.intents.find((i) => i.name === u.intent)?.responses?.[lang];
      const body = pick(intentResponse, u.nextState.turns) ?? this.config.handoff.message[lang] ?? "";
      out.reply = upset && !intentResponse ? `${prefix}${body}` : body;
      out.route = "handoff";
      out.handoff = { priority: upset ? raise(u.handoffPriority, 1) : (u.handoffPriority ?? "normal"), reason: u.handoffReason ?? "rule", detail: u.handoffDetail ?? "" };
      return { ...out, nextState: next };
    }

    // 2. Lead capture: the previous bot turn asked for contact details.
    if (details !== null) {
      if (details.phone || details.email) {
        out.lead = details;
        out.route = "lead";
        out.reply = lang === "zh"
          ? `谢谢${details.name ? details.name : "您"}！我们已记下您的联系方式，旅行顾问会尽快与您联系。`
          : `Thank you${details.name ? `, ${details.name}` : ""}! We've noted your contact details and an adviser will get in touch soon.`;
        next = { ...next, lead: "captured" };
        return { ...out, nextState: next };
      }
      if (details.problems.length > 0 && !state.leadRetried) {
        out.route = "lead";
        out.reply = lang === "zh" ? `${details.problems.join("；")}。方便的话请再核对一下。` : `${details.problems.join("; ")}. Could you check it?`;
        next = { ...next, leadRetried: true };
        return { ...out, nextState: next };
      }
      next = { ...next, lead: isDecline(text) ? "declined" : "none" };
      if (isDecline(text)) {
        out.route = "lead";
        out.reply = lang === "zh" ? "好的，没问题。还有其他可以帮您的吗？" : "No problem. Is there anything else I can help with?";
        return { ...out, nextState: next };
      }
    }

    // 3. Small talk, 4. an intent's own template, 5. the knowledge base.
    const intent = this.config.intents.find((i) => i.name === u.intent);
    if (u.smallTalk) {
      const route = this.config.small_talk.routes.find((r) => r.name === u.smallTalk);
      out.reply = pick(route?.responses[lang], u.nextState.turns) ?? "";
      out.route = "small_talk";
    } else if (intent?.responses && !intent.kb) {
      const template = pick(intent.responses[lang], u.nextState.turns) ?? "";
      out.reply = template.replace(/\{(\w+)\}/g, (_m, slot: string) => u.slots[slot] ?? "");
      out.route = "template";
    } else {
      const previousQuery = [...history].reverse().find((h) => h.role === "user")?.content;
      const slots = slotValuesForSearch(u.slots, this.config.slots, lang);
      const named = this.namedForKb(u, intent);
      const answer = await this.kb.answer(text, { slots, language: lang, previousQuery, topic: intent?.kb_topic?.[lang], named }, { generate: this.generate });
      out.citations = answer.confident ? answer.citations : [];
      out.grounded = answer.grounded;
      out.reply = answer.text;
      out.route = answer.confident ? "kb" : "fallback";
      if (!answer.grounded) {
        // The phrased reply stated something the passages do not: the passage was used instead; the rule decides.
        const dialogue = noteGroundingFailure(next.dialogue);
        const decision = this.brain.handoffOnGroundingFailure(dialogue);
        next = { ...next, dialogue };
        if (decision.handoff) {
          out.handoff = { priority: decision.priority ?? "normal", reason: "grounding_failed", detail: decision.detail ?? "" };
          out.reply = `${answer.text}\n\n${this.config.handoff.message[lang] ?? ""}`;
        }
      }
      // A buying intent with nothing in the KB still gets suggestions; the fallback text is replaced then.
      const kind = KIND_OF_INTENT[u.intent];
      if (kind && !upset && this.catalogue.length > 0) {
        out.suggestions = recommend(this.catalogue, { kind, text, slots: u.slots, language: lang, max: this.config.products.max_suggestions, namer: this.namer });
        if (out.suggestions.length > 0 && !answer.confident) {
          out.reply = lang === "zh" ? "为您挑选了以下几个选择：" : "Here are a few options for you:";
          out.route = "recommend";
        }
      }
    }
    if (upset && out.route !== "small_talk") out.reply = `${prefix}${out.reply}`;

    // The once-only, optional request for contact details — never to an upset customer, never twice.
    if (u.offerLead && !upset && next.lead === "none") {
      const prompt = this.config.lead_capture.prompt[lang];
      if (prompt) {
        out.reply = `${out.reply}\n\n${prompt}`;
        out.leadAsk = true;
        next = { ...next, lead: "asked", leadRetried: false };
      }
    }
    return { ...out, nextState: next };
  }

  /** The names the KB answer must contain (KnowledgeBase.answer's `named`): an intent with a topic (hotel booking) is
   *  answered by an on-topic passage instead. */
  private namedForKb(u: Understanding, intent: IntentConfig | undefined): string[][] {
    return intent?.kb_topic ? [] : namedEntities(u.slots, u.carriedSlots, this.config.knowledge_base.entity_slots, this.config.slots, intent?.slots ?? null);
  }

  /** A drafted reply for an agent: the KB answer to the customer's last message, with an apology if upset. */
  async draft(text: string, history: readonly HistoryMessage[], state: DeskState): Promise<{ draft: string; citations: Citation[]; understanding: Understanding }> {
    const u = this.brain.understandTurn({ text, history }, state.dialogue);
    const slots = slotValuesForSearch(u.slots, this.config.slots, u.language);
    const intent = this.config.intents.find((i) => i.name === u.intent);
    const topic = intent?.kb_topic?.[u.language];
    const named = this.namedForKb(u, intent);
    const answer = await this.kb.answer(text, { slots, language: u.language, topic, named }, { generate: this.generate });
    const body = answer.confident && !u.outOfScope && !u.smallTalk ? answer.text : u.language === "zh" ? "您好，我是人工客服，正在为您处理。" : "Hello, I'm a member of the support team and I'm looking into this for you.";
    return { draft: Assistant.upset(u) ? `${this.empathyLine(u)}${body}` : body, citations: answer.citations, understanding: u };
  }
}
