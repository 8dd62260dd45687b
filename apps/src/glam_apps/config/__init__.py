"""Run configuration: the pydantic schema, YAML/JSON loading, the packaged configs."""
