// The chat page's words in English and Chinese. The language follows the browser (navigator.languages: any zh-*
// gives Chinese) until the person picks one with the header's language button; the pick is kept in localStorage.
// Static text in index.html names its key in data-i18n (text), data-i18n-placeholder or data-i18n-title.
// Leaves out: other languages, plural rules beyond English "message(s)".

const WORDS = {
  en: {
    "new-chat": "New chat",
    "settings": "Settings",
    "language": "中文",
    "language-title": "切换到中文",
    "system-prompt": "System prompt",
    "system-placeholder": "You are a helpful assistant.",
    "temperature": "Temperature",
    "top-p": "Top p",
    "top-k": "Top k",
    "max-tokens": "Max tokens",
    "seed": "Seed",
    "seed-placeholder": "random",
    "api-key": "API key",
    "api-key-placeholder": "only if the server was started with --api-key",
    "server-tools": "Let the server run its tools ({names}) and show calls and results",
    "server-tools-untrained": "This model was not trained to call tools: they stay off unless you turn them on.",
    "tools": "Tools (JSON array of OpenAI function tools; calls are shown, not executed)",
    "input-placeholder": "Send a message (Enter to send, Shift+Enter for a new line)",
    "send": "Send",
    "stop": "Stop",
    "generating": "Generating…",
    "reasoning": "Reasoning",
    "stopped": "Stopped.",
    "tokens-in": "{n} tokens in {s} s",
    "error": "Error",
    "no-models": "Could not list models: {message}",
    "tools-error": "Tools: {message}",
    "tools-array": "Tools must be a JSON array",
    "dropped": "{n} earlier {messages} no longer fit the {ctx}-token context and {were} left out (the system prompt is kept).",
  },
  zh: {
    "new-chat": "新对话",
    "settings": "设置",
    "language": "EN",
    "language-title": "Switch to English",
    "system-prompt": "系统提示",
    "system-placeholder": "你是一个乐于助人的助手。",
    "temperature": "温度",
    "top-p": "Top p",
    "top-k": "Top k",
    "max-tokens": "最多生成词元",
    "seed": "随机种子",
    "seed-placeholder": "随机",
    "api-key": "API 密钥",
    "api-key-placeholder": "仅当服务器以 --api-key 启动时需要",
    "server-tools": "让服务器运行它的工具（{names}），并显示调用和结果",
    "server-tools-untrained": "这个模型没有学过调用工具：除非你打开，工具保持关闭。",
    "tools": "工具（OpenAI 函数工具的 JSON 数组；只显示调用，不执行）",
    "input-placeholder": "输入消息（Enter 发送，Shift+Enter 换行）",
    "send": "发送",
    "stop": "停止",
    "generating": "生成中…",
    "reasoning": "思考过程",
    "stopped": "已停止。",
    "tokens-in": "{s} 秒生成 {n} 个词元",
    "error": "错误",
    "no-models": "无法获取模型列表：{message}",
    "tools-error": "工具：{message}",
    "tools-array": "工具必须是 JSON 数组",
    "dropped": "较早的 {n} 条消息超出了 {ctx} 个词元的上下文，已被略去（系统提示保留）。",
  },
};

function browserLanguage() {
  const langs = navigator.languages?.length ? navigator.languages : [navigator.language ?? "en"];
  return langs.some((l) => /^zh\b/i.test(l)) ? "zh" : "en";
}

let current = localStorage.getItem("zhiyu:lang") ?? browserLanguage();
if (!WORDS[current]) current = "en";

export function language() {
  return current;
}

/** The text for key in the current language, with {name} placeholders filled from vars. */
export function t(key, vars = {}) {
  const text = WORDS[current][key] ?? WORDS.en[key] ?? key;
  return text.replace(/\{(\w+)\}/g, (_, name) => String(vars[name] ?? ""));
}

/** Puts the current language's words into every element that names a key. */
export function applyLanguage(root = document) {
  document.documentElement.lang = current === "zh" ? "zh-CN" : "en";
  for (const el of root.querySelectorAll("[data-i18n]")) el.textContent = t(el.dataset.i18n);
  for (const el of root.querySelectorAll("[data-i18n-placeholder]")) el.placeholder = t(el.dataset.i18nPlaceholder);
  for (const el of root.querySelectorAll("[data-i18n-title]")) el.title = t(el.dataset.i18nTitle);
}

/** Switches to the other language and remembers the choice. */
export function toggleLanguage() {
  current = current === "zh" ? "en" : "zh";
  localStorage.setItem("zhiyu:lang", current);
  applyLanguage();
}
