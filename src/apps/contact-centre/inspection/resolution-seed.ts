// Seed examples for the resolution check of inspection, written for this project (no licence restrictions): a
// customer's closing message when the issue is still open (unresolved) and when it is settled or simply ended
// (resolved), in Chinese and English. The emotion model reads many unresolved endings as neutral ("问题还没处理"
// has no emotion word), so inspection fits a small two-class model on these plus the final user turns of CrossWOZ's
// test split (Apache-2.0; task dialogues that end settled). None of these sentences is in the planted test set
// (planted-set.ts), whose endings are written separately.
// Leaves out: endings whose meaning needs the conversation (e.g. "好吧" after a refusal).

export const RESOLUTION_SEED: { unresolved: { zh: string[]; en: string[] }; resolved: { zh: string[]; en: string[] } } = {
  unresolved: {
    zh: ["还是打不开", "问题依旧没处理", "你们这样根本解决不了问题", "那我只能投诉了", "等了半天还是没结果", "我去找别家了", "说了等于没说",
      "钱到现在还没退", "还是登不上去", "这跟没回答一样", "我要找你们领导", "浪费我这么多时间", "我还是不明白该怎么办", "这也太敷衍了吧",
      "行吧，反正也指望不上你们", "订单还是显示失败", "你们这个服务真差劲", "那我的票怎么办？没人管吗", "处理结果我不接受", "还是老样子，一点变化都没有",
      "退款还没到账，到底什么时候能退", "你们能不能给个准话", "这个答复我不满意", "还是报错", "我要求退款，不然就投诉到消费者协会",
      "那就是没办法了呗", "又让我等，已经等了三天了", "怎么还没有人联系我", "问题没处理完就结束了？", "我对这个处理很不满"],
    en: ["it still doesn't work", "so my problem is not fixed", "i guess i'll have to file a complaint", "that doesn't answer my question",
      "this is a waste of time", "i still haven't received my refund", "i'll take my business elsewhere", "the error is still there",
      "you haven't helped me at all", "i want to speak to a manager", "still nothing, same issue as before", "so nobody can fix this?",
      "i'm still locked out of my account", "that's not what i asked", "i'll just call the bank then", "still waiting and no one has an answer",
      "this didn't solve anything", "i'm going to cancel my subscription then", "the package still hasn't arrived", "so i just lose my money?",
      "that's not acceptable", "i'm not satisfied with this answer", "you keep telling me to wait", "it's still charging me twice",
      "no one is helping me here", "this is the third time i've contacted you about this", "i'll dispute the charge with my card company",
      "the app still crashes", "so what am i supposed to do now?", "i'm really not happy with how this was handled"],
  },
  resolved: {
    zh: ["好的，谢谢", "解决了，谢谢你", "明白了", "好的，收到", "行，就这样吧，谢谢", "可以了，已经能用了", "太好了，票已经收到了", "没问题了",
      "好的，我知道怎么做了", "谢谢，辛苦了", "嗯嗯，好的", "那我等退款到账", "OK，谢谢", "没有别的问题了", "好的，那我明天再来办",
      "退款已经到账了，谢谢", "很满意，谢谢", "好的再见", "明白，麻烦你了", "可以，就订这个", "好嘞，多谢", "清楚了，谢谢您的解答",
      "好的，我去试一下", "已经收到短信了", "就这些，谢谢", "好的好的，感谢", "嗯，没事了", "行，那我放心了", "谢谢客服", "知道了，拜拜"],
    en: ["thanks, that fixed it", "great, thank you", "ok got it", "that works, thanks", "perfect, i can log in again", "no, that's all",
      "awesome, appreciate it", "i see, thanks for explaining", "ok, i'll wait for the refund then", "yes, the refund came through",
      "all good now", "thank you so much", "that answers my question", "alright, bye", "cool, thanks", "great, i received the email",
      "nothing else, thanks", "sounds good", "ok, i'll try that", "that's perfect", "thanks a lot, bye", "got the confirmation, thanks",
      "that's exactly what i needed", "okay, makes sense", "good to know, thank you", "wonderful, have a nice day", "yep, all sorted",
      "thank you for the quick help", "fine, thanks", "ok, that's clear now"],
  },
};
