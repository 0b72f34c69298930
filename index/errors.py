"""The errors reviewbot raises on purpose; the edges turn them into messages."""


class ReviewbotError(Exception):
    """Base of every error reviewbot raises on purpose."""


class ConfigurationError(ReviewbotError):
    """A setting is missing or makes no sense."""


class ReviewFileError(ReviewbotError):
    """A review file cannot be read or parsed."""


class IndexLockedError(ReviewbotError):
    """Another process is indexing the same data directory."""


class EmbedderMismatchError(ReviewbotError):
    """The index was built by another embedder than the configured one."""


class EmbeddingError(ReviewbotError):
    """The embedding service cannot be reached or answered something unusable."""


class StoreError(ReviewbotError):
    """The vector store cannot be reached or answered with an error."""


class IndexEmptyError(ReviewbotError):
    """A question was asked before anything was indexed."""


class EmptySourceError(ReviewbotError):
    """A reviews folder that holds indexed reviews has no review files at all."""
