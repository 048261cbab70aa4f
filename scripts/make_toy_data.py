# Run from the repository root: python scripts/make_toy_data.py
# Writes the toy sentiment and Chinese-to-English translation JSONL files under data/.
"""Generate the small datasets that the default training run uses.

Every sentence comes from the templates and word lists below, drawn with a fixed
seed, so two runs write byte-identical files. The script uses only the standard
library.
"""

import json
import random
from pathlib import Path

SEED = 20240611
DATA_DIR = Path(__file__).resolve().parent.parent / "data"

SENTIMENT_TRAIN_SIZE = 2400
SENTIMENT_VALIDATION_SIZE = 300
TRANSLATION_TRAIN_SIZE = 4000
TRANSLATION_VALIDATION_SIZE = 300

POSITIVE = "正面"
NEGATIVE = "负面"

# Sentences outside these lengths (in characters, punctuation included) are redrawn.
REVIEW_MIN_CHARS = 6
REVIEW_MAX_CHARS = 60

# Chinese sentence length in characters, final punctuation excluded.
ZH_MIN_CHARS = 4
ZH_MAX_CHARS = 15

# Always written to train with this label, so that examples can rely on it.
FIXED_TRAIN_REVIEW = {"text": "这部电影太棒了！", "label": POSITIVE, "lang": "zh"}


# --- Sentiment vocabulary -------------------------------------------------
# Subjects carry a category so that each one only gets adjectives that fit it.

ZH_REVIEW_SUBJECTS = (
    ("这部电影", "media"), ("这本书", "media"), ("这首歌", "media"),
    ("这款游戏", "media"), ("这个节目", "media"), ("这场演出", "media"),
    ("这家餐厅", "place"), ("这家酒店", "place"), ("这家咖啡店", "place"),
    ("这个房间", "place"), ("这家民宿", "place"),
    ("这部手机", "device"), ("这台电脑", "device"), ("这个应用", "device"),
    ("这台相机", "device"), ("这副耳机", "device"), ("这款平板", "device"),
    ("他们的服务", "service"), ("这里的服务", "service"), ("快递", "service"),
    ("客服", "service"), ("售后", "service"), ("前台", "service"),
)

# Gradable adjectives. A Chinese predicate needs a degree word in front of them (很好, 非常精彩).
ZH_POSITIVE_ADJECTIVES = {
    "any": ("好", "不错", "出色", "优秀"),
    "media": ("精彩", "有意思", "感人", "吸引人"),
    "place": ("干净", "舒服", "安静", "温馨"),
    "device": ("好用", "流畅", "耐用", "方便"),
    "service": ("周到", "及时", "热情", "专业", "贴心"),
}
ZH_NEGATIVE_ADJECTIVES = {
    "any": ("差", "糟糕", "让人失望"),
    "media": ("无聊", "乏味", "拖沓", "老套"),
    "place": ("脏", "吵", "拥挤", "简陋"),
    "device": ("难用", "卡", "容易坏", "粗糙"),
    "service": ("慢", "冷淡", "敷衍", "不专业", "马虎"),
}

ZH_DEGREES = ("很{}", "非常{}", "特别{}", "十分{}", "真的很{}", "相当{}", "挺{}的")
# These degrees fit only negative adjectives, because 有点好 is not idiomatic and 太安静了
# can mean "too quiet".
ZH_NEGATIVE_ONLY_DEGREES = ("有点{}", "有些{}", "太{}了")

ZH_POSITIVE_FIXED = {
    "any": ("太棒了", "好极了", "棒极了", "超出了我的预期", "让我很惊喜", "真是没话说", "好得没话说"),
    "media": ("值得一看", "值得推荐"),
    "place": ("物超所值", "值得推荐"),
    "device": ("物超所值", "值得推荐"),
    "service": (),
}
ZH_NEGATIVE_FIXED = {
    "any": ("太差了", "糟透了", "让我很失望", "差劲极了", "真让人头疼"),
    "media": ("简直是浪费时间",),
    "place": ("完全不值这个价",),
    "device": ("完全不值这个价", "简直是浪费钱"),
    "service": (),
}

# "不" + positive adjective gives a negative review, and the reverse frames below
# ("一点也不" + negative adjective) give a positive one.
ZH_NEGATORS_OF_POSITIVE = ("不{}", "不太{}", "不怎么{}", "一点也不{}", "并不{}")
ZH_NEGATORS_OF_NEGATIVE = ("一点也不{}", "一点都不{}", "完全不{}", "根本不{}")
# Adjectives that read unnaturally after those negators (一点也不糟糕, 客服一点也不优秀).
# Adjectives starting with 不 (不错, 不专业) are skipped as well.
ZH_NOT_NEGATED = ("糟糕", "优秀")

ZH_POSITIVE_OPINIONS = (
    "我很喜欢{}", "我非常喜欢{}", "我特别喜欢{}", "我真的很喜欢{}",
    "我对{}很满意", "我对{}非常满意", "我对{}十分满意",
)
ZH_NEGATIVE_OPINIONS = (
    "我不喜欢{}", "我不太喜欢{}", "我一点也不喜欢{}",
    "我对{}不太满意", "我对{}很不满意", "我对{}一点也不满意",
)
# Recommendation frames read oddly with service subjects, so those subjects skip them.
ZH_POSITIVE_RECOMMENDATIONS = ("强烈推荐{}", "我会把{}推荐给朋友")
ZH_NEGATIVE_RECOMMENDATIONS = ("不推荐{}", "我不会再选{}了", "千万别选{}")

ZH_NEUTRAL_PREFIXES = {
    "any": ("说实话，", "总的来说，", "个人觉得，", "老实讲，", "整体来看，", "朋友推荐的，"),
    "media": (),
    "place": ("上周末去了一次，", "和家人一起去的，"),
    "device": ("用了一个月，", "刚买了一周，"),
    "service": ("上周联系过一次，",),
}
ZH_POSITIVE_TAILS = ("推荐给大家", "下次还会选它", "整体很满意")
ZH_NEGATIVE_TAILS = ("不推荐", "下次不会再选了", "整体很不满意", "真后悔")

# A concession clause has the opposite tone of the review that follows it, so
# "虽然价格有点贵，但是……" leads into a positive review.
ZH_CONCESSIONS_BEFORE_POSITIVE = ("价格有点贵", "等了很久", "开头有点慢", "包装很普通", "人有点多")
ZH_CONCESSIONS_BEFORE_NEGATIVE = ("价格很便宜", "包装很精美", "网上评价很高", "位置很方便", "看起来很不错")

ZH_ENDINGS = ("！", "。", "。")

# English subjects: (text, category, is_plural).
EN_REVIEW_SUBJECTS = (
    ("the movie", "media", False), ("this book", "media", False), ("the song", "media", False),
    ("this game", "media", False), ("the show", "media", False), ("the concert", "media", False),
    ("the restaurant", "place", False), ("the hotel", "place", False),
    ("this coffee shop", "place", False), ("the room", "place", False),
    ("the guesthouse", "place", False),
    ("this phone", "device", False), ("the laptop", "device", False), ("the app", "device", False),
    ("this camera", "device", False), ("the headphones", "device", True),
    ("this tablet", "device", False),
    ("the service", "service", False), ("the delivery", "service", False),
    ("customer support", "service", False), ("the waiters", "service", True),
    ("the front desk", "service", False),
)

# Gradable adjectives take "very", and extreme ones ("wonderful") take "absolutely".
EN_POSITIVE_ADJECTIVES = {
    "any": ("good", "nice", "impressive"),
    "media": ("interesting", "moving", "entertaining", "exciting"),
    "place": ("clean", "comfortable", "quiet", "cozy", "spacious"),
    "device": ("fast", "reliable", "easy to use", "well made"),
    "service": ("friendly", "helpful", "quick", "professional", "attentive"),
}
EN_NEGATIVE_ADJECTIVES = {
    "any": ("bad", "poor", "disappointing"),
    "media": ("boring", "dull", "predictable", "slow"),
    "place": ("dirty", "noisy", "crowded", "cramped"),
    "device": ("slow", "unreliable", "hard to use", "buggy", "flimsy"),
    "service": ("slow", "rude", "unhelpful", "careless", "unprofessional"),
}
EN_POSITIVE_EXTREMES = (
    "wonderful", "excellent", "fantastic", "amazing", "outstanding", "brilliant",
)
EN_NEGATIVE_EXTREMES = ("awful", "terrible", "horrible", "dreadful", "useless")

EN_GRADABLE_DEGREES = ("", "very ", "really ", "quite ", "so ", "pretty ", "extremely ")
EN_EXTREME_DEGREES = ("", "absolutely ", "truly ", "really ", "just ")

EN_POSITIVE_OPINIONS = (
    "I loved {}", "I really loved {}", "I absolutely loved {}", "I really enjoyed {}",
    "I am very happy with {}", "{} exceeded my expectations", "{} did not disappoint me",
)
EN_NEGATIVE_OPINIONS = (
    "I hated {}", "I disliked {}", "I did not enjoy {}", "I am not happy with {}",
    "{} let me down", "I regret choosing {}",
)
EN_POSITIVE_RECOMMENDATIONS = ("I would recommend {} to anyone", "I would happily recommend {}")
EN_NEGATIVE_RECOMMENDATIONS = ("I would not recommend {}", "I cannot recommend {}")

EN_NEUTRAL_PREFIXES = {
    "any": ("To be honest, ", "Overall, ", "In my opinion, ", "Honestly, ", "All in all, "),
    "media": (),
    "place": ("We went there last weekend, and ",),
    "device": ("I bought it a month ago, and ",),
    "service": ("I needed help last week, and ",),
}
EN_POSITIVE_TAILS = (", and I would recommend it", ", and I would choose it again")
EN_NEGATIVE_TAILS = (", and I would not recommend it", ", and I will not choose it again")

EN_CONCESSIONS_BEFORE_POSITIVE = (
    "the price was a bit high", "we had to wait a while", "the start was a little slow",
    "the packaging was plain", "it was a bit crowded",
)
EN_CONCESSIONS_BEFORE_NEGATIVE = (
    "the price was low", "the packaging looked nice", "the reviews were good",
    "the location was convenient", "it looked great at first",
)

EN_ENDINGS = (".", ".", "!")


# --- Translation vocabulary -----------------------------------------------
# Person codes pick the English verb form: "3s" takes "likes", "does", "is".

TR_SUBJECTS = (
    ("我", "I", "1s"), ("你", "you", "2"), ("他", "he", "3s"), ("她", "she", "3s"),
    ("我们", "we", "pl"), ("他们", "they", "pl"),
    ("我的朋友", "my friend", "3s"), ("老师", "the teacher", "3s"),
    ("我妈妈", "my mother", "3s"), ("我爸爸", "my father", "3s"),
    ("我哥哥", "my brother", "3s"), ("我姐姐", "my sister", "3s"),
    ("小王", "Xiao Wang", "3s"), ("小李", "Xiao Li", "3s"),
    ("学生们", "the students", "pl"), ("孩子们", "the children", "pl"),
    ("医生", "the doctor", "3s"), ("我的同事", "my colleague", "3s"),
    ("我的邻居", "my neighbor", "3s"), ("我们的老师", "our teacher", "3s"),
    ("我奶奶", "my grandmother", "3s"), ("我的室友", "my roommate", "3s"),
    ("司机", "the driver", "3s"), ("护士", "the nurse", "3s"), ("我的老板", "my boss", "3s"),
    ("我的父母", "my parents", "pl"), ("我的同学们", "my classmates", "pl"),
)
BE_PRESENT = {"1s": "am", "2": "are", "3s": "is", "pl": "are"}
BE_PAST = {"1s": "was", "2": "were", "3s": "was", "pl": "were"}

# Objects: (Chinese, English, category, form). The form decides which tenses the
# object fits: "generic" is a bare plural ("apples"), "mass" a bare mass noun
# ("coffee"), "unit" a counted phrase ("a cup of coffee"), "this" a
# demonstrative phrase, "definite" a phrase with "the" or a fixed reading.
TR_OBJECTS = (
    ("苹果", "apples", "food", "generic"), ("一个苹果", "an apple", "food", "unit"),
    ("两个苹果", "two apples", "food", "unit"), ("这些苹果", "these apples", "food", "this"),
    ("面条", "noodles", "food", "generic"), ("一碗面条", "a bowl of noodles", "food", "unit"),
    ("米饭", "rice", "food", "mass"), ("一碗米饭", "a bowl of rice", "food", "unit"),
    ("蛋糕", "cake", "food", "mass"), ("一块蛋糕", "a piece of cake", "food", "unit"),
    ("那块蛋糕", "that piece of cake", "food", "this"),
    ("香蕉", "bananas", "food", "generic"), ("一根香蕉", "a banana", "food", "unit"),
    ("橙子", "oranges", "food", "generic"), ("一个橙子", "an orange", "food", "unit"),
    ("鸡蛋", "eggs", "food", "generic"), ("三个鸡蛋", "three eggs", "food", "unit"),
    ("面包", "bread", "food", "mass"), ("一块面包", "a piece of bread", "food", "unit"),
    ("巧克力", "chocolate", "food", "mass"),
    ("饺子", "dumplings", "food", "generic"), ("一盘饺子", "a plate of dumplings", "food", "unit"),
    ("水果", "fruit", "food", "mass"), ("西瓜", "watermelon", "food", "mass"),
    ("葡萄", "grapes", "food", "generic"), ("一串葡萄", "a bunch of grapes", "food", "unit"),
    ("草莓", "strawberries", "food", "generic"), ("一盒草莓", "a box of strawberries", "food", "unit"),
    ("三明治", "sandwiches", "food", "generic"), ("一个三明治", "a sandwich", "food", "unit"),
    ("汉堡", "hamburgers", "food", "generic"), ("一个汉堡", "a hamburger", "food", "unit"),
    ("披萨", "pizza", "food", "mass"), ("一块披萨", "a slice of pizza", "food", "unit"),
    ("冰淇淋", "ice cream", "food", "mass"),
    ("咖啡", "coffee", "drink", "mass"), ("一杯咖啡", "a cup of coffee", "drink", "unit"),
    ("这杯咖啡", "this cup of coffee", "drink", "this"),
    ("茶", "tea", "drink", "mass"), ("一杯茶", "a cup of tea", "drink", "unit"),
    ("绿茶", "green tea", "drink", "mass"),
    ("牛奶", "milk", "drink", "mass"), ("一瓶牛奶", "a bottle of milk", "drink", "unit"),
    ("果汁", "juice", "drink", "mass"), ("一杯果汁", "a glass of juice", "drink", "unit"),
    ("水", "water", "drink", "mass"), ("一瓶水", "a bottle of water", "drink", "unit"),
    ("啤酒", "beer", "drink", "mass"), ("可乐", "cola", "drink", "mass"),
    ("一罐可乐", "a can of cola", "drink", "unit"), ("酸奶", "yogurt", "drink", "mass"),
    ("书", "books", "book", "generic"), ("一本书", "a book", "book", "unit"),
    ("这本书", "this book", "book", "this"), ("那本书", "that book", "book", "this"),
    ("小说", "novels", "book", "generic"), ("一本小说", "a novel", "book", "unit"),
    ("这本小说", "this novel", "book", "this"),
    ("杂志", "magazines", "book", "generic"), ("一本杂志", "a magazine", "book", "unit"),
    ("报纸", "the newspaper", "book", "definite"),
    ("一本词典", "a dictionary", "book", "unit"), ("漫画", "comics", "book", "generic"),
    ("一本漫画", "a comic book", "book", "unit"),
    ("电影", "movies", "film", "generic"), ("一部电影", "a movie", "film", "unit"),
    ("这部电影", "this movie", "film", "this"), ("那部电影", "that movie", "film", "this"),
    ("足球比赛", "soccer games", "film", "generic"),
    ("一场足球比赛", "a soccer game", "film", "unit"), ("这场比赛", "this game", "film", "this"),
    ("纪录片", "documentaries", "film", "generic"), ("一部纪录片", "a documentary", "film", "unit"),
    ("动画片", "cartoons", "film", "generic"),
    ("音乐", "music", "music", "mass"), ("流行音乐", "pop music", "music", "mass"),
    ("一首歌", "a song", "music", "unit"), ("这首歌", "this song", "music", "this"),
    ("那首歌", "that song", "music", "this"), ("广播", "the radio", "music", "definite"),
    ("古典音乐", "classical music", "music", "mass"), ("爵士乐", "jazz", "music", "mass"),
    ("一件外套", "a coat", "item", "unit"), ("这件外套", "this coat", "item", "this"),
    ("一把雨伞", "an umbrella", "item", "unit"), ("一台电脑", "a computer", "item", "unit"),
    ("一辆自行车", "a bike", "item", "unit"), ("那辆自行车", "that bike", "item", "this"),
    ("一双鞋", "a pair of shoes", "item", "unit"), ("一个包", "a bag", "item", "unit"),
    ("一部新手机", "a new phone", "item", "unit"), ("一块手表", "a watch", "item", "unit"),
    ("花", "flowers", "item", "generic"), ("一束花", "a bunch of flowers", "item", "unit"),
    ("一顶帽子", "a hat", "item", "unit"), ("一条围巾", "a scarf", "item", "unit"),
    ("一张地图", "a map", "item", "unit"), ("一支笔", "a pen", "item", "unit"),
    ("一张火车票", "a train ticket", "item", "unit"), ("一盏台灯", "a desk lamp", "item", "unit"),
    ("一封信", "a letter", "letter", "unit"), ("一封邮件", "an email", "letter", "unit"),
    ("一篇文章", "an article", "letter", "unit"), ("这篇文章", "this article", "letter", "this"),
    ("一张明信片", "a postcard", "letter", "unit"), ("一份报告", "a report", "letter", "unit"),
    ("这份报告", "this report", "letter", "this"),
    ("中文", "Chinese", "subject", "mass"), ("英语", "English", "subject", "mass"),
    ("数学", "math", "subject", "mass"), ("历史", "history", "subject", "mass"),
    ("法语", "French", "subject", "mass"), ("物理", "physics", "subject", "mass"),
    ("化学", "chemistry", "subject", "mass"), ("地理", "geography", "subject", "mass"),
    ("日语", "Japanese", "subject", "mass"), ("生物", "biology", "subject", "mass"),
    ("房间", "the room", "room", "definite"), ("厨房", "the kitchen", "room", "definite"),
    ("教室", "the classroom", "room", "definite"), ("客厅", "the living room", "room", "definite"),
    ("浴室", "the bathroom", "room", "definite"), ("院子", "the yard", "room", "definite"),
    ("晚饭", "dinner", "dish", "definite"), ("早饭", "breakfast", "dish", "definite"),
    ("一个蛋糕", "a cake", "dish", "unit"), ("一碗汤", "a bowl of soup", "dish", "unit"),
    ("蛋炒饭", "fried rice", "dish", "mass"), ("午饭", "lunch", "dish", "definite"),
    ("一份沙拉", "a salad", "dish", "unit"),
    ("我的自行车", "my bike", "machine", "definite"), ("这台电脑", "this computer", "machine", "this"),
    ("那台洗衣机", "that washing machine", "machine", "this"), ("门", "the door", "machine", "definite"),
    ("一只猫", "a cat", "picture", "unit"), ("一棵树", "a tree", "picture", "unit"),
    ("一座房子", "a house", "picture", "unit"), ("一朵花", "a flower", "picture", "unit"),
)

# Verbs that take an object: (Chinese, base, third person, past, -ing,
# object categories, uses). Uses: H habitual present, P past, R progressive,
# F future (要), W "want to" (想). Eating and drinking are rarely planned
# days ahead, so 吃 and 喝 skip F.
TR_ACTION_VERBS = (
    ("吃", "eat", "eats", "ate", "eating", ("food",), "HPRW"),
    ("喝", "drink", "drinks", "drank", "drinking", ("drink",), "HPRW"),
    ("买", "buy", "buys", "bought", "buying", ("food", "drink", "book", "item"), "HPRFW"),
    ("看", "read", "reads", "read", "reading", ("book",), "HPRFW"),
    ("看", "watch", "watches", "watched", "watching", ("film",), "HPRFW"),
    ("听", "listen to", "listens to", "listened to", "listening to", ("music",), "HPRFW"),
    ("写", "write", "writes", "wrote", "writing", ("letter",), "HPRFW"),
    ("学", "study", "studies", "studied", "studying", ("subject",), "HPRFW"),
    ("打扫", "clean", "cleans", "cleaned", "cleaning", ("room",), "HPRFW"),
    ("做", "make", "makes", "made", "making", ("dish",), "HPRFW"),
    ("带", "bring", "brings", "brought", "bringing", ("item", "food", "drink"), "PFW"),
    ("借", "borrow", "borrows", "borrowed", "borrowing", ("book", "item"), "PFW"),
    ("卖", "sell", "sells", "sold", "selling", ("food", "item"), "HPRFW"),
    ("修", "fix", "fixes", "fixed", "fixing", ("machine",), "HPRFW"),
    ("画", "draw", "draws", "drew", "drawing", ("picture",), "PRFW"),
)

# Object forms that read naturally with each use, in both languages.
FORMS_BY_USE = {
    "H": ("generic", "mass", "definite"),
    "P": ("unit", "this", "definite", "mass"),
    "P-negative": ("this", "definite", "mass"),
    "R": ("unit", "this", "definite", "mass"),
    "F": ("unit", "this", "definite"),
    "W": ("unit", "this", "definite", "mass"),
}

# Verbs whose object stays in the present tense: (Chinese, base, third
# person, object categories, object forms).
TR_STATIVE_VERBS = (
    ("喜欢", "like", "likes", ("food", "drink", "book", "film", "music", "subject", "item"),
     ("generic", "mass", "this")),
    ("想要", "want", "wants", ("food", "drink", "book", "item"), ("unit", "this")),
    ("需要", "need", "needs", ("food", "drink", "book", "item"), ("unit", "this")),
)

# Verb phrases without an object: (Chinese, base, third person, past, -ing,
# uses). Uses as for TR_ACTION_VERBS, plus C for 会 ("can") and L for 喜欢
# ("likes to").
TR_ACTIVITIES = (
    ("游泳", "swim", "swims", "swam", "swimming", "HPRCLF"),
    ("跑步", "go running", "goes running", "went running", "", "HPLF"),
    ("打篮球", "play basketball", "plays basketball", "played basketball", "playing basketball",
     "HPRCLF"),
    ("踢足球", "play soccer", "plays soccer", "played soccer", "playing soccer", "HPRCLF"),
    ("弹钢琴", "play the piano", "plays the piano", "played the piano", "playing the piano", "HPRCLF"),
    ("做饭", "cook", "cooks", "cooked", "cooking", "HPRCLF"),
    ("唱歌", "sing", "sings", "sang", "singing", "HPRCLF"),
    ("跳舞", "dance", "dances", "danced", "dancing", "HPRCLF"),
    ("开车", "drive", "drives", "drove", "driving", "HPRCLF"),
    ("骑自行车", "ride a bike", "rides a bike", "rode a bike", "riding a bike", "HPRCLF"),
    ("散步", "take a walk", "takes a walk", "took a walk", "taking a walk", "HPRLF"),
    ("工作", "work", "works", "worked", "working", "HPRF"),
    ("学习", "study", "studies", "studied", "studying", "HPRLF"),
    ("画画", "draw", "draws", "drew", "drawing", "HPRCLF"),
    ("写作业", "do homework", "does homework", "did homework", "doing homework", "HPRF"),
    ("看电视", "watch TV", "watches TV", "watched TV", "watching TV", "HPRLF"),
    ("睡觉", "sleep", "sleeps", "slept", "sleeping", "R"),
    ("钓鱼", "go fishing", "goes fishing", "went fishing", "", "HPLF"),
    ("爬山", "go hiking", "goes hiking", "went hiking", "", "HPLF"),
    ("说中文", "speak Chinese", "speaks Chinese", "spoke Chinese", "speaking Chinese", "HCL"),
    ("说英语", "speak English", "speaks English", "spoke English", "speaking English", "HCL"),
    ("说法语", "speak French", "speaks French", "spoke French", "speaking French", "HCL"),
    ("打网球", "play tennis", "plays tennis", "played tennis", "playing tennis", "HPRCLF"),
    ("下棋", "play chess", "plays chess", "played chess", "playing chess", "HPRCLF"),
    ("弹吉他", "play the guitar", "plays the guitar", "played the guitar", "playing the guitar",
     "HPRCLF"),
    ("锻炼", "exercise", "exercises", "exercised", "exercising", "HPRLF"),
    ("拍照", "take photos", "takes photos", "took photos", "taking photos", "HPRLF"),
    ("洗碗", "wash the dishes", "washes the dishes", "washed the dishes", "washing the dishes",
     "HPRF"),
    ("滑雪", "go skiing", "goes skiing", "went skiing", "", "PLF"),
    ("购物", "go shopping", "goes shopping", "went shopping", "", "HPLF"),
)

# Places: (Chinese name, "go" phrase, "went" phrase, English "to" phrase,
# English location phrase). 家 takes 回 instead of 去, and English drops "to".
TR_PLACES = (
    ("学校", "去学校", "去了学校", "to school", "at school"),
    ("家", "回家", "回家了", "home", "at home"),
    ("公园", "去公园", "去了公园", "to the park", "in the park"),
    ("图书馆", "去图书馆", "去了图书馆", "to the library", "at the library"),
    ("超市", "去超市", "去了超市", "to the supermarket", "at the supermarket"),
    ("医院", "去医院", "去了医院", "to the hospital", "at the hospital"),
    ("北京", "去北京", "去了北京", "to Beijing", "in Beijing"),
    ("上海", "去上海", "去了上海", "to Shanghai", "in Shanghai"),
    ("公司", "去公司", "去了公司", "to the office", "at the office"),
    ("商店", "去商店", "去了商店", "to the store", "at the store"),
    ("银行", "去银行", "去了银行", "to the bank", "at the bank"),
    ("书店", "去书店", "去了书店", "to the bookstore", "at the bookstore"),
    ("咖啡馆", "去咖啡馆", "去了咖啡馆", "to the cafe", "at the cafe"),
    ("海边", "去海边", "去了海边", "to the beach", "at the beach"),
    ("机场", "去机场", "去了机场", "to the airport", "at the airport"),
    ("火车站", "去火车站", "去了火车站", "to the train station", "at the train station"),
    ("博物馆", "去博物馆", "去了博物馆", "to the museum", "at the museum"),
    ("邮局", "去邮局", "去了邮局", "to the post office", "at the post office"),
    ("动物园", "去动物园", "去了动物园", "to the zoo", "at the zoo"),
    ("健身房", "去健身房", "去了健身房", "to the gym", "at the gym"),
    ("广州", "去广州", "去了广州", "to Guangzhou", "in Guangzhou"),
)

TR_STATES = (
    ("累", "tired"), ("忙", "busy"), ("高兴", "happy"), ("饿", "hungry"), ("渴", "thirsty"),
    ("紧张", "nervous"), ("生气", "angry"), ("困", "sleepy"), ("冷", "cold"), ("热", "hot"),
    ("担心", "worried"), ("兴奋", "excited"), ("难过", "sad"), ("无聊", "bored"),
)
TR_STATE_DEGREES = (("很", "very"), ("非常", "really"), ("有点", "a little"), ("不", "not"))

# Habitual times take 都 after them in Chinese, as in 他每天都喝咖啡。
TR_HABIT_TIMES = (
    ("每天", "every day"), ("每天早上", "every morning"), ("每天晚上", "every evening"),
    ("每个周末", "every weekend"), ("每周", "every week"),
)
TR_PAST_TIMES = (
    ("昨天", "yesterday"), ("昨天晚上", "last night"), ("上周", "last week"),
    ("上个周末", "last weekend"), ("今天早上", "this morning"),
    ("前天", "the day before yesterday"), ("上个月", "last month"), ("刚才", "just now"),
)
TR_FUTURE_TIMES = (
    ("明天", "tomorrow"), ("下周", "next week"), ("这个周末", "this weekend"),
    ("明天早上", "tomorrow morning"), ("下个月", "next month"), ("今天下午", "this afternoon"),
)
TR_PRESENT_TIMES = (("今天", "today"), ("今天晚上", "tonight"), ("现在", "now"))

# Frequency adverbs, placed before the verb in both languages.
TR_ADVERBS = (
    ("常常", "often"), ("总是", "always"), ("有时候", "sometimes"), ("很少", "rarely"), ("也", "also"),
)
# Adverbs that still read naturally in a Does ... ? question.
TR_QUESTION_ADVERBS = (("常常", "often"), ("总是", "always"))

# Object categories whose 什么 question has one clear English verb. Dishes are
# left out because 他做了什么 means "What did he do?", not "What did he make?".
TR_WHAT_CATEGORIES = ("food", "drink", "music", "letter", "subject")


# --- Shared helpers -------------------------------------------------------

def write_jsonl(path, rows):
    """Write rows as UTF-8 JSON Lines, keeping non-ASCII characters readable."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", encoding="utf-8", newline="\n") as handle:
        for row in rows:
            handle.write(json.dumps(row, ensure_ascii=False) + "\n")


def capitalize_first(text):
    return text[:1].upper() + text[1:]


def pick_degree(rng, negative):
    """Pick a Chinese degree template such as 很{}.

    有点{} and 太{}了 are used only for negative adjectives.
    """
    if negative and rng.random() < 0.3:
        return rng.choice(ZH_NEGATIVE_ONLY_DEGREES)
    return rng.choice(ZH_DEGREES)


# --- Sentiment ------------------------------------------------------------

def make_zh_review(rng, positive):
    """Build one Chinese review sentence whose tone matches `positive`."""
    subject, category = rng.choice(ZH_REVIEW_SUBJECTS)
    same = ZH_POSITIVE_ADJECTIVES if positive else ZH_NEGATIVE_ADJECTIVES
    opposite = ZH_NEGATIVE_ADJECTIVES if positive else ZH_POSITIVE_ADJECTIVES
    frame = rng.choices(("graded", "fixed", "negated", "opinion"), weights=(4, 2, 2, 2))[0]

    if frame == "graded":
        adjective = rng.choice(same["any"] + same[category])
        clause = subject + pick_degree(rng, not positive).format(adjective)
    elif frame == "fixed":
        phrases = ZH_POSITIVE_FIXED if positive else ZH_NEGATIVE_FIXED
        clause = subject + rng.choice(phrases["any"] + phrases[category])
    elif frame == "negated":
        # Negate an adjective of the opposite tone.
        candidates = [
            a for a in opposite["any"] + opposite[category]
            if not a.startswith("不") and a not in ZH_NOT_NEGATED
        ]
        negators = ZH_NEGATORS_OF_NEGATIVE if positive else ZH_NEGATORS_OF_POSITIVE
        clause = subject + rng.choice(negators).format(rng.choice(candidates))
    else:
        frames = ZH_POSITIVE_OPINIONS if positive else ZH_NEGATIVE_OPINIONS
        if category != "service":
            frames += ZH_POSITIVE_RECOMMENDATIONS if positive else ZH_NEGATIVE_RECOMMENDATIONS
        clause = rng.choice(frames).format(subject)

    decoration = rng.random()
    if decoration < 0.12:
        concessions = ZH_CONCESSIONS_BEFORE_POSITIVE if positive else ZH_CONCESSIONS_BEFORE_NEGATIVE
        clause = "虽然" + rng.choice(concessions) + "，但是" + clause
    elif decoration < 0.37:
        clause = rng.choice(ZH_NEUTRAL_PREFIXES["any"] + ZH_NEUTRAL_PREFIXES[category]) + clause
    if frame != "opinion" and rng.random() < 0.2:
        clause += "，" + rng.choice(ZH_POSITIVE_TAILS if positive else ZH_NEGATIVE_TAILS)
    return clause + rng.choice(ZH_ENDINGS)


def make_en_review(rng, positive):
    """Build one English review sentence whose tone matches `positive`."""
    subject, category, plural = rng.choice(EN_REVIEW_SUBJECTS)
    be = rng.choice(("are", "were") if plural else ("is", "was"))
    same = EN_POSITIVE_ADJECTIVES if positive else EN_NEGATIVE_ADJECTIVES
    opposite = EN_NEGATIVE_ADJECTIVES if positive else EN_POSITIVE_ADJECTIVES
    frame = rng.choices(("graded", "extreme", "negated", "opinion"), weights=(3, 2, 2, 3))[0]

    if frame == "graded":
        adjective = rng.choice(same["any"] + same[category])
        clause = f"{subject} {be} {rng.choice(EN_GRADABLE_DEGREES)}{adjective}"
    elif frame == "extreme":
        adjective = rng.choice(EN_POSITIVE_EXTREMES if positive else EN_NEGATIVE_EXTREMES)
        clause = f"{subject} {be} {rng.choice(EN_EXTREME_DEGREES)}{adjective}"
    elif frame == "negated":
        negated_be = rng.choice((f"{be} not", f"{be}n't"))
        if positive:
            # "not dirty at all" is clearly positive; "not unreliable" and
            # "not poor" are not idiomatic, so those adjectives are skipped.
            candidates = [
                a for a in opposite["any"] + opposite[category]
                if not a.startswith("un") and a != "poor"
            ]
            clause = f"{subject} {negated_be} {rng.choice(candidates)} at all"
        else:
            adjective = rng.choice(opposite["any"] + opposite[category])
            pattern = rng.choice(("{} {} {}", "{} {} very {}", "{} {} {} at all"))
            clause = pattern.format(subject, negated_be, adjective)
    else:
        frames = EN_POSITIVE_OPINIONS if positive else EN_NEGATIVE_OPINIONS
        if category != "service":
            frames += EN_POSITIVE_RECOMMENDATIONS if positive else EN_NEGATIVE_RECOMMENDATIONS
        clause = rng.choice(frames).format(subject)

    decoration = rng.random()
    if decoration < 0.12:
        concessions = EN_CONCESSIONS_BEFORE_POSITIVE if positive else EN_CONCESSIONS_BEFORE_NEGATIVE
        clause = f"Although {rng.choice(concessions)}, {clause}"
    elif decoration < 0.37:
        clause = rng.choice(EN_NEUTRAL_PREFIXES["any"] + EN_NEUTRAL_PREFIXES[category]) + clause
    if frame != "opinion" and rng.random() < 0.2:
        clause += rng.choice(EN_POSITIVE_TAILS if positive else EN_NEGATIVE_TAILS)
    return capitalize_first(clause) + rng.choice(EN_ENDINGS)


def make_sentiment(rng):
    """Return (train, validation) review rows, balanced over language and label.

    Two sentences that differ only in final punctuation or letter case count
    as duplicates, so no validation sentence matches a train sentence even up
    to those differences.
    """
    builders = {"zh": make_zh_review, "en": make_en_review}
    per_group_train = SENTIMENT_TRAIN_SIZE // 4
    per_group_validation = SENTIMENT_VALIDATION_SIZE // 4

    def dedup_key(text):
        return text.rstrip("。！.!").lower()

    seen = {dedup_key(FIXED_TRAIN_REVIEW["text"])}
    train, validation = [FIXED_TRAIN_REVIEW], []
    for lang in ("zh", "en"):
        for label in (POSITIVE, NEGATIVE):
            rows = []
            if (lang, label) == ("zh", POSITIVE):
                target = per_group_train - 1 + per_group_validation
            else:
                target = per_group_train + per_group_validation
            while len(rows) < target:
                text = builders[lang](rng, label == POSITIVE)
                key = dedup_key(text)
                if key in seen or not REVIEW_MIN_CHARS <= len(text) <= REVIEW_MAX_CHARS:
                    continue
                seen.add(key)
                rows.append({"text": text, "label": label, "lang": lang})
            validation += rows[:per_group_validation]
            train += rows[per_group_validation:]

    rng.shuffle(train)
    rng.shuffle(validation)
    return train, validation


# --- Translation ----------------------------------------------------------
# Each pattern function returns a (Chinese, English) pair without final
# punctuation and an is_question flag, or None when the drawn words do not fit.

def present_verb(person, base, third):
    return third if person == "3s" else base


def do_word(person):
    return "does" if person == "3s" else "do"


def matching_objects(categories, forms):
    return [o for o in TR_OBJECTS if o[2] in categories and o[3] in forms]


def pick_verb_with_object(rng, use, forms_key=None):
    """Pick an action verb usable for `use` and an object that fits it."""
    forms = FORMS_BY_USE[forms_key or use]
    verbs = [v for v in TR_ACTION_VERBS if use in v[6] and matching_objects(v[5], forms)]
    verb = rng.choice(verbs)
    return verb, rng.choice(matching_objects(verb[5], forms))


def habitual_action(rng, zh_subject, en_subject, person):
    """Build a habitual sentence, its negation or its question.

    Example: 他每天都喝咖啡 / He drinks coffee every day.
    """
    verb, obj = pick_verb_with_object(rng, "H")
    zh_verb, base, third = verb[0], verb[1], verb[2]
    mode = rng.choice(("plain", "time", "adverb", "negative", "question", "all"))

    if mode == "negative":
        return (f"{zh_subject}不{zh_verb}{obj[0]}",
                f"{en_subject} {do_word(person)}n't {base} {obj[1]}", False)
    if mode == "question":
        modifier = rng.choice((None, "time", "adverb"))
        if modifier == "time":
            zh_time, en_time = rng.choice(TR_HABIT_TIMES)
            return (f"{zh_subject}{zh_time}都{zh_verb}{obj[0]}",
                    f"{do_word(person)} {en_subject} {base} {obj[1]} {en_time}", True)
        if modifier == "adverb":
            zh_adverb, en_adverb = rng.choice(TR_QUESTION_ADVERBS)
            return (f"{zh_subject}{zh_adverb}{zh_verb}{obj[0]}",
                    f"{do_word(person)} {en_subject} {en_adverb} {base} {obj[1]}", True)
        return (f"{zh_subject}{zh_verb}{obj[0]}",
                f"{do_word(person)} {en_subject} {base} {obj[1]}", True)

    en_verb = present_verb(person, base, third)
    if mode == "time":
        zh_time, en_time = rng.choice(TR_HABIT_TIMES)
        return (f"{zh_subject}{zh_time}都{zh_verb}{obj[0]}",
                f"{en_subject} {en_verb} {obj[1]} {en_time}", False)
    if mode == "adverb":
        zh_adverb, en_adverb = rng.choice(TR_ADVERBS)
        return (f"{zh_subject}{zh_adverb}{zh_verb}{obj[0]}",
                f"{en_subject} {en_adverb} {en_verb} {obj[1]}", False)
    if mode == "all" and person == "pl":
        return f"{zh_subject}都{zh_verb}{obj[0]}", f"{en_subject} all {en_verb} {obj[1]}", False
    return f"{zh_subject}{zh_verb}{obj[0]}", f"{en_subject} {en_verb} {obj[1]}", False


def stative(rng, zh_subject, en_subject, person):
    """Build a sentence with a stative verb, such as 他很喜欢咖啡 / He really likes coffee."""
    zh_verb, base, third, categories, forms = rng.choice(TR_STATIVE_VERBS)
    obj = rng.choice(matching_objects(categories, forms))
    en_verb = present_verb(person, base, third)
    mode = rng.choice(("plain", "really", "also", "negative", "question", "all"))

    if mode == "negative":
        return (f"{zh_subject}不{zh_verb}{obj[0]}",
                f"{en_subject} {do_word(person)}n't {base} {obj[1]}", False)
    if mode == "question":
        return (f"{zh_subject}{zh_verb}{obj[0]}",
                f"{do_word(person)} {en_subject} {base} {obj[1]}", True)
    if mode == "really" and zh_verb == "喜欢":
        return f"{zh_subject}很{zh_verb}{obj[0]}", f"{en_subject} really {en_verb} {obj[1]}", False
    if mode == "also":
        return f"{zh_subject}也{zh_verb}{obj[0]}", f"{en_subject} also {en_verb} {obj[1]}", False
    if mode == "all" and person == "pl":
        return f"{zh_subject}都{zh_verb}{obj[0]}", f"{en_subject} all {en_verb} {obj[1]}", False
    return f"{zh_subject}{zh_verb}{obj[0]}", f"{en_subject} {en_verb} {obj[1]}", False


def past_action(rng, zh_subject, en_subject, person):
    """Build a past sentence such as 他昨天买了一本书 / He bought a book yesterday.

    The negative form uses 没有 without 了 and becomes "didn't" in English.
    """
    mode = rng.choice(("plain", "time", "time", "also", "negative", "question"))
    verb, obj = pick_verb_with_object(rng, "P", "P-negative" if mode == "negative" else "P")
    zh_verb, base, past = verb[0], verb[1], verb[3]
    zh_time, en_time = rng.choice(TR_PAST_TIMES)
    if mode == "plain":
        zh_time, en_time = "", ""
    en_tail = f" {en_time}" if en_time else ""

    if mode == "negative":
        return (f"{zh_subject}{zh_time}没有{zh_verb}{obj[0]}",
                f"{en_subject} didn't {base} {obj[1]}{en_tail}", False)
    if mode == "question":
        return (f"{zh_subject}{zh_time}{zh_verb}了{obj[0]}",
                f"did {en_subject} {base} {obj[1]}{en_tail}", True)
    if mode == "also":
        return (f"{zh_subject}{zh_time}也{zh_verb}了{obj[0]}",
                f"{en_subject} also {past} {obj[1]}{en_tail}", False)
    return (f"{zh_subject}{zh_time}{zh_verb}了{obj[0]}",
            f"{en_subject} {past} {obj[1]}{en_tail}", False)


def progressive_action(rng, zh_subject, en_subject, person):
    """Build a progressive sentence such as 他正在看这本书 / He is reading this book."""
    verb, obj = pick_verb_with_object(rng, "R")
    zh_verb, ing = verb[0], verb[4]
    be = BE_PRESENT[person]
    mode = rng.choice(("plain", "now", "question"))

    if mode == "question":
        return f"{zh_subject}正在{zh_verb}{obj[0]}", f"{be} {en_subject} {ing} {obj[1]}", True
    if mode == "now":
        return f"{zh_subject}现在正在{zh_verb}{obj[0]}", f"{en_subject} {be} {ing} {obj[1]} now", False
    return f"{zh_subject}正在{zh_verb}{obj[0]}", f"{en_subject} {be} {ing} {obj[1]}", False


def want_to_action(rng, zh_subject, en_subject, person):
    """Build a "want to" sentence such as 她想买一本书 / She wants to buy a book."""
    verb, obj = pick_verb_with_object(rng, "W")
    zh_verb, base = verb[0], verb[1]
    mode = rng.choice(("plain", "today", "negative", "question"))

    if mode == "negative":
        return (f"{zh_subject}不想{zh_verb}{obj[0]}",
                f"{en_subject} {do_word(person)}n't want to {base} {obj[1]}", False)
    if mode == "question":
        return (f"{zh_subject}想{zh_verb}{obj[0]}",
                f"{do_word(person)} {en_subject} want to {base} {obj[1]}", True)
    wants = present_verb(person, "want", "wants")
    if mode == "today":
        zh_time, en_time = rng.choice(TR_PRESENT_TIMES[:2])
        return (f"{zh_subject}{zh_time}想{zh_verb}{obj[0]}",
                f"{en_subject} {wants} to {base} {obj[1]} {en_time}", False)
    return f"{zh_subject}想{zh_verb}{obj[0]}", f"{en_subject} {wants} to {base} {obj[1]}", False


def future_action(rng, zh_subject, en_subject, person):
    """Build a future sentence such as 他明天要买一本书 / He is going to buy a book tomorrow."""
    verb, obj = pick_verb_with_object(rng, "F")
    zh_verb, base = verb[0], verb[1]
    zh_time, en_time = rng.choice(TR_FUTURE_TIMES)
    be = BE_PRESENT[person]

    if rng.random() < 0.3:
        return (f"{zh_subject}{zh_time}要{zh_verb}{obj[0]}",
                f"{be} {en_subject} going to {base} {obj[1]} {en_time}", True)
    return (f"{zh_subject}{zh_time}要{zh_verb}{obj[0]}",
            f"{en_subject} {be} going to {base} {obj[1]} {en_time}", False)


def activity(rng, zh_subject, en_subject, person):
    """Build a sentence around a verb phrase without an object, such as 他会游泳 / He can swim."""
    zh_verb, base, third, past, ing, uses = rng.choice(TR_ACTIVITIES)
    use = rng.choice(uses)
    question = rng.random() < 0.25

    if use == "H":
        zh_time, en_time = rng.choice(TR_HABIT_TIMES)
        if question:
            return (f"{zh_subject}{zh_time}都{zh_verb}",
                    f"{do_word(person)} {en_subject} {base} {en_time}", True)
        return (f"{zh_subject}{zh_time}都{zh_verb}",
                f"{en_subject} {present_verb(person, base, third)} {en_time}", False)
    if use == "P":
        zh_time, en_time = rng.choice(TR_PAST_TIMES)
        if question:
            return f"{zh_subject}{zh_time}{zh_verb}了", f"did {en_subject} {base} {en_time}", True
        return f"{zh_subject}{zh_time}{zh_verb}了", f"{en_subject} {past} {en_time}", False
    if use == "R":
        be = BE_PRESENT[person]
        if question:
            return f"{zh_subject}正在{zh_verb}", f"{be} {en_subject} {ing}", True
        return f"{zh_subject}正在{zh_verb}", f"{en_subject} {be} {ing}", False
    if use == "C":
        if question:
            return f"{zh_subject}会{zh_verb}", f"can {en_subject} {base}", True
        if rng.random() < 0.3:
            return f"{zh_subject}不会{zh_verb}", f"{en_subject} can't {base}", False
        if person == "pl" and rng.random() < 0.3:
            return f"{zh_subject}都会{zh_verb}", f"{en_subject} can all {base}", False
        return f"{zh_subject}会{zh_verb}", f"{en_subject} can {base}", False
    if use == "L":
        if question:
            return (f"{zh_subject}喜欢{zh_verb}",
                    f"{do_word(person)} {en_subject} like to {base}", True)
        if rng.random() < 0.3:
            return (f"{zh_subject}不喜欢{zh_verb}",
                    f"{en_subject} {do_word(person)}n't like to {base}", False)
        return (f"{zh_subject}喜欢{zh_verb}",
                f"{en_subject} {present_verb(person, 'like', 'likes')} to {base}", False)
    zh_time, en_time = rng.choice(TR_FUTURE_TIMES)
    be = BE_PRESENT[person]
    if question:
        return (f"{zh_subject}{zh_time}要{zh_verb}",
                f"{be} {en_subject} going to {base} {en_time}", True)
    return f"{zh_subject}{zh_time}要{zh_verb}", f"{en_subject} {be} going to {base} {en_time}", False


def place_sentence(rng, zh_subject, en_subject, person):
    """Build a sentence about being at or going to a place.

    Example: 他昨天去了公园 / He went to the park yesterday.
    """
    zh_place, zh_go, zh_went, en_to, en_at = rng.choice(TR_PLACES)
    modes = ("at", "at_past", "at_question", "go_habit", "go_past", "go_future", "go_question")
    mode = rng.choice(modes)

    if mode == "at":
        if rng.random() < 0.5:
            return (f"{zh_subject}现在在{zh_place}",
                    f"{en_subject} {BE_PRESENT[person]} {en_at} now", False)
        return f"{zh_subject}在{zh_place}", f"{en_subject} {BE_PRESENT[person]} {en_at}", False
    if mode == "at_past":
        zh_time, en_time = rng.choice(TR_PAST_TIMES[:5])
        return (f"{zh_subject}{zh_time}在{zh_place}",
                f"{en_subject} {BE_PAST[person]} {en_at} {en_time}", False)
    if mode == "at_question":
        return f"{zh_subject}在{zh_place}", f"{BE_PRESENT[person]} {en_subject} {en_at}", True
    if mode == "go_habit":
        zh_time, en_time = rng.choice(TR_HABIT_TIMES)
        goes = present_verb(person, "go", "goes")
        return f"{zh_subject}{zh_time}都{zh_go}", f"{en_subject} {goes} {en_to} {en_time}", False
    if mode == "go_past":
        zh_time, en_time = rng.choice(TR_PAST_TIMES)
        return f"{zh_subject}{zh_time}{zh_went}", f"{en_subject} went {en_to} {en_time}", False
    zh_time, en_time = rng.choice(TR_FUTURE_TIMES)
    be = BE_PRESENT[person]
    if mode == "go_question":
        return f"{zh_subject}{zh_time}要{zh_go}", f"{be} {en_subject} going {en_to} {en_time}", True
    return f"{zh_subject}{zh_time}要{zh_go}", f"{en_subject} {be} going {en_to} {en_time}", False


def state_sentence(rng, zh_subject, en_subject, person):
    """Build a sentence about a state, such as 我今天很忙 / I am very busy today."""
    zh_state, en_state = rng.choice(TR_STATES)
    zh_time, en_time = rng.choice((("", ""),) + TR_PRESENT_TIMES + TR_PAST_TIMES[:2])
    be = (BE_PAST if en_time in ("yesterday", "last night") else BE_PRESENT)[person]
    en_tail = f" {en_time}" if en_time else ""

    if rng.random() < 0.3:
        return f"{zh_subject}{zh_time}{zh_state}", f"{be} {en_subject} {en_state}{en_tail}", True
    zh_degree, en_degree = rng.choice(TR_STATE_DEGREES)
    return (f"{zh_subject}{zh_time}{zh_degree}{zh_state}",
            f"{en_subject} {be} {en_degree} {en_state}{en_tail}", False)


def wh_question(rng, zh_subject, en_subject, person):
    """Build a 什么 or 哪儿 question, such as 他昨天买了什么 / What did he buy yesterday?"""
    verbs = [v for v in TR_ACTION_VERBS if set(v[5]) & set(TR_WHAT_CATEGORIES) or v[0] == "买"]
    zh_verb, base, _, _, ing, _, uses = rng.choice(verbs)
    mode = rng.choice(("past", "want", "progressive", "where", "where_going"))

    if mode == "past" and "P" in uses:
        zh_time, en_time = rng.choice(TR_PAST_TIMES[:4])
        return f"{zh_subject}{zh_time}{zh_verb}了什么", f"what did {en_subject} {base} {en_time}", True
    if mode == "want":
        return (f"{zh_subject}想{zh_verb}什么",
                f"what {do_word(person)} {en_subject} want to {base}", True)
    if mode == "progressive" and "R" in uses:
        return f"{zh_subject}正在{zh_verb}什么", f"what {BE_PRESENT[person]} {en_subject} {ing}", True
    if mode == "where":
        return f"{zh_subject}在哪儿", f"where {BE_PRESENT[person]} {en_subject}", True
    if mode == "where_going":
        zh_time, en_time = rng.choice(TR_FUTURE_TIMES[:3])
        return (f"{zh_subject}{zh_time}要去哪儿",
                f"where {BE_PRESENT[person]} {en_subject} going {en_time}", True)
    return None


TR_PATTERNS = (
    (habitual_action, 5), (stative, 4), (past_action, 5), (progressive_action, 3),
    (want_to_action, 3), (future_action, 3), (activity, 5), (place_sentence, 4),
    (state_sentence, 3), (wh_question, 1),
)


def make_translation_pair(rng):
    """Draw one pattern and return a finished {"zh", "en"} row, or None if it does not fit."""
    functions, weights = zip(*TR_PATTERNS)
    pattern = rng.choices(functions, weights=weights)[0]
    zh_subject, en_subject, person = rng.choice(TR_SUBJECTS)
    result = pattern(rng, zh_subject, en_subject, person)
    if result is None:
        return None
    zh, en, is_question = result
    if is_question:
        # Questions about oneself or one's own group ("Am I reading this book?",
        # "Do we like to drive?") rarely make sense.
        if zh_subject in ("我", "我们"):
            return None
        if "什么" not in zh and "哪儿" not in zh:
            zh += "吗"
    if not ZH_MIN_CHARS <= len(zh) <= ZH_MAX_CHARS:
        return None
    zh += "？" if is_question else "。"
    en = capitalize_first(en) + ("?" if is_question else ".")
    return {"zh": zh, "en": en}


def make_translation(rng):
    """Return (train, validation) sentence pairs.

    Each Chinese and each English sentence occurs at most once across both
    splits, so every source has one reference and no validation pair is in train.
    """
    total = TRANSLATION_TRAIN_SIZE + TRANSLATION_VALIDATION_SIZE
    seen_zh, seen_en, pairs = set(), set(), []
    while len(pairs) < total:
        pair = make_translation_pair(rng)
        if pair is None or pair["zh"] in seen_zh or pair["en"] in seen_en:
            continue
        seen_zh.add(pair["zh"])
        seen_en.add(pair["en"])
        pairs.append(pair)
    return pairs[TRANSLATION_VALIDATION_SIZE:], pairs[:TRANSLATION_VALIDATION_SIZE]


def main():
    rng = random.Random(SEED)

    sentiment_train, sentiment_validation = make_sentiment(rng)
    write_jsonl(DATA_DIR / "sentiment" / "train.jsonl", sentiment_train)
    write_jsonl(DATA_DIR / "sentiment" / "validation.jsonl", sentiment_validation)

    translation_train, translation_validation = make_translation(rng)
    write_jsonl(DATA_DIR / "translation" / "train.jsonl", translation_train)
    write_jsonl(DATA_DIR / "translation" / "validation.jsonl", translation_validation)

    print(f"sentiment: {len(sentiment_train)} train, {len(sentiment_validation)} validation")
    print(f"translation: {len(translation_train)} train, {len(translation_validation)} validation")


if __name__ == "__main__":
    main()
