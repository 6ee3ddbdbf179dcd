"""The Spark engine of Tailor: data engineering and ALS as PySpark code (``--env spark``).

Nothing here is imported by the pandas path; the ``spark`` environment switches it on
(``conf/spark/spark.yml``, read by :class:`tailor.hooks.SparkHooks`).
"""
