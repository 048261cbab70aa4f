"""Small SQuAD-format files written by tests into their temporary folders."""

import json
from pathlib import Path

PEOPLE = ["Alice", "Bruno", "Chen", "Dana", "Emil", "Farah", "Goran", "Hana", "Ivan", "Julia", "Kofi", "Lena"]
CITIES = ["Lisbon", "Oslo", "Quito", "Hanoi", "Lagos", "Perth", "Cusco", "Turin", "Dakar", "Osaka", "Split", "Bergen"]
JOBS = ["baker", "pilot", "nurse", "judge", "tailor", "farmer", "welder", "singer", "coach", "potter", "chemist", "miner"]
FILLER = (
    "The weather there changes often and the markets open early in the morning. "
    "Neighbours meet in the square on most evenings to talk about the day. "
)


def squad_article(index: int) -> dict:
    """One article with one paragraph and three questions whose answers are in the context."""
    person, city, job = PEOPLE[index], CITIES[index], JOBS[index]
    context = (
        f"{person} lives in {city}. {FILLER}{person} works as a {job} near the old harbour. "
        f"{FILLER}Every summer {person} travels to the mountains with friends."
    )
    questions = [
        (f"Where does {person} live?", city),
        (f"What does {person} work as?", job),
        (f"Where does {person} travel every summer?", "the mountains"),
    ]
    qas = [
        {"id": f"q{index}_{n}", "question": question,
         "answers": [{"text": answer, "answer_start": context.index(answer)}]}
        for n, (question, answer) in enumerate(questions)
    ]
    return {"title": f"Article {index}", "paragraphs": [{"context": context, "qas": qas}]}


def write_squad(path: Path, articles: int = 12) -> Path:
    """Write a SQuAD-format file of `articles` articles (at most 12) and return its path."""
    path.parent.mkdir(parents=True, exist_ok=True)
    document = {"version": "test", "data": [squad_article(i) for i in range(articles)]}
    path.write_text(json.dumps(document, ensure_ascii=False), encoding="utf-8")
    return path
