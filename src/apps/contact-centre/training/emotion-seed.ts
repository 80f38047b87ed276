// Seed examples for the shipped emotion model, written for this project (no licence restrictions): customer-service
// messages for each of the seven CLUE emotion classes, in Chinese and English. The only licensed-for-shipping
// Chinese emotion data here is none (clue-emotion and zh-sentiment-reviews carry no licence), so the shipped model
// learns from these plus the configured intent examples as "neutral"; the clue-emotion figures in BENCHMARKS.md
// come from the same trainer fitted on clue-emotion's valid split (never shipped).
// Leaves out: intensity labels (the calibrated probability stands in for intensity).

export const EMOTION_SEED: Record<string, { zh: string[]; en: string[] }> = {
  anger: {
    zh: ["你们这是什么破服务！", "气死我了，等了一个小时都没人管", "太过分了，骗子公司", "我受够了，马上给我解决", "你们到底有没有人管啊！！",
      "垃圾客服，问了三遍都答非所问", "再不处理我就投诉到消协", "凭什么扣我的钱，立刻退回来", "简直是欺负人", "我已经忍无可忍了",
      "你们是不是故意的", "态度这么差还好意思收钱", "别跟我说模板话，我要解决问题", "又是这套说辞，烦死了",
      "说好的今天出票，到现在还没有，你们还讲不讲信用", "我真的火大了，订单被取消了也不通知我", "这么久了还没退款，你们太过分了！",
      "你们客服是摆设吗？打了十几个电话没人接", "服务烂成这样，简直无语", "钱扣了票没出，简直荒唐", "我非常生气，马上给我个说法",
      "到底什么时候能处理？我已经等了三天了！", "酒店根本没有我的预订，害我在大堂等了两个小时，气炸了", "一再推脱，把顾客当傻子吗",
      "你们的系统又出错了，耽误我一整天", "我不想再听道歉了，我要结果", "被你们坑惨了", "太气人了，导游把我们扔在半路"],
    en: ["this is ridiculous, fix it now", "i am furious, nobody has helped me for an hour", "worst service ever", "stop wasting my time",
      "you people are useless", "i'm so angry about this charge", "this is a scam and i want my money back now",
      "i've been waiting three days for my refund and i'm fed up", "this is outrageous, you cancelled my booking without telling me",
      "unacceptable! the hotel had no record of my reservation", "i'm livid, you charged me twice", "i've called ten times and nobody answers, what a joke",
      "don't give me another apology, just fix it", "i'm sick of your excuses", "absolutely furious with how i've been treated",
      "your guide abandoned us halfway, this is disgraceful service", "how many times do i have to ask? sort it out now!"],
  },
  disgust: {
    zh: ["房间脏得让人恶心", "厕所太脏了，受不了", "饭菜有股馊味，太恶心了", "这种服务真让人反感", "看到床单上的污渍就想吐",
      "导游一路推销，很讨厌", "环境又脏又乱", "这么差的东西也敢卖"],
    en: ["the room was disgusting", "the food smelled awful", "gross, the sheets were dirty", "i hate these pushy sales tactics", "that place was filthy"],
  },
  sadness: {
    zh: ["唉，期待了好久的旅行泡汤了", "好失望啊，票没抢到", "心情很低落，行程全被打乱了", "孩子哭了一路，真难过", "本来是给妈妈的生日礼物，现在全毁了",
      "钱花了也没玩成，很伤心", "一个人在外地，真的好无助", "太遗憾了，错过了开放时间"],
    en: ["i'm so disappointed, the trip is ruined", "this was supposed to be my mother's birthday gift", "i feel helpless here",
      "so sad we missed it", "we were really looking forward to this"],
  },
  fear: {
    zh: ["我好害怕，账户里的钱是不是被盗了", "有陌生人一直打电话，我很担心", "孩子走丢了怎么办，急死了", "会不会被骗了，好慌", "半夜一个人很害怕",
      "担心个人信息泄露了"],
    en: ["i'm scared someone stole my money", "i'm worried my account was hacked", "i'm afraid this is a scam", "i'm frightened, please help"],
  },
  surprise: {
    zh: ["什么？居然已经卖完了？", "没想到这么快就到账了", "天哪，价格怎么涨了这么多", "竟然还能免费升级？", "啊？今天不开门？", "真的假的，这么便宜"],
    en: ["wow, that was fast", "what? it's sold out already?", "really? the price doubled?", "i didn't expect that at all"],
  },
  happiness: {
    zh: ["太好了，问题解决了！", "哈哈，终于订到了", "今天玩得特别开心", "退款到账了，开心", "谢谢你们，旅途很愉快", "好棒，升级成功了", "开心，孩子玩得很尽兴"],
    en: ["great, that solved it!", "awesome, we had a wonderful time", "yay, the refund arrived", "i'm so happy with the trip", "perfect, thank you so much"],
  },
  like: {
    zh: ["你们的导游很专业，我很喜欢", "这家酒店真不错，推荐", "客服小姐姐态度超好", "很喜欢你们的服务", "行程安排得很贴心", "下次还选你们", "这个路线设计得真好"],
    en: ["i love your service", "the guide was excellent", "great hotel, highly recommend", "your team is very helpful", "will book with you again"],
  },
};
