"""The LLM engine: backends, context reports, retrieval, guarded decisions (LLM-DTNet §III-B)."""
