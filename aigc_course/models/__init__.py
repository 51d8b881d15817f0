"""The course's models: plain ``torch.nn.Module`` classes, one file per family."""

from .classifier import DigitsCNN, digits_classifier, train_digits_classifier
from .rnn import CharLSTM, LSTMClassifier, train_sentiment_classifier

__all__ = ["CharLSTM", "DigitsCNN", "LSTMClassifier", "digits_classifier",
           "train_digits_classifier", "train_sentiment_classifier"]
