"""The answer engine, one module per step.

``reading`` reads a question (language, the works it names, what it asks);
``retrieval`` finds passages (work-aware hybrid search); ``metadata_answers`` answers counts
and ratings exactly from metadata; ``features`` measures each sentence of the passages and
``ranking`` scores them with the fitted model and decides whether they answer;
``overlap`` is the older shared-words score, one of the features; ``composing`` quotes the
chosen sentences as the answer.
"""
