"""Speech for the TTS lab: front end (text normalisation, eSpeak NG phonemes and durations),
speech corpora (offline eSpeak NG corpus, LJSpeech) and the one-line ``speak(...)``.

eSpeak NG is GPL-3.0-or-later; the course only calls its shared library (from the pip package
``espeakng-loader``) at run time, see :mod:`aigc_course.speech.espeak`.
"""

from .corpus import (
                     LJSPEECH,
                     SpeechCorpus,
                     encode_phonemes,
                     generate_sentences,
                     load_ljspeech,
                     load_speech_corpus,
                     read_ljspeech_metadata,
)
from .espeak import Synthesis, synthesize
from .frontend import (
                     Phonemes,
                     durations_in_frames,
                     normalize_text,
                     number_to_words,
                     ordinal_to_words,
                     phonemize,
)
from .speak import Speech, load_tts, save_tts, speak, train_tts

__all__ = [
                     "LJSPEECH",
                     "Phonemes",
                     "Speech",
                     "SpeechCorpus",
                     "Synthesis",
                     "durations_in_frames",
                     "encode_phonemes",
                     "generate_sentences",
                     "load_ljspeech",
                     "load_speech_corpus",
                     "load_tts",
                     "normalize_text",
                     "number_to_words",
                     "ordinal_to_words",
                     "phonemize",
                     "read_ljspeech_metadata",
                     "save_tts",
                     "speak",
                     "synthesize",
                     "train_tts",
]
