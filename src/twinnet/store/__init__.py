"""Context store: the deployment's DuckDB database of topology, telemetry, decisions and models."""

from twinnet.store.context import ContextStore, default_store_path
from twinnet.store.ingest import IngestReport, ingest_file
from twinnet.store.schema import INGEST_TABLES
from twinnet.store.telemetry import Telemetry

__all__ = ["INGEST_TABLES", "ContextStore", "IngestReport", "Telemetry", "default_store_path",
           "ingest_file"]
