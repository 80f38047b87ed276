// Seed examples for the rudeness/impatience check of inspection, written for this project (no licence
// restrictions): agent sentences that are rude, impatient or dismissive, and ordinary polite or neutral agent
// sentences, in Chinese and English. The contact centre's emotion model was trained on customer messages and
// cannot tell an impatient agent from a greeting (docs/inspection.md has the figures), so inspection fits a small
// two-class model on these in memory (milliseconds). None of these sentences is in the planted test set
// (planted-set.ts), whose rude replies are written separately, so the reported precision/recall is held out.
// Leaves out: degrees of rudeness; sarcasm (needs context this model does not see).

export const RUDENESS_SEED: { rude: { zh: string[]; en: string[] }; polite: { zh: string[]; en: string[] } } = {
  rude: {
    zh: ["你能不能认真听我说", "我都解释三遍了还不明白", "你怎么这么笨", "别烦我了", "没空跟你废话", "你自己不会看说明吗", "问这么多干什么",
      "这种问题也要问", "你到底想怎么样", "我说了算，别啰嗦", "爱信不信", "你这人怎么回事", "快点说，我很忙", "听不懂就算了", "少废话",
      "你是不是有毛病", "烦死了，又是你", "别再打电话来了", "我没时间陪你耗", "这都不懂还来问", "真是受不了你", "有完没完啊", "说多少遍了你才懂",
      "你自己去查吧，别问我", "行了行了，别说了", "不想办就别办", "你这问题太蠢了", "跟你说不清楚", "你听好了，我只说一次", "能不能别这么啰嗦"],
    en: ["can you just listen for once", "i have explained this three times already", "are you stupid or something", "stop bothering me",
      "i don't have time for this", "read the instructions yourself", "why are you asking so many questions", "that's a dumb question",
      "what do you even want", "just do what i said and stop complaining", "believe it or not, i don't care", "hurry up, i'm busy",
      "if you can't understand that, forget it", "stop calling us", "i'm not going to waste my time on you", "you are so annoying",
      "how many times must i say it", "figure it out yourself", "enough, stop talking", "this is a stupid problem", "listen carefully, i will only say it once",
      "ugh, you again", "you clearly didn't read anything", "that's obvious, come on", "stop whining",
      "are you kidding me?", "i told you already, pay attention", "not this again", "why can't you get it", "seriously, just read it",
      "that's your fault, not ours", "you should have known that", "i'm done explaining", "look, i'm busy", "don't waste my time with this",
      "do you even understand english?", "that's a silly thing to ask", "stop asking me the same thing", "no, and stop asking", "god, this again"],
  },
  polite: {
    zh: ["您好，请问有什么可以帮您？", "好的，我来为您查询一下", "请您稍等，正在为您处理", "非常抱歉给您带来不便", "感谢您的耐心等待", "已经为您提交了退款申请",
      "您的订单已经出票了", "请问您的订单号是多少？", "门票可以在官方网站购买", "营业时间是早上八点到下午五点", "地址在东城区景山前街4号", "推荐您乘坐地铁前往",
      "这家酒店的评分是4.5分", "还有其他可以帮您的吗？", "好的，已经为您改签到明天", "请您提供一下手机号后四位", "理解您的心情，我们马上处理", "退款会在三到五个工作日到账",
      "抱歉，这个问题我需要核实一下", "没问题，我帮您记下了", "周边有几家不错的餐厅", "人均消费大约一百元", "感谢您的咨询，祝您旅途愉快", "您说得对，是我们的疏忽",
      "这边为您转接专员处理", "请问还需要预订酒店吗？", "好的，我重新为您说明一下", "不好意思让您久等了", "您可以在app里查看进度", "明白了，我这就帮您取消",
      "好的", "没问题", "收到", "稍等一下", "可以的", "嗯嗯，明白", "谢谢您的反馈", "这个我帮您确认一下", "很抱歉，这个暂时无法办理，不过可以为您改签",
      "您还可以选择其他日期", "已经帮您备注了", "请问还有别的需要吗？", "是的，可以带儿童入园", "不客气", "好的，祝您玩得开心"],
    en: ["hello, how can i help you today?", "sure, let me look that up for you", "please hold on while i check", "i'm sorry for the inconvenience",
      "thank you for your patience", "i've submitted the refund for you", "your order has been confirmed", "could you give me your order number?",
      "tickets can be bought on the official website", "it opens at 8 am and closes at 5 pm", "the nearest subway station is exit a",
      "is there anything else i can help with?", "i've moved your booking to tomorrow", "i understand how frustrating this is", "the refund takes three to five working days",
      "let me double-check that for you", "no problem, i've noted that", "there are a few good restaurants nearby", "thanks for contacting us, have a great day",
      "you're right, that was our mistake", "i'm transferring you to a specialist", "sorry to keep you waiting", "you can track it in the app",
      "got it, i'll cancel that for you", "may i have your name please?", "ok, was the purchase made in the last 90 days?", "great, your account is verified",
      "i can certainly help with that", "let me explain it again step by step", "have a wonderful day",
      "sure thing", "no problem!", "one moment please", "got it", "perfect", "sounds good", "i see", "alright, thank you", "no worries at all",
      "i will", "i won't be long", "that's fine", "of course", "absolutely", "certainly", "let me see", "just a sec", "thanks for waiting",
      "you're all set", "i can do that", "not a problem at all", "what is the order id?", "can you verify your email address?",
      "could you tell me the reason for the return?", "i'll issue the label now", "the item will be replaced", "okay, checking now",
      "i apologize for the trouble", "that makes sense", "happy to help", "great question", "yes, we can do that", "no, that's not possible, but here is what i can do",
      "unfortunately the offer has expired", "i'm afraid we can't refund that, but i can offer store credit", "please bear with me", "thanks so much",
      "awesome, thank you", "just to confirm, you want the blue one?", "ok, i have updated the address", "let me pull up your account"],
  },
};
