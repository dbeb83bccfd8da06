"""The byte-buffer path machinery against plain Python on the same bytes."""
import random

import numpy as np
import pyarrow as pa
import pytest

from editrepro.data import pathbytes
from editrepro.data.pathbytes import Paths, Words, all_digits, contains_byte, gather, sort_rows, suffix_is


def rows_of(paths: Paths):
    return [bytes(paths.data[a:b]) for a, b in zip(paths.start, paths.end)]


def test_read_lines_handles_crlf_blank_lines_odd_bytes_and_no_final_newline(tmp_path):
    content = (b"./n01440764/a.JPEG\r\n\n\nn01/b c.jpg\n\xff\xfe/x\x01y\t.png\r\n  spaced  \n"
               b"bare\rcr-inside\nlast-without-newline")
    f = tmp_path / "list.txt"
    f.write_bytes(content)
    paths = Paths.read_lines(f)
    expected = [line[:-1] if line.endswith(b"\r") else line
                for line in content.split(b"\n") if line not in (b"", b"\r")]
    assert rows_of(paths) == expected
    assert paths.data[paths.offsets[-1]:].tolist() == [0] * (len(paths.data) - paths.offsets[-1])  # the padding
    assert paths.not_utf8().tolist() == [False, False, True, False, False, False]


def test_read_lines_of_an_empty_file(tmp_path):
    (tmp_path / "empty.txt").write_bytes(b"")
    (tmp_path / "blank.txt").write_bytes(b"\n\r\n\n")
    assert len(Paths.read_lines(tmp_path / "empty.txt")) == 0
    assert len(Paths.read_lines(tmp_path / "blank.txt")) == 0


def test_take_strips_uniform_and_mixed_prefixes_exactly(tmp_path):
    f = tmp_path / "l.txt"
    f.write_bytes(b"./ab/c\n./de/fg\n./h/i\n")
    paths = Paths.read_lines(f)
    start = paths.start + 2
    assert paths.take(np.array([2, 0]), start).to_pylist() == [b"h/i", b"ab/c"]
    mixed = paths.start + np.array([2, 0, 1])  # not the same at every row: the numpy gather path
    assert paths.take(np.array([0, 1, 2]), mixed).to_pylist() == [b"ab/c", b"./de/fg", b"/h/i"]
    assert paths.take(np.array([1]), start, chunk=1).to_pylist() == [b"de/fg"]
    assert gather(paths.data, start, paths.end).to_pylist() == [b"ab/c", b"de/fg", b"h/i"]


def random_names(rng: random.Random, n: int):
    alphabet = [b"a", b"b", b"_", b".", b"0", b"9", b"\xc3\xa9", b"Z"]
    base = [b"".join(rng.choice(alphabet) for _ in range(rng.randint(0, 30))) for _ in range(n)]
    names = []
    for b in base:
        names.append(b)
        r = rng.random()
        if r < 0.1:
            names.append(b)                      # exact duplicate
        elif r < 0.2:
            names.append(b + b"a")               # the other is a prefix of it
        elif r < 0.3:
            names.append(b"n01440764_" * 3 + b)  # a long shared prefix
    return names


@pytest.mark.parametrize("seed, threads", [(0, 1), (1, 1), (2, 1), (0, 3)])
def test_sort_rows_is_bytewise_with_duplicates_flagged(seed, threads, monkeypatch):
    monkeypatch.setattr(pathbytes, "_PARALLEL_ROWS", 100)  # split into group ranges even this small
    rng = random.Random(seed)
    names = random_names(rng, 3000)
    rng.shuffle(names)
    groups = np.array([rng.randrange(5) for _ in names])
    paths = Paths.from_strings(names)
    order, dup = sort_rows(groups, paths.start.copy(), paths.end, Words(paths.data), threads=threads)
    got = [(int(groups[i]), names[i]) for i in order]
    assert got == sorted(zip(groups.tolist(), names))
    assert dup.tolist() == [k > 0 and got[k] == got[k - 1] for k in range(len(got))]


def test_sort_rows_with_a_single_group_and_huge_group_ids():
    names = [b"b", b"a", b"", b"ab", b"a"]
    paths = Paths.from_strings(names)
    for groups in (np.zeros(5, np.int64), np.full(5, 2 ** 40, np.int64)):
        order, dup = sort_rows(groups, paths.start.copy(), paths.end, Words(paths.data))
        assert [names[i] for i in order] == [b"", b"a", b"a", b"ab", b"b"]
        assert dup.tolist() == [False, False, True, False, False]


def test_suffix_is_folds_the_case_of_letters_only():
    names = [b"x.JPEG", b"x.jpeg", b"x.JpEg", b"\x0ejpeg", b"x.jpe", b"jpeg", b".jpeg", b"a.png", b"a.PnG"]
    paths = Paths.from_strings(names)
    words = Words(paths.data)
    start, end = paths.start, paths.end
    last8 = words.word(np.maximum(end - 8, start), end)
    short = (end - start) < 8
    last8[short] = last8[short] >> (np.uint64(8) * (np.uint64(8) - (end - start)[short].astype(np.uint64)))
    assert suffix_is(last8, end - start, ".jpeg").tolist() == [True, True, True, False, False, False, True,
                                                               False, False]
    assert suffix_is(last8, end - start, ".png").tolist() == [False] * 7 + [True, True]


def test_contains_byte_reads_past_the_head_of_long_rows():
    names = [b"a" * 50 + b"/", b"a" * 50, b"/", b"", b"ab/" + b"c" * 40]
    paths = Paths.from_strings(names)
    words = Words(paths.data)
    assert contains_byte(words, paths.start, paths.end, ord("/")).tolist() == [True, False, True, False, True]
    head = words.head(paths.start, paths.end)
    assert contains_byte(words, paths.start, paths.end, ord("/"), head=head).tolist() == [True, False, True, False,
                                                                                            True]


def test_all_digits():
    words = np.array([int.from_bytes(w, "big") for w in (b"01440764", b"0144076a", b"0144/764", b"99999999",
                                                         b":1440764")], np.uint64)
    assert all_digits(words).tolist() == [True, False, False, True, False]


def test_from_arrow_keeps_sliced_and_chunked_arrays_exact():
    arr = pa.chunked_array([pa.array(["zz", "a/b", None]), pa.array(["c"])]).slice(1)
    assert rows_of(Paths.from_arrow(arr)) == [b"a/b", b"c"]
