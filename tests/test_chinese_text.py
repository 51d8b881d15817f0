"""The bundled Chinese corpus and the three Chinese tokenisers of notebook 02."""

import re

import pytest

from aigc_course.data import chinese_text as Z

HAN = re.compile(r"[\u4e00-\u9fff]")


def test_corpus_is_non_empty_chinese_and_bundled():
    sentences = Z.load_corpus()
    assert 150 <= len(sentences) <= 300
    assert len(set(sentences)) == len(sentences), "duplicate sentences"
    for s in sentences:
        assert isinstance(s, str) and s == s.strip() and not any(c.isspace() for c in s)
        assert len(HAN.findall(s)) >= 5, s
    text = "".join(sentences)
    assert len(HAN.findall(text)) >= 0.95 * len(text.replace("。", "").replace("，", ""))
    assert sum(len(Z.load_corpus(t)) for t in Z.corpus_topics()) == len(sentences)
    with pytest.raises(ValueError, match="unknown topic"):
        Z.load_corpus("sports")


def test_split_is_deterministic_disjoint_and_complete():
    sentences = Z.load_corpus()
    train, held = Z.split_corpus()
    assert (train, held) == Z.split_corpus(sentences, held_out_fraction=0.2, seed=0)
    assert len(held) == round(0.2 * len(sentences)) and train and held
    assert not set(train) & set(held)
    assert sorted(train + held) == sorted(sentences)
    assert train == [s for s in sentences if s in set(train)]  # original order kept
    assert Z.split_corpus(seed=1)[1] != held
    with pytest.raises(ValueError):
        Z.split_corpus(held_out_fraction=1.0)
    with pytest.raises(TypeError):
        Z.split_corpus("今天下雨。")


def test_char_and_word_tokenizers():
    assert Z.char_tokenize("今天 下雨。") == ["今", "天", "下", "雨", "。"]
    assert Z.word_tokenize("我喜欢机器学习。") == ["我", "喜欢", "机器", "学习", "。"]
    assert Z.word_tokenize("南京市长江大桥") == ["南京市", "长江大桥"]
    with pytest.raises(TypeError):
        Z.word_tokenize(["我"])


def test_jieba_is_quiet(capfd):
    Z.word_tokenize("天气预报说明天会降温。")
    out, err = capfd.readouterr()
    assert out == "" and err == ""


def test_char_bpe_merges_characters_and_byte_fallback_round_trips():
    train, held = Z.split_corpus()
    plain = Z.train_char_bpe(train, vocab_size=800)
    assert plain.get_vocab_size() == 800
    assert "模型" in plain.get_vocab() and "我们" in plain.get_vocab()
    assert "<unk>" in plain.encode("秋天的天空特别蓝").tokens  # 蓝 is not in the training text
    fallback = Z.train_char_bpe(train, vocab_size=800, byte_fallback=True)
    assert fallback.get_vocab_size() == 800 + 256
    tokens = fallback.encode("蓝").tokens
    assert tokens == ["<0xE8>", "<0x93>", "<0x9D>"]  # the 3 UTF-8 bytes of 蓝
    assert all(fallback.decode(fallback.encode(s).ids) == s for s in held)
    assert Z.train_char_bpe(train, 800).to_str() == plain.to_str()  # deterministic
    with pytest.raises(TypeError):
        Z.train_char_bpe("今天下雨。")


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_statistics_give_the_ordering(seed):
    train, held = Z.split_corpus(seed=seed)
    stats = Z.compare_tokenizers(train, held, bpe_vocab_size=800)
    chars, words, bpe, fallback = (stats[k] for k in ("characters", "words", "bpe", "bpe_bytes"))
    # sequence length: characters > BPE > words (measured: 17.6 / 15.5 / 11.3 with seed 0)
    assert chars.tokens_per_sentence - bpe.tokens_per_sentence >= 1.0
    assert bpe.tokens_per_sentence - words.tokens_per_sentence >= 2.5
    # unknown tokens: many words, fewer characters, none with byte fallback
    assert words.oov_rate >= 0.15 and words.oov_rate > chars.oov_rate > 0
    assert fallback.oov_rate == 0 and fallback.tokens_per_sentence > chars.tokens_per_sentence
    # bytes per token: a Chinese character is 3 bytes (the held-out text has a few ASCII ones)
    assert 2.8 <= chars.bytes_per_token <= 3.0 < bpe.bytes_per_token < words.bytes_per_token
    assert bpe.vocab_size == 800 and fallback.vocab_size == 1056


def test_tokenizer_stats_by_hand():
    st = Z.tokenizer_stats("chars", Z.char_tokenize, ["天气好。"], ["天气冷。", "好"])
    assert st.vocab_size == 4 and st.tokens_per_sentence == 2.5
    assert st.oov_rate == pytest.approx(1 / 5) and st.bytes_per_token == pytest.approx(15 / 5)
    with pytest.raises(ValueError):
        Z.tokenizer_stats("chars", Z.char_tokenize, ["天"], [])
