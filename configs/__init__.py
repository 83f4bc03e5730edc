"""Task configs (`get_config()` per file). The pipeline issue adds them; none exist yet."""
