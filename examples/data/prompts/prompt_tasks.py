"""One builder per task type of the broad prompt set. Each returns rows {task, topic, messages}
(ids come later, after deduplication). Every task type has many phrasings, and phrasings take
their topics from shuffled decks, so no template dominates and every topic is used: a drafter
trained on these should learn how answers go, not how one template goes."""

from __future__ import annotations

import random
from collections.abc import Sequence
from fractions import Fraction
from typing import TypeVar

from prompt_code import JAVASCRIPT, PYTHON, SHELL, SNIPPETS, SQL, SQL_TABLES
from prompt_texts import MESSAGES, NAMES, PRODUCTS, SUBJECTS, PassagePicker, meeting_notes, notice, review
from prompt_topics import DOMAIN_ASPECTS, PAIRS, SITUATIONS, TOPICS

T = TypeVar("T")
Row = dict


def user(text: str) -> dict:
    return {"role": "user", "content": text}


def assistant(text: str) -> dict:
    return {"role": "assistant", "content": text}


def row(task: str, topic: str, *messages: dict) -> Row:
    return {"task": task, "topic": topic, "messages": list(messages)}


def cap(text: str) -> str:
    return text[:1].upper() + text[1:]


class Deck:
    """Draws from a shuffled copy of `items`, reshuffling when it runs out: every item is used
    before any is used twice."""

    def __init__(self, items: Sequence[T], rng: random.Random):
        self.items, self.rng, self.left = list(items), rng, []

    def draw(self):
        if not self.left:
            self.left = self.items[:]
            self.rng.shuffle(self.left)
        return self.left.pop()


ALL_TOPICS = [(t, d) for d, ts in TOPICS.items() for t in ts]
NUMBER_WORDS = {3: "three", 4: "four", 5: "five", 6: "six", 7: "seven", 8: "eight", 10: "ten"}
JOBS = ["nurse", "bus driver", "graphic designer", "primary school teacher", "accountant", "chef", "plumber"]
JOBS += ["lawyer", "farmer", "software tester", "pharmacist", "shop manager", "firefighter", "hairdresser"]
FIELD = {
    "science": "science",
    "history": "history",
    "cooking": "cooking",
    "sports": "sport",
    "technology": "technology",
    "finance": "money matters",
    "health": "health",
    "travel": "travel",
    "arts": "the arts",
    "everyday life": "this kind of thing",
    "nature": "biology",
    "learning and work": "this area",
    "society": "politics",
}
"""How the explain prompts name a topic's domain ("I know nothing about ...")."""


def _count(rng: random.Random, n: int) -> str:
    return NUMBER_WORDS[n] if n in NUMBER_WORDS and rng.random() < 0.6 else str(n)


# --- explain ----------------------------------------------------------------------------------

EXPLAIN = [
    "Can you explain {t} to someone who has never heard of it?",
    "I keep hearing about {t}. What is the basic idea?",
    "Give me a clear explanation of {t}, with one concrete example.",
    "What makes {t} important? A short explanation is fine.",
    "What is the most common misunderstanding about {t}, and what is actually true?",
    "Walk me through the key ideas behind {t}.",
    "How would you explain {t} to a curious twelve-year-old?",
    "In a few paragraphs, explain {t} and why people care about it.",
    "I work as a {job} and know nothing about {d}. Help me understand {t}.",
    "What are the main parts or stages of {t}?",
    "Explain {t} using an everyday analogy, then say where the analogy breaks down.",
    "What should a beginner understand first about {t}?",
    "Could you break down {t} step by step?",
    "What's the story behind {t}, briefly?",
    "A friend thinks all the fuss about {t} is overblown. What's the real story?",
    "What do experts mean when they talk about {t}?",
    "Explain {t}. Assume I'm smart but new to {d}.",
    "Quick question: {t}. What's the essential idea?",
    "Teach me the basics of {t} in plain English.",
    "Where does {t} show up in everyday life?",
    "explain {t} to me, keep it simple",
    "Give me the big picture of {t}: what it is, how it works, and why it matters.",
    "So what's the deal with {t}?",
    "Help me understand {t}. I learn best from examples.",
]


def explain(rng: random.Random, n: int, topics: Deck) -> list[Row]:
    forms = Deck(EXPLAIN, rng)
    out = []
    for _ in range(n):
        t, d = topics.draw()
        out.append(row("explain", t, user(cap(forms.draw().format(t=t, d=FIELD[d], job=rng.choice(JOBS))))))
    return out


# --- compare ----------------------------------------------------------------------------------

COMPARE_CHOICE = [
    "{a} or {b}: which makes more sense for {s}?",
    "Which wins on {x}: {a} or {b}?",
    "I can't decide between {a} and {b}. What should I think about?",
]
"""Forms that ask which to choose: only for pairs one can choose between (not mitosis and meiosis)."""
CHOOSABLE = {"cooking", "sports", "technology", "finance", "health", "travel", "arts", "everyday life"}
CHOOSABLE |= {"learning and work"}
COMPARE = [
    "What is the difference between {a} and {b}?",
    "How are {a} and {b} alike, and how do they differ?",
    "People often mix up {a} and {b}. What sets them apart?",
    "Compare {a} and {b} in terms of {x} and {y}.",
    "Give me a side-by-side comparison of {a} and {b}, looking at {x}, {y} and {z}.",
    "What can {a} offer that {b} can't, and the other way round?",
    "Explain the key differences between {a} and {b} for {s}.",
    "Make a short table comparing {a} with {b}.",
    "In two short paragraphs, contrast {a} with {b}.",
    "What do {a} and {b} have in common?",
    "How would you explain the difference between {a} and {b} to a child?",
    "{a} vs {b}, in a nutshell?",
]


def compare(rng: random.Random, n: int) -> list[Row]:
    pairs, forms, choice = Deck(PAIRS, rng), Deck(COMPARE, rng), Deck(COMPARE_CHOICE, rng)
    out = []
    for _ in range(n):
        a, b, d = pairs.draw()
        form = choice.draw() if d in CHOOSABLE and rng.random() < 0.25 else forms.draw()
        if rng.random() < 0.5:
            a, b = b, a
        x, y, z = rng.sample(DOMAIN_ASPECTS[d], 3) if len(DOMAIN_ASPECTS[d]) >= 3 else (*DOMAIN_ASPECTS[d], "")
        text = form.format(a=a, b=b, x=x, y=y, z=z, s=rng.choice(SITUATIONS[d]))
        out.append(row("compare", f"{a} vs {b}", user(cap(text))))
    return out


# --- list -------------------------------------------------------------------------------------

LISTS = [
    "List {n} common mistakes people make with {t}.",
    "Name {n} things a beginner should know about {t}.",
    "Give me {n} questions I could ask an expert on {t}.",
    "What are {n} good ways to get started with {t}?",
    "Make a list of {n} key terms related to {t}, each with a one-line definition.",
    "Suggest {n} books, films or activities for someone who wants to learn about {t}.",
    "What are {n} myths about {t}?",
    "List {n} reasons someone might get interested in {t}.",
    "Give me a numbered list of {n} facts about {t} that most people don't know.",
    "What are the {n} most important ideas in {t}?",
    "Brainstorm {n} possible angles for a school presentation on {t}.",
    "List {n} ways you can see {t} in everyday life.",
    "Give me {n} tips related to {t}, one sentence each.",
    "Name {n} people, places or events connected with {t}.",
    "What are {n} open questions or debates about {t}?",
    "List {n} words someone should learn before reading about {t}.",
    "{t}: give me the {n} things worth remembering.",
]


def lists(rng: random.Random, n: int, topics: Deck) -> list[Row]:
    forms = Deck(LISTS, rng)
    out = []
    for _ in range(n):
        t, _ = topics.draw()
        k = _count(rng, rng.choice([3, 4, 5, 5, 6, 7, 8, 10]))
        out.append(row("list", t, user(cap(forms.draw().format(t=t, n=k)))))
    return out


# --- rewrite ----------------------------------------------------------------------------------

REWRITE = [
    "Rewrite this paragraph so a ten-year-old could follow it:\n\n{p}",
    "Make the following text more formal:\n\n{p}",
    "Rewrite this so it sounds friendly and relaxed, like a message to a friend:\n\n{p}",
    "Shorten this to about {w} words without losing the main point:\n\n{p}",
    "Rewrite the passage below without any technical terms.\n\n{p}",
    "Here is a paragraph from a report:\n\n{p}\n\nRewrite it as a short news story with a headline.",
    "Rewrite this text with shorter, simpler sentences:\n\n{p}",
    "Make this more persuasive, as if it opened a talk:\n\n{p}",
    "{p}\n\nRewrite the text above for a museum information panel.",
    "Rewrite the following in the voice of a cheerful radio presenter:\n\n{p}",
    'Paraphrase this paragraph without reusing any of its sentences:\n\n"{p}"',
    "Rewrite this as a social media post of under 280 characters:\n\n{p}",
    "Rewrite this paragraph so that it opens with its most surprising fact:\n\n{p}",
    "Rewrite this so it reads well out loud to a class of teenagers:\n\n{p}",
    "Turn this into a more vivid, descriptive paragraph, keeping every fact:\n\n{p}",
    "Rewrite the text below in a neutral, encyclopaedic tone.\n\n{p}",
    "Rewrite this paragraph in the second person, speaking directly to the reader:\n\n{p}",
    "Can you make this sound less dry? Keep it the same length.\n\n{p}",
]


def rewrite(rng: random.Random, n: int, picker: PassagePicker) -> list[Row]:
    forms = Deck(REWRITE, rng)
    out = []
    for _ in range(n):
        subject, sentences = picker.pick()
        text = forms.draw().format(p=" ".join(sentences), w=rng.randrange(25, 65, 5))
        out.append(row("rewrite", subject.name, user(text)))
    return out


# --- summarise --------------------------------------------------------------------------------

SUMMARISE = [
    "Summarise this in one sentence:\n\n{p}",
    "TL;DR please:\n\n{p}",
    "What is the main point of the following text?\n\n{p}",
    "Give me a two-sentence summary of this passage for a busy reader:\n\n{p}",
    "Write a headline and a one-line summary for this text:\n\n{p}",
    "Summarise the following in under {w} words.\n\n{p}",
    "Read this and tell me in plain words what it says:\n\n{p}",
    "{p}\n\nSummarise the text above for {aud}.",
    "Condense this into a short abstract:\n\n{p}",
    "What would be a good title for this passage, and what is it mainly about?\n\n{p}",
    "Here's something I read today:\n\n{p}\n\nCan you give me the gist?",
    "Sum up the key idea of this paragraph, then say which detail is the most surprising.\n\n{p}",
    "I only have ten seconds. What does this say?\n\n{p}",
    "Summarise this passage in exactly three sentences.\n\n{p}",
    'Summary needed:\n"""\n{p}\n"""',
]
AUDIENCES = ["a ten-year-old", "a busy manager", "someone learning English", "a school newsletter", "a grandparent"]


def summarise(rng: random.Random, n: int, picker: PassagePicker) -> list[Row]:
    forms = Deck(SUMMARISE, rng)
    out = []
    for _ in range(n):
        subject, sentences = picker.pick((4, 4, 5))
        text = forms.draw().format(p=" ".join(sentences), w=rng.randrange(20, 45, 5), aud=rng.choice(AUDIENCES))
        out.append(row("summarise", subject.name, user(text)))
    return out


# --- classify / extract -----------------------------------------------------------------------

FROM_PASSAGE = [
    "List every number in this text and say what it refers to.\n\n{x}",
    "Which people, places or organisations are mentioned in the following text?\n\n{x}",
    "Does this passage mostly describe a cause, a process, a comparison or a history? Explain briefly.\n\n{x}",
    "Pick out the sentence in this text that would be most worth checking against a source, and say why.\n\n{x}",
    "Classify this paragraph as science, history, health, finance, technology, nature, arts or everyday life, "
    "and give one reason.\n\n{x}",
    "{x}\n\nWhich statements in the text above are precise facts and which are generalisations?",
    "Extract the main topic and three keywords from this text. Answer as 'Topic: ...' and 'Keywords: ...'.\n\n{x}",
    "What question does this paragraph answer? Quote the sentence that answers it.\n\n{x}",
]
FROM_REVIEW = [
    'Is this review positive, negative or mixed? One word, then one sentence of reasoning.\n\n"{x}"',
    "List what the reviewer liked and what they disliked.\n\nReview: {x}",
    "From the review below, extract the product, the rating if there is one, and the main complaint.\n\n{x}",
    "Here is a customer review:\n{x}\n\nWhich features are mentioned, and is each one praised or criticised?",
    "Would this reviewer recommend the product? Quote the words that tell you.\n\n{x}",
]
FROM_NOTICE = [
    "Pull out the date, time, place and price from this notice:\n\n{x}",
    "Who should I contact about this event, and how?\n\n{x}",
    "Read this notice and tell me whether it suits a family with a toddler. Quote the relevant part.\n\n{x}",
    "Extract the event details from this text as key: value lines (event, day, time, place, cost).\n\n{x}",
]
FROM_MESSAGE = [
    'Classify this customer message as a complaint, a question, a request or a compliment:\n\n"{x}"',
    "What does the customer want, and how urgent is it?\n\nMessage: {x}",
    "Tag this support message with a category (delivery, billing, product fault, account, other) and a "
    "priority from 1 to 3.\n\n{x}",
    "Which team should handle this message: sales, billing, logistics or technical support? One sentence.\n\n{x}",
]
FROM_NOTES = [
    "List every action item in these meeting notes with its owner and deadline (write 'none' if there is "
    "no deadline).\n\n{x}",
    "From these notes, who has the most tasks, and what are they?\n\n{x}",
    "Which decisions were made in this meeting, as opposed to tasks handed out?\n\n{x}",
    "Here are my notes from this morning:\n\n{x}\n\nExtract everything that has a deadline.",
]


def extract(rng: random.Random, n: int, picker: PassagePicker) -> list[Row]:
    """A third from passages, the rest from reviews, notices, customer messages and meeting notes."""
    shares = {"passage": 0.33, "review": 0.25, "notice": 0.17, "message": 0.15, "notes": 0.10}
    kinds = [k for k, s in shares.items() for _ in range(round(s * n))][:n]
    kinds += ["passage"] * (n - len(kinds))
    forms = {
        k: Deck(f, rng)
        for k, f in [
            ("passage", FROM_PASSAGE),
            ("review", FROM_REVIEW),
            ("notice", FROM_NOTICE),
            ("message", FROM_MESSAGE),
            ("notes", FROM_NOTES),
        ]
    }
    messages = Deck(MESSAGES, rng)
    out = []
    for kind in kinds:
        if kind == "passage":
            subject, sentences = picker.pick((4, 5))
            topic, text = subject.name, " ".join(sentences)
        elif kind == "review":
            topic, text = review(rng)
        elif kind == "notice":
            topic, text = notice(rng)
        elif kind == "message":
            topic, text = "customer support messages", messages.draw()
        else:
            topic, text = "meeting notes", meeting_notes(rng)
        out.append(row("extract", topic, user(forms[kind].draw().format(x=text))))
    return out


# --- code -------------------------------------------------------------------------------------

PY_FORMS = [
    "Write a Python function to {t}.",
    "Could you write a small Python function to {t}? Please add a docstring.",
    "I need a Python helper to {t}. Include a couple of example calls.",
    "Show me how to {t} in Python, and explain how the code works.",
    "Write a Python function to {t}. Keep it short and readable, with type hints.",
    "How would you {t} in Python? One function is enough.",
    "Implement a Python function to {t}, and mention any edge cases it doesn't handle.",
    "Give me idiomatic Python code to {t}.",
    "Write Python code to {t}, then two simple tests for it.",
    "For a beginners' Python class: write a function to {t}, with a comment on every line.",
]
JS_FORMS = [
    "Write a JavaScript function to {t}.",
    "How can I {t} in JavaScript?",
    "Show me modern JavaScript code to {t}.",
    "Write a small JS helper to {t}, with a usage example.",
    "In JavaScript, write a function to {t} and explain it briefly.",
    "I'm learning JavaScript. How would I {t}?",
]
SQL_FORMS = [
    "With the schema {s}, write a SQL query that returns {t}.",
    "I have {s}. How do I get {t} in SQL?",
    "Write an SQL query for {t}. The schema is {s}.",
    "Using {s}, write a query to find {t}, and explain each clause.",
    "Schema: {s}. I need {t}. What query should I run?",
]
SH_FORMS = [
    "Write a bash script to {t}.",
    "Write a short shell script to {t}. Add comments.",
    "How can I {t} with a bash script on Linux?",
    "I need a small bash script to {t}. It should print what it is doing.",
    "Write a POSIX shell script to {t}, and explain how to run it.",
    "Could you write a script for macOS or Linux to {t}?",
]


def code(rng: random.Random, n: int) -> list[Row]:
    """Python about 40%, JavaScript, SQL and shell about 20% each."""
    plan = [
        ("Python", PYTHON, PY_FORMS, 0.4),
        ("JavaScript", JAVASCRIPT, JS_FORMS, 0.21),
        ("SQL", SQL, SQL_FORMS, 0.2),
        ("shell", SHELL, SH_FORMS, 0.19),
    ]
    sizes = [round(share * n) for *_, share in plan[:-1]]
    sizes.append(n - sum(sizes))
    out = []
    for (language, tasks, forms, _), size in zip(plan, sizes, strict=True):
        task_deck, form_deck = Deck(tasks, rng), Deck(forms, rng)
        for _ in range(size):
            task = task_deck.draw()
            if language == "SQL":
                schema, ask = task
                text = form_deck.draw().format(s=SQL_TABLES[schema], t=ask)
            else:
                text = form_deck.draw().format(t=task)
            out.append(row("code", language, user(text)))
    return out


# --- math and word problems -------------------------------------------------------------------

ITEMS = ["jacket", "bike helmet", "desk lamp", "pair of boots", "board game", "rucksack", "kettle", "guitar"]


def _money(x: float) -> str:
    return f"{x:.2f}".rstrip("0").rstrip(".") if x != int(x) else str(int(x))


def _discount(rng):
    p, d, item, who = (
        rng.randrange(20, 201, 5),
        rng.choice([10, 15, 20, 25, 30, 40]),
        rng.choice(ITEMS),
        rng.choice(NAMES),
    )
    sale = p * (100 - d) / 100
    q = rng.choice(
        [
            f"A {item} costs {p} euros and is reduced by {d}%. What is the sale price?",
            f"{who} sees a {item} priced at ${p} with {d}% off. How much will {who} pay?",
            f"In a {d}% sale, how much do you save on a {item} that normally costs £{p}?",
        ]
    )
    return (
        "percentages",
        q,
        f"{d}% of {p} is {_money(p * d / 100)}, so the price drops to {p} - {_money(p * d / 100)} = {_money(sale)}.",
    )


def _speed(rng):
    v, h = rng.randrange(40, 125, 5), rng.choice([1.5, 2, 2.5, 3, 4])
    d = v * h
    who = rng.choice(NAMES)
    kind = rng.randrange(3)
    if kind == 0:
        q = f"A train covers {_money(d)} km in {_money(h)} hours. What is its average speed?"
        a = f"Speed = distance / time = {_money(d)} / {_money(h)} = {v} km/h."
    elif kind == 1:
        q = f"{who} drives {_money(d)} km at a steady {v} km/h. How long does the journey take?"
        a = f"Time = distance / speed = {_money(d)} / {v} = {_money(h)} hours."
    else:
        m = rng.choice([20, 30, 40, 45, 90])
        q = f"A cyclist rides at {v // 4} km/h for {m} minutes. How far does she get?"
        hours = _money(m / 60)
        a = f"{m} minutes is {hours} hours, so the distance is {v // 4} x {hours} = {_money(v // 4 * m / 60)} km."
    return "speed and distance", q, a


def _area(rng):
    ln, w = rng.randint(4, 25), rng.randint(3, 15)  # length and width, in metres
    if rng.random() < 0.5:
        q = f"A rectangular garden is {ln} m long and {w} m wide. How much fencing goes round it, and what is its area?"
        a = f"Perimeter = 2 x ({ln} + {w}) = {2 * (ln + w)} m; area = {ln} x {w} = {ln * w} square metres."
    else:
        q = f"A floor measures {ln} m by {w} m. How many 50 cm square tiles are needed to cover it?"
        a = f"Each tile covers 0.25 square metres; the floor is {ln * w}, so {ln * w} / 0.25 = {ln * w * 4} tiles."
    return "area and perimeter", q, a


def _average(rng):
    who = rng.choice(NAMES)
    scores = [rng.randint(55, 98) for _ in range(rng.randint(3, 5))]
    listed = ", ".join(map(str, scores[:-1])) + f" and {scores[-1]}"
    if rng.random() < 0.5:
        q = f"{who} scored {listed} on the last tests. What is the average score?"
        mean = _money(round(sum(scores) / len(scores), 2))
        a = f"The sum is {sum(scores)}, and {sum(scores)} / {len(scores)} = {mean}."
    else:
        target = (sum(scores) // len(scores)) + rng.randint(1, 4)
        need = target * (len(scores) + 1) - sum(scores)
        q = f"{who}'s test scores so far are {listed}. What does {who} need on the next test to average {target}?"
        a = (
            f"To average {target} over {len(scores) + 1} tests the total must be {target * (len(scores) + 1)}; "
            f"the scores so far add up to {sum(scores)}, so {who} needs {need}."
        )
    return "averages", q, a


def _ratio(rng):
    a, b = rng.sample([1, 2, 3, 4, 5], 2)
    k = rng.randint(3, 40)
    x, y = rng.sample(NAMES, 2)
    if rng.random() < 0.5:
        total = (a + b) * k * 5
        q = f"{x} and {y} share {total} euros in the ratio {a}:{b}. How much does each of them get?"
        ans = f"{a + b} parts of {total} / {a + b} = {k * 5} euros each: {x} gets {a * k * 5} and {y} gets {b * k * 5}."
    else:
        litres = (a + b) * rng.randint(1, 6)
        q = f"A paint colour is mixed from {a} parts blue to {b} parts white. How much blue goes into {litres} litres?"
        ans = f"Blue is {a} of every {a + b} parts: {litres} x {a}/{a + b} = {_money(litres * a / (a + b))} litres."
    return "ratios", q, ans


def _percent_change(rng):
    old = rng.choice([2, 4, 5, 8, 10, 20, 25, 40, 50])
    pct = rng.choice([5, 10, 20, 25, 50])
    new = old * (100 + pct) / 100
    thing = rng.choice(
        ["a bus ticket", "a loaf of bread", "a cinema ticket", "a monthly phone plan", "a litre of milk"]
    )
    q = f"The price of {thing} went up from {old} to {_money(new)} euros. By what percentage did it rise?"
    return "percentage change", q, f"The rise is {_money(new - old)}, and {_money(new - old)} / {old} = {pct}%."


def _interest(rng):
    p, r, n = rng.choice([500, 1000, 2000, 5000]), rng.choice([2, 3, 4, 5, 6]), rng.randint(2, 5)
    total = p * (1 + r / 100) ** n
    q = rng.choice(
        [
            f"If I put {p} euros in a savings account that pays {r}% a year, compounded yearly, "
            f"how much will I have after {n} years?",
            f"How much does {p} dollars grow to in {n} years at {r}% annual compound interest?",
        ]
    )
    return "compound interest", q, f"{p} x {1 + r / 100:.2f}^{n} = about {total:.2f}."


def _work(rng):
    a, b = rng.sample([2, 3, 4, 5, 6, 8, 10, 12], 2)
    x, y = rng.sample(NAMES, 2)
    job = rng.choice(["paint a fence", "weed the garden", "sort the library donations", "clean the classroom"])
    t = Fraction(a * b, a + b)
    q = f"{x} can {job} in {a} hours and {y} can do it in {b} hours. How long does it take them working together?"
    return (
        "work rates",
        q,
        f"Together they do 1/{a} + 1/{b} = {Fraction(1, a) + Fraction(1, b)} of the job per hour, "
        f"so it takes {t} hours (about {float(t):.2f}).",
    )


def _ages(rng):
    young, gap = rng.randint(4, 30), rng.randint(2, 25)
    x, y = rng.sample(NAMES, 2)
    total = 2 * young + gap
    q = f"{x} is {gap} years older than {y}. Together their ages add up to {total}. How old is each of them?"
    return "age puzzles", q, f"{y} is ({total} - {gap}) / 2 = {young} and {x} is {young + gap}."


def _probability(rng):
    kind = rng.randrange(3)
    if kind == 0:
        t = rng.randint(3, 11)
        ways = 6 - abs(7 - t)
        q = f"Two fair dice are rolled. What is the probability that the total is {t}?"
        return "probability", q, f"{ways} of the 36 outcomes give {t}, so the probability is {Fraction(ways, 36)}."
    if kind == 1:
        n = rng.randint(3, 6)
        k = rng.randint(1, n - 1)
        from math import comb

        q = f"If you flip a fair coin {n} times, what is the probability of getting exactly {k} heads?"
        return "probability", q, f"C({n},{k}) / 2^{n} = {comb(n, k)}/{2**n} = {Fraction(comb(n, k), 2**n)}."
    r, b = rng.randint(2, 8), rng.randint(2, 8)
    q = (
        f"A bag holds {r} red and {b} blue marbles. Two are drawn without putting the first back. "
        "What is the probability that both are red?"
    )
    p = Fraction(r, r + b) * Fraction(r - 1, r + b - 1)
    return "probability", q, f"{r}/{r + b} x {r - 1}/{r + b - 1} = {p}."


def _sequence(rng):
    if rng.random() < 0.5:
        a, d = rng.randint(1, 20), rng.randint(2, 9)
        terms = [a + i * d for i in range(4)]
        q = f"What comes next in {', '.join(map(str, terms))}, ...? And what is the 20th term?"
        return (
            "number sequences",
            q,
            f"Each term adds {d}, so the next is {a + 4 * d} and the 20th is {a} + 19 x {d} = {a + 19 * d}.",
        )
    a, r = rng.randint(1, 5), rng.choice([2, 3])
    terms = [a * r**i for i in range(4)]
    q = f"Find the next two numbers: {', '.join(map(str, terms))}, ..."
    return "number sequences", q, f"Each term is multiplied by {r}: {a * r**4}, {a * r**5}."


def _fractions(rng):
    x, y = rng.sample(NAMES, 2)
    f1, f2 = rng.sample(
        [Fraction(1, 2), Fraction(1, 3), Fraction(1, 4), Fraction(1, 5), Fraction(1, 6), Fraction(1, 8)], 2
    )
    thing = rng.choice(["pizza", "cake", "bar of chocolate", "pie"])
    q = f"{x} eats {f1} of a {thing} and {y} eats {f2} of it. What fraction of the {thing} is left?"
    return "fractions", q, f"Together they eat {f1} + {f2} = {f1 + f2}, so {1 - f1 - f2} is left."


def _clock(rng):
    h, m = rng.randint(8, 21), rng.choice([0, 5, 15, 20, 30, 40, 45, 50])
    dh, dm = rng.randint(1, 3), rng.choice([5, 10, 25, 35, 40, 55])
    end = (h * 60 + m + dh * 60 + dm) % (24 * 60)
    q = rng.choice(
        [
            f"A film starts at {h:02d}:{m:02d} and runs for {dh} h {dm} min. When does it end?",
            f"A train leaves at {h:02d}:{m:02d} and the trip takes {dh} hours and {dm} minutes. When does it arrive?",
        ]
    )
    return "time calculations", q, f"{h:02d}:{m:02d} plus {dh} h {dm} min is {end // 60:02d}:{end % 60:02d}."


def _unit_price(rng):
    n1, n2 = rng.choice([(4, 10), (6, 10), (6, 16), (8, 20), (12, 30)])
    p1 = round(n1 * rng.uniform(0.3, 0.6), 2)
    p2 = round(n2 * rng.uniform(0.28, 0.58), 2)
    thing = rng.choice(["batteries", "eggs", "pencils", "tea bags", "rolls of tape"])
    q = f"Pack A has {n1} {thing} for {p1:.2f} euros; pack B has {n2} for {p2:.2f}. Which is the better deal per item?"
    better = "A" if p1 / n1 < p2 / n2 else "B"
    return (
        "unit prices",
        q,
        f"A costs {p1 / n1:.3f} per item and B costs {p2 / n2:.3f}, so pack {better} is cheaper per item.",
    )


def _equation(rng):
    a, x, b = rng.randint(2, 9), rng.randint(-6, 12), rng.randint(1, 30)
    if rng.random() < 0.5:
        q = f"Solve for x: {a}x + {b} = {a * x + b}."
        s = f"Subtract {b}: {a}x = {a * x}. Divide by {a}: x = {x}."
    else:
        q = f"Find x if {a}(x - {b}) = {a * (x - b)}."
        s = f"Divide by {a}: x - {b} = {x - b}, so x = {x}."
    return "linear equations", q, s


def _bill(rng):
    k, bill, tip = rng.randint(3, 8), rng.randrange(60, 400, 5), rng.choice([10, 12, 15, 20])
    each = bill * (1 + tip / 100) / k
    q = f"{k} friends split a restaurant bill of {bill} euros and add a {tip}% tip. How much does each person pay?"
    return (
        "splitting costs",
        q,
        f"With the tip the total is {bill * (1 + tip / 100):.2f}, and divided by {k} that is {each:.2f} each.",
    )


def _geometry(rng):
    if rng.random() < 0.5:
        a, b, c = rng.choice([(3, 4, 5), (5, 12, 13), (6, 8, 10), (8, 15, 17), (9, 12, 15)])
        q = f"A ladder reaches {b} m up a wall, and its foot stands {a} m from the wall. How long is the ladder?"
        return "the Pythagorean theorem", q, f"sqrt({a}^2 + {b}^2) = sqrt({a * a + b * b}) = {c} m."
    r = rng.randint(2, 15)
    q = f"A round table has a radius of {r * 10} cm. What are its area and its circumference?"
    return (
        "circles",
        q,
        f"Area = pi x {r * 10}^2 = about {3.14159 * (r * 10) ** 2:.0f} square cm; "
        f"circumference = 2 x pi x {r * 10} = about {2 * 3.14159 * r * 10:.1f} cm.",
    )


def _wage(rng):
    who, w, h, tax = rng.choice(NAMES), rng.randint(11, 30), rng.randint(10, 40), rng.choice([10, 15, 20, 25])
    q = f"{who} earns {w} euros an hour and works {h} hours a week. After {tax}% tax, how much is that over four weeks?"
    return (
        "earnings",
        q,
        f"Gross: {w} x {h} x 4 = {w * h * 4}; "
        f"after tax: {w * h * 4} x {(100 - tax) / 100:.2f} = {w * h * 4 * (100 - tax) / 100:.2f}.",
    )


MATH = [_discount, _speed, _area, _average, _ratio, _percent_change, _interest, _work, _ages, _probability]
MATH += [_sequence, _fractions, _clock, _unit_price, _equation, _bill, _geometry, _wage]
MATH_SUFFIX = [
    "",
    " Show your working.",
    " Explain each step.",
    " Please explain how you get the answer.",
    " Give the answer first, then the reasoning.",
    " Check your answer at the end.",
]


def math(rng: random.Random, n: int) -> list[Row]:
    makers = Deck(MATH, rng)
    out = []
    for _ in range(n):
        topic, q, _ = makers.draw()(rng)
        out.append(row("math", topic, user(q + rng.choice(MATH_SUFFIX))))
    return out


# --- plan -------------------------------------------------------------------------------------

DESTINATIONS = ["Lisbon", "Kyoto", "Iceland's Ring Road", "Rome", "Mexico City", "Vancouver Island"]
DESTINATIONS += ["the Amalfi Coast", "Marrakesh", "Seoul", "the Norwegian fjords", "Patagonia", "Vienna"]
DESTINATIONS += ["Cape Town", "New Orleans", "the Swiss Alps", "Hanoi", "Istanbul", "Copenhagen", "Sicily"]
DESTINATIONS += ["the Canadian Rockies", "Buenos Aires", "Tasmania", "Edinburgh", "Prague", "Sri Lanka", "Crete"]
DESTINATIONS += ["Budapest", "Oaxaca", "Bavaria", "the Lake District", "Cornwall", "Quebec City", "Petra"]
DESTINATIONS += ["New Zealand's South Island", "the Dolomites"]
GROUPS = [
    "two students on a tight budget",
    "a family with two young children",
    "a retired couple who like slow mornings",
    "four friends who like hiking",
    "a couple on their honeymoon",
    "a teenager and a parent",
    "two friends who use wheelchairs",
    "three generations of one family",
]
TRAVELLERS = GROUPS + ["a solo traveller who loves food", "an amateur photographer", "someone who hates crowds"]
SEASONS = ["in spring", "in late autumn", "in the middle of summer", "in winter", "over Easter", "in September"]
TRIP = [
    "Plan a {n}-day trip to {d} for {who}.",
    "I have {n} days in {d} {season}. Can you sketch a day-by-day itinerary? We are {we}.",
    "Help me plan {n} days in {d}. The budget is about {b} euros in total, not counting flights.",
    "Put together a rough plan for a {n}-day visit to {d}, with one rainy-day alternative for each day.",
    "We're {we} and we'll spend {n} days in {d} {season}. What should the plan look like?",
    "Draft an itinerary for {d}: {n} days, {who}, no car.",
    "What would a relaxed {n}-day trip to {d} look like for {who}?",
    "Plan {n} days in {d} {season} for {who}. Keep travel between places short.",
]
STUDY_SUBJECTS = [
    "an organic chemistry exam",
    "first-year university calculus",
    "a driving theory test",
    "a B1 Spanish exam",
    "a cloud computing certification",
    "a high-school history final",
    "a statistics final",
    "a grade 5 music theory exam",
    "a piano recital",
    "a data structures course",
    "an anatomy exam",
    "the IELTS English test",
    "a first aid certificate",
    "an introductory macroeconomics exam",
    "a JavaScript bootcamp module",
    "high-school physics (mechanics)",
    "a university entrance maths test",
    "a wine tasting qualification",
    "a beginner's Japanese course (hiragana and katakana)",
    "a project management certificate",
    "an art history exam",
    "a nursing pharmacology module",
]
STUDY_LIMITS = [
    "I work part-time, so only evenings are free",
    "I can study about {h} hours a day",
    "weekends are my only long study days",
    "I tend to lose focus after 40 minutes",
    "I also have two other exams in the same month",
    "I've already covered about a third of the material",
]
STUDY = [
    "Make me a study schedule for {s}. The exam is in {w} weeks and {lim}.",
    "I have {w} weeks to prepare for {s} and {lim}. How should I plan my time?",
    "Create a week-by-week plan to get ready for {s} in {w} weeks. {Lim}.",
    "Can you help me plan revision for {s}? {Lim}, and I have {w} weeks left.",
    "Plan {w} weeks of preparation for {s}, with a review week at the end. {Lim}.",
]
PROJECTS = [
    "build a raised vegetable bed",
    "launch a monthly newsletter for my neighbourhood",
    "organise a clean-up day for our local park",
    "repaint a bedroom",
    "write the first draft of a novel",
    "go from no running at all to a 5 km run",
    "set up a small online shop for handmade candles",
    "organise a surprise 40th birthday party",
    "move house with two small kids",
    "build a personal website",
    "start a book club at work",
    "get the garden ready for winter",
    "teach my daughter to ride a bike",
    "move my team's documents to a shared drive",
    "run a bake sale for the school library",
    "turn ten years of phone photos into printed albums",
    "plan a school science fair",
    "set up a small home recording corner",
    "cut our household's plastic use",
    "learn enough guitar to play five songs",
    "renovate an old wooden chair",
    "organise a family reunion for thirty people",
    "build a birdhouse with my kids",
    "declutter the whole flat before a move",
    "start a vegetable patch on a balcony",
    "prepare a ten-minute talk for a conference",
]
PROJECT = [
    "Help me plan how to {p} over the next {t}.",
    "I want to {p}. Break it into steps with a rough timeline.",
    "Plan a project: {p}. I have {t} and about {b} euros.",
    "What's a sensible plan to {p} in {t}? List the milestones.",
    "I'd like to {p} but I keep putting it off. Give me a realistic plan for the next {t}.",
    "Make a checklist and schedule to {p}, spread over {t}.",
]


def plan(rng: random.Random, n: int) -> list[Row]:
    trips, studies, projects = Deck(DESTINATIONS, rng), Deck(STUDY_SUBJECTS, rng), Deck(PROJECTS, rng)
    forms = {"trip": Deck(TRIP, rng), "study": Deck(STUDY, rng), "project": Deck(PROJECT, rng)}
    out = []
    for i in range(n):
        kind = ("trip", "study", "project")[i % 3]
        if kind == "trip":
            d = trips.draw()
            text = (
                forms[kind]
                .draw()
                .format(
                    n=rng.randint(2, 14),
                    d=d,
                    who=rng.choice(TRAVELLERS),
                    we=rng.choice(GROUPS),
                    season=rng.choice(SEASONS),
                    b=rng.randrange(400, 4001, 100),
                )
            )
        elif kind == "study":
            d = studies.draw()
            lim = rng.choice(STUDY_LIMITS).format(h=rng.randint(2, 4))
            text = forms[kind].draw().format(s=d, w=rng.randint(2, 12), lim=lim, Lim=cap(lim))
        else:
            d = projects.draw()
            t = rng.choice(["two weekends", "a month", "six weeks", "three months", "a year", "ten days"])
            text = forms[kind].draw().format(p=d, t=t, b=rng.randrange(50, 2001, 50))
        out.append(row("plan", d, user(text)))
    return out


# --- answer under constraints -----------------------------------------------------------------

ASK_ANY = [
    "Explain {t}.",
    "Describe {t}.",
    "Why should anyone care about {t}?",
    "Write an introduction to {t}.",
    "What should people know about {t}?",
    "Tell me something surprising about {t}.",
    "Who should care about {t}, and why?",
]
ASK_PRACTICAL = ["Give me practical advice on {t}.", "How do I get started with {t}?", "What are the basics of {t}?"]
PRACTICAL = {"cooking", "sports", "finance", "health", "travel", "everyday life", "learning and work"}
CONSTRAINTS = {
    "length": [
        "Use no more than {n} words.",
        "Keep it to one sentence.",
        "Answer in exactly three sentences.",
        "Stay under {n} words.",
        "Use between {n} and {m} words.",
        "Two sentences at most.",
    ],
    "format": [
        "Format the answer as a numbered list of {k} steps.",
        "Put it in a table with two columns: idea and example.",
        "Write it as a short FAQ with three questions and answers.",
        'Answer as a JSON object with the keys "summary" and "key_points".',
        "Use a heading and two short paragraphs.",
        "Use Markdown and put the key terms in bold.",
        "Start with a one-line answer, then give the details.",
    ],
    "audience": [
        "Write it for a five-year-old.",
        "Pitch it at a busy manager who has two minutes.",
        "Write for someone learning English, with simple words.",
        "The reader is a retired engineer who likes precise details.",
        "Aim it at a teenager who thinks the subject is boring.",
        "Write it for a nervous beginner.",
    ],
    "style": [
        "Don't use any technical terms.",
        "Use only short sentences.",
        "End with a question for the reader.",
        "Include one concrete number.",
        'Avoid the words "very" and "really".',
        "Do not use bullet points.",
        "Use a friendly, encouraging tone.",
        "Include one everyday comparison.",
    ],
}


def constrained(rng: random.Random, n: int, topics: Deck) -> list[Row]:
    out = []
    for _ in range(n):
        t, d = topics.draw()
        ask = rng.choice(ASK_ANY + (ASK_PRACTICAL if d in PRACTICAL else [])).format(t=t)
        groups = rng.sample(sorted(CONSTRAINTS), rng.choice([1, 2, 2, 3]))
        lo = rng.randrange(30, 121, 10)
        rules = []
        for g in groups:
            options = CONSTRAINTS[g]
            if "format" in groups and g == "length":  # a table or a list does not fit in one sentence
                options = [c for c in options if "{n}" in c]
            if "format" in groups and g == "style":
                options = [c for c in options if "bullet" not in c]
            rules.append(rng.choice(options).format(n=lo, m=lo + 40, k=rng.randint(3, 7)))
        layout = rng.randrange(4)
        if layout == 0:
            text = f"{cap(ask)} {' '.join(rules)}"
        elif layout == 1:
            text = f"{' '.join(rules)} {cap(ask)}"
        elif layout == 2:
            text = f"Task: {cap(ask)}\nRules: {' '.join(rules)}"
        else:
            text = f"{cap(ask)}\n\n" + "\n".join(f"- {r}" for r in rules)
        out.append(row("constrained", t, user(text)))
    return out


# --- creative writing -------------------------------------------------------------------------

THEMES = [
    "the first snow of the year",
    "a city bus at midnight",
    "an old teapot",
    "the smell of rain",
    "a lost glove",
    "moving house",
    "a grandmother's garden",
    "the last day of summer",
    "a cat watching birds",
    "a power cut",
    "the final mile of a marathon",
    "a crowded station at rush hour",
    "autumn leaves",
    "learning to swim",
    "a kitchen at dawn",
    "the moon over a car park",
    "an empty playground",
    "a library on a rainy afternoon",
    "a first day at a new job",
    "homesickness",
    "an old friendship",
    "the sea in winter",
    "a broken clock",
    "a fox in the city",
]
POEM_FORMS = [
    "a limerick",
    "a rhyming poem of four lines",
    "a free-verse poem of about ten lines",
    "a short ballad",
    "a sonnet",
    "a poem in two short stanzas",
]
POEM = [
    "Write {f} about {t}.",
    "Could you write {f} about {t}?",
    "I'd love {f} on the subject of {t}.",
    "Write {f} about {t}, with a surprising last line.",
    "Compose {f} about {t} for a school magazine.",
]
ACROSTIC_WORDS = ["SPRING", "OCEAN", "HOME", "BREAD", "TRAIN", "MAPLE", "RIVER", "LIGHT", "GARDEN", "WINTER"]
GENRES = ["mystery", "science fiction", "fantasy", "ghost", "comic", "historical", "adventure", "fairy-tale"]
SETTINGS = [
    "a fishing village during a storm",
    "a space station orbiting Jupiter",
    "a night market in Taipei",
    "a snowed-in mountain hotel",
    "a Victorian post office",
    "a floating city",
    "a school on the last day of term",
    "a desert train that never stops",
    "a bakery that opens at 4 am",
    "an abandoned amusement park",
    "a research ship in the Antarctic",
    "a tiny island with one shop",
    "a museum after closing time",
    "a hospital night shift",
    "a medieval market town",
]
CHARACTERS = [
    "a retired astronaut",
    "a nervous apprentice",
    "twin sisters who never agree",
    "a talking crow",
    "a detective who hates coffee",
    "a boy who can hear plants",
    "a postwoman with a secret",
    "an inventor whose machines all fail",
    "a grandmother learning to skateboard",
    "a robot that collects stamps",
    "a chef who lost her sense of taste",
    "a ship's cat who misses dry land",
]
STORY = [
    "Write the opening paragraph of a {g} story set in {s}, featuring {c}.",
    "Give me the first 150 words of a {g} story about {c} in {s}.",
    "Start a {g} story: the setting is {s} and the main character is {c}.",
    "Write an opening line and a first paragraph for a {g} tale set in {s}.",
    "I need a hook for a {g} short story with {c}. Write the first paragraph.",
]
BUSINESSES = [
    "a bicycle repair shop",
    "a vegan bakery",
    "a language school for adults",
    "a dog-walking service",
    "an eco-friendly laundry",
    "a climbing gym",
    "a second-hand bookshop",
    "a coding club for girls",
    "the city's recycling campaign",
    "a night market",
    "a mobile library van",
    "a family-run hardware store",
    "a bus company's new night service",
    "a community solar project",
    "a tutoring service for maths",
    "a repair café",
    "a small organic farm",
    "a pottery studio",
]
SLOGAN = [
    "Write three slogans for {b}.",
    "Come up with a catchy slogan for {b} that mentions {q}.",
    "I need a short, memorable tagline for {b}. Give me a few options.",
    "Write a slogan for {b} that would fit on a tote bag.",
]
QUALITIES = ["speed", "friendliness", "low prices", "the local community", "sustainability", "quality"]
MORALS = ["patience", "honesty", "sharing", "listening to others", "hard work", "kindness to strangers"]
MORALS += ["not judging by appearances", "asking for help"]
ANIMALS = ["a tortoise", "a clever crow", "a shy hedgehog", "a boastful rooster", "two mice", "an old elephant"]
CREATURES = ["a little owl", "a baby hedgehog", "a small dragon", "a young fox", "a sleepy bear cub", "a tiny robot"]
FEARS = ["who is afraid of the dark", "who is scared of thunder", "who can't fall asleep"]
FEARS += ["who has lost a favourite blanket", "who wants to stay up to see the stars"]
OTHER_CREATIVE = [
    ("Write a short fable about {a} that teaches {m}.", "fables"),
    ("Write the chorus of a song about {t}.", "songs"),
    ("Write a bedtime story of about 200 words about {c} {f}.", "bedtime stories"),
    ("Write a six-word story about {t}, then explain what it hints at.", "six-word stories"),
    ("Write a short toast for {e}.", "toasts"),
    ("Write a product description for {p} that makes it sound irresistible.", "product descriptions"),
    ("Write a diary entry about {t}, in the present tense.", "diary entries"),
]
EVENTS = ["my sister's wedding", "a colleague who is retiring", "my parents' 30th anniversary", "a friend's 50th"]
EVENTS += ["the end of a school year", "a team that just finished a hard project"]


def creative(rng: random.Random, n: int, topics: Deck) -> list[Row]:
    themes = Deck(THEMES, rng)
    out = []
    for i in range(n):
        kind = i % 5
        if kind == 0:
            t = topics.draw()[0] if rng.random() < 0.5 else themes.draw()
            if rng.random() < 0.15:
                word = rng.choice(ACROSTIC_WORDS)
                text, t = f"Write an acrostic poem on the word {word}.", word.lower()
            else:
                text = rng.choice(POEM).format(f=rng.choice(POEM_FORMS), t=t)
        elif kind == 1:
            g = rng.choice(GENRES)
            text = rng.choice(STORY).format(g=g, s=rng.choice(SETTINGS), c=rng.choice(CHARACTERS))
            t = f"{g} stories"
        elif kind == 2:
            t = rng.choice(BUSINESSES)
            text = rng.choice(SLOGAN).format(b=t, q=rng.choice(QUALITIES))
        else:
            form, t = rng.choice(OTHER_CREATIVE)
            theme = themes.draw()
            text = form.format(
                a=rng.choice(ANIMALS),
                c=rng.choice(CREATURES),
                f=rng.choice(FEARS),
                m=rng.choice(MORALS),
                t=theme,
                e=rng.choice(EVENTS),
                p=rng.choice(PRODUCTS)[0],
            )
            if "{t}" in form:
                t = theme
        out.append(row("creative", t, user(text)))
    return out


# --- multi-turn follow-ups --------------------------------------------------------------------

OVERVIEW = [
    "What can you tell me about {s}?",
    "I'm curious about {s}. Can you give me a quick overview?",
    "Tell me a bit about {s}.",
    "I have to give a short talk on {s}. What's the core of it?",
    "What's the short version of {s}?",
]
OVERVIEW_NEXT = [
    "Can you give me a concrete example?",
    "How would you explain that to a seven-year-old?",
    "What's the most common misconception about it?",
    "Why does that matter in everyday life?",
    "Which part of that is still debated?",
    "Can you say that again in one sentence?",
    "What would be a good first book or resource to learn more?",
    "How has our understanding of it changed over time?",
    "Interesting! What's one surprising detail you left out?",
    "Can you go into more detail on the last part?",
]
POINTS = [
    "What are a few key points about {s}?",
    "Give me some quick facts about {s}.",
    "Tell me three things worth knowing about {s}.",
]
POINTS_NEXT = [
    "Tell me more about the second point.",
    "Which of these matters most, and why?",
    "Can you add two more points?",
    "Put these in order of importance.",
    "Is the first point always true, or are there exceptions?",
    "Can you turn these into one short paragraph?",
]
MATH_NEXT = [
    "Can you check that answer a different way?",
    "Explain the first step more slowly, please.",
    "Now give me a similar problem to try on my own.",
    "What if all the numbers were doubled? Would the answer double too?",
    "Where do people usually go wrong with this kind of problem?",
    "Can you write that as a single formula?",
]
CODE_NEXT = [
    "Can you add type hints and a docstring?",
    "Now write two pytest tests for it.",
    "What is the time complexity?",
    "What happens with an empty input?",
    "Could you port it to JavaScript?",
    "How would you explain this code to a beginner, line by line?",
    "Is there a shorter way to write this in Python?",
    "Rename the variables so the code reads more clearly.",
]
CITIES = ["Lisbon", "Kyoto", "Rome", "Mexico City", "Marrakesh", "Seoul", "Vienna", "Cape Town", "New Orleans"]
CITIES += ["Hanoi", "Istanbul", "Copenhagen", "Buenos Aires", "Edinburgh", "Prague", "Budapest", "Oaxaca"]
CITIES += ["Quebec City"]
ARRIVALS = [
    "arrive, check in and walk around the old town",
    "arrive, drop the bags and find a relaxed dinner nearby",
    "arrive in the afternoon and get your bearings with a short walk",
]
ACTIVITIES = [
    "visit the main museum in the morning and a market in the afternoon",
    "take a day trip into the countryside",
    "join a walking food tour",
    "rent bikes and explore the waterfront",
    "hike a nearby trail and have a picnic",
    "have a slow morning at a café, then catch the sunset from a viewpoint",
    "take a boat trip",
    "visit a historic site outside the city",
    "browse local shops and take a cooking class",
]
TRIP_NEXT = [
    "It's going to rain on day 2. What would you change?",
    "Can you make it cheaper?",
    "Add a good place to eat each evening.",
    "My knee is bad, so less walking please. How would you adjust it?",
    "What should I book in advance?",
    "We're arriving late on the first day. Can you adjust?",
]


def multiturn(rng: random.Random, n: int, picker: PassagePicker) -> list[Row]:
    """A user turn, an assistant turn, a follow-up user turn. Assistant turns are written from the
    banks (a subject's gist or sentences, a worked solution, a code snippet, a day plan), so the
    follow-up has something real to refer to."""
    overview_subjects = Deck(SUBJECTS, rng)
    snippets = Deck(SNIPPETS, rng)
    makers = Deck(MATH, rng)
    trips = Deck(CITIES, rng)
    out: list[Row] = []
    quota = {"overview": 0.22, "points": 0.27, "math": 0.2, "code": 0.14, "trip": 0.17}
    kinds = [k for k, s in quota.items() for _ in range(round(s * n))][:n]
    kinds += ["points"] * (n - len(kinds))
    for kind in kinds:
        if kind == "overview":
            s = overview_subjects.draw()
            first = rng.choice(OVERVIEW).format(s=s.name)
            msgs = [user(cap(first)), assistant(s.gist), user(rng.choice(OVERVIEW_NEXT))]
            topic = s.name
        elif kind == "points":
            s, sentences = picker.pick((3,))
            answer = "Here are a few:\n" + "\n".join(f"{i}. {x}" for i, x in enumerate(sentences, 1))
            msgs = [user(cap(rng.choice(POINTS).format(s=s.name))), assistant(answer), user(rng.choice(POINTS_NEXT))]
            topic = s.name
        elif kind == "math":
            topic, q, solution = makers.draw()(rng)
            msgs = [user(q), assistant(solution), user(rng.choice(MATH_NEXT))]
        elif kind == "code":
            task, snippet = snippets.draw()
            first = rng.choice(PY_FORMS[:4]).format(t=task)
            msgs = [
                user(first),
                assistant(f"Here is one way:\n\n```python\n{snippet}\n```"),
                user(rng.choice(CODE_NEXT)),
            ]
            topic = "Python"
        else:
            d = trips.draw()
            days = rng.randint(3, 5)
            acts = [rng.choice(ARRIVALS), *rng.sample(ACTIVITIES, days - 1)]
            outline = "\n".join(f"Day {i}: {cap(a)}." for i, a in enumerate(acts, 1))
            first = f"Can you sketch a {days}-day plan for {d}? We are {rng.choice(GROUPS)}."
            msgs = [user(first), assistant(f"Here's a simple outline:\n{outline}"), user(rng.choice(TRIP_NEXT))]
            topic = d
        out.append(row("multiturn", topic, *msgs))
    return out
