// English names for Chinese catalogue items (酒店/餐厅/景点), for English conversations: the way Beijing's own
// English signage names places — a glossary of well-known places, chains and type words translated ("故宫" →
// "Forbidden City", "大酒店" → "Grand Hotel", "烤鸭店" → "Roast Duck Restaurant"), everything else in toneless
// pinyin, one word per jieba word ("贵都" → "Guidu"; a name without a segmenter groups two syllables a word), a branch in brackets kept as a branch
// ("(王府井店)" → "(Wangfujing branch)"), a "formerly …" bracket dropped. A catalogue may give its own English
// name (`name_en`), which always wins (catalogue.ts). The places are also read backwards, English to Chinese, so an
// English request can name an area the catalogue knows only in Chinese.
// Leaves out: translation of descriptive names (a restaurant called 老北京炸酱面 becomes "Laobei Jingzha Jiangmian
// Restaurant"-like pinyin only where the glossary has no entry), other languages.
import { pinyin } from "pinyin-pro";
import { createSegmenter, type Segmenter } from "../../../tools/segmenter.js";
import type { ItemKind } from "./catalogue.js";

/** Places and landmarks (longest match first), also read backwards: an English request names a place the
 *  catalogue writes in Chinese ("near Wangfujing" → 王府井, placeNamesInChinese). */
const PLACES: Record<string, string> = {
  北京: "Beijing", 中国: "China", 国家: "National", 首都机场: "Capital Airport", 首都国际机场: "Capital International Airport",
  首都: "Capital", 大兴机场: "Daxing Airport", 机场: "Airport", 北京西站: "Beijing West Railway Station", 西客站: "West Railway Station",
  北京南站: "Beijing South Railway Station", 北京站: "Beijing Railway Station", 北京北站: "Beijing North Railway Station",
  南站: "South Railway Station", 西站: "West Railway Station", 北站: "North Railway Station", 东站: "East Railway Station",
  火车站: "Railway Station", 地铁站: "Metro Station", 地铁: "Metro", 故宫博物院: "Palace Museum", 故宫: "Forbidden City", 天安门广场: "Tiananmen Square",
  天安门城楼: "Tiananmen Rostrum", 天安门: "Tiananmen", 颐和园: "Summer Palace", 圆明园: "Old Summer Palace",
  长城: "Great Wall", 天坛: "Temple of Heaven", 地坛: "Temple of Earth", 日坛: "Temple of the Sun", 月坛: "Temple of the Moon",
  雍和宫: "Lama Temple", 鸟巢: "Bird's Nest", 国家体育场: "National Stadium", 水立方: "Water Cube", 奥林匹克: "Olympic",
  奥运村: "Olympic Village", 恭王府: "Prince Gong's Mansion", 北海: "Beihai", 景山: "Jingshan", 香山: "Fragrant Hills",
  十三陵: "Ming Tombs", 明十三陵: "Ming Tombs", 中关村: "Zhongguancun", 王府井: "Wangfujing", 三里屯: "Sanlitun",
  前门: "Qianmen", 国贸: "Guomao", 清华大学: "Tsinghua University", 北京大学: "Peking University", 人民大学: "Renmin University",
  "798艺术区": "798 Art District",
};

/** Glossary entries (longest match first). Type words that depend on the item's kind are in KIND_WORDS. */
const GLOSSARY: Record<string, string> = {
  ...PLACES,
  // Hotel chains and brands.
  如家: "Home Inn", 汉庭: "Hanting", 速8: "Super 8", "7天": "7 Days", 格林豪泰: "GreenTree Inn", 锦江之星: "Jinjiang Inn",
  希尔顿: "Hilton", 逸林: "DoubleTree", 诺富特: "Novotel", 戴斯: "Days", 维也纳: "Vienna", 万丽: "Renaissance",
  喜来登: "Sheraton", 万豪: "Marriott", 洲际: "InterContinental", 皇冠假日: "Crowne Plaza", 假日: "Holiday",
  香格里拉: "Shangri-La", 凯宾斯基: "Kempinski", 丽思卡尔顿: "Ritz-Carlton", 威斯汀: "Westin", 华美达: "Ramada",
  宜必思: "ibis", 全季: "JI", 桔子: "Orange", 亚朵: "Atour", 莫泰: "Motel 168", 布丁: "Pod Inn", 丽晶: "Regent",
  凯悦: "Hyatt", 君悦: "Grand Hyatt", 索菲特: "Sofitel", 铂尔曼: "Pullman", 美居: "Mercure", 维景: "Metropark",
  全聚德: "Quanjude", 东来顺: "Donglaishun", 便宜坊: "Bianyifang", 海底捞: "Haidilao", 肯德基: "KFC", 麦当劳: "McDonald's",
  稻香村: "Daoxiangcun", 大董: "Da Dong",
  // Type words (any kind).
  国际: "International", 商务: "Business", 连锁: "", 精选: "Select", 主题: "Theme", 快捷: "Express", 青年旅舍: "Youth Hostel",
  公寓: "Apartments", 旅馆: "Inn", 旅店: "Inn", 客栈: "Inn", 宾馆: "Hotel", 大厦: "Tower", 中心: "Centre", 会议: "Conference",
  烤鸭店: "Roast Duck Restaurant", 烤鸭: "Roast Duck", 餐厅: "Restaurant", 餐馆: "Restaurant", 菜馆: "Restaurant",
  饭馆: "Restaurant", 饭庄: "Restaurant", 食府: "Restaurant", 酒楼: "Restaurant", 酒家: "Restaurant", 小吃店: "Snack Shop",
  小吃: "Snacks", 火锅: "Hotpot", 涮肉: "Hotpot", 烤肉: "Barbecue", 烧烤: "Barbecue", 自助: "Buffet", 面馆: "Noodle House",
  包子铺: "Bun Shop", 家常菜: "Home Cooking", 农家院: "Farmhouse", 料理: "Cuisine", 咖啡: "Coffee", 比萨: "Pizza",
  森林公园: "Forest Park", 公园: "Park", 博物馆: "Museum", 纪念馆: "Memorial Hall", 美术馆: "Art Museum", 艺术馆: "Art Gallery",
  艺术区: "Art District", 展览馆: "Exhibition Hall", 图书馆: "Library", 风景区: "Scenic Area", 景区: "Scenic Area",
  乐园: "Paradise", 动物园: "Zoo", 植物园: "Botanical Garden", 海洋馆: "Aquarium", 大剧院: "Grand Theatre", 剧院: "Theatre",
  剧场: "Theatre", 庄园: "Manor", 峡谷: "Canyon", 故居: "Former Residence", 画廊: "Gallery", 农场: "Farm", 广场: "Square",
  大学: "University", 大街: "Street", 胡同: "Hutong", 寺: "Temple", 庙: "Temple", 塔: "Pagoda", 湖: "Lake", 殿: "Hall",
  世界: "World", 王府: "Mansion", 一日游: "Day Tour", 半日游: "Half-day Tour", 旅行团: "Tour Group",
};

/** Words whose English depends on the item's kind (饭店 is a hotel in a hotel list, a restaurant in a restaurant list). */
const KIND_WORDS: Record<string, Partial<Record<ItemKind, string>>> = {
  大酒店: { hotel: "Grand Hotel", restaurant: "Restaurant" }, 大饭店: { hotel: "Grand Hotel", restaurant: "Restaurant" },
  酒店: { hotel: "Hotel", restaurant: "Restaurant" }, 饭店: { hotel: "Hotel", restaurant: "Restaurant" },
};

/** Readings that names take where pinyin-pro picks the everyday one (都 "dōu", all → "dū" as in 成都, 贵都). */
const NAME_READINGS: Record<string, string> = { 都: "du" };

const MAX_KEY = Math.max(...[...Object.keys(GLOSSARY), ...Object.keys(KIND_WORDS)].map((k) => k.length));

function capitalise(w: string): string {
  return w.charAt(0).toUpperCase() + w.slice(1);
}

/** Toneless pinyin of a Han run, one capitalised word per segment (a segment of one syllable joins the next). */
function pinyinWords(run: string, cut: (text: string) => string[]): string[] {
  const chars = [...run];
  const syllables = pinyin(run, { toneType: "none", type: "array" }).map((s, i) => NAME_READINGS[chars[i]] ?? s.replace(/[üv]/g, "u"));
  const words: string[] = [];
  let at = 0;
  let carry = "";
  for (const piece of cut(run)) {
    const n = [...piece].length;
    const word = carry + syllables.slice(at, at + n).join("");
    at += n;
    if (n === 1 && word === syllables[at - 1] && at < syllables.length) carry = word;
    else {
      words.push(capitalise(word));
      carry = "";
    }
  }
  if (carry) words.push(capitalise(carry));
  return words;
}

/** Two characters a word: the grouping when no segmenter is given. */
function pairs(text: string): string[] {
  const chars = [...text];
  const out: string[] = [];
  for (let i = 0; i < chars.length; i += 2) out.push(chars.slice(i, i + 2).join(""));
  return out;
}

/** English words of a name without brackets: glossary by longest match, pinyin for the rest, Latin text kept. */
function translateCore(text: string, kind: ItemKind, cut: (text: string) => string[]): string[] {
  const out: string[] = [];
  let pending = "";
  const flush = () => {
    if (pending) out.push(...pinyinWords(pending, cut));
    pending = "";
  };
  let i = 0;
  while (i < text.length) {
    let matched = false;
    for (let n = Math.min(MAX_KEY, text.length - i); n >= 1 && !matched; n--) {
      const piece = text.slice(i, i + n);
      const english = KIND_WORDS[piece]?.[kind] ?? KIND_WORDS[piece]?.hotel ?? GLOSSARY[piece];
      if (english !== undefined) {
        flush();
        if (english) out.push(english);
        i += n;
        matched = true;
      }
    }
    if (matched) continue;
    const ch = text[i];
    if (/\p{Script=Han}/u.test(ch)) pending += ch;
    else {
      flush();
      const latin = text.slice(i).match(/^[^\p{Script=Han}]+/u)![0];
      const words = latin.replace(/[·•・]/g, " ").trim();
      if (words) out.push(words);
      i += latin.length;
      continue;
    }
    i++;
  }
  flush();
  return out;
}

/** The English name of a Chinese catalogue item name; a name without Han characters is returned as it is.
 *  `cut` groups the pinyin of names the glossary does not cover into words (jieba: EnglishNamer). */
/** The Chinese names of the places an English text mentions (whole words, any case; generic words like "Capital" or
 *  "Airport" alone do not count, nor names found inside a longer one: "Beijing South Railway Station" is not "Beijing"). */
export function placeNamesInChinese(text: string): string[] {
  const found: string[] = [];
  let rest = ` ${text.toLowerCase().replace(/[^a-z0-9' ]+/g, " ")} `;
  const entries = Object.entries(PLACES).filter(([, en]) => en.includes(" ") || !GENERIC_PLACE_WORDS.has(en)).sort((a, b) => b[1].length - a[1].length);
  for (const [zh, en] of entries) {
    const word = ` ${en.toLowerCase()} `;
    if (rest.includes(word)) {
      found.push(zh);
      rest = rest.split(word).join(" ");
    }
  }
  return found;
}

const GENERIC_PLACE_WORDS = new Set(["Beijing", "China", "National", "Capital", "Airport", "Metro", "Olympic"]);

export function englishName(name: string, kind: ItemKind, cut: (text: string) => string[] = pairs): string {
  if (!/\p{Script=Han}/u.test(name)) return name;
  const brackets = [...name.matchAll(/[(（]([^)）]*)[)）]/g)].map((m) => m[1].trim());
  const core = name.replace(/[(（][^)）]*[)）]/g, " ").trim();
  const parts = [translateCore(core, kind, cut).join(" ")];
  for (const b of brackets) {
    if (!b || /^原/.test(b)) continue; // "(原…)" — the former name
    const branch = b.match(/^(.*?)(总店|分店|店)$/);
    if (branch) {
      const where = translateCore(branch[1], "attraction", cut).join(" ");
      parts.push(`(${where ? `${where} ` : ""}${branch[2] === "总店" ? "flagship" : "branch"})`);
    } else parts.push(`(${translateCore(b, kind, cut).join(" ")})`);
  }
  return parts.join(" ").replace(/\s+/g, " ").trim();
}

/** English names with jieba word boundaries for the pinyin, remembered per item name. */
export class EnglishNamer {
  private readonly segmenter: Segmenter;
  private readonly names = new Map<string, string>();

  constructor(userWords: readonly string[] = []) {
    this.segmenter = createSegmenter({ userWords: [...userWords] });
  }

  name(name: string, kind: ItemKind): string {
    const key = `${kind}\u0000${name}`;
    let english = this.names.get(key);
    if (english === undefined) {
      english = englishName(name, kind, (text) => this.segmenter.cut(text).filter((w) => w.trim().length > 0));
      this.names.set(key, english);
    }
    return english;
  }
}
