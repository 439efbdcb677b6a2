"""Generation: an optional answer in full sentences from the user's own language model (any server with
an OpenAI-compatible API), every sentence checked against the passage it cites."""
