import codecs
import csv
import json
import re

import pytest

from tg_qa import datasets

# The oracle's own vocabulary, written independently of tg_qa.generators.
VEGETABLES = {"carrot", "potato", "onion", "cabbage", "yam", "cauliflower", "head of broccoli",
              "stalk of celery", "lettuce head"}
FRUITS = {"apple", "banana", "orange", "peach", "plum", "grape", "strawberry", "raspberry", "blackberry", "nectarine"}
ANIMALS = {"cat", "dog", "rabbit", "snake", "fish", "mouse", "goat", "cow", "pig", "duck", "donkey", "frog",
           "snail", "chicken", "bear"}
INSTRUMENTS = {"piano", "flute", "trombone", "violin", "accordion", "clarinet", "drum", "trumpet"}
HOUSEHOLD = {"chair", "table", "bed", "couch", "lamp", "oven", "stove", "fridge", "microwave", "toaster", "car"}
IRREGULAR = {"mice": "mouse", "fish": "fish", "peaches": "peach", "potatoes": "potato", "couches": "couch",
             "heads of broccoli": "head of broccoli", "stalks of celery": "stalk of celery"}
NUMBERS = {"a": 1, "an": 1, "two": 2, "three": 3, "four": 4, "five": 5}
COUNTED = {"vegetables": VEGETABLES, "fruits": FRUITS, "animals": ANIMALS, "musical instruments": INSTRUMENTS,
           "objects": HOUSEHOLD | INSTRUMENTS}


def singular(noun):
    if noun in IRREGULAR:
        return IRREGULAR[noun]
    if noun.endswith("ies"):
        return noun[:-3] + "y"
    return noun[:-1] if noun.endswith("s") and noun[:-1] in set().union(*COUNTED.values()) else noun


def count_by_reading(question):
    match = re.fullmatch(r"I have (.+)\. How many (.+) do I have\?", question)
    items_text, category = match.groups()
    total = 0
    for item in re.split(r", and |, | and ", items_text):
        number, noun = item.split(" ", 1)
        noun = singular(noun)
        assert noun in set().union(*COUNTED.values()), noun
        if noun in COUNTED[category]:
            total += NUMBERS[number]
    return total


def all_examples(splits):
    return [*splits.train, *splits.validation, *splits.test]


def test_object_counting_answers_are_right_when_counted_independently():
    splits = datasets.object_counting(seed=3)
    assert splits.sizes() == (50, 100, 100)
    for example in all_examples(splits):
        assert int(example.answer) == count_by_reading(example.question), example.question


def test_word_sorting_answers_are_the_listed_words_in_alphabetical_order():
    splits = datasets.word_sorting(seed=5)
    for example in all_examples(splits):
        listed = example.question.split("List: ", 1)[1].split()
        answer = example.answer.split()
        assert example.question.startswith("Sort the following words alphabetically: List: ")
        assert sorted(listed) == sorted(answer) and len(set(answer)) == len(answer)
        assert all(a < b for a, b in zip(answer, answer[1:], strict=False)), example.answer


@pytest.mark.parametrize("generate", [datasets.object_counting, datasets.word_sorting])
def test_generators_are_seeded_and_splits_do_not_overlap(generate):
    first, again, other = generate(seed=1), generate(seed=1), generate(seed=2)
    assert first == again
    assert [e.question for e in first.train] != [e.question for e in other.train]
    questions = [e.question for e in all_examples(first)]
    assert len(set(questions)) == len(questions) == 250


def test_generators_take_split_sizes_and_reject_bad_ones():
    assert datasets.object_counting(sizes=(5, 6, 0)).sizes() == (5, 6, 0)
    with pytest.raises(ValueError, match="sizes"):
        datasets.object_counting(sizes=(5, 6))
    with pytest.raises(ValueError, match="at least one training"):
        datasets.word_sorting(sizes=(0, 6, 6))
    with pytest.raises(TypeError, match="seed"):
        datasets.object_counting(seed="zero")


# ---------------------------------------------------------------- files


def write_jsonl(path, rows):
    path.write_text("\n".join(json.dumps(r) for r in rows) + "\n")
    return path


def test_jsonl_loader_reads_answers_choices_and_gsm8k_style_answers(tmp_path):
    path = write_jsonl(tmp_path / "mine.jsonl", [
        {"question": "2+2?", "answer": 4},
        {"question": "Natalia sold 48 clips and then half as many. How many in all?",
         "answer": "She sold 48/2 = 24 more.\n#### 72"},
        {"question": "Largest?", "choices": ["1", "9", "3"], "answer": "9", "id": "q3"},
        {"question": "Smallest?", "choices": ["1", "9", "3"], "answer": "a"},
    ])
    examples = datasets.load_examples(path)
    assert [e.answer for e in examples] == ["4", "72", "B", "A"]
    assert examples[0].id == "mine:1" and examples[2].id == "q3"
    assert examples[2].letters == "ABC"
    assert "A) 1\nB) 9\nC) 3" in examples[2].render() and "one of ABC" in examples[2].render()


def test_csv_loader_reads_a_json_array_of_choices(tmp_path):
    path = tmp_path / "mmlu.csv"
    path.write_text('question,choices,answer\nWhich is a gas?,"[""iron"", ""helium""]",B\nHow many legs has a cat?,,4\n')
    examples = datasets.load_examples(path)
    assert examples[0].choices == ("iron", "helium") and examples[0].answer == "B"
    assert examples[1].choices is None and examples[1].answer == "4"


def test_load_splits_uses_the_split_field_or_a_seeded_split(tmp_path):
    rows = [{"question": f"q{i}", "answer": str(i), "split": ["train", "val", "test"][i % 3]} for i in range(9)]
    splits = datasets.load_splits(write_jsonl(tmp_path / "with.jsonl", rows))
    assert splits.sizes() == (3, 3, 3) and splits.validation[0].question == "q1"
    plain = write_jsonl(tmp_path / "plain.jsonl", [{"question": f"q{i}", "answer": str(i)} for i in range(9)])
    assert datasets.load_splits(plain, sizes=(2, 3, 4), seed=1) == datasets.load_splits(plain, sizes=(2, 3, 4), seed=1)
    assert datasets.load_splits(plain, sizes=(2, 3, 4), seed=1).sizes() == (2, 3, 4)


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ('{"question": "q", "answer": "1"}\n{not json}\n', "bad.jsonl line 2: not valid JSON"),
        ('["q", "1"]\n', "line 1: expected a JSON object"),
        ('{"answer": "1"}\n', "line 1: 'question' is missing"),
        ('{"question": "q"}\n', "line 1: 'answer' is missing"),
        ('{"question": "q", "answer": "  "}\n', "line 1: 'answer' is empty"),
        ('{"question": "q", "answer": "A", "choices": ["only one"]}\n', "at least two"),
        ('{"question": "q", "answer": "E", "choices": ["x", "y"]}\n', "neither a letter in AB"),
        ('{"question": "q", "answer": "1", "split": "holdout"}\n', "'split' must be train"),
        ('{"question": "q", "answer": "1", "split": "train"}\n{"question": "r", "answer": "2"}\n', "some rows have"),
        ("\n\n", "no examples"),
    ],
)
def test_loader_errors_name_the_file_and_line(tmp_path, content, message):
    path = tmp_path / "bad.jsonl"
    path.write_text(content)
    with pytest.raises(ValueError, match=re.escape(message)):
        datasets.load_splits(path)


def test_loader_rejects_missing_files_unknown_types_and_short_csv_headers(tmp_path):
    with pytest.raises(FileNotFoundError, match="nowhere.jsonl"):
        datasets.load_examples(tmp_path / "nowhere.jsonl")
    (tmp_path / "data.txt").write_text("question,answer\n")
    with pytest.raises(ValueError, match=r"unknown file type \.txt"):
        datasets.load_examples(tmp_path / "data.txt")
    (tmp_path / "data.csv").write_text("prompt,answer\nq,1\n")
    with pytest.raises(ValueError, match=r"lacks the column\(s\) \['question'\]"):
        datasets.load_examples(tmp_path / "data.csv")


ROWS = [
    {"question": "Which is a gas?", "choices": ["iron", "helium"], "answer": "B", "id": "gas"},
    {"question": "Caf\u00e9 \u2192 how many letters?", "answer": "4", "id": "cafe"},
]
CSV_TEXT = 'id,question,choices,answer\ngas,Which is a gas?,"[""iron"", ""helium""]",B\ncafe,Caf\u00e9 \u2192 how many letters?,,4\n'


@pytest.mark.parametrize("encoding", ["utf-8-sig", "utf-16", "utf-16-be-bom", "utf-32"])
@pytest.mark.parametrize("kind", ["jsonl", "csv"])
def test_files_with_a_byte_order_mark_load_as_their_utf8_twin(tmp_path, encoding, kind):
    text = "\n".join(json.dumps(r, ensure_ascii=False) for r in ROWS) + "\n" if kind == "jsonl" else CSV_TEXT
    (tmp_path / f"plain.{kind}").write_bytes(text.encode("utf-8"))
    data = codecs.BOM_UTF16_BE + text.encode("utf-16-be") if encoding == "utf-16-be-bom" else text.encode(encoding)
    (tmp_path / f"marked.{kind}").write_bytes(data)
    marked = datasets.load_examples(tmp_path / f"marked.{kind}")
    assert marked == datasets.load_examples(tmp_path / f"plain.{kind}")
    assert [e.id for e in marked] == ["gas", "cafe"] and marked[1].question == "Caf\u00e9 \u2192 how many letters?"


@pytest.mark.parametrize("separator", ["\u2028", "\u2029", "\x85", "\x0b", "\x0c", "\x1c", "\r"])
def test_a_jsonl_line_may_hold_characters_that_str_splitlines_breaks_at(tmp_path, separator):
    rows = [{"question": f"first{separator}second?", "answer": "1"}, {"question": "next?", "answer": "2"}]
    path = tmp_path / "lines.jsonl"
    path.write_bytes(("\r\n".join(json.dumps(r, ensure_ascii=False) for r in rows) + "\r\n").encode())
    examples = datasets.load_examples(path)
    assert [e.question for e in examples] == [f"first{separator}second?", "next?"]
    assert [e.id for e in examples] == ["lines:1", "lines:2"]


GOOD_LINE = b'{"question": "q", "answer": "1"}\n'
PNG_HEADER = b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR"
CELL_LIMIT = csv.field_size_limit()


BAD_FILES = [
    ("image.jsonl", PNG_HEADER, "line 1: not UTF-8 text (cannot decode byte 0x89); is it a binary file?"),
    ("tail.jsonl", GOOD_LINE * 3 + b"\xff\xfe\x00garbage", "line 4: not UTF-8 text (cannot decode byte 0xff)"),
    ("nul.csv", b"question,answer\nq,1\nr\x00,2\n", "line 3: a NUL character, as in a binary file"),
    ("nobom.jsonl", GOOD_LINE.decode().encode("utf-16-le"), "line 1: a NUL character, as in a binary file or UTF-16 without a byte-order mark"),
    ("broken16.jsonl", (GOOD_LINE * 2).decode().encode("utf-16") + b"\x00\xd8", "line 3: not UTF-16 text"),
    ("long.csv", b'question,answer\nq,1\n"' + b"x" * (CELL_LIMIT + 1) + b'",2\n', f"line 3: unreadable CSV: a cell longer than {CELL_LIMIT} characters"),
    ("quote.csv", b'question,answer\nq,1\n"unclosed,2\n' + b"r,3\n" * 40000, "line 3: unreadable CSV: a cell longer than"),
    ("deep.jsonl", GOOD_LINE + b'{"question": "q", "answer": "1", "x": ' + b"[" * 100000 + b"]" * 100000 + b"}\n", "line 2: JSON nested too deeply to read"),
    ("deep.csv", b'question,answer,choices\nq,A,"' + b"[" * 60000 + b"]" * 60000 + b'"\n', "line 2: 'choices' (a JSON array of strings): JSON nested too deeply"),
    ("spans.csv", b'question,answer\n"one\ntwo",1\n\nq,\n', "line 5: 'answer' is empty"),
    ("column.jsonl", GOOD_LINE + b'{"question": "q", "answer": 1,}\n', "line 2: not valid JSON (Expecting property name enclosed in double quotes at column 31)"),
]


@pytest.mark.parametrize(("name", "data", "message"), BAD_FILES, ids=[name for name, _, _ in BAD_FILES])
def test_unreadable_files_are_refused_naming_the_file_and_line(tmp_path, name, data, message):
    path = tmp_path / name
    path.write_bytes(data)
    with pytest.raises(ValueError, match=f"^{re.escape(f'{path} {message}')}"):
        datasets.load_examples(path)


def test_too_few_examples_for_the_split_sizes_is_a_clear_error(tmp_path):
    path = write_jsonl(tmp_path / "small.jsonl", [{"question": f"q{i}", "answer": "1"} for i in range(5)])
    with pytest.raises(ValueError, match=r"5 examples, but the split sizes 50/100/100 need 250"):
        datasets.load_splits(path)


def test_the_demo_multiple_choice_set_is_well_formed():
    demo = datasets.multiple_choice_demo()
    assert len(demo) == 24 and len({e.id for e in demo}) == 24
    for example in demo:
        assert len(example.choices) == 4 and example.answer in "ABCD"
    assert {e.answer for e in demo} == set("ABCD")
    sodium = next(e for e in demo if "sodium" in e.question)
    assert sodium.choices["ABCD".index(sodium.answer)] == "Na"
