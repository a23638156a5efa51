"""The LLM engine: backends, context reports, retrieval, guarded decisions (LLM-DTNet §III-B).

References
----------
* M. Haider, I. Ahmed, Z. Hassan, K. Hasan and H. V. Poor, "LLM-Integrated Digital Twins for
  Hierarchical Resource Allocation in 6G Networks" (LLM-DTNet).
"""
