# Run from the repository root: python scripts/make_toy_qa.py
# Writes the toy Chinese question-answering files data/qa/{train,validation}.json.
"""Generate the small SQuAD-format question-answering set for task=qa.

Each article is a short made-up biography: sentences drawn from the templates below in
shuffled order, with questions whose answers are spans of the text. Every person's
name is unique, so no article appears in both files. The seed is fixed and only the
standard library is used, so two runs write identical files.
"""

import json
import random
from pathlib import Path

SEED = 20261205
DATA_DIR = Path(__file__).resolve().parent.parent / "data" / "qa"

TRAIN_ARTICLES = 200
VALIDATION_ARTICLES = 30
QUESTIONS_PER_ARTICLE = 4

SURNAMES = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗"
GIVEN_NAMES = ("明", "华", "伟", "芳", "静", "磊", "洋", "艳", "军", "敏", "杰", "娟", "涛", "超", "霞", "平")
CITIES = ("杭州", "成都", "西安", "南京", "武汉", "长沙", "青岛", "昆明", "厦门", "大连", "苏州", "重庆")
SCHOOLS = ("北京大学", "复旦大学", "浙江大学", "南开大学", "武汉大学", "中山大学", "山东大学", "四川大学")
JOBS = ("医生", "教师", "工程师", "律师", "记者", "厨师", "画家", "建筑师", "会计师", "飞行员")
ORGANIZATIONS = ("一家电视台", "一家医院", "一所中学", "一家银行", "一家出版社", "一个研究所", "一家航空公司")
PLACES = ("湖边", "公园", "河边", "山脚下", "老城区", "海边")
FILLERS = (
    "那里的冬天很冷，夏天却十分凉爽。",
    "朋友们都说{name}做事认真，待人也很热情。",
    "{name}平时喜欢读历史书，也常常练习书法。",
    "每到春节，{name}都会回到家乡看望父母。",
)


def make_article(name: str, rng: random.Random) -> dict:
    """Build one biography of `name`, with QUESTIONS_PER_ARTICLE questions about it."""
    facts = {
        "year": f"{rng.randint(1950, 1995)}年",
        "city": rng.choice(CITIES),
        "school": rng.choice(SCHOOLS),
        "job": rng.choice(JOBS),
        "joined": f"{rng.randint(1996, 2020)}年",
        "organization": rng.choice(ORGANIZATIONS),
        "place": rng.choice(PLACES),
    }
    sentences = [
        f"{name}出生于{facts['year']}，家乡在{facts['city']}。",
        f"{name}毕业于{facts['school']}，后来成为一名{facts['job']}。",
        f"{facts['joined']}，{name}加入了{facts['organization']}。",
        f"周末的时候，{name}喜欢去{facts['place']}散步。",
        *(filler.format(name=name) for filler in FILLERS),
    ]
    rng.shuffle(sentences)
    context = "".join(sentences)
    questions = [
        (f"{name}出生于哪一年？", facts["year"]),
        (f"{name}的家乡在哪里？", facts["city"]),
        (f"{name}毕业于哪所学校？", facts["school"]),
        (f"{name}的职业是什么？", facts["job"]),
        (f"{name}在哪一年加入了{facts['organization']}？", facts["joined"]),
        (f"{name}周末喜欢去哪里散步？", facts["place"]),
    ]
    chosen = rng.sample(questions, QUESTIONS_PER_ARTICLE)
    qas = []
    for number, (question, answer) in enumerate(chosen):
        # The answer's first occurrence is the fact itself: the fillers name no fact.
        qas.append({
            "id": f"{name}_{number}",
            "question": question,
            "answers": [{"text": answer, "answer_start": context.index(answer)}],
        })
    return {"title": name, "paragraphs": [{"context": context, "qas": qas}]}


def unique_names(count: int, rng: random.Random) -> list[str]:
    """Return `count` distinct names of a surname and one or two given-name characters."""
    names: set[str] = set()
    while len(names) < count:
        given = "".join(rng.choice(GIVEN_NAMES) for _ in range(rng.choice((1, 2))))
        names.add(rng.choice(SURNAMES) + given)
    ordered = sorted(names)
    rng.shuffle(ordered)
    return ordered


def write_file(path: Path, articles: list[dict]) -> None:
    document = {"version": "toy", "data": articles}
    path.write_text(json.dumps(document, ensure_ascii=False) + "\n", encoding="utf-8")
    questions = sum(len(a["paragraphs"][0]["qas"]) for a in articles)
    print(f"{path}: {len(articles)} articles, {questions} questions, {path.stat().st_size:,} bytes")


def main() -> None:
    rng = random.Random(SEED)
    names = unique_names(TRAIN_ARTICLES + VALIDATION_ARTICLES, rng)
    articles = [make_article(name, rng) for name in names]
    DATA_DIR.mkdir(parents=True, exist_ok=True)
    write_file(DATA_DIR / "train.json", articles[:TRAIN_ARTICLES])
    write_file(DATA_DIR / "validation.json", articles[TRAIN_ARTICLES:])


if __name__ == "__main__":
    main()
